"""The stand-in as a service: who may call (API key, workspace header), how often (rate limits),
and which handler answers which route.  :class:`FakeLangSmith` is what tests hold.

Order of checks for a call, as LangSmith's load balancer and API apply them: injected faults (in
:mod:`~bot.sandbox.langsmith.app`), then ``GET info`` (no auth), an API family the backend mode
lacks (404), auth, a route the backend mode removed (410), the rate limit, the route.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from bot.sandbox.langsmith import examples, runs_v1, runs_v2, sessions
from bot.sandbox.langsmith.answers import Answer, error_body
from bot.sandbox.langsmith.backend import Backend, instance_flags, parse_backend, require_api, require_route
from bot.sandbox.langsmith.calls import Call, CallLog
from bot.sandbox.langsmith.faults import Fault, FaultBook
from bot.sandbox.langsmith.limits import RateWindows
from bot.sandbox.langsmith.state import Workspace, utc_now
from bot.sandbox.langsmith.wire import Family, norm_uuid, split_path

DEFAULT_API_KEY = "lsv2_sandbox_key"
DEFAULT_TENANT_ID = "00000000-0000-4000-8000-00000000a11a"
# LangSmith's bare refusal of a key it does not know in this region (reference langsmith-v2.md §7,
# langsmith-sdk#2112): no hint at the cause, which is why ``purgebot doctor`` names the likely ones.
FORBIDDEN = {"error": "Forbidden"}

Handled = tuple[int, Any, dict[str, str]]


class FakeLangSmith(Workspace):
    """In-memory LangSmith workspace behind the API: projects, runs, dataset examples, queued
    deletes, rate limits, injected faults and a record of every call.

    Rate limits are ``(calls, seconds)`` per API key in fixed windows (:mod:`.limits`):
    ``query_limit`` for v1 ``runs/query`` (default 10 per 10 s, the reference's lower figure),
    ``v2_query_limit`` for v2 ``runs/query`` (300 per 10 s) and ``default_limit`` for every other
    call.  ``monotonic`` is the clock the windows follow (a test passes its own to cross a window
    without sleeping); ``now`` is the wall clock (v2's default 24-hour window ends at ``now()``).
    The limits, ``latency`` and ``backend`` may be changed while it serves.

    Who may call, as strict as LangSmith: only ``api_key`` (401 otherwise; change it to revoke the
    key a client holds). ``require_tenant`` makes the key org-scoped: 403
    ``org_scoped_key_requires_workspace`` without ``X-Tenant-Id``, 403 ``Forbidden`` with another
    workspace's ID. Without it the key belongs to the one workspace ``tenant_id``, and an
    ``X-Tenant-Id`` naming any other is refused the same way. ``wrong_region`` plays a deployment of
    another region than the key's organisation: ``GET info`` answers, every call with a key gets 403
    ``Forbidden``. ``api_key`` and ``wrong_region`` may be changed while it serves.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        require_tenant: str | None = None,
        metadata_delete_enabled: bool = True,
        query_limit: tuple[int, float] = (10, 10.0),
        v2_query_limit: tuple[int, float] = (300, 10.0),
        default_limit: tuple[int, float] = (1000, 10.0),
        send_retry_after: bool = True,
        latency: float = 0.0,
        now: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        backend: Backend = "dual",
        wrong_region: bool = False,
    ) -> None:
        self.wrong_region = wrong_region
        self.require_tenant = norm_uuid(require_tenant) if require_tenant else None
        super().__init__(
            tenant_id=self.require_tenant or DEFAULT_TENANT_ID,
            metadata_delete_enabled=metadata_delete_enabled,
            now=now,
        )
        self.api_key = api_key
        self.query_limit = query_limit
        self.v2_query_limit = v2_query_limit
        self.default_limit = default_limit
        self.send_retry_after = send_retry_after
        self.latency = latency
        self.faults = FaultBook()
        self.call_log = CallLog()
        self._windows = RateWindows(monotonic)
        self.backend = backend

    @property
    def backend(self) -> Backend:
        """The query backend (:mod:`.backend`): ``clickhouse``, ``dual`` or ``smithdb``; may be
        changed while it serves, as a deployment migrates."""
        return self._backend

    @backend.setter
    def backend(self, mode: str) -> None:
        self._backend = parse_backend(mode)

    # ---- faults ----------------------------------------------------------------------------

    def inject(
        self,
        path: str,
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
        body: Any = None,
        delay: float = 0.0,
        reset: Literal["before", "after"] | None = None,
    ) -> None:
        """Make the next ``times`` calls whose path contains ``path`` answer ``status`` (after ``delay``).

        ``status=None`` only delays the call and then serves it normally; a delay longer than
        the client's timeout is how a test produces a read timeout.  ``reset`` resets the
        connection instead of answering (see :class:`Fault`).
        """
        fault = Fault(status=status, retry_after=retry_after, body=body, delay=delay, reset=reset)
        self.faults.inject(path, fault, times)

    def inject_random(
        self, path: str, *, rate: float, faults: Sequence[Fault], seed: int = 0, times: int | None = None
    ) -> None:
        """See :meth:`FaultBook.inject_random`."""
        self.faults.inject_random(path, rate=rate, faults=faults, seed=seed, times=times)

    def clear_faults(self) -> None:
        """Forget every injected fault, counted and random."""
        self.faults.clear()

    # ---- observation -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call received so far, oldest first."""
        return self.call_log.snapshot()

    def calls_to(self, fragment: str, method: str | None = None) -> list[Call]:
        """Calls whose path contains ``fragment`` (and with ``method``, if given)."""
        return [c for c in self.calls if fragment in c.path and (method is None or c.method == method)]

    def clear_calls(self) -> None:
        self.call_log.clear()

    # ---- request handling (called by the app with the raw request parts) -------------------

    def handle(self, method: str, path: str, query: Any, raw_body: bytes, headers: Any) -> Handled:
        """Authenticate, rate-limit and route one call; returns (status, json body, headers)."""
        family, route = split_path(path)
        try:
            if family == "v1" and route == "info" and method == "GET":
                return 200, self._info(), {}
            require_api(self.backend, family)
            self._authenticate(family, headers)
            require_route(self.backend, family, route)
            self._rate_limit(family, headers.get("x-api-key", ""), route)
            with self.lock:
                return self._route(family, method, route, query, raw_body)
        except Answer as answer:
            return answer.status, answer.body, answer.headers

    def _authenticate(self, family: Family, headers: Any) -> None:
        key = headers.get("x-api-key")
        if key and self.wrong_region:
            raise Answer(403, dict(FORBIDDEN))  # any key at all: this region has no organisation of it
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            body: Any = error_body(family, 401, "Invalid API key")
            if family == "platform":
                body = {"error": "Unauthorized", "details": "invalid API key"}
            raise Answer(401, body)
        tenant = headers.get("x-tenant-id")
        if tenant is not None and norm_uuid(tenant) != self.tenant_id:
            # The reference does not say what a workspace ID the key may not use gets; the stricter
            # reading is LangSmith's bare 403, which does not say which of key, region or ID is wrong.
            raise Answer(403, dict(FORBIDDEN))
        if tenant is None and self.require_tenant is not None:
            body = {
                "error": "org_scoped_key_requires_workspace",
                "message": "This API key is org-scoped; send X-Tenant-Id for the workspace.",
            }
            if family == "v2":
                body = error_body(family, 403, f"{body['error']}: {body['message']}")
            raise Answer(403, body)

    def _rate_limit(self, family: Family, key: str, route: str) -> None:
        """v1 and v2 ``runs/query`` each have their own budget per key; everything else shares one.

        ``Retry-After`` is the whole seconds to the window's end (≥ 1), unless ``send_retry_after``
        is off (it is optional at LangSmith: a client must cope without)."""
        bucket, limit = "default", self.default_limit
        if route == "runs/query":
            bucket, limit = ("v2_query", self.v2_query_limit) if family == "v2" else ("query", self.query_limit)
        wait = self._windows.admit(key, bucket, limit)
        if wait is not None:
            headers = {"Retry-After": str(wait)} if self.send_retry_after else {}
            raise Answer(429, error_body(family, 429, "Too many requests"), headers)

    def _route(self, family: Family, method: str, route: str, query: Any, raw_body: bytes) -> Handled:
        parts = route.split("/")
        path_known = False
        for served in ROUTES:
            args = served.match(family, parts)
            if args is not None and method == served.method:
                return served.status, served.handler(self, Request(args, query, raw_body)), {}
            path_known = path_known or args is not None
        if path_known:
            raise Answer(405, error_body(family, 405, "Method Not Allowed"))
        raise Answer(404, error_body(family, 404, "Not Found"))

    def _info(self) -> dict[str, Any]:
        return {
            "version": "sandbox",
            "instance_flags": instance_flags(self.backend),
            "batch_ingest_config": {},
        }


@dataclasses.dataclass(frozen=True)
class Request:
    """What a handler gets: the path's ``{}`` segments, the query parameters and the raw body."""

    args: tuple[str, ...]
    query: Any
    body: bytes


@dataclasses.dataclass(frozen=True)
class Served:
    """One route: ``pattern`` is the path after the family's prefix, ``{}`` standing for one segment."""

    family: Family
    method: str
    pattern: str
    status: int
    handler: Callable[[Workspace, Request], Any]

    def match(self, family: Family, parts: list[str]) -> tuple[str, ...] | None:
        wanted = self.pattern.split("/")
        if family != self.family or len(parts) != len(wanted):
            return None
        if any(w != "{}" and w != p for w, p in zip(wanted, parts, strict=True)):
            return None
        return tuple(p for w, p in zip(wanted, parts, strict=True) if w == "{}")


# Every route the stand-in serves, and the module that answers it.
ROUTES: tuple[Served, ...] = (
    Served("v1", "GET", "sessions", 200, lambda ws, r: sessions.list_sessions(ws, r.query)),
    Served("v1", "GET", "sessions/{}", 200, lambda ws, r: sessions.get_session(ws, r.args[0])),
    Served("v1", "POST", "runs/delete", 202, lambda ws, r: runs_v1.delete_runs(ws, r.body)),
    Served("v1", "POST", "runs/query", 200, lambda ws, r: runs_v1.query_runs(ws, r.body)),
    Served("v2", "POST", "runs/query", 200, lambda ws, r: runs_v2.query_runs(ws, r.body)),
    Served("v1", "GET", "datasets", 200, lambda ws, r: examples.list_datasets(ws, r.query)),
    Served("v1", "GET", "datasets/{}/versions", 200, lambda ws, r: examples.dataset_versions(ws, r.args[0], r.query)),
    Served("v1", "GET", "examples", 200, lambda ws, r: examples.list_examples(ws, r.query)),
    Served("v1", "GET", "examples/{}", 200, lambda ws, r: examples.get_example(ws, r.args[0], r.query)),
    Served("platform", "POST", "datasets/examples/delete", 200, lambda ws, r: examples.hard_delete(ws, r.body)),
)
