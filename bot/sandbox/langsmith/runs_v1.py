"""v1 runs: ``POST runs/delete`` (queue trace deletes, reference §2) and ``POST runs/query``
(search with cursor paging, reference §3.1).

Validation errors are FastAPI's 422 shape; a filter outside the supported language is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bot.sandbox.langsmith.answers import Answer, body_uuid, invalid, json_object, refuse_extra_fields
from bot.sandbox.langsmith.filters import FilterError, FilterNode, parse_filter
from bot.sandbox.langsmith.model import Run, run_fields, run_key
from bot.sandbox.langsmith.search import Key, RunSearch, find_page
from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.weekend import MetadataDelete, TraceDelete
from bot.sandbox.langsmith.wire import parse_time

MAX_DELETE_TRACE_IDS = 1000
MAX_QUERY_LIMIT = 100
METADATA_DELETE_DISABLED = "bulk run deletes are not enabled for this workspace"
RUN_TYPES = ("tool", "chain", "llm", "retriever", "embedding", "prompt", "parser")
_DELETE_FIELDS = ("session_id", "trace_ids", "metadata", "start_time", "end_time", "delete_examples")
_QUERY_FIELDS = (
    "id",
    "trace",
    "session",
    "is_root",
    "run_type",
    "start_time",
    "filter",
    "trace_filter",
    "tree_filter",
    "cursor",
    "limit",
    "select",
    "order",
)
# In LangSmith's schema (reference §3.1) but not implemented here: refused rather than ignored, so a
# client relying on one finds out in a test instead of getting runs the field should have excluded.
_QUERY_NOT_IMPLEMENTED = frozenset(
    {
        "parent_run",
        "reference_example",
        "execution_order",
        "end_time",
        "error",
        "query",
        "data_source_type",
        "skip_pagination",
        "search_filter",
        "use_experimental_search",
        "skip_prev_cursor",
    }
)
# The run fields v1 answers and ``select`` may name.
_V1_FIELDS = (
    "id",
    "trace_id",
    "session_id",
    "parent_run_id",
    "name",
    "run_type",
    "status",
    "dotted_order",
    "app_path",
    "start_time",
    "end_time",
    "extra",
    "trace_tier",
    "ttl_seconds",
    "trace_first_received_at",
)


def delete_runs(ws: Workspace, raw_body: bytes) -> dict[str, Any]:
    """Queue deletes; 202 even for unknown ids (LangSmith checks nothing at this point).

    Two kinds, in one request or two: ``session_id`` with ``trace_ids`` (a known list), or
    ``metadata`` (values any JSON, OR-matched, workspace-wide) with ``start_time`` and optionally
    ``end_time``, taking matching traces that started within those bounds (reference §6).

    INFERRED by the reference, chosen strict here: more than 1000 trace ids, trace ids without a
    ``session_id``, a metadata delete without ``start_time`` (the newer spec's reading; the docs
    still show metadata alone), time bounds without metadata and unknown fields are 422s.  A
    metadata delete on a workspace without the feature is a 403 for the whole request.
    ``delete_examples`` (undocumented) must be a boolean and changes nothing: dataset copies stay,
    so a client must hard-delete examples itself.
    """
    body = json_object(raw_body)
    refuse_extra_fields(body, _DELETE_FIELDS)
    by_ids = _trace_delete(body)
    metadata = _delete_metadata(body)
    since, until = _time(body, "start_time"), _time(body, "end_time")
    if by_ids is None and metadata is None:
        raise invalid(["body"], "Provide session_id with trace_ids, or metadata with start_time", "value_error")
    if metadata is not None and since is None:
        raise invalid(["body", "start_time"], "Field required: a delete by metadata needs start_time", "missing")
    if metadata is None and (since is not None or until is not None):
        name = "start_time" if since is not None else "end_time"
        raise invalid(["body", name], f"{name} bounds a delete by metadata; send it with metadata", "value_error")
    if since is not None and until is not None and until < since:
        raise invalid(["body", "end_time"], "end_time is before start_time", "value_error", body["end_time"])
    delete_examples = body.get("delete_examples")
    if delete_examples is not None and not isinstance(delete_examples, bool):
        raise invalid(["body", "delete_examples"], "Input should be a valid boolean", "bool_type", delete_examples)
    if metadata is not None and not ws.metadata_delete_enabled:
        raise Answer(403, {"detail": METADATA_DELETE_DISABLED})
    if by_ids is not None and by_ids.trace_ids:
        ws.queue.append(by_ids)
    if metadata is not None and since is not None:
        ws.queue.append(MetadataDelete(tuple(metadata.items()), since, until))
    return {"message": "Run deletes queued"}


def _trace_delete(body: dict[str, Any]) -> TraceDelete | None:
    session_id, trace_ids = body.get("session_id"), body.get("trace_ids")
    sid = body_uuid(session_id, ["body", "session_id"]) if session_id is not None else None
    if trace_ids is None:
        return None
    if not isinstance(trace_ids, list):
        raise invalid(["body", "trace_ids"], "Input should be a valid list", "list_type", trace_ids)
    if len(trace_ids) > MAX_DELETE_TRACE_IDS:
        raise invalid(
            ["body", "trace_ids"],
            f"List should have at most {MAX_DELETE_TRACE_IDS} items after validation, not {len(trace_ids)}",
            "too_long",
        )
    tids = tuple(body_uuid(raw, ["body", "trace_ids", i]) for i, raw in enumerate(trace_ids))
    if sid is None:
        raise invalid(["body", "session_id"], "session_id is required with trace_ids", "missing")
    return TraceDelete(sid, tids)


def _delete_metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or not metadata):
        raise invalid(["body", "metadata"], "Input should be a non-empty object", "dict_type", metadata)
    return metadata


def _time(body: dict[str, Any], name: str) -> float | None:
    """An optional date-time field as epoch seconds; FastAPI reads a naive time as UTC."""
    raw = body.get(name)
    if raw is None:
        return None
    moment = parse_time(raw) if isinstance(raw, str) else None
    if moment is None:
        raise invalid(["body", name], "Input should be a valid datetime", "datetime_parsing", raw)
    return moment.timestamp()


def query_runs(ws: Workspace, raw_body: bytes) -> dict[str, Any]:
    """``POST runs/query`` with cursor paging, newest first by default.

    Selection: ``id`` (a list) wins over every other filter, as the docs say; otherwise
    ``trace``, ``session`` (a list), ``is_root``, ``run_type``, ``start_time`` (runs starting
    at or after it) and the three filter strings narrow the runs.  A run is returned when it
    matches ``filter`` itself, its trace's root run matches ``trace_filter`` and some run of
    its trace matches ``tree_filter`` (each only if given).
    """
    body = json_object(raw_body)
    _refuse_unknown_query_fields(body)
    limit = body.get("limit", MAX_QUERY_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise invalid(["body", "limit"], "Input should be a valid integer", "int_type", limit)
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise invalid(["body", "limit"], f"Input should be between 1 and {MAX_QUERY_LIMIT}", "less_than_equal", limit)
    order = body.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(["body", "order"], "Input should be 'asc' or 'desc'", "enum", order)
    select = _select(body)
    search = _search(body)
    after = _decode_cursor(body["cursor"]) if body.get("cursor") is not None else None
    runs, more = find_page(ws, search, limit=limit, after=after, order=order)
    fields = set(select) if select else None
    return {
        "runs": [_run_json(ws, run, fields) for run in runs],
        "cursors": {"next": _encode_cursor(run_key(runs[-1])) if more else None, "prev": None},
        "search_cursors": None,
        "parsed_query": None,
    }


def _search(body: dict[str, Any]) -> RunSearch:
    """The body's constraints; ``id`` overrides every other filter (the docs say so)."""
    session = body.get("session")
    if session is not None and not isinstance(session, list):
        raise invalid(["body", "session"], "Input should be a valid list", "list_type", session)
    sessions = tuple(body_uuid(v, ["body", "session", i]) for i, v in enumerate(session or []))
    raw_ids = body.get("id")
    if raw_ids is not None and not isinstance(raw_ids, list):
        raise invalid(["body", "id"], "Input should be a valid list", "list_type", raw_ids)
    ids = tuple(body_uuid(v, ["body", "id", i]) for i, v in enumerate(raw_ids or []))
    trace = body.get("trace")
    trace_id = body_uuid(trace, ["body", "trace"]) if trace is not None else None
    is_root = body.get("is_root")
    if is_root is not None and not isinstance(is_root, bool):
        raise invalid(["body", "is_root"], "Input should be a valid boolean", "bool_type", is_root)
    run_type = body.get("run_type")
    if run_type is not None and run_type not in RUN_TYPES:
        expected = ", ".join(repr(t) for t in RUN_TYPES)
        raise invalid(["body", "run_type"], f"Input should be {expected}", "enum", run_type)
    since = _time(body, "start_time")
    filters = _filters(body)
    if raw_ids is not None:
        return RunSearch(ids=ids)
    return RunSearch(
        sessions=sessions or None,
        trace_id=trace_id,
        is_root=is_root,
        run_type=run_type,
        since=since,
        filters=filters,
    )


