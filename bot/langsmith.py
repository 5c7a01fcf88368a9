"""The LangSmith HTTP client the bot uses: resolve projects, queue deletes, check what remains.

Plain httpx rather than the ``langsmith`` SDK: the SDK has no trace-delete call, its query
methods are being deprecated and its retry behaviour differs per method
(``reference/langsmith-api.md`` §8).  The wire is injectable (``transport=``), so tests change
the wire, not this code.

Respecting the vendor is built in: ``runs/query`` calls are paced by a shared
:class:`~bot.ratelimit.RateLimiter` at the documented 15 per 10 s and every call by one at
1000 per 10 s, so the client never provokes a 429 itself; 429, 408, 5xx and transport failures
are retried with jittered exponential back-off (honouring ``Retry-After``) through stamina; any
other 4xx fails at once.  Retrying POSTs is safe here: queueing a delete twice, re-running a
query and hard-deleting an already deleted example all leave the same result.

Both bounds of a :class:`RetryPolicy` hold: at most ``attempts`` calls, and no wait is started
that would end after ``timeout`` (a long ``Retry-After`` ends the retries early instead, and
:class:`LangSmithUnavailable` carries it so the caller can pause until then).

Before each wait between attempts the client tells whoever asked (:meth:`LangSmithClient.reporting_waits`,
or ``on_wait=`` for every call) with a :class:`WaitNotice`.  The hook travels in a context
variable, so one client shared by several threads reports each wait only to the code that made
the call: the executor shows "waiting for LangSmith's rate limit" in its progress message while
the previewer's and the verifier's calls stay quiet.

Exceptions::

    LangSmithError                     anything this client raises on purpose
    ├── LangSmithRejected              a non-retryable answer (4xx other than 408/429): .status, .message
    │   └── MetadataDeleteNotEnabled   403 "bulk run deletes are not enabled" on a metadata delete
    ├── ProjectNotFound                no project with that name or id: .project
    ├── UnexpectedResponse             a 2xx whose body is not what the API documents
    └── LangSmithUnavailable           retries exhausted on 429/408/5xx/transport:
                                       .status, .reason, .retry_after

The API key never appears in an exception's text or repr, nor in a log line: messages are built
from status codes and LangSmith's own message, and are scrubbed of the key regardless.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx
import stamina

from bot.ratelimit import LimiterClosed, RateLimiter

__all__ = [
    "MAX_DELETE_IDS",
    "MAX_QUERY_IDS",
    "RETRYABLE_STATUSES",
    "DeleteReceipt",
    "LangSmithClient",
    "LangSmithError",
    "LangSmithRejected",
    "LangSmithUnavailable",
    "MetadataDeleteNotEnabled",
    "Project",
    "ProjectNotFound",
    "RetryPolicy",
    "UnexpectedResponse",
    "WaitNotice",
    "api_roots",
    "metadata_filter",
    "normalize_uuid",
    "quote_filter_value",
]

log = logging.getLogger(__name__)

MAX_DELETE_IDS = 1000  # documented per-request cap for runs/delete and the example hard delete
MAX_QUERY_IDS = 100  # runs/query's maximum page size, so at most this many ids per query
PAGE_SIZE = 100  # maximum limit of GET sessions / GET examples
RETRY_AFTER_CAP = 60.0  # the Stainless clients ignore longer hints; so do we
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_PAGES = 100_000  # a guard against a server that hands back cursors forever
LONGEST_RETENTION = timedelta(days=400)  # extended tier; no trace older than this is stored


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class LangSmithError(Exception):
    """Base class of every error this client raises on purpose."""


class LangSmithRejected(LangSmithError):
    """LangSmith refused the call with an answer that retrying will not change."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f" {method} {path}" if method else ""
        super().__init__(f"LangSmith answered {status}{where}: {message}")


class MetadataDeleteNotEnabled(LangSmithRejected):
    """The workspace does not allow the workspace-wide delete by metadata (403)."""


class ProjectNotFound(LangSmithError):
    """No project (tracing session) with that name or id is visible to this key."""

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(f"LangSmith project not found: {project!r}")


