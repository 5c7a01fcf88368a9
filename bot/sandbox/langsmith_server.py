"""A local stand-in for the LangSmith REST API, as far as a purge bot uses it.

It follows ``reference/langsmith-api.md`` (the wire truth for this project): status codes, body
shapes, limits, weekend processing of deletes and rate limits, plus injectable faults.  The demo
and every test run against it over real loopback HTTP, so it is product code, not a mock.

State lives in :class:`FakeLangSmith` (thread-safe, in memory); :func:`create_app` wraps it in a
Starlette app.  Where the reference is marked INFERRED the stand-in picks the stricter reading
and says so in the docstring of the handler concerned.

Paths (the path is recorded exactly as called):

* v1: ``/api/v1/<route>`` (cloud and self-hosted alike) and the bare ``/<route>`` form the Python
  SDK uses on cloud;
* platform: ``/v1/platform/<route>`` (cloud) and ``/api/v1/platform/<route>`` (self-hosted);
* ``/_sandbox/...``: unauthenticated controls so a test can drive a stand-in in another process
  (``POST weekend``, ``POST inject``, ``POST inject_random``, ``POST clear_faults``, ``GET calls``,
  ``POST seed``, ``GET status``).

Faults: :meth:`FakeLangSmith.inject` makes the next calls to a path fail one way;
:meth:`FakeLangSmith.inject_random` makes a seeded fraction of them fail in ways drawn from a
list of :class:`Fault`.  A fault is an answer (429 with or without ``Retry-After``, 5xx, any 4xx),
a delay (longer than the client's timeout: a read timeout), or a reset connection.  An ASGI app
cannot reset its TCP connection, so a reset needs :mod:`bot.sandbox.faulty_proxy` in front: the
app marks the answer and the proxy, instead of relaying it, closes the client's connection with
an RST.  Without the proxy a reset is answered ``502`` (what a load balancer says when its
upstream resets), and the call is recorded with that status.

Routes served: ``GET sessions``, ``GET sessions/{id}``, ``POST runs/delete``, ``POST runs/query``,
``GET examples``, ``GET examples/{id}``, ``GET info`` and platform
``POST datasets/examples/delete``.

Run it on its own with ``python -m bot.sandbox.langsmith_server --port 8123 [--seed-demo]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import bisect
import dataclasses
import hmac
import json
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "PROXY_HEADER",
    "RESET_HEADER",
    "Call",
    "FakeLangSmith",
    "Fault",
    "FilterError",
    "compile_filter",
    "create_app",
    "main",
    "parse_filter",
    "seed_demo",
]

DEFAULT_API_KEY = "lsv2_sandbox_key"
DEFAULT_TENANT_ID = "00000000-0000-4000-8000-00000000a11a"
MAX_DELETE_TRACE_IDS = 1000
MAX_HARD_DELETE_EXAMPLES = 1000
METADATA_DELETE_DISABLED = "bulk run deletes are not enabled for this workspace"
PROXY_HEADER = "x-sandbox-proxy"  # added by the faulty proxy: it can reset connections
RESET_HEADER = "x-sandbox-reset"  # on an answer: the proxy resets the connection instead of relaying it


def _norm_uuid(value: object) -> str | None:
    """Lowercase hyphenated form of a UUID given in any form FastAPI accepts, else None."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _iso(ts: float) -> str:
    """LangSmith renders times as naive UTC ISO strings."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _iso_dt(moment: datetime) -> str:
    return _iso(moment.timestamp())


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Error answers in the shapes LangSmith uses
# --------------------------------------------------------------------------------------------


class _Answer(Exception):
    """Raised inside a handler to answer with ``status`` and ``body`` at once."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _invalid(loc: Sequence[str | int], msg: str, type_: str, input_: Any = None) -> _Answer:
    """FastAPI's 422 ``HTTPValidationError`` shape."""
    return _Answer(422, {"detail": [{"type": type_, "loc": list(loc), "msg": msg, "input": input_}]})


# --------------------------------------------------------------------------------------------
# The run filter DSL (subset)
# --------------------------------------------------------------------------------------------