def _refuse_unknown_query_fields(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if name in _QUERY_NOT_IMPLEMENTED:
            msg = f"{name} is in LangSmith's schema but the stand-in does not implement it"
            raise invalid(["body", name], msg, "not_implemented", value)
    refuse_extra_fields(body, _QUERY_FIELDS)


def _select(body: dict[str, Any]) -> list[str] | None:
    """``select`` values must name fields the stand-in serves (a subset of LangSmith's ``RunSelect``)."""
    select = body.get("select")
    if select is None:
        return None
    if not isinstance(select, list):
        raise invalid(["body", "select"], "Input should be a valid list", "list_type", select)
    for i, name in enumerate(select):
        if name not in _V1_FIELDS:
            expected = ", ".join(repr(f) for f in _V1_FIELDS)
            raise invalid(["body", "select", i], f"Input should be {expected}", "enum", name)
    return select


def _filters(body: dict[str, Any]) -> tuple[tuple[str, FilterNode], ...]:
    found: list[tuple[str, FilterNode]] = []
    for name in ("filter", "trace_filter", "tree_filter"):
        text = body.get(name)
        if text is None or text == "":
            continue
        if not isinstance(text, str):
            raise invalid(["body", name], "Input should be a valid string", "string_type", text)
        try:
            found.append((name, parse_filter(text)))
        except FilterError as exc:
            raise Answer(400, {"detail": f"Invalid {name}: {exc}"}) from exc
    return tuple(found)


def _run_json(ws: Workspace, run: Run, fields: set[str] | None) -> dict[str, Any]:
    full = run_fields(run, ws.traces[run.trace_id][0], ws.tenant_id)
    return {k: full[k] for k in _V1_FIELDS if fields is None or k == "id" or k in fields}


def _encode_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode()


def _decode_cursor(cursor: Any) -> Key:
    try:
        neg_ts, run_id = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        return float(neg_ts), str(run_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Answer(400, {"detail": "Invalid cursor"}) from exc
