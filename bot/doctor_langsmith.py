"""``purgebot doctor``'s checks of one LangSmith workspace: endpoint, key, X-Tenant-Id, query API, projects.

A purge that fails on its first real request fails in front of a requester with a deadline. These
checks read what a purge would read (``GET info``, ``GET sessions``) and never send a delete. They
turn LangSmith's terse refusals into causes: a bare ``403 {"error":"Forbidden"}`` on a key that is
otherwise fine is the key of another region's organisation (or a workspace ID the key may not use),
``org_scoped_key_requires_workspace`` is a missing ``workspace_id``, a 401 a key LangSmith does not
know. To tell a wrong ``workspace_id`` from a wrong region, a refused call is asked again without
``X-Tenant-Id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.doctor_check import Check, Lines
from bot.langsmith import LangSmithClient, RetryPolicy
from bot.langsmith.errors import LangSmithError, LangSmithRejected, LangSmithUnavailable, UnexpectedResponse
from bot.langsmith.query_api import Backend, backend_of
from bot.langsmith.regions import other_regions, region_of
from bot.langsmith.values import Project
from bot.settings import Settings
from bot.workspaces import Workspace

__all__ = ["DOCTOR_RETRY", "check_workspace"]

# A person waits at a terminal (or serve is starting): one retry, a short bound.
DOCTOR_RETRY = RetryPolicy(attempts=2, timeout=15.0, wait_initial=1.0, wait_max=2.0, wait_jitter=0.5)
TIMEOUT = 10.0
ORG_SCOPED = "org_scoped_key_requires_workspace"  # LangSmith's 403 body (reference langsmith-api.md §1)
AFTER_ENDPOINT = ("key", "X-Tenant-Id", "query API", "projects")
AFTER_ACCESS = ("query API", "projects")
SHOWN_PROJECTS = 3
_BACKENDS = {
    Backend.CLICKHOUSE_ONLY: "ClickHouse only",
    Backend.DUAL: "SmithDB and ClickHouse",
    Backend.SMITHDB_ONLY: "SmithDB only",
}


@dataclass(frozen=True)
class _Hints:
    """Where the operator changes each part of this workspace's configuration."""

    endpoint: str
    key: str
    tenant: str

    @classmethod
    def of(cls, workspace: Workspace, settings: Settings) -> _Hints:
        file = settings.purgebot_workspaces_file
        if file is None:
            tenant = "LANGSMITH_WORKSPACE_ID (or workspace_id in a workspaces file)"
            return cls("LANGSMITH_ENDPOINT", "LANGSMITH_API_KEY", tenant)
        table = f"of [[workspace]] {workspace.name} in {file}"
        return cls(f"`endpoint` {table}", workspace.api_key_env, f"`workspace_id` {table}")


def check_workspace(workspace: Workspace, settings: Settings) -> list[Check]:
    """One line per check of ``workspace``; a check that cannot run after a failure is skipped."""
    probe = _Probe(workspace, settings)
    try:
        probe.run()
    finally:
        probe.close()
    return probe.lines.checks