class FilterError(ValueError):
    """The filter string is not valid in the supported subset of LangSmith's filter language."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<punct>[(),\[\]])
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_COMPARATORS = {"eq", "neq", "in", "has"}
_COMBINATORS = {"and", "or", "not"}
_RUN_FIELDS = {"metadata_key", "metadata_value", "id", "trace_id", "name", "run_type", "session_id"}
_HAS_FIELDS = {"metadata", "tags"}
_META_FIELDS = {"metadata_key", "metadata_value"}

# AST: ("and"|"or", [nodes]) | ("not", node) | ("cmp", op, field, value: str | tuple[str, ...])
FilterNode = tuple[Any, ...]


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        tokens.append((kind, _unescape(raw) if kind == "string" else raw))
        pos = m.end()
    return tokens


def parse_filter(text: str) -> FilterNode:
    """Parse the subset ``eq, neq, in, has, and, or, not`` of LangSmith's run filter language.

    Fields: ``metadata_key``, ``metadata_value``, ``id``, ``trace_id``, ``name``, ``run_type``,
    ``session_id``; ``has`` takes ``metadata`` (a JSON object, containment) or ``tags``.  String
    literals use single or double quotes with backslash escapes; ``in`` takes a ``[...]`` list.
    Anything else raises :class:`FilterError` (LangSmith answers 400).
    """
    tokens = _tokenize(text)
    if not tokens:
        raise FilterError("empty filter")
    pos = 0

    def peek() -> tuple[str, str]:
        return tokens[pos] if pos < len(tokens) else ("end", "")

    def take(kind: str, value: str | None = None) -> str:
        nonlocal pos
        k, v = peek()
        if k != kind or (value is not None and v != value):
            want = value or kind
            raise FilterError(f"expected {want!r} at token {pos}, got {v or k!r}")
        pos += 1
        return v

    def literal() -> str | tuple[str, ...]:
        k, v = peek()
        if k in ("string", "number"):
            take(k)
            return v
        if (k, v) == ("punct", "["):
            take("punct", "[")
            items: list[str] = []
            while peek() != ("punct", "]"):
                kk, vv = peek()
                if kk not in ("string", "number"):
                    raise FilterError(f"expected a string in list, got {vv or kk!r}")
                take(kk)
                items.append(vv)
                if peek() == ("punct", ","):
                    take("punct", ",")
                elif peek() != ("punct", "]"):
                    raise FilterError("expected ',' or ']' in list")
            take("punct", "]")
            return tuple(items)
        raise FilterError(f"expected a value, got {v or k!r}")

    def expr() -> FilterNode:
        fn = take("ident").lower()
        take("punct", "(")
        if fn in ("and", "or"):
            parts = [expr()]
            while peek() == ("punct", ","):
                take("punct", ",")
                parts.append(expr())
            take("punct", ")")
            return (fn, parts)
        if fn == "not":
            inner = expr()
            take("punct", ")")
            return ("not", inner)
        if fn not in _COMPARATORS:
            raise FilterError(f"unsupported function {fn!r}")
        field = take("ident").lower()
        allowed = _HAS_FIELDS if fn == "has" else _RUN_FIELDS
        if field not in allowed:
            raise FilterError(f"unsupported field {field!r} for {fn}")
        take("punct", ",")
        value = literal()
        take("punct", ")")
        if fn == "in" and not isinstance(value, tuple):
            raise FilterError("in() takes a [...] list")
        if fn != "in" and isinstance(value, tuple):
            raise FilterError(f"{fn}() takes a single value")
        if fn == "has" and field == "metadata":
            try:
                parsed = json.loads(str(value))
            except ValueError as exc:
                raise FilterError("has(metadata, ...) takes a JSON object") from exc
            if not isinstance(parsed, dict):
                raise FilterError("has(metadata, ...) takes a JSON object")
        return ("cmp", fn, field, value)

    node = expr()
    if pos != len(tokens):
        raise FilterError(f"unexpected trailing input at token {pos}")
    return node


def _uses_metadata_entry(node: FilterNode) -> bool:
    if node[0] in ("and", "or"):
        return any(_uses_metadata_entry(n) for n in node[1])
    if node[0] == "not":
        return _uses_metadata_entry(node[1])
    return bool(node[2] in _META_FIELDS)


_Pred = Callable[["_Run", "tuple[str, str] | None"], bool]


def _compile(node: FilterNode) -> _Pred:
    """Turn the AST into nested closures once per query instead of walking it per run."""
    kind = node[0]
    if kind in ("and", "or"):
        parts = [_compile(n) for n in node[1]]
        if kind == "and":
            return lambda run, entry: all(p(run, entry) for p in parts)
        return lambda run, entry: any(p(run, entry) for p in parts)
    if kind == "not":
        inner = _compile(node[1])
        return lambda run, entry: not inner(run, entry)
    _, op, field, value = node
    if op == "has":
        wanted: dict[str, Any] = json.loads(value) if field == "metadata" else {}

        def has(run: _Run, entry: tuple[str, str] | None) -> bool:
            meta = run.metadata
            if field == "tags" or not meta:
                return False  # the stand-in's runs carry no tags
            return all(k in meta and meta[k] == v for k, v in wanted.items())

        return has

    def get(run: _Run, entry: tuple[str, str] | None) -> str | None:
        if field == "metadata_key":
            return None if entry is None else entry[0]
        if field == "metadata_value":
            return None if entry is None else entry[1]
        return str(getattr(run, field) or "")

    if op == "eq":
        return lambda run, entry: (a := get(run, entry)) is not None and a == value
    if op == "neq":
        return lambda run, entry: (a := get(run, entry)) is not None and a != value
    members = frozenset(value)
    return lambda run, entry: (a := get(run, entry)) is not None and a in members


def compile_filter(node: FilterNode) -> Callable[[_Run], bool]:
    """A predicate over runs.  Metadata atoms bind to ONE metadata entry of the run.

    ``and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))`` is true when a single entry
    has that key *and* that value, which is how LangSmith documents the pair filter; atoms on
    other fields see the run itself.  A run without metadata fails every metadata atom.
    """
    pred = _compile(node)
    if not _uses_metadata_entry(node):
        return lambda run: pred(run, None)

    def matches(run: _Run) -> bool:
        meta = run.metadata
        if not meta:
            return pred(run, None)
        return any(pred(run, (k, v if isinstance(v, str) else json.dumps(v))) for k, v in meta.items())

    return matches


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class _Run:
    """One run; kept small because the stand-in holds 100k+ of them."""

    __slots__ = ("id", "metadata", "name", "parent_run_id", "run_type", "session_id", "trace_id", "ts")

    def __init__(
        self,
        run_id: str,
        trace_id: str,
        session_id: str,
        parent_run_id: str | None,
        name: str,
        run_type: str,
        ts: float,
        metadata: dict[str, Any] | None,
    ) -> None:
        self.id = run_id
        self.trace_id = trace_id
        self.session_id = session_id
        self.parent_run_id = parent_run_id
        self.name = name
        self.run_type = run_type
        self.ts = ts
        self.metadata = metadata


def _run_key(run: _Run) -> tuple[float, str]:
    """Sort key for ``start_time desc`` with the id as a tie-breaker."""
    return (-run.ts, run.id)


class _Session:
    __slots__ = ("dirty", "id", "name", "runs", "start")

    def __init__(self, session_id: str, name: str, start: datetime) -> None:
        self.id = session_id
        self.name = name
        self.start = start
        self.runs: list[_Run] = []
        self.dirty = False

    def sorted_runs(self) -> list[_Run]:
        if self.dirty:
            self.runs.sort(key=_run_key)
            self.dirty = False
        return self.runs


@dataclasses.dataclass
class _Version:
    at: datetime
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    metadata: dict[str, Any] | None
    removed: bool = False


@dataclasses.dataclass
class _Example:
    id: str
    dataset_id: str
    name: str
    created_at: datetime
    source_run_id: str | None
    versions: list[_Version]

    def at(self, as_of: datetime | None) -> _Version | None:
        """The version in force at ``as_of`` (None = latest); None if absent or removed then."""
        chosen: _Version | None = None
        if as_of is None:
            chosen = self.versions[-1]
        else:
            for version in self.versions:
                if version.at <= as_of:
                    chosen = version
        if chosen is None or chosen.removed:
            return None
        return chosen


@dataclasses.dataclass(frozen=True)
class Call:
    """One request as the stand-in received it (the API key is never recorded).

    ``status`` is the answer the stand-in gave (None while in flight, and for a connection reset
    before any answer); ``fault`` names an injected fault (``Fault.label``), None for a normal call.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int | None
    at: float
    headers: dict[str, str]
    fault: str | None = None
    answered: float | None = None  # time.monotonic() when the answer (or reset) was given


@dataclasses.dataclass(frozen=True)
class Fault:
    """One way a call goes wrong.

    * ``status``: answer this (with ``body``, default ``{"detail": "Injected fault N"}``, and
      ``Retry-After: retry_after`` when given) instead of serving the call;
    * ``delay``: wait this long first (the call is dropped if the client hangs up meanwhile); with
      no ``status`` and no ``reset`` the call is then served normally, so a delay longer than the
      client's timeout is a read timeout;
    * ``reset``: the connection is reset — ``"before"`` the stand-in acts on the call, or
      ``"after"`` it acted (the delete is queued, the answer lost).
    """

    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    reset: Literal["before", "after"] | None = None

    def __post_init__(self) -> None:
        if self.reset not in (None, "before", "after"):
            raise ValueError("reset must be 'before' or 'after'")
        if self.reset is not None and self.status is not None:
            raise ValueError("a reset connection answers no status")
        if self.delay < 0:
            raise ValueError("delay must not be negative")

    @property
    def label(self) -> str:
        if self.reset is not None:
            return f"reset-{self.reset}"
        if self.status is not None:
            hint = f" retry-after={_retry_after_text(self.retry_after)}" if self.retry_after is not None else ""
            return f"{self.status}{hint}"
        return f"delay={self.delay:g}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


