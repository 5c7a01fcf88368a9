"""Which run-query API serves a workspace: v1 (ClickHouse) or v2 (SmithDB), and switching safely.

LangSmith is moving every deployment from v1's ``runs/query`` to v2's (v1 is removed from cloud on
31 Jan 2027).  ``PURGEBOT_LANGSMITH_QUERY_API`` is ``v1``, ``v2`` or ``auto``.  In ``auto`` the
official SDK's rule decides (``GET /api/v1/info``'s ``instance_flags``: ``ch_query_enabled``
defaults to true, ``sdb_query_enabled`` to false; SmithDB only or dual → v2, else v1), read at
start and again every hour; and a query answered 404/410 on one API switches the workspace to the
other, which is logged.  A switch never turns a refused query into "nothing found": the query is
asked again on the other API, or the error goes up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from typing import Any, Protocol

from bot.langsmith.errors import LangSmithError, QueryApiGone
from bot.langsmith.filters import Pairs
from bot.langsmith.window import FoundRun, Window

__all__ = ["REFRESH_SECONDS", "Backend", "QueryApi", "QueryApiChoice", "RunLookup", "RunQueries", "backend_of"]

log = logging.getLogger("bot.langsmith")

REFRESH_SECONDS = 3600.0  # how often ``auto`` reads ``/info`` again


class QueryApi(StrEnum):
    V1 = "v1"
    V2 = "v2"

    @property
    def other(self) -> QueryApi:
        return QueryApi.V2 if self is QueryApi.V1 else QueryApi.V1


class Backend(StrEnum):
    """What a deployment's ``/info`` says its run queries are served by (the SDK's names)."""

    CLICKHOUSE_ONLY = "clickhouse_only"
    DUAL = "dual"
    SMITHDB_ONLY = "smithdb_only"

    @property
    def api(self) -> QueryApi:
        return QueryApi.V1 if self is Backend.CLICKHOUSE_ONLY else QueryApi.V2


def backend_of(info: Any) -> Backend:
    """The SDK's rule (``_v2_migration_utils.get_query_backend``) applied to an ``/info`` answer."""
    flags = info.get("instance_flags") if isinstance(info, Mapping) else None
    flags = flags if isinstance(flags, Mapping) else {}
    clickhouse = flags.get("ch_query_enabled", True) is not False
    smithdb = flags.get("sdb_query_enabled", False) is True
    if smithdb and not clickhouse:
        return Backend.SMITHDB_ONLY
    if smithdb:
        return Backend.DUAL
    return Backend.CLICKHOUSE_ONLY


class QueryApiChoice:
    """The API one workspace's queries go to now. Thread-safe; ``read_info`` is ``GET /info``."""

    def __init__(
        self,
        setting: str,
        read_info: Callable[[], Any],
        *,
        workspace: str = "default",
        refresh: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if setting not in ("auto", "v1", "v2"):
            raise ValueError(f"the query API must be auto, v1 or v2, not {setting!r}")
        self.setting = setting
        self.workspace = workspace
        self._read_info = read_info
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._api: QueryApi | None = None if setting == "auto" else QueryApi(setting)
        self._read_at: float | None = None

    def current(self) -> QueryApi:
        """The API to ask now; in ``auto``, from ``/info`` when it was never read or an hour has passed.

        If ``/info`` cannot be read, the earlier choice stands; with none yet, v2 (the API every
        deployment is moving to), and a 404 from it switches to v1.
        """
        with self._lock:
            if self.setting != "auto":
                assert self._api is not None
                return self._api
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._refresh:
                self._read_at = now
                self._api = self._from_info(self._api)
            assert self._api is not None
            return self._api

    def gone(self, api: QueryApi, error: QueryApiGone) -> QueryApi | None:
        """``api`` answered that it does not exist here: in ``auto``, switch to the other (and log
        it) and return it; with a fixed setting there is nothing to switch to, so None."""
        if self.setting != "auto":
            return None
        with self._lock:
            if self._api is api:
                self._api = api.other
                log.warning(
                    "langsmith query api switched",
                    extra={
                        "workspace": self.workspace,
                        "from": api.value,
                        "to": api.other.value,
                        "status": error.status,
                    },
                )
            return api.other

    def _from_info(self, previous: QueryApi | None) -> QueryApi:
        try:
            backend = backend_of(self._read_info())
        except LangSmithError as error:
            chosen = previous or QueryApi.V2
            log.warning(
                "langsmith info unreadable",
                extra={"workspace": self.workspace, "query_api": chosen.value, "error": str(error)},
            )
            return chosen
        if backend.api is not previous:
            log.info(
                "langsmith query api",
                extra={"workspace": self.workspace, "backend": backend.value, "query_api": backend.api.value},
            )
        return backend.api


class RunQueries(Protocol):
    """What each API module offers (:class:`~bot.langsmith.runs_v1.RunsV1`, :class:`~bot.langsmith.runs_v2.RunsV2`)."""

    def find_traces(self, project_id: str, pairs: Pairs, window: Window) -> Iterator[list[FoundRun]]: ...

    def existing_traces(self, project_id: str, trace_ids: list[str], window: Window) -> Iterator[list[FoundRun]]: ...


class RunLookup:
    """One search or check's run queries, sent to the API the workspace uses and noting what answered.

    ``answered`` holds each API that answered at least one of this lookup's queries, so a check
    can record it as evidence.  A 404/410 before a stream's first page switches API (``auto``) and
    asks again; one after it has begun goes up (its pages cannot be continued on the other API),
    and the next lookup starts on the other API.
    """

    def __init__(self, choice: QueryApiChoice, apis: Mapping[QueryApi, RunQueries]) -> None:
        self._choice = choice
        self._apis = apis
        self.answered: set[QueryApi] = set()

    def find_traces(self, project_id: str, pairs: Pairs, window: Window) -> Iterator[list[FoundRun]]:
        return self._stream(lambda api: api.find_traces(project_id, pairs, window))

    def existing_traces(self, project_id: str, trace_ids: list[str], window: Window) -> Iterator[list[FoundRun]]:
        return self._stream(lambda api: api.existing_traces(project_id, trace_ids, window))

    def _stream(self, open_: Callable[[RunQueries], Iterator[list[FoundRun]]]) -> Iterator[list[FoundRun]]:
        api = self._choice.current()
        try:
            pages = open_(self._apis[api])
            first = next(pages, None)
        except QueryApiGone as gone:
            switched = self._choice.gone(api, gone)
            if switched is None:
                raise
            api = switched
            pages = open_(self._apis[api])
            first = next(pages, None)
        self.answered.add(api)
        if first is None:
            return
        yield first
        try:
            yield from pages
        except QueryApiGone as gone:
            self._choice.gone(api, gone)
            raise
