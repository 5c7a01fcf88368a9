"""The LangSmith workspaces purgebot works in, from ``PURGEBOT_WORKSPACES_FILE`` or the ``LANGSMITH_*`` variables.

"Forget user 123" means everywhere the company traces: production, staging, the EU organisation.
Each workspace is one endpoint (its region), one key and, for org-scoped keys, one ``X-Tenant-Id``.
The file is TOML (DESIGN.md "Workspaces")::

    [[workspace]]
    name = "prod-us"
    endpoint = "https://api.smith.langchain.com"
    api_key_env = "LANGSMITH_API_KEY_PROD_US"
    workspace_id = "6f1c…"   # optional: X-Tenant-Id

Keys stay in the environment; the file names the variable. Anything the file gets wrong stops
start-up with one line naming the file, the line and the rule: a typo in a key name must not
silently drop a workspace's tenant ID. Without the file the ``LANGSMITH_*`` variables are the one
workspace ``default``, as before workspaces existed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import SecretStr

from bot.langsmith import LangSmithClient
from bot.langsmith.ratelimit import KeyLimiters
from bot.settings import Settings, SettingsError
from storage.requests import DEFAULT_WORKSPACE

DEFAULT = DEFAULT_WORKSPACE
_NAME = re.compile(r"^[a-z0-9-]+$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = ("name", "endpoint", "api_key_env", "workspace_id")
_REQUIRED = ("name", "endpoint", "api_key_env")
_VARIABLE_NAME = "PURGEBOT_WORKSPACES_FILE"


@dataclass(frozen=True)
class Workspace:
    """One LangSmith workspace: where it answers, with which key, as which tenant."""

    name: str
    endpoint: str
    api_key: SecretStr = field(repr=False)
    workspace_id: str | None = None
    api_key_env: str = "LANGSMITH_API_KEY"


def load_workspaces(settings: Settings, environ: Mapping[str, str]) -> tuple[Workspace, ...]:
    """The configured workspaces, in file order; ``SettingsError`` (one line) when the file is wrong."""
    path = settings.purgebot_workspaces_file
    if path is None:
        key = settings.langsmith_api_key or SecretStr("")
        tenant = str(settings.langsmith_workspace_id) if settings.langsmith_workspace_id else None
        return (Workspace(DEFAULT, settings.langsmith_endpoint, key, tenant),)
    return _WorkspacesFile(path).read(environ)


class _WorkspacesFile:
    """Reads and checks one workspaces file, naming the line of each problem."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"{_VARIABLE_NAME}: cannot read {path}: {_reason(error)}") from None
        self._lines = self._text.splitlines()
        self._headers = [n for n, line in enumerate(self._lines, start=1) if line.strip() == "[[workspace]]"]

    def read(self, environ: Mapping[str, str]) -> tuple[Workspace, ...]:
        try:
            document = tomllib.loads(self._text)
        except tomllib.TOMLDecodeError as error:
            raise self._error(None, f"not valid TOML: {error}") from None
        for key in document:
            if key != "workspace":
                raise self._error(
                    self._line_of(key), f"unknown table or key `{key}`; the file holds [[workspace]] tables"
                )
        tables = document.get("workspace")
        if not isinstance(tables, list) or not tables:
            raise self._error(None, "no [[workspace]] table: name at least one workspace")
        workspaces: list[Workspace] = []
        for index, table in enumerate(tables):
            workspace = self._workspace(index, table, environ)
            if any(w.name == workspace.name for w in workspaces):
                raise self._error(self._line_of("name", index), f"workspace name `{workspace.name}` is used twice")
            workspaces.append(workspace)
        return tuple(workspaces)

    def _workspace(self, index: int, table: dict[str, Any], environ: Mapping[str, str]) -> Workspace:
        for key in table:
            if key not in _KEYS:
                raise self._error(
                    self._line_of(key, index),
                    f"unknown key `{key}` in [[workspace]]; the keys are {', '.join(_KEYS)}",
                )
        for key in _REQUIRED:
            if key not in table:
                raise self._error(
                    self._headers[index] if index < len(self._headers) else None,
                    f"[[workspace]] #{index + 1} has no `{key}`",
                )
            if not isinstance(table[key], str):
                raise self._error(self._line_of(key, index), f"`{key}` must be a string")
        name, endpoint, variable = table["name"], table["endpoint"].strip().rstrip("/"), table["api_key_env"]
        if not _NAME.match(name):
            raise self._error(self._line_of("name", index), f"workspace name `{name}` must match [a-z0-9-]+")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self._error(self._line_of("endpoint", index), f"workspace {name}: endpoint must be an http(s) URL")
        if not _VARIABLE.match(variable):
            raise self._error(
                self._line_of("api_key_env", index),
                f"workspace {name}: api_key_env names an environment variable, such as LANGSMITH_API_KEY_PROD",
            )
        key = environ.get(variable, "").strip()
        if not key:
            raise SettingsError(f"{_VARIABLE_NAME}: workspace {name}: the environment variable {variable} is not set")
        return Workspace(name, endpoint, SecretStr(key), self._tenant(table, index, name), variable)

    def _tenant(self, table: dict[str, Any], index: int, name: str) -> str | None:
        value = table.get("workspace_id")
        if value is None:
            return None
        try:
            return str(UUID(str(value)))
        except ValueError:
            raise self._error(
                self._line_of("workspace_id", index), f"workspace {name}: workspace_id must be a UUID"
            ) from None

    def _line_of(self, key: str, index: int | None = None) -> int | None:
        """The line that sets ``key``: in the ``index``-th [[workspace]] table, or before the first."""
        if index is None:
            start, end = 1, (self._headers[0] if self._headers else len(self._lines) + 1)
        else:
            start = self._headers[index] if index < len(self._headers) else 1
            end = self._headers[index + 1] if index + 1 < len(self._headers) else len(self._lines) + 1
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        return next((n for n in range(start, end) if pattern.match(self._lines[n - 1])), None)

    def _error(self, line: int | None, rule: str) -> SettingsError:
        where = f"{self._path}, line {line}" if line is not None else str(self._path)
        return SettingsError(f"{_VARIABLE_NAME}: {where}: {rule}")