class UnexpectedResponse(LangSmithError):
    """A successful answer whose body does not have the documented shape."""


class LangSmithUnavailable(LangSmithError):
    """Retries ran out on a retryable answer (429, 408, 5xx) or a transport failure."""

    def __init__(
        self,
        *,
        status: int | None,
        reason: str,
        retry_after: float | None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.method = method
        self.path = path
        what = f"status {status}" if status is not None else reason
        hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        detail = f" ({reason})" if status is not None and reason else ""
        super().__init__(f"LangSmith unavailable for {method} {path}: {what}{detail}{hint}")


class _RetryableAnswer(Exception):
    """Internal: a retryable status, raised inside a stamina attempt so it gets retried."""

    def __init__(self, status: int, reason: str, retry_after: float | None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A LangSmith project (tracing session)."""

    id: str
    name: str


@dataclass(frozen=True)
class DeleteReceipt:
    """LangSmith's answer to a delete call, kept as evidence (a 202 means queued, not deleted)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class WaitNotice:
    """The client is about to wait before trying a call again.

    ``status`` is LangSmith's retryable answer (429, 408, 5xx), or None after a transport failure
    (timeout, reset connection), which ``reason`` then names.  ``seconds`` is the wait about to
    start; ``retry_after`` what LangSmith asked for (None if it did not say).  ``attempt`` is the
    number of the attempt that just failed (1-based), of at most ``attempts``.
    """

    status: int | None
    seconds: float
    method: str
    path: str
    retry_after: float | None
    attempt: int
    attempts: int
    reason: str

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


WaitHook = Callable[[WaitNotice], None]

_WAIT_HOOK: ContextVar[WaitHook | None] = ContextVar("langsmith_wait_hook", default=None)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a retryable answer before raising :class:`LangSmithUnavailable`.

    The defaults follow the reference's advice for 429s without ``Retry-After`` (start in the
    seconds, cap at 60 s, jitter) while keeping one call under a few minutes.
    """

    attempts: int = 6
    timeout: float = 180.0
    wait_initial: float = 2.0
    wait_max: float = 60.0
    wait_jitter: float = 1.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when LangSmith gave no hint:
        stamina's formula, ``min(wait_max, wait_initial * 2 ** (attempt - 1) + jitter)``."""
        jitter = random.uniform(0, self.wait_jitter) if self.wait_jitter else 0.0
        try:
            return float(min(self.wait_max, self.wait_initial * 2 ** (attempt - 1) + jitter))
        except OverflowError:
            return self.wait_max


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize_uuid(value: str) -> str:
    """Lowercase hyphenated UUID; ValueError (naming the value) if it is not one.

    A value already in that form is returned as it is (a million stored IDs pass through here on
    their way to a delete call, and parsing each costs more than the call's other work)."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise ValueError(f"not a UUID: {value!r}") from None


def _is_uuid(value: str) -> bool:
    try:
        normalize_uuid(value)
    except ValueError:
        return False
    return True


def api_roots(endpoint: str) -> tuple[str, str]:
    """(v1 root, platform root) for a configured ``LANGSMITH_ENDPOINT`` (DESIGN "Endpoint paths").

    A root endpoint (cloud, EU, the sandbox) gives ``{endpoint}/api/v1`` and
    ``{endpoint}/v1/platform``; one ending in ``/api/v1`` (self-hosted) gives ``{endpoint}`` and
    ``{endpoint}/platform``.
    """
    base = endpoint.strip().rstrip("/")
    url = httpx.URL(base)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"LANGSMITH_ENDPOINT must be an http(s) URL, got {endpoint!r}")
    if base.endswith("/api/v1"):
        return base, f"{base}/platform"
    return f"{base}/api/v1", f"{base}/v1/platform"


def quote_filter_value(value: str) -> str:
    """Quote ``value`` as a string literal of LangSmith's filter language, or refuse it.

    The docs show single- and double-quoted literals but say nothing about escapes, so the
    value is wrapped in whichever quote it does not contain; a value holding both quotes, a
    backslash or a control character cannot be written safely and raises ValueError.
    """
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value) or "\\" in value:
        raise ValueError("value contains a backslash or control character, which the filter language cannot carry")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ValueError("value contains both quote characters, which the filter language cannot carry")


def metadata_filter(pairs: Mapping[str, str]) -> str:
    """A run filter matching runs that carry ANY of the metadata pairs (OR, like the delete)."""
    if not pairs:
        raise ValueError("at least one metadata pair is required")
    terms = [
        f"and(eq(metadata_key, {quote_filter_value(k)}), eq(metadata_value, {quote_filter_value(v)}))"
        for k, v in pairs.items()
    ]
    return terms[0] if len(terms) == 1 else f"or({', '.join(terms)})"


def _parse_retry_after(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP date), capped at 60 s; None if absent."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _message(response: httpx.Response) -> str:
    """LangSmith's own words from an error body: ``detail``, ``error`` (+ ``details``) or ``message``."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):  # FastAPI validation errors
            parts = []
            for item in detail[:5]:
                if isinstance(item, dict):
                    loc = ".".join(str(x) for x in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            if parts:
                return "; ".join(parts)
        error = body.get("error")
        if isinstance(error, str):
            details = body.get("details")
            return f"{error} ({details})" if details else error
        message = body.get("message")
        if isinstance(message, str):
            return message
    return json.dumps(body)[:300]


def _is_transport_failure(exc: Exception) -> bool:
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class LangSmithClient:
    """Synchronous, thread-safe LangSmith client for the purge workflow."""

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        workspace_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        query_rate: tuple[int, float] = (15, 10.0),
        call_rate: tuple[int, float] = (1000, 10.0),
        retry: RetryPolicy | None = None,
        query_limiter: RateLimiter | None = None,
        call_limiter: RateLimiter | None = None,
        on_wait: WaitHook | None = None,
    ) -> None:
        self.endpoint = endpoint.strip().rstrip("/")
        self.v1_root, self.platform_root = api_roots(endpoint)
        self.workspace_id = normalize_uuid(workspace_id) if workspace_id else None
        self.retry = retry or RetryPolicy()
        # Pass limiters in to share one budget between several clients using the same key.
        self.query_limiter = query_limiter or RateLimiter(*query_rate)
        self.call_limiter = call_limiter or RateLimiter(*call_rate)
        self.on_wait = on_wait  # told of every wait unless the calling context has its own hook
        self._api_key = api_key
        headers = {"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "purgebot/0.1"}
        if self.workspace_id:
            headers["X-Tenant-Id"] = self.workspace_id
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"LangSmithClient(endpoint={self.endpoint!r}, workspace_id={self.workspace_id!r})"

    def stop_waiting(self) -> None:
        """Make callers waiting for a rate-limit slot give up now (the process is stopping); calls
        already on the wire finish normally."""
        self.query_limiter.close()
        self.call_limiter.close()

    def close(self) -> None:
        """Close the connection pool; nobody waits for a slot any more."""
        self.stop_waiting()
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    @contextmanager
    def reporting_waits(hook: WaitHook | None) -> Iterator[None]:
        """Within this block (in this thread or task), every wait before a retry is reported to ``hook``.

        The hook runs in the calling thread just before the wait starts; an exception it raises is
        logged and ignored, so reporting never changes what the call does.
        """
        token = _WAIT_HOOK.set(hook)
        try:
            yield
        finally:
            _WAIT_HOOK.reset(token)

    # ---- projects --------------------------------------------------------------------------

    def resolve_project(self, name_or_id: str) -> Project:
        """The project called ``name_or_id``, or with that session UUID; ProjectNotFound otherwise.

        A UUID is looked up by id first (and, should a project be *named* like a UUID, by name
        next).  A name must match exactly: the bot must never purge a look-alike project.
        """
        wanted = name_or_id.strip()
        if not wanted:
            raise ProjectNotFound(name_or_id)
        if _is_uuid(wanted):
            try:
                body = self._request("GET", self._v1(f"sessions/{normalize_uuid(wanted)}"))
            except LangSmithRejected as exc:
                if exc.status not in (404, 422):
                    raise
            else:
                return _project(body)
        found = self._request("GET", self._v1("sessions"), params={"name": wanted, "limit": 1})
        if not isinstance(found, list):
            raise UnexpectedResponse("GET sessions did not return a list")
        if not found:
            raise ProjectNotFound(wanted)
        project = _project(found[0])
        if project.name != wanted:
            raise ProjectNotFound(wanted)
        return project

    def list_projects(self) -> Iterator[Project]:
        """Every project of the workspace, paged by offset 100 at a time."""
        for item in self._offset_pages(self._v1("sessions"), {}):
            yield _project(item)

    # ---- deletes ---------------------------------------------------------------------------

    def delete_traces(self, session_id: str, trace_ids: Sequence[str]) -> DeleteReceipt:
        """Queue the delete of up to 1000 traces of one project (``POST runs/delete``).

        The ids are validated and normalised before anything is sent; more than 1000 distinct
        ids is a ValueError because the batching belongs to the caller, who records each batch.
        """
        sid = normalize_uuid(session_id)
        ids = _distinct_uuids(trace_ids)
        if not ids:
            raise ValueError("no trace ids to delete")
        if len(ids) > MAX_DELETE_IDS:
            raise ValueError(f"at most {MAX_DELETE_IDS} trace ids per delete call, got {len(ids)}")
        return self._receipt("POST", self._v1("runs/delete"), {"session_id": sid, "trace_ids": ids})

    def delete_by_metadata(self, pairs: Mapping[str, str]) -> DeleteReceipt:
        """Queue LangSmith's workspace-wide, OR-matched delete by metadata.

        The newer spec takes traces from ``start_time`` onward and may require it, so it is sent:
        now minus the longest retention, which reaches every trace still stored.  Raises
        :class:`MetadataDeleteNotEnabled` when the workspace refuses it (403), so the caller can
        note it and carry on with trace ids.
        """
        if not pairs:
            raise ValueError("at least one metadata pair is required")
        for key, value in pairs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError("metadata keys and values must be strings")
        try:
            since = (datetime.now(UTC) - LONGEST_RETENTION).isoformat()
            return self._receipt("POST", self._v1("runs/delete"), {"metadata": dict(pairs), "start_time": since})
        except LangSmithRejected as exc:
            if exc.status == 403 and "not enabled" in exc.message.lower():
                raise MetadataDeleteNotEnabled(exc.status, exc.message, method=exc.method, path=exc.path) from None
            raise

    def hard_delete_examples(self, example_ids: Sequence[str]) -> DeleteReceipt:
        """Hard-delete up to 1000 dataset examples in all versions (platform endpoint).

        The body's ``count`` says how many of the ids existed; inputs, outputs and metadata read
        back as null immediately, so the caller can verify at once.
        """
        ids = _distinct_uuids(example_ids)
        if not ids:
            raise ValueError("no example ids to delete")
        if len(ids) > MAX_DELETE_IDS:
            raise ValueError(f"at most {MAX_DELETE_IDS} example ids per delete call, got {len(ids)}")
        return self._receipt(
            "POST", self._platform("datasets/examples/delete"), {"example_ids": ids, "hard_delete": True}
        )

    # ---- queries ---------------------------------------------------------------------------

    def query_runs(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every run ``POST runs/query`` returns for ``body``, following ``cursors.next``.

        Each page is one rate-limited call; ``limit`` defaults to the maximum of 100.
        """
        payload = {"limit": MAX_QUERY_IDS, **body}
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = self._request("POST", self._v1("runs/query"), json_body=payload)
            if not isinstance(page, dict) or not isinstance(page.get("runs"), list):
                raise UnexpectedResponse("runs/query did not return {'runs': [...], 'cursors': {...}}")
            runs: list[dict[str, Any]] = page["runs"]
            yield from runs
            cursors = page.get("cursors") or {}
            cursor = cursors.get("next") if isinstance(cursors, dict) else None
            if not runs or not cursor:
                return
            if cursor in seen:
                raise UnexpectedResponse("runs/query returned the same cursor twice")
            seen.add(cursor)
            payload = {**payload, "cursor": cursor}
        raise UnexpectedResponse("runs/query kept returning cursors")

    def existing_traces(self, session_id: str, trace_ids: Sequence[str]) -> set[str]:
        """Which of ``trace_ids`` still exist in the project (their root run is still there).

        Queries 100 ids at a time; a root run has ``id == trace_id``.  The docs say ``id``
        overrides every other filter, so ``session_id`` is also selected and checked here: a
        trace of another project is not "in" this one.
        """
        sid = normalize_uuid(session_id)
        ids = _distinct_uuids(trace_ids)
        found: set[str] = set()
        for start in range(0, len(ids), MAX_QUERY_IDS):
            chunk = ids[start : start + MAX_QUERY_IDS]
            asked = set(chunk)
            body = {
                "session": [sid],
                "id": chunk,
                "select": ["id", "trace_id", "session_id"],
                "limit": MAX_QUERY_IDS,
            }
            for run in self.query_runs(body):
                run_id = str(run.get("id", "")).lower()
                if run_id not in asked:
                    continue
                if str(run.get("trace_id") or run_id).lower() != run_id:
                    continue
                if run.get("session_id") is not None and str(run["session_id"]).lower() != sid:
                    continue
                found.add(run_id)
        return found

    def find_traces(
        self, session_id: str, pairs: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Runs of the project in traces where any run carries any of the metadata pairs.

        Yields root runs (``id``, ``trace_id``, ``start_time``): ``tree_filter`` catches a pair
        set only on a child run, and ``is_root`` keeps one row per trace.  ``since`` limits the
        search to traces starting at or after it (the incremental search at execution).
        """
        body: dict[str, Any] = {
            "session": [normalize_uuid(session_id)],
            "is_root": True,
            "tree_filter": metadata_filter(pairs),
            "select": ["id", "trace_id", "start_time"],
        }
        if since is not None:
            body["start_time"] = since.astimezone(UTC).isoformat()
        return self.query_runs(body)

    def list_examples(
        self,
        *,
        metadata: Mapping[str, str] | None = None,
        as_of: datetime | str | None = None,
        dataset_id: str | None = None,
        example_ids: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Examples matching every given criterion at ``as_of`` (default latest), offset-paged.

        ``metadata`` is sent as LangSmith expects (a JSON string) and matched by containment;
        callers wanting OR across pairs query one pair at a time and union the ids.
        """
        params: dict[str, Any] = {}
        if metadata:
            params["metadata"] = json.dumps(dict(metadata), separators=(",", ":"))
        if isinstance(as_of, datetime):
            params["as_of"] = (as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)).isoformat()
        elif as_of is not None:
            params["as_of"] = as_of
        if dataset_id:
            params["dataset"] = normalize_uuid(dataset_id)
        if example_ids is not None:
            ids = _distinct_uuids(example_ids)
            if not ids:
                return
            params["id"] = ids
        yield from self._offset_pages(self._v1("examples"), params)

    def list_datasets(self) -> Iterator[dict[str, Any]]:
        """Every dataset of the workspace (``GET datasets``, offset-paged)."""
        return self._offset_pages(self._v1("datasets"), {})

    def dataset_versions(self, dataset_id: str) -> Iterator[datetime]:
        """The moments a dataset changed (``GET datasets/{id}/versions``), newest first.

        An example removed from the latest version still holds its data in earlier ones; a
        purge searches each of these moments so it finds such copies too.
        """
        for version in self._offset_pages(self._v1(f"datasets/{normalize_uuid(dataset_id)}/versions"), {}):
            moment = version.get("as_of") if isinstance(version, dict) else None
            if isinstance(moment, str):
                parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
                yield parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _offset_pages(self, url: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._request("GET", url, params={**params, "limit": PAGE_SIZE, "offset": offset})
            if not isinstance(page, list):
                raise UnexpectedResponse(f"GET {url.rsplit('/', 1)[-1]} did not return a list")
            yield from page
            if len(page) < PAGE_SIZE:
                return
            offset += len(page)

    # ---- plumbing --------------------------------------------------------------------------

    def _v1(self, route: str) -> str:
        return f"{self.v1_root}/{route}"

    def _platform(self, route: str) -> str:
        return f"{self.platform_root}/{route}"

    def _receipt(self, method: str, url: str, body: dict[str, Any]) -> DeleteReceipt:
        status, answer = self._send(method, url, json_body=body)
        return DeleteReceipt(status=status, body=answer if isinstance(answer, dict) else {"body": answer})

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        return self._send(method, url, params=params, json_body=json_body)[1]

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> tuple[int, Any]:
        """One logical call: rate-limited attempts, retried by stamina, errors mapped.

        Returns (status, decoded JSON body) for a 2xx.
        """
        path = httpx.URL(url).path
        is_query = path.endswith("/runs/query")
        policy = self.retry
        response: httpx.Response | None = None
        started = time.monotonic()
        attempts_made = 0

        def backoff(exc: Exception) -> bool | float:
            """stamina ``on=`` hook: whether to retry, and how long to wait first.

            The wait is always decided here (LangSmith's ``Retry-After``, else the policy's
            back-off), so it can be reported before it starts and kept inside the policy's timeout.
            """
            if isinstance(exc, _RetryableAnswer):
                status, hint, reason = exc.status, exc.retry_after, exc.reason
            elif _is_transport_failure(exc):
                status, hint = None, None
                reason = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                return False
            wait = hint if hint is not None else policy.backoff(attempts_made)
            if attempts_made >= policy.attempts:
                return True  # stamina stops here: the last attempt failed, no wait follows
            if time.monotonic() - started + wait > policy.timeout:
                return False  # waiting would overrun the policy: give up now, carrying the hint
            if stamina.is_testing():
                wait = 0.0
            self._report_wait(
                WaitNotice(
                    status=status,
                    seconds=wait,
                    method=method,
                    path=path,
                    retry_after=hint,
                    attempt=attempts_made,
                    attempts=policy.attempts,
                    reason=reason,
                )
            )
            return wait

        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempts_made = attempt.num
                    if attempt.num > 1:
                        log.info("langsmith retry", extra={"method": method, "path": path, "attempt": attempt.num})
                    with self._slots(is_query):
                        response = self._http.request(method, url, params=params, json=json_body)
                    if response.status_code in RETRYABLE_STATUSES:
                        raise _RetryableAnswer(
                            response.status_code,
                            self._scrub(_message(response)),
                            _parse_retry_after(response),
                        )
        except _RetryableAnswer as exc:
            raise LangSmithUnavailable(
                status=exc.status, reason=exc.reason, retry_after=exc.retry_after, method=method, path=path
            ) from None
        except httpx.TransportError as exc:
            reason = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            raise LangSmithUnavailable(status=None, reason=reason, retry_after=None, method=method, path=path) from None
        except LimiterClosed:
            raise LangSmithUnavailable(
                status=None, reason="the client was closed", retry_after=None, method=method, path=path
            ) from None
        assert response is not None
        status = response.status_code
        if not 200 <= status < 300:
            raise LangSmithRejected(status, self._scrub(_message(response)), method=method, path=path)
        if not response.content:
            return status, {}
        try:
            return status, response.json()
        except ValueError:
            raise UnexpectedResponse(f"{method} {path} answered {status} with a body that is not JSON") from None

    def _report_wait(self, notice: WaitNotice) -> None:
        hook = _WAIT_HOOK.get() or self.on_wait
        if hook is None:
            return
        try:
            hook(notice)
        except Exception:
            log.exception("a wait hook failed", extra={"method": notice.method, "path": notice.path})

    def _slots(self, is_query: bool) -> ExitStack[bool | None]:
        """Hold the query slot (if a query) and the general slot for one attempt; same order always."""
        stack = ExitStack()
        stack.enter_context(self.query_limiter.slot() if is_query else nullcontext())
        stack.enter_context(self.call_limiter.slot())
        return stack

    def _scrub(self, text: str) -> str:
        """Belt and braces: no message leaves this client carrying the key."""
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _project(item: Any) -> Project:
    if not isinstance(item, dict) or "id" not in item:
        raise UnexpectedResponse("a session without an id")
    return Project(id=normalize_uuid(str(item["id"])), name=str(item.get("name") or ""))


def _distinct_uuids(values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        raise TypeError("expected a sequence of ids, not one string")
    return list(dict.fromkeys(normalize_uuid(v) for v in values))