class _Probe:
    """The checks of one workspace, in order, each depending on the one before: a key cannot be judged
    where no LangSmith answers, nor the projects it sees when it is refused."""

    def __init__(self, workspace: Workspace, settings: Settings) -> None:
        self.workspace = workspace
        self.setting = settings.purgebot_langsmith_query_api
        self.hints = _Hints.of(workspace, settings)
        self.lines = Lines(f"langsmith {workspace.name}")
        self.key = workspace.api_key.get_secret_value()
        self.langsmith = self._client(workspace.workspace_id)

    def _client(self, tenant: str | None) -> LangSmithClient:
        return LangSmithClient(
            endpoint=self.workspace.endpoint,
            api_key=self.key,
            workspace_id=tenant,
            workspace=self.workspace.name,
            timeout=TIMEOUT,
            retry=DOCTOR_RETRY,
        )

    def close(self) -> None:
        self.langsmith.close()

    def run(self) -> None:
        info = self.endpoint()
        if info is None:
            self.lines.skip(AFTER_ENDPOINT, "the endpoint did not answer as LangSmith")
            return
        if not self.key:
            self.lines.fail("key", f"{self.hints.key} is not set: create an API key in LangSmith (Settings → API Keys)")
            self.lines.skip(AFTER_ENDPOINT[1:], "no key")
            return
        projects = self.access()
        if projects is None:
            return
        self.query_api(info)
        self.projects(projects)

    # ---- endpoint --------------------------------------------------------------------------

    def endpoint(self) -> Mapping[str, Any] | None:
        """``GET /info`` (no key needed): is there a LangSmith API at this address, and in which region."""
        url = self.workspace.endpoint
        fix = (
            f"set {self.hints.endpoint} to the API's address: https://api.smith.langchain.com or another region's "
            "(README, Regions), or https://<host>/api/v1 when self-hosted"
        )
        try:
            info = self.langsmith.info()
        except LangSmithUnavailable as error:
            self.lines.fail("endpoint", f"{url} does not answer ({_reason(error)}): check {self.hints.endpoint}")
            return None
        except LangSmithRejected as error:
            self.lines.fail("endpoint", f"no LangSmith API at {url} (GET info answered {error.status}): {fix}")
            return None
        except UnexpectedResponse:
            info = None
        if not isinstance(info, Mapping):
            self.lines.fail("endpoint", f"{url} answers, but not as LangSmith's API (GET info): {fix}")
            return None
        region = region_of(url)
        where = f"{region.name} region" if region else "no cloud region: self-hosted or a proxy"
        version = f", LangSmith {info['version']}" if isinstance(info.get("version"), str) else ""
        self.lines.ok("endpoint", f"{url} answers ({where}{version})")
        return info

    # ---- key and X-Tenant-Id ---------------------------------------------------------------

    def access(self) -> list[Project] | None:
        """The projects the key sees, after a line for the key and one for X-Tenant-Id; None when refused."""
        try:
            projects = list(self.langsmith.list_projects())
        except LangSmithError as error:
            self.refused(error)
            return None
        region = region_of(self.workspace.endpoint)
        self.lines.ok("key", f"accepted{f' in the {region.name} region' if region else ''} ({self.hints.key})")
        tenant = self.workspace.workspace_id
        if tenant is None:
            self.lines.ok("X-Tenant-Id", "not needed: the key belongs to one workspace")
            return projects
        bare = self.without_tenant()
        if _is_org_scoped(bare):
            self.lines.ok("X-Tenant-Id", f"needed (an org-scoped key) and sent: {tenant}")
        else:
            self.lines.ok("X-Tenant-Id", f"sent: {tenant}{' (the key also works without it)' if bare is None else ''}")
        return projects

    def without_tenant(self) -> LangSmithError | None:
        """What the same key gets without X-Tenant-Id: None when it is accepted."""
        bare = self._client(None)
        try:
            next(bare.list_projects(), None)
        except LangSmithError as error:
            return error
        finally:
            bare.close()
        return None

    def refused(self, error: LangSmithError) -> None:
        """Say why the key was refused (one line each for key and X-Tenant-Id) and skip the rest."""
        if isinstance(error, LangSmithUnavailable):
            self.lines.fail("key", f"not checked: LangSmith did not answer GET sessions ({_reason(error)}); run again")
            self.lines.skip(AFTER_ENDPOINT[1:], "LangSmith did not answer")
            return
        status = error.status if isinstance(error, LangSmithRejected) else None
        if status == 401:
            self.lines.fail("key", f"not accepted (401): {self.not_accepted()}")
            self.lines.skip(AFTER_ENDPOINT[1:], "the key was not accepted")
        elif _is_org_scoped(error):
            self.lines.ok("key", "accepted: an org-scoped key")
            self.lines.fail(
                "X-Tenant-Id",
                "needed: the key is org-scoped and LangSmith answered 403 org_scoped_key_requires_workspace; "
                f"set {self.hints.tenant} to the ID of the workspace to purge (LangSmith → Settings → Workspaces)",
            )
            self.lines.skip(AFTER_ACCESS, "X-Tenant-Id is missing")
        elif status == 403:
            self.forbidden()
        else:
            self.lines.fail("key", f"refused: {error}; check {self.hints.key} and {self.hints.endpoint}")
            self.lines.skip(AFTER_ENDPOINT[1:], "the key was refused")

    def forbidden(self) -> None:
        """A bare 403: a workspace ID the key may not use, or the key of another region's organisation."""
        tenant = self.workspace.workspace_id
        bare = self.without_tenant() if tenant is not None else None
        if tenant is not None and (bare is None or _is_org_scoped(bare)):
            whose = "an org-scoped key" if bare is not None else "it works without X-Tenant-Id"
            self.lines.ok("key", f"accepted: {whose}")
            self.lines.fail(
                "X-Tenant-Id",
                f"{tenant} is refused (403 Forbidden): not a workspace this key may use; "
                f"set {self.hints.tenant} to its workspace's ID (LangSmith → Settings → Workspaces)"
                + ("" if bare is not None else ", or remove it"),
            )
            self.lines.skip(AFTER_ACCESS, "X-Tenant-Id was refused")
            return
        others = ", ".join(f"{region.endpoint} ({region.name})" for region in other_regions(self.workspace.endpoint))
        also = f"; if the region is right, check {self.hints.tenant}" if tenant is not None else ""
        self.lines.fail(
            "key",
            f'refused with 403 {{"error":"Forbidden"}} at {self.workspace.endpoint}: wrong region or workspace? '
            f"A key works only in its organisation's region: set {self.hints.endpoint} to the region where the "
            f"key was created — try {others}{also}",
        )
        self.lines.skip(AFTER_ENDPOINT[1:], "the key was refused")

    def not_accepted(self) -> str:
        looks = self.key.startswith(("lsv2_", "ls__"))
        shape = "" if looks else " (it does not look like a LangSmith key, which starts with lsv2_)"
        return (
            f"LangSmith does not know the key in {self.hints.key}{shape}: it was mistyped, revoked or expired; "
            "create one in LangSmith (Settings → API Keys) and set it there"
        )

    # ---- query API and projects -----------------------------------------------------------

    def query_api(self, info: Mapping[str, Any]) -> None:
        """Which run-query API serves this workspace, by the rule ``auto`` applies to ``/info``."""
        backend = backend_of(info)
        said = f"GET info says {_BACKENDS[backend]}"
        if self.setting == "auto":
            self.lines.ok("query API", f"{backend.api.value}, as auto chooses ({said})")
            return
        pinned = f"{self.setting}, pinned by PURGEBOT_LANGSMITH_QUERY_API"
        if backend is Backend.DUAL or backend.api.value == self.setting:
            self.lines.ok("query API", f"{pinned} ({said})")
            return
        self.lines.fail(
            "query API",
            f"{pinned}, but {said}, where {self.setting} run queries are not served: "
            f"set PURGEBOT_LANGSMITH_QUERY_API=auto (or {backend.api.value})",
        )

    def projects(self, projects: list[Project]) -> None:
        if not projects:
            self.lines.fail(
                "projects",
                "none visible: a purge would find nothing here; the key (and X-Tenant-Id) must belong to the "
                "workspace that holds the traces",
            )
            return
        names = sorted(project.name for project in projects)
        shown = ", ".join(names[:SHOWN_PROJECTS]) + (", …" if len(names) > SHOWN_PROJECTS else "")
        self.lines.ok("projects", f"{len(projects):,} visible: {shown}")


def _is_org_scoped(error: LangSmithError | None) -> bool:
    return isinstance(error, LangSmithRejected) and error.status == 403 and ORG_SCOPED in error.message


def _reason(error: LangSmithUnavailable) -> str:
    return f"status {error.status}" if error.status is not None else error.reason