@dataclasses.dataclass
class _Injected:
    """``times`` more calls to paths containing ``path`` fail with ``fault``."""

    path: str
    fault: Fault
    times: int


@dataclasses.dataclass
class _RandomFaults:
    """Each call to a path containing ``path`` fails with probability ``rate``, the way drawn from
    ``faults``; ``times`` (None: no limit) caps how many fail."""

    path: str
    rate: float
    faults: tuple[Fault, ...]
    rng: random.Random
    times: int | None


def _default_now() -> datetime:
    return datetime.now(UTC)


class FakeLangSmith:
    """In-memory LangSmith workspace: projects, runs, dataset examples, queued deletes, limits."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        require_tenant: str | None = None,
        metadata_delete_enabled: bool = True,
        query_limit: tuple[int, float] = (15, 10.0),
        default_limit: tuple[int, float] = (1000, 10.0),
        send_retry_after: bool = True,
        latency: float = 0.0,
        now: Callable[[], datetime] = _default_now,
    ) -> None:
        self.api_key = api_key
        self.require_tenant = _norm_uuid(require_tenant) if require_tenant else None
        self.tenant_id = self.require_tenant or DEFAULT_TENANT_ID
        self.metadata_delete_enabled = metadata_delete_enabled
        self.query_limit = query_limit
        self.default_limit = default_limit
        self.send_retry_after = send_retry_after
        self.latency = latency
        self.now = now
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._runs: dict[str, _Run] = {}
        self._traces: dict[str, list[_Run]] = {}  # trace id -> runs, root first
        self._datasets: dict[str, str] = {}
        self._examples: dict[str, _Example] = {}
        self._queue: list[tuple[str, Any]] = []
        self._faults: list[_Injected] = []
        self._random_faults: list[_RandomFaults] = []
        self._calls: list[Call] = []
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def __repr__(self) -> str:
        return f"FakeLangSmith(projects={len(self._sessions)}, traces={len(self._traces)})"

    # ---- seeding ---------------------------------------------------------------------------

    def add_project(self, name: str, project_id: str | None = None) -> str:
        """Create a project (tracing session); names are unique as in LangSmith."""
        sid = _norm_uuid(project_id) if project_id else str(uuid.uuid4())
        if sid is None:
            raise ValueError(f"not a UUID: {project_id!r}")
        with self._lock:
            if sid in self._sessions or any(s.name == name for s in self._sessions.values()):
                raise ValueError(f"project exists: {name!r}")
            self._sessions[sid] = _Session(sid, name, self.now())
        return sid

    def project_id(self, name: str) -> str:
        """The id of the project called ``name`` (KeyError if none)."""
        with self._lock:
            for session in self._sessions.values():
                if session.name == name:
                    return session.id
        raise KeyError(name)

    def add_trace(
        self,
        project_id: str,
        *,
        trace_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        child_metadata: list[dict[str, Any]] | None = None,
        start_time: datetime | None = None,
        name: str = "agent",
    ) -> str:
        """Create a root run (id == trace id) and one child run per ``child_metadata`` entry."""
        tid = _norm_uuid(trace_id) if trace_id else str(uuid.uuid4())
        if tid is None:
            raise ValueError(f"not a UUID: {trace_id!r}")
        ts = _aware(start_time).timestamp() if start_time else self.now().timestamp()
        with self._lock:
            session = self._session(project_id)
            if tid in self._traces:
                raise ValueError(f"trace exists: {tid}")
            self._insert_trace(session, tid, ts, metadata, child_metadata, name)
        return tid

    def add_traces(
        self,
        project_id: str,
        count: int,
        *,
        metadata: dict[str, Any] | None = None,
        child_metadata: list[dict[str, Any]] | None = None,
        start_time: datetime | None = None,
        name: str = "agent",
    ) -> list[str]:
        """Bulk-create ``count`` traces, one millisecond apart going back from ``start_time``.

        The metadata dicts are shared between the traces (they are never mutated), which keeps
        100k+ traces cheap in memory.
        """
        base = _aware(start_time).timestamp() if start_time else self.now().timestamp()
        ids = [str(uuid.uuid4()) for _ in range(count)]
        with self._lock:
            session = self._session(project_id)
            for i, tid in enumerate(ids):
                self._insert_trace(session, tid, base - i * 0.001, metadata, child_metadata, name)
        return ids

    def _insert_trace(
        self,
        session: _Session,
        tid: str,
        ts: float,
        metadata: dict[str, Any] | None,
        child_metadata: list[dict[str, Any]] | None,
        name: str,
    ) -> None:
        root = _Run(tid, tid, session.id, None, name, "chain", ts, metadata or None)
        runs = [root]
        for i, meta in enumerate(child_metadata or ()):
            child_id = str(uuid.uuid4())
            runs.append(_Run(child_id, tid, session.id, tid, f"step-{i}", "llm", ts + 0.0001 * (i + 1), meta or None))
        for run in runs:
            self._runs[run.id] = run
            session.runs.append(run)
        session.dirty = True
        self._traces[tid] = runs

    def add_dataset(self, name: str, dataset_id: str | None = None) -> str:
        """Create a dataset and return its id."""
        did = _norm_uuid(dataset_id) if dataset_id else str(uuid.uuid4())
        if did is None:
            raise ValueError(f"not a UUID: {dataset_id!r}")
        with self._lock:
            self._datasets[did] = name
        return did

    def add_example(
        self,
        dataset_id: str,
        *,
        inputs: dict[str, Any],
        outputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        example_id: str | None = None,
        created_at: datetime | None = None,
        source_run_id: str | None = None,
    ) -> str:
        """Add an example to a dataset (created if unknown); its first version starts at ``created_at``."""
        eid = _norm_uuid(example_id) if example_id else str(uuid.uuid4())
        did = _norm_uuid(dataset_id)
        if eid is None or did is None:
            raise ValueError("example and dataset ids must be UUIDs")
        at = _aware(created_at) if created_at else self.now()
        with self._lock:
            if eid in self._examples:
                raise ValueError(f"example exists: {eid}")
            self._datasets.setdefault(did, f"dataset-{did[:8]}")
            self._examples[eid] = _Example(
                eid,
                did,
                f"#{eid[:4]} @ {self._datasets[did]}",
                at,
                source_run_id,
                [_Version(at, dict(inputs), _copy(outputs), _copy(metadata))],
            )
        return eid

    def edit_example(
        self,
        example_id: str,
        *,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record a new version; fields not given carry over from the latest version."""
        with self._lock:
            example = self._example(example_id)
            last = example.versions[-1]
            when = self._next_version_time(example, at)
            example.versions.append(
                _Version(
                    when,
                    _copy(inputs) if inputs is not None else last.inputs,
                    _copy(outputs) if outputs is not None else last.outputs,
                    _copy(metadata) if metadata is not None else last.metadata,
                )
            )

    def remove_example_from_latest(self, example_id: str, *, at: datetime | None = None) -> None:
        """Soft delete: the example leaves the latest version but older versions still hold it."""
        with self._lock:
            example = self._example(example_id)
            last = example.versions[-1]
            when = self._next_version_time(example, at)
            example.versions.append(_Version(when, last.inputs, last.outputs, last.metadata, removed=True))

    def example_versions(self, example_id: str) -> list[dict[str, Any]]:
        """Every stored version of an example (for assertions about hard deletes)."""
        with self._lock:
            example = self._example(example_id)
            return [dataclasses.asdict(v) for v in example.versions]

    def _next_version_time(self, example: _Example, at: datetime | None) -> datetime:
        when = _aware(at) if at else self.now()
        last = example.versions[-1].at
        return when if when > last else last + timedelta(microseconds=1)

    def _session(self, project_id: str) -> _Session:
        sid = _norm_uuid(project_id)
        if sid is None or sid not in self._sessions:
            raise KeyError(f"unknown project: {project_id}")
        return self._sessions[sid]

    def _example(self, example_id: str) -> _Example:
        eid = _norm_uuid(example_id)
        if eid is None or eid not in self._examples:
            raise KeyError(f"unknown example: {example_id}")
        return self._examples[eid]

    # ---- weekend semantics -----------------------------------------------------------------

    def pending_deletes(self) -> int:
        """How many accepted delete requests wait for the weekend job."""
        with self._lock:
            return len(self._queue)

    def run_weekend(self) -> int:
        """Apply every queued delete, as LangSmith's weekend job does; return traces deleted.

        Trace-id deletes remove the traces of that project (ids of other projects are ignored);
        metadata deletes are workspace-wide and OR-matched: a trace goes if ANY of its runs
        carries ANY of the pairs.
        """
        with self._lock:
            doomed: set[str] = set()
            pairs: set[tuple[str, str]] = set()
            for kind, payload in self._queue:
                if kind == "traces":
                    session_id, trace_ids = payload
                    for tid in trace_ids:
                        runs = self._traces.get(tid)
                        if runs and runs[0].session_id == session_id:
                            doomed.add(tid)
                else:
                    pairs.update(payload.items())
            if pairs:
                for run in self._runs.values():
                    if run.metadata and any((k, v) in pairs for k, v in run.metadata.items() if isinstance(v, str)):
                        doomed.add(run.trace_id)
            self._queue.clear()
            touched: set[str] = set()
            for tid in doomed:
                for run in self._traces.pop(tid, ()):
                    self._runs.pop(run.id, None)
                    touched.add(run.session_id)
            for sid in touched:
                session = self._sessions[sid]
                session.runs = [r for r in session.runs if r.trace_id not in doomed]
            return len(doomed)

    def trace_exists(self, trace_id: str) -> bool:
        """True while the trace (its root run) is still stored."""
        tid = _norm_uuid(trace_id)
        with self._lock:
            return tid is not None and tid in self._traces

    def trace_count(self, project_id: str | None = None) -> int:
        """Traces stored, in one project or overall."""
        with self._lock:
            if project_id is None:
                return len(self._traces)
            return sum(1 for r in self._session(project_id).runs if r.parent_run_id is None)

    def example(self, example_id: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The example as ``GET /examples/{id}`` would show it, or None."""
        with self._lock:
            example = self._example(example_id)
            version = example.at(as_of)
            return None if version is None else _example_json(example, version)

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
        connection instead of answering (see :class:`Fault`).  Faults apply before auth and rate
        limits, as a load balancer's would; these come before any :meth:`inject_random` rule.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(status=status, retry_after=retry_after, body=body, delay=delay, reset=reset)
        with self._lock:
            self._faults.append(_Injected(path, fault, times))

    def inject_random(
        self, path: str, *, rate: float, faults: Sequence[Fault], seed: int = 0, times: int | None = None
    ) -> None:
        """Make a fraction ``rate`` of the calls whose path contains ``path`` fail, each in a way drawn
        from ``faults`` (repeat one to weight it), until :meth:`clear_faults` or ``times`` faults.

        The draws come from ``random.Random(seed)`` in the order calls arrive, so the same calls
        in the same order meet the same faults (concurrent callers may arrive in another order).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not faults:
            raise ValueError("at least one fault to choose from")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        rule = _RandomFaults(path, rate, tuple(faults), random.Random(seed), times)
        with self._lock:
            self._random_faults.append(rule)

    def clear_faults(self) -> None:
        """Forget every injected fault, counted and random."""
        with self._lock:
            self._faults.clear()
            self._random_faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for injected in self._faults:
                if injected.path in path:
                    injected.times -= 1
                    if injected.times <= 0:
                        self._faults.remove(injected)
                    return injected.fault
            for rule in self._random_faults:
                if rule.path in path:
                    if rule.rng.random() >= rule.rate:
                        return None
                    fault = rule.rng.choice(rule.faults)
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._random_faults.remove(rule)
                    return fault
        return None

    # ---- observation -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, fragment: str, method: str | None = None) -> list[Call]:
        """Calls whose path contains ``fragment`` (and with ``method``, if given)."""
        return [c for c in self.calls if fragment in c.path and (method is None or c.method == method)]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _record(self, call: Call) -> int:
        with self._lock:
            self._calls.append(call)
            return len(self._calls) - 1

    def _finish(self, index: int, status: int | None, fault: Fault | None = None) -> None:
        with self._lock:
            if index < len(self._calls):
                label = fault.label if fault is not None else None
                self._calls[index] = dataclasses.replace(
                    self._calls[index], status=status, fault=label, answered=time.monotonic()
                )

    # ---- request handling (called by the app with the raw request parts) -------------------

    def handle(
        self, method: str, path: str, query: Any, raw_body: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """Authenticate, rate-limit and route one call; returns (status, json body, headers)."""
        route, rest = _split_path(path)
        try:
            if route == "v1" and rest == "info" and method == "GET":
                return 200, self._info(), {}
            self._authenticate(route, headers)
            self._rate_limit(headers.get("x-api-key", ""), rest)
            with self._lock:
                return self._route(route, method, rest, query, raw_body)
        except _Answer as answer:
            return answer.status, answer.body, answer.headers

    def _authenticate(self, route: str, headers: Any) -> None:
        key = headers.get("x-api-key")
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            body: Any = {"detail": "Invalid API key"}
            if route == "platform":
                body = {"error": "Unauthorized", "details": "invalid API key"}
            raise _Answer(401, body)
        if self.require_tenant is not None:
            tenant = _norm_uuid(headers.get("x-tenant-id"))
            if tenant != self.require_tenant:
                raise _Answer(
                    403,
                    {
                        "error": "org_scoped_key_requires_workspace",
                        "message": "This API key is org-scoped; send X-Tenant-Id for the workspace.",
                    },
                )

    def _rate_limit(self, key: str, rest: str) -> None:
        """Sliding window per key: ``runs/query`` has its own budget, everything else shares one.

        Refused calls do not count, so a client that waits out ``Retry-After`` gets through.
        """
        bucket = "query" if rest == "runs/query" else "default"
        calls, period = self.query_limit if bucket == "query" else self.default_limit
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault((key, bucket), deque())
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= calls:
                headers = {}
                if self.send_retry_after:
                    headers["Retry-After"] = str(max(1, math.ceil(window[0] + period - now)))
                raise _Answer(429, {"detail": "Too many requests"}, headers)
            window.append(now)

    def _route(
        self, route: str, method: str, rest: str, query: Any, raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = rest.split("/")
        if route == "platform":
            if rest == "datasets/examples/delete":
                _allow(method, "POST")
                return 200, self._hard_delete_examples(raw_body), {}
            raise _Answer(404, {"error": "not found"})
        if rest == "sessions":
            _allow(method, "GET")
            return 200, self._list_sessions(query), {}
        if len(parts) == 2 and parts[0] == "sessions":
            _allow(method, "GET")
            return 200, self._get_session(parts[1]), {}
        if rest == "runs/delete":
            _allow(method, "POST")
            return 202, self._delete_runs(raw_body), {}
        if rest == "runs/query":
            _allow(method, "POST")
            return 200, self._query_runs(raw_body), {}
        if rest == "datasets":
            _allow(method, "GET")
            return 200, self._list_datasets(query), {}
        if len(parts) == 3 and parts[0] == "datasets" and parts[2] == "versions":
            _allow(method, "GET")
            return 200, self._dataset_versions(parts[1], query), {}
        if rest == "examples":
            _allow(method, "GET")
            return 200, self._list_examples(query), {}
        if len(parts) == 2 and parts[0] == "examples":
            _allow(method, "GET")
            return 200, self._get_example(parts[1], query), {}
        raise _Answer(404, {"detail": "Not Found"})

    def _info(self) -> dict[str, Any]:
        return {
            "version": "sandbox",
            "instance_flags": {"ch_query_enabled": True, "sdb_query_enabled": False},
            "batch_ingest_config": {},
        }

    # ---- sessions --------------------------------------------------------------------------

    def _session_json(self, session: _Session) -> dict[str, Any]:
        return {
            "id": session.id,
            "tenant_id": self.tenant_id,
            "name": session.name,
            "start_time": _iso_dt(session.start),
            "end_time": None,
            "description": None,
            "extra": None,
            "default_dataset_id": None,
            "reference_dataset_id": None,
            "trace_tier": "longlived",
            "run_count": len(session.runs),
        }

    def _list_sessions(self, query: Any) -> list[dict[str, Any]]:
        offset, limit = _paging(query)
        ids = [_query_uuid(v, "id") for v in query.getlist("id")]
        name = query.get("name")
        contains = query.get("name_contains")
        found = [
            s
            for s in self._sessions.values()
            if (name is None or s.name == name)
            and (contains is None or contains.lower() in s.name.lower())
            and (not ids or s.id in ids)
        ]
        found.sort(key=lambda s: (s.start, s.id), reverse=True)
        return [self._session_json(s) for s in found[offset : offset + limit]]

    def _get_session(self, raw_id: str) -> dict[str, Any]:
        sid = _norm_uuid(raw_id)
        if sid is None:
            raise _invalid(["path", "session_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
        session = self._sessions.get(sid)
        if session is None:
            raise _Answer(404, {"detail": "Not found"})
        return self._session_json(session)

    # ---- runs/delete -----------------------------------------------------------------------

    def _delete_runs(self, raw_body: bytes) -> dict[str, Any]:
        """Queue deletes; 202 even for unknown ids (LangSmith checks nothing at this point).

        INFERRED by the reference, chosen strict here: more than 1000 trace ids, or trace ids
        without a ``session_id``, are a 422.  A metadata delete on a workspace without the
        feature is a 403 for the whole request.
        """
        body = _json_object(raw_body)
        session_id = body.get("session_id")
        trace_ids = body.get("trace_ids")
        metadata = body.get("metadata")
        sid: str | None = None
        if session_id is not None:
            sid = _norm_uuid(session_id)
            if sid is None:
                raise _invalid(["body", "session_id"], "Input should be a valid UUID", "uuid_parsing", session_id)
        tids: list[str] = []
        if trace_ids is not None:
            if not isinstance(trace_ids, list):
                raise _invalid(["body", "trace_ids"], "Input should be a valid list", "list_type", trace_ids)
            if len(trace_ids) > MAX_DELETE_TRACE_IDS:
                raise _invalid(
                    ["body", "trace_ids"],
                    f"List should have at most {MAX_DELETE_TRACE_IDS} items after validation, not {len(trace_ids)}",
                    "too_long",
                )
            for i, raw in enumerate(trace_ids):
                tid = _norm_uuid(raw)
                if tid is None:
                    raise _invalid(["body", "trace_ids", i], "Input should be a valid UUID", "uuid_parsing", raw)
                tids.append(tid)
            if sid is None:
                raise _invalid(["body", "session_id"], "session_id is required with trace_ids", "missing")
        if metadata is not None:
            if not isinstance(metadata, dict) or not metadata:
                raise _invalid(["body", "metadata"], "Input should be a non-empty object", "dict_type", metadata)
            for key, value in metadata.items():
                if not isinstance(value, str):
                    raise _invalid(["body", "metadata", key], "Input should be a valid string", "string_type", value)
        if trace_ids is None and metadata is None:
            raise _invalid(["body"], "Provide session_id with trace_ids, or metadata", "value_error")
        if metadata is not None and not self.metadata_delete_enabled:
            raise _Answer(403, {"detail": METADATA_DELETE_DISABLED})
        if tids:
            self._queue.append(("traces", (sid, tuple(tids))))
        if metadata:
            self._queue.append(("metadata", dict(metadata)))
        return {"message": "Run deletes queued"}

    # ---- runs/query ------------------------------------------------------------------------

    def _query_runs(self, raw_body: bytes) -> dict[str, Any]:
        """``POST runs/query`` with cursor paging, newest first by default.

        Selection: ``id`` (a list) wins over every other filter, as the docs say; otherwise
        ``trace``, ``session`` (a list), ``is_root``, ``run_type``, ``start_time`` (runs starting
        at or after it) and the three filter strings narrow the runs.  A run is returned when it
        matches ``filter`` itself, its trace's root run matches ``trace_filter`` and some run of
        its trace matches ``tree_filter`` (each only if given).
        """
        body = _json_object(raw_body)
        limit = body.get("limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise _invalid(["body", "limit"], "Input should be a valid integer", "int_type", limit)
        if not 1 <= limit <= 100:
            raise _invalid(["body", "limit"], "Input should be between 1 and 100", "less_than_equal", limit)
        session = body.get("session")
        if session is not None and not isinstance(session, list):
            raise _invalid(["body", "session"], "Input should be a valid list", "list_type", session)
        sessions = [_body_uuid(v, ["body", "session", i]) for i, v in enumerate(session or [])]
        raw_ids = body.get("id")
        if raw_ids is not None and not isinstance(raw_ids, list):
            raise _invalid(["body", "id"], "Input should be a valid list", "list_type", raw_ids)
        ids = [_body_uuid(v, ["body", "id", i]) for i, v in enumerate(raw_ids or [])]
        trace = body.get("trace")
        trace_id = _body_uuid(trace, ["body", "trace"]) if trace is not None else None
        is_root = body.get("is_root")
        if is_root is not None and not isinstance(is_root, bool):
            raise _invalid(["body", "is_root"], "Input should be a valid boolean", "bool_type", is_root)
        order = body.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid(["body", "order"], "Input should be 'asc' or 'desc'", "enum", order)
        run_type = body.get("run_type")
        since: float | None = None
        if body.get("start_time") is not None:
            moment = _parse_time(str(body["start_time"]))
            if moment is None:
                raise _invalid(["body", "start_time"], "Input should be a valid datetime", "datetime_parsing")
            since = moment.timestamp()
        filters: dict[str, FilterNode] = {}
        for name in ("filter", "trace_filter", "tree_filter"):
            text = body.get(name)
            if text is None or text == "":
                continue
            if not isinstance(text, str):
                raise _invalid(["body", name], "Input should be a valid string", "string_type", text)
            try:
                filters[name] = parse_filter(text)
            except FilterError as exc:
                raise _Answer(400, {"detail": f"Invalid {name}: {exc}"}) from exc
        select = body.get("select")
        if select is not None and (not isinstance(select, list) or not all(isinstance(s, str) for s in select)):
            raise _invalid(["body", "select"], "Input should be a valid list of strings", "list_type", select)
        cursor = body.get("cursor")
        after: tuple[float, str] | None = None
        if cursor is not None:
            after = _decode_cursor(cursor)

        # Candidates, sorted by (-ts, id) ascending (= newest first).
        candidates: list[_Run]
        if raw_ids is not None:
            candidates = sorted((self._runs[i] for i in set(ids) if i in self._runs), key=_run_key)
            checks: list[Callable[[_Run], bool]] = []
        else:
            if trace_id is not None:
                candidates = sorted(self._traces.get(trace_id, ()), key=_run_key)
            elif len(sessions) == 1:
                found = self._sessions.get(sessions[0])
                candidates = found.sorted_runs() if found else []
            else:
                pool = [self._sessions[s] for s in dict.fromkeys(sessions) if s in self._sessions]
                if not sessions:
                    pool = list(self._sessions.values())
                candidates = sorted((r for s in pool for r in s.runs), key=_run_key)
            checks = self._run_checks(sessions, trace_id, is_root, run_type, since, filters)

        runs: list[_Run] = []
        more = False
        if order == "desc":
            start = bisect.bisect_right(candidates, after, key=_run_key) if after else 0
            indices: Iterable[int] = range(start, len(candidates))
            end = len(candidates) - 1
        else:
            start = bisect.bisect_left(candidates, after, key=_run_key) - 1 if after else len(candidates) - 1
            indices = range(start, -1, -1)
            end = 0
        for i in indices:
            run = candidates[i]
            if order == "desc" and since is not None and raw_ids is None and run.ts < since:
                break  # newest first: every run after this one started before ``start_time`` too
            if all(check(run) for check in checks):
                runs.append(run)
                if len(runs) == limit:
                    more = i != end
                    break
        next_cursor = _encode_cursor(_run_key(runs[-1])) if more else None
        fields = set(select) if select else None
        return {
            "runs": [self._run_json(r, fields) for r in runs],
            "cursors": {"next": next_cursor, "prev": None},
            "search_cursors": None,
            "parsed_query": None,
        }

    def _run_checks(
        self,
        sessions: list[str],
        trace_id: str | None,
        is_root: bool | None,
        run_type: Any,
        since: float | None,
        filters: dict[str, FilterNode],
    ) -> list[Callable[[_Run], bool]]:
        checks: list[Callable[[_Run], bool]] = []
        if trace_id is not None and sessions:
            wanted = set(sessions)
            checks.append(lambda r: r.session_id in wanted)
        if is_root is not None:
            checks.append(lambda r: (r.parent_run_id is None) == is_root)
        if run_type is not None:
            checks.append(lambda r: r.run_type == run_type)
        if since is not None:
            checks.append(lambda r: r.ts >= since)
        if "filter" in filters:
            checks.append(compile_filter(filters["filter"]))
        if "trace_filter" in filters:
            tmatch = compile_filter(filters["trace_filter"])
            roots: dict[str, bool] = {}

            def root_matches(r: _Run) -> bool:
                if r.trace_id not in roots:
                    roots[r.trace_id] = tmatch(self._traces[r.trace_id][0])
                return roots[r.trace_id]

            checks.append(root_matches)
        if "tree_filter" in filters:
            xmatch = compile_filter(filters["tree_filter"])
            trees: dict[str, bool] = {}

            def tree_matches(r: _Run) -> bool:
                if r.trace_id not in trees:
                    trees[r.trace_id] = any(xmatch(x) for x in self._traces[r.trace_id])
                return trees[r.trace_id]

            checks.append(tree_matches)
        return checks

    def _run_json(self, run: _Run, fields: set[str] | None) -> dict[str, Any]:
        root_ts = self._traces[run.trace_id][0].ts if run.trace_id in self._traces else run.ts
        stamp = datetime.fromtimestamp(root_ts, UTC).strftime("%Y%m%dT%H%M%S%fZ")
        dotted = f"{stamp}{run.trace_id}"
        if run.parent_run_id is not None:
            dotted += "." + datetime.fromtimestamp(run.ts, UTC).strftime("%Y%m%dT%H%M%S%fZ") + run.id
        full: dict[str, Any] = {
            "id": run.id,
            "trace_id": run.trace_id,
            "session_id": run.session_id,
            "parent_run_id": run.parent_run_id,
            "name": run.name,
            "run_type": run.run_type,
            "status": "success",
            "dotted_order": dotted,
            "app_path": f"/o/{self.tenant_id}/projects/p/{run.session_id}/r/{run.id}?trace_id={run.trace_id}",
            "start_time": _iso(run.ts),
            "end_time": _iso(run.ts + 0.5),
            "extra": {"metadata": dict(run.metadata or {})},
            "trace_tier": "longlived",
            "ttl_seconds": None,
            "trace_first_received_at": _iso(root_ts),
        }
        if fields is None:
            return full
        return {k: v for k, v in full.items() if k == "id" or k in fields}

    # ---- examples --------------------------------------------------------------------------

    def _list_datasets(self, query: Any) -> list[dict[str, Any]]:
        """``GET datasets``: every dataset, oldest first, offset-paged (a bare array, like sessions)."""
        offset, limit = _paging(query)
        rows = []
        for did, name in self._datasets.items():
            members = [e for e in self._examples.values() if e.dataset_id == did]
            times = [v.at for e in members for v in e.versions]
            rows.append(
                {
                    "id": did,
                    "name": name,
                    "tenant_id": self.tenant_id,
                    "example_count": len(members),
                    "modified_at": _iso_dt(max(times)) if times else None,
                }
            )
        return rows[offset : offset + limit]

    def _dataset_versions(self, raw_id: str, query: Any) -> list[dict[str, Any]]:
        """``GET datasets/{id}/versions``: one entry per moment the dataset changed, newest first."""
        did = _norm_uuid(raw_id)
        if did is None:
            raise _invalid(["path", "dataset_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
        if did not in self._datasets:
            raise _Answer(404, {"detail": "Dataset not found"})
        offset, limit = _paging(query)
        moments = sorted(
            {v.at for e in self._examples.values() if e.dataset_id == did for v in e.versions}, reverse=True
        )
        return [{"as_of": _iso_dt(moment), "tags": []} for moment in moments[offset : offset + limit]]

    def _list_examples(self, query: Any) -> list[dict[str, Any]]:
        """``GET examples``: ``metadata`` is a JSON object matched by containment at ``as_of``."""
        offset, limit = _paging(query)
        as_of = _as_of(query.get("as_of"))
        ids = {_query_uuid(v, "id") for v in query.getlist("id")}
        dataset = query.get("dataset")
        did = _query_uuid(dataset, "dataset") if dataset is not None else None
        wanted: dict[str, Any] | None = None
        if query.get("metadata") is not None:
            try:
                wanted = json.loads(query["metadata"])
            except ValueError:
                wanted = None
            if not isinstance(wanted, dict):
                raise _invalid(["query", "metadata"], "Input should be a JSON object", "json_invalid")
        found: list[tuple[_Example, _Version]] = []
        for example in self._examples.values():
            if (ids and example.id not in ids) or (did and example.dataset_id != did):
                continue
            version = example.at(as_of)
            if version is None:
                continue
            if wanted and not (
                version.metadata is not None and all(version.metadata.get(k) == v for k, v in wanted.items())
            ):
                continue
            found.append((example, version))
        found.sort(key=lambda ev: (ev[0].created_at, ev[0].id), reverse=True)
        return [_example_json(e, v) for e, v in found[offset : offset + limit]]

    def _get_example(self, raw_id: str, query: Any) -> dict[str, Any]:
        eid = _norm_uuid(raw_id)
        if eid is None:
            raise _invalid(["path", "example_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
        as_of = _as_of(query.get("as_of"))
        example = self._examples.get(eid)
        version = example.at(as_of) if example else None
        if example is None or version is None:
            raise _Answer(404, {"detail": "Example not found"})
        return _example_json(example, version)

    def _hard_delete_examples(self, raw_body: bytes) -> dict[str, Any]:
        """Null inputs/outputs/metadata in every version at once; count the ids that existed."""
        try:
            body = json.loads(raw_body or b"null")
        except ValueError as exc:
            raise _Answer(400, {"error": "invalid request body", "details": str(exc)}) from exc
        if not isinstance(body, dict):
            raise _Answer(400, {"error": "invalid request body", "details": "expected a JSON object"})
        ids = body.get("example_ids")
        if not isinstance(ids, list) or not ids:
            raise _Answer(422, {"error": "example_ids is required and must not be empty", "details": None})
        if len(ids) > MAX_HARD_DELETE_EXAMPLES:
            raise _Answer(
                422,
                {"error": f"example_ids must have at most {MAX_HARD_DELETE_EXAMPLES} items", "details": None},
            )
        if body.get("hard_delete") is not True:
            raise _Answer(422, {"error": "hard_delete: currently only true is supported", "details": None})
        normalised: list[str] = []
        for raw in ids:
            eid = _norm_uuid(raw)
            if eid is None:
                raise _Answer(400, {"error": "invalid example id", "details": json.dumps(raw)})
            normalised.append(eid)
        deleted: list[str] = []
        for eid in dict.fromkeys(normalised):
            example = self._examples.get(eid)
            if example is None:
                continue
            for version in example.versions:
                version.inputs = version.outputs = version.metadata = None
            deleted.append(eid)
        return {"count": len(deleted), "example_ids": deleted}


def _copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def _example_json(example: _Example, version: _Version) -> dict[str, Any]:
    return {
        "id": example.id,
        "dataset_id": example.dataset_id,
        "name": example.name,
        "inputs": version.inputs,
        "outputs": version.outputs,
        "metadata": version.metadata,
        "created_at": _iso_dt(example.created_at),
        "modified_at": _iso_dt(version.at),
        "source_run_id": example.source_run_id,
        "attachment_urls": None,
    }


def _split_path(path: str) -> tuple[str, str]:
    """("v1" | "platform" | "sandbox", route) for a request path in either layout."""
    for prefix, kind in (
        ("/api/v1/platform/", "platform"),
        ("/v1/platform/", "platform"),
        ("/api/v1/", "v1"),
        ("/_sandbox/", "sandbox"),
    ):
        if path.startswith(prefix):
            return kind, path[len(prefix) :].rstrip("/")
    return "v1", path.lstrip("/").rstrip("/")


def _allow(method: str, wanted: str) -> None:
    if method != wanted:
        raise _Answer(405, {"detail": "Method Not Allowed"})


def _json_object(raw: bytes) -> dict[str, Any]:
    """FastAPI's body parsing: malformed JSON or a non-object is a 422."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError as exc:
        raise _Answer(
            422,
            {
                "detail": [
                    {
                        "type": "json_invalid",
                        "loc": ["body", getattr(exc, "pos", 0)],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": getattr(exc, "msg", str(exc))},
                    }
                ]
            },
        ) from exc
    if not isinstance(body, dict):
        raise _invalid(
            ["body"],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
            body,
        )
    return body


def _body_uuid(value: Any, loc: list[str | int]) -> str:
    norm = _norm_uuid(value)
    if norm is None:
        raise _invalid(loc, "Input should be a valid UUID", "uuid_parsing", value)
    return norm


def _query_uuid(value: Any, name: str) -> str:
    norm = _norm_uuid(value)
    if norm is None:
        raise _invalid(["query", name], "Input should be a valid UUID", "uuid_parsing", value)
    return norm


def _paging(query: Any) -> tuple[int, int]:
    values: dict[str, int] = {}
    for name, default, low, high in (("offset", 0, 0, None), ("limit", 100, 1, 100)):
        raw = query.get(name)
        if raw is None:
            values[name] = default
            continue
        try:
            number = int(raw)
        except ValueError:
            raise _invalid(["query", name], "Input should be a valid integer", "int_parsing", raw) from None
        if number < low:
            raise _invalid(
                ["query", name], f"Input should be greater than or equal to {low}", "greater_than_equal", raw
            )
        if high is not None and number > high:
            raise _invalid(["query", name], f"Input should be less than or equal to {high}", "less_than_equal", raw)
        values[name] = number
    return values["offset"], values["limit"]


def _as_of(raw: str | None) -> datetime | None:
    if raw is None or raw == "latest":
        return None
    moment = _parse_time(raw)
    if moment is None:
        raise _invalid(["query", "as_of"], "Input should be a datetime or 'latest'", "datetime_parsing", raw)
    return moment


def _encode_cursor(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode()


def _decode_cursor(cursor: Any) -> tuple[float, str]:
    try:
        neg_ts, run_id = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        return float(neg_ts), str(run_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _Answer(400, {"detail": "Invalid cursor"}) from exc


# --------------------------------------------------------------------------------------------
# The ASGI app
# --------------------------------------------------------------------------------------------


async def _wait(request: Request, seconds: float) -> bool:
    """Sleep up to ``seconds``; stop early (returning False) if the client hung up."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return False


def create_app(state: FakeLangSmith) -> Starlette:
    """The Starlette app serving ``state`` over HTTP, in both path layouts."""

    async def api(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox/"):
            return await _sandbox(state, request)
        try:
            raw = await request.body()
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        headers = {k: ("<redacted>" if k == "x-api-key" else v) for k, v in request.headers.items()}
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        index = state._record(Call(request.method, path, query, parsed, None, time.monotonic(), headers))
        fault = state._take_fault(path)
        delay = state.latency + (fault.delay if fault else 0.0)
        if delay > 0 and not await _wait(request, delay):
            state._finish(index, 499, fault)  # the client gave up (nginx's "client closed request")
            return Response(status_code=499)
        proxied = PROXY_HEADER in request.headers
        if fault is not None and fault.reset == "before":
            if proxied:
                state._finish(index, None, fault)
                return Response(status_code=502, headers={RESET_HEADER: "before"})
            return _no_proxy_reset(state, index, fault)
        if fault is not None and fault.status is not None:
            status = fault.status
            body = fault.body if fault.body is not None else {"detail": f"Injected fault {status}"}
            extra = {"Retry-After": _retry_after_text(fault.retry_after)} if fault.retry_after is not None else {}
        else:
            status, body, extra = state.handle(request.method, path, request.query_params, raw, request.headers)
        if fault is not None and fault.reset == "after":
            if proxied:
                state._finish(index, status, fault)  # done, but the answer never reaches the client
                return JSONResponse(body, status_code=status, headers={**extra, RESET_HEADER: "after"})
            return _no_proxy_reset(state, index, fault)
        state._finish(index, status, fault)
        return JSONResponse(body, status_code=status, headers=extra)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", api, methods=methods)])


def _no_proxy_reset(state: FakeLangSmith, index: int, fault: Fault) -> Response:
    """A reset asked for without the faulty proxy in front: answer as a load balancer would."""
    state._finish(index, 502, fault)
    return JSONResponse({"detail": "upstream connection reset (no faulty proxy in front)"}, status_code=502)


def _retry_after_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def _sandbox(state: FakeLangSmith, request: Request) -> Response:
    """Unauthenticated test controls (``/_sandbox/...``)."""
    _, action = _split_path(request.url.path)
    body: Any = {}
    if request.method == "POST":
        raw = await request.body()
        body = json.loads(raw) if raw else {}
    if action == "weekend" and request.method == "POST":
        return JSONResponse({"deleted": state.run_weekend()})
    if action == "inject" and request.method == "POST":
        fault = dict(body)
        state.inject(fault.pop("path"), **fault)
        return JSONResponse({"ok": True})
    if action == "inject_random" and request.method == "POST":
        try:
            faults = [Fault.from_json(item) for item in body.get("faults", [])]
            state.inject_random(
                body["path"],
                rate=float(body["rate"]),
                faults=faults,
                seed=int(body.get("seed", 0)),
                times=body.get("times"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"detail": f"bad inject_random: {exc}"}, status_code=400)
        return JSONResponse({"ok": True})
    if action == "clear_faults" and request.method == "POST":
        state.clear_faults()
        return JSONResponse({"ok": True})
    if action == "calls" and request.method == "GET":
        return JSONResponse({"calls": [dataclasses.asdict(c) for c in state.calls]})
    if action == "status" and request.method == "GET":
        return JSONResponse({"pending_deletes": state.pending_deletes(), "traces": state.trace_count()})
    if action == "seed" and request.method == "POST":
        return JSONResponse(_seed(state, body))
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def _seed(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    """``{"project": name, "traces": n, "metadata": {...}, "child_metadata": [...]}`` and/or
    ``{"dataset": name, "examples": [{"inputs":..., "outputs":..., "metadata":...}]}``."""
    out: dict[str, Any] = {}
    if "project" in body:
        try:
            pid = state.project_id(body["project"])
        except KeyError:
            pid = state.add_project(body["project"])
        out["project_id"] = pid
        out["trace_ids"] = state.add_traces(
            pid,
            int(body.get("traces", 0)),
            metadata=body.get("metadata"),
            child_metadata=body.get("child_metadata"),
        )
    if "dataset" in body:
        did = state.add_dataset(body["dataset"])
        out["dataset_id"] = did
        out["example_ids"] = [
            state.add_example(did, inputs=ex.get("inputs", {}), outputs=ex.get("outputs"), metadata=ex.get("metadata"))
            for ex in body.get("examples", [])
        ]
    return out


def seed_demo(state: FakeLangSmith) -> dict[str, Any]:
    """A small workspace for ``purgebot demo``: one project, a subject ``user_id=123`` in five
    traces (one only via a child run), and a dataset with copies of two of them."""
    pid = state.add_project("support-bot")
    others = state.add_traces(pid, 40, metadata={"user_id": "456"})
    subject = [state.add_trace(pid, metadata={"user_id": "123", "channel": "web"}) for _ in range(4)]
    subject.append(state.add_trace(pid, metadata={"channel": "web"}, child_metadata=[{"user_id": "123"}]))
    did = state.add_dataset("support-examples")
    examples = [
        state.add_example(did, inputs={"q": "reset my password"}, outputs={"a": "done"}, metadata={"user_id": "123"}),
        state.add_example(
            did, inputs={"q": "where is my order"}, outputs={"a": "shipped"}, metadata={"user_id": "123"}
        ),
        state.add_example(did, inputs={"q": "hello"}, outputs={"a": "hi"}, metadata={"user_id": "456"}),
    ]
    state.remove_example_from_latest(examples[1])
    return {
        "project_id": pid,
        "subject_traces": subject,
        "other_traces": others,
        "dataset_id": did,
        "examples": examples,
    }


def _limit(text: str) -> tuple[int, float]:
    """``CALLS/SECONDS`` (e.g. ``15/10``) as a rate-limit window."""
    calls, _, seconds = text.partition("/")
    try:
        return int(calls), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CALLS/SECONDS such as 15/10, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a stand-in until interrupted: ``python -m bot.sandbox.langsmith_server --port N``."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Local LangSmith stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--require-tenant", default=None)
    parser.add_argument("--no-metadata-delete", action="store_true")
    parser.add_argument("--seed-demo", action="store_true")
    parser.add_argument("--query-limit", type=_limit, default=(15, 10.0), help="runs/query calls per window: 15/10")
    parser.add_argument("--default-limit", type=_limit, default=(1000, 10.0), help="other calls per window: 1000/10")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    args = parser.parse_args(argv)
    state = FakeLangSmith(
        api_key=args.api_key,
        require_tenant=args.require_tenant,
        metadata_delete_enabled=not args.no_metadata_delete,
        query_limit=args.query_limit,
        default_limit=args.default_limit,
        latency=args.latency,
    )
    if args.seed_demo:
        seeded = seed_demo(state)
        print(f"seeded project support-bot ({seeded['project_id']})", flush=True)
    print(f"LangSmith stand-in on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
