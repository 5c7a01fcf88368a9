"""v2 ``POST /api/v2/runs/query``: how the stand-in answers SmithDB's run query (reference §2).

The v2 contract, as served here:

* ``project_ids`` (UUIDs) is required, even with ``ids``, unless ``reference_dataset_id`` is
  given (not both).  A project the key cannot see (unknown or hidden) yields no items and no
  error: a client must check that its projects are visible itself.
* The start-time window ``[min_start_time, max_start_time]`` (RFC 3339, both inclusive) defaults
  to the last 24 hours of the stand-in's ``now`` and applies to everything, ``ids`` and
  ``trace_id`` included: a client that omits ``min_start_time`` sees nothing older than a day.
* ``page_size`` 1..1000 (default 100); ``selects`` are UPPERCASE names (omitted: ``["ID"]``)
  and an item carries exactly the selected fields, lower-case (``PROJECT_ID`` → ``project_id``).
* Answer: ``{"items": [...], "next_cursor": "<opaque>" | null}``, newest first.  The cursor
  carries the window it was made for, so later pages keep the first page's default window, and
  is refused with another query's body.

Strict where the reference is silent: every field not listed in §2 (``run_type``,
``sort_order``, ...) is refused, as are unknown or lower-case ``selects``, an empty
``project_ids`` or ``selects``, more than 1000 ``ids``, a time without a UTC offset, a window
whose start is after its end, and an empty filter string.  Errors are 400 ``INVALID_REQUEST``
in v2's shape.  The stand-in's runs reference no dataset examples, so ``reference_dataset_id``
finds nothing; they all succeed, so ``has_error: true`` finds nothing either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import timedelta
from typing import Any

from bot.sandbox.langsmith.answers import v2_invalid
from bot.sandbox.langsmith.filters import FilterError, FilterNode, parse_filter
from bot.sandbox.langsmith.model import run_fields, run_key
from bot.sandbox.langsmith.search import Key, RunSearch, find_page
from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.wire import norm_uuid, parse_rfc3339

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_IDS = 1000
DEFAULT_WINDOW = timedelta(days=1)
FIELDS = frozenset(
    {
        "project_ids",
        "ids",
        "trace_id",
        "filter",
        "trace_filter",
        "tree_filter",
        "is_root",
        "min_start_time",
        "max_start_time",
        "page_size",
        "cursor",
        "selects",
        "has_error",
        "reference_dataset_id",
    }
)
# select name -> the field of :func:`run_fields` it reads; the item's key is the name lower-cased.
SELECTS = {
    "ID": "id",
    "TRACE_ID": "trace_id",
    "PROJECT_ID": "session_id",
    "PARENT_RUN_ID": "parent_run_id",
    "NAME": "name",
    "RUN_TYPE": "run_type",
    "STATUS": "status",
    "START_TIME": "start_time",
    "END_TIME": "end_time",
    "IS_ROOT": "is_root",
    "DOTTED_ORDER": "dotted_order",
    "METADATA": "metadata",
    "TRACE_TIER": "trace_tier",
    "TTL_SECONDS": "ttl_seconds",
    "TRACE_FIRST_RECEIVED_AT": "trace_first_received_at",
}
_NOT_IN_DIGEST = ("cursor", "page_size")  # what may change between the pages of one query


def query_runs(ws: Workspace, raw_body: bytes) -> dict[str, Any]:
    """One page of runs for a v2 query body; see the module docstring for the rules."""
    body = _body(raw_body)
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise v2_invalid(f"unknown field(s): {', '.join(unknown)}")
    projects = _uuids(body, "project_ids", at_most=None)
    dataset = _uuid(body, "reference_dataset_id")
    if projects is None and dataset is None:
        raise v2_invalid("project_ids is required (or reference_dataset_id)")
    if projects is not None and dataset is not None:
        raise v2_invalid("give project_ids or reference_dataset_id, not both")
    page_size = _page_size(body)
    selects = _selects(body)
    digest = _digest(body)
    if body.get("cursor") is not None:
        after, window = _decode_cursor(body["cursor"], digest)
    else:
        after, window = None, _window(ws, body)
    search = RunSearch(
        sessions=tuple(projects or ()),  # a dataset's experiment runs: the stand-in has none
        ids=_uuids(body, "ids", at_most=MAX_IDS),
        trace_id=_uuid(body, "trace_id"),
        is_root=_bool(body, "is_root"),
        has_error=_bool(body, "has_error"),
        since=window[0],
        until=window[1],
        filters=_filters(body),
    )
    runs, more = find_page(ws, search, limit=page_size, after=after)
    items = []
    for run in runs:
        full = run_fields(run, ws.traces[run.trace_id][0], ws.tenant_id)
        items.append({name.lower(): full[SELECTS[name]] for name in selects})
    return {"items": items, "next_cursor": _encode_cursor(run_key(runs[-1]), window, digest) if more else None}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else None
    except ValueError as exc:
        raise v2_invalid(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise v2_invalid("request body must be a JSON object")
    return body


def _uuid(body: dict[str, Any], name: str) -> str | None:
    if body.get(name) is None:
        return None
    value = norm_uuid(body[name])
    if value is None:
        raise v2_invalid(f"{name} must be a UUID")
    return value


def _uuids(body: dict[str, Any], name: str, *, at_most: int | None) -> tuple[str, ...] | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise v2_invalid(f"{name} must be a non-empty list of UUIDs")
    if at_most is not None and len(raw) > at_most:
        raise v2_invalid(f"{name} may hold at most {at_most} UUIDs, not {len(raw)}")
    values = tuple(norm_uuid(v) for v in raw)
    if None in values:
        raise v2_invalid(f"{name} must be a non-empty list of UUIDs")
    return tuple(v for v in values if v is not None)


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise v2_invalid(f"{name} must be a boolean")
    return value


def _page_size(body: dict[str, Any]) -> int:
    value = body.get("page_size", DEFAULT_PAGE_SIZE)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise v2_invalid(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}")
    return value


def _selects(body: dict[str, Any]) -> list[str]:
    raw = body.get("selects")
    if raw is None:
        return ["ID"]
    if not isinstance(raw, list) or not raw:
        raise v2_invalid("selects must be a non-empty list of field names")
    for name in raw:
        if name not in SELECTS:
            raise v2_invalid(f"unknown select {name!r}: selects are UPPERCASE, one of {', '.join(SELECTS)}")
    return list(dict.fromkeys(raw))


def _filters(body: dict[str, Any]) -> tuple[tuple[str, FilterNode], ...]:
    found: list[tuple[str, FilterNode]] = []
    for name in ("filter", "trace_filter", "tree_filter"):
        text = body.get(name)
        if text is None:
            continue
        if not isinstance(text, str):
            raise v2_invalid(f"{name} must be a string")
        try:
            found.append((name, parse_filter(text)))
        except FilterError as exc:
            raise v2_invalid(f"invalid {name}: {exc}") from exc
    return tuple(found)


def _window(ws: Workspace, body: dict[str, Any]) -> tuple[float, float]:
    """``(min, max)`` start times; by default the last 24 hours, which is the danger v2 carries."""
    now = ws.now()
    bounds = []
    for name, default in (("min_start_time", now - DEFAULT_WINDOW), ("max_start_time", now)):
        raw = body.get(name)
        if raw is None:
            bounds.append(default.timestamp())
            continue
        moment = parse_rfc3339(raw) if isinstance(raw, str) else None
        if moment is None:
            raise v2_invalid(f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z")
        bounds.append(moment.timestamp())
    if bounds[0] > bounds[1]:
        raise v2_invalid("min_start_time is after max_start_time")
    return bounds[0], bounds[1]


def _digest(body: dict[str, Any]) -> str:
    """What a cursor is bound to: the query, less what may change from page to page."""
    same = {k: v for k, v in body.items() if k not in _NOT_IN_DIGEST}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16]


def _encode_cursor(key: Key, window: tuple[float, float], digest: str) -> str:
    token = {"k": list(key), "w": list(window), "q": digest}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_cursor(cursor: Any, digest: str) -> tuple[Key, tuple[float, float]]:
    try:
        token = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        (neg_ts, run_id), (since, until), made_for = token["k"], token["w"], token["q"]
        key, window = (float(neg_ts), str(run_id)), (float(since), float(until))
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise v2_invalid("invalid cursor") from exc
    if made_for != digest:
        raise v2_invalid("cursor belongs to another query: send the same body with it")
    return key, window