def _reason(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__


class UnknownWorkspace(KeyError):
    """A request or a command names a workspace that is not configured."""


class WorkspaceClients:
    """One LangSmith client per workspace, in configured order: each its own key, region and tenant, and
    the rate limiters of its key, so one key's limits never slow another key's calls."""

    def __init__(
        self,
        workspaces: Sequence[Workspace],
        connect: Callable[[Workspace, KeyLimiters], LangSmithClient],
        *,
        rates: tuple[tuple[int, float], tuple[int, float], tuple[int, float]],
    ) -> None:
        """``rates`` are (v1 queries, v2 queries, calls) per key: workspaces that share a key (an org-scoped
        key with several tenant IDs) share its limiters, since LangSmith counts per key."""
        by_key: dict[str, KeyLimiters] = {}
        self._clients = {
            workspace.name: connect(
                workspace, by_key.setdefault(workspace.api_key.get_secret_value(), KeyLimiters.of(*rates))
            )
            for workspace in workspaces
        }

    @property
    def names(self) -> list[str]:
        return list(self._clients)

    def __getitem__(self, name: str) -> LangSmithClient:
        try:
            return self._clients[name]
        except KeyError:
            raise UnknownWorkspace(name) from None

    def __iter__(self) -> Iterator[LangSmithClient]:
        return iter(self._clients.values())

    def __len__(self) -> int:
        return len(self._clients)

    def refresh_query_apis(self) -> None:
        """Read each workspace's ``/info`` when ``auto`` is due to (hourly), on the scheduler's tick."""
        for langsmith in self:
            langsmith.query_api()

    def stop_waiting(self) -> None:
        for langsmith in self:
            langsmith.stop_waiting()

    def close(self) -> None:
        for langsmith in self:
            langsmith.close()
