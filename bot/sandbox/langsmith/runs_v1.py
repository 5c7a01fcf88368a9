"""v1 runs: ``POST runs/delete`` (queue trace deletes, reference §2) and ``POST runs/query``
(search with cursor paging, reference §3.1).

Validation errors are FastAPI's 422 shape; a filter outside the supported language is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bot.sandbox.langsmith.answers import Answer, body_uuid, invalid, json_object
from bot.sandbox.langsmith.filters import FilterError, FilterNode, parse_filter
from bot.sandbox.langsmith.model import Run, run_fields, run_key
from bot.sandbox.langsmith.search import Key, RunSearch, find_page
from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.weekend import MetadataDelete, TraceDelete
from bot.sandbox.langsmith.wire import parse_time

MAX_DELETE_TRACE_IDS = 1000
MAX_QUERY_LIMIT = 100
METADATA_DELETE_DISABLED = "bulk run deletes are not enabled for this workspace"
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

    INFERRED by the reference, chosen strict here: more than 1000 trace ids, or trace ids
    without a ``session_id``, are a 422.  A metadata delete on a workspace without the
    feature is a 403 for the whole request.
    """
    body = json_object(raw_body)
    session_id = body.get("session_id")
    trace_ids = body.get("trace_ids")
    metadata = body.get("metadata")
    sid: str | None = None
    if session_id is not None:
        sid = body_uuid(session_id, ["body", "session_id"])
    tids: list[str] = []
    if trace_ids is not None:
        if not isinstance(trace_ids, list):
            raise invalid(["body", "trace_ids"], "Input should be a valid list", "list_type", trace_ids)
        if len(trace_ids) > MAX_DELETE_TRACE_IDS:
            raise invalid(
                ["body", "trace_ids"],
                f"List should have at most {MAX_DELETE_TRACE_IDS} items after validation, not {len(trace_ids)}",
                "too_long",
            )
        tids = [body_uuid(raw, ["body", "trace_ids", i]) for i, raw in enumerate(trace_ids)]
        if sid is None:
            raise invalid(["body", "session_id"], "session_id is required with trace_ids", "missing")
    if metadata is not None:
        if not isinstance(metadata, dict) or not metadata:
            raise invalid(["body", "metadata"], "Input should be a non-empty object", "dict_type", metadata)
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise invalid(["body", "metadata", key], "Input should be a valid string", "string_type", value)
    if trace_ids is None and metadata is None:
        raise invalid(["body"], "Provide session_id with trace_ids, or metadata", "value_error")
    if metadata is not None and not ws.metadata_delete_enabled:
        raise Answer(403, {"detail": METADATA_DELETE_DISABLED})
    if tids and sid is not None:
        ws.queue.append(TraceDelete(sid, tuple(tids)))
    if metadata:
        ws.queue.append(MetadataDelete(tuple(metadata.items())))
    return {"message": "Run deletes queued"}


def query_runs(ws: Workspace, raw_body: bytes) -> dict[str, Any]:
    """``POST runs/query`` with cursor paging, newest first by default.

    Selection: ``id`` (a list) wins over every other filter, as the docs say; otherwise
    ``trace``, ``session`` (a list), ``is_root``, ``run_type``, ``start_time`` (runs starting
    at or after it) and the three filter strings narrow the runs.  A run is returned when it
    matches ``filter`` itself, its trace's root run matches ``trace_filter`` and some run of
    its trace matches ``tree_filter`` (each only if given).
    """
    body = json_object(raw_body)
    limit = body.get("limit", MAX_QUERY_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise invalid(["body", "limit"], "Input should be a valid integer", "int_type", limit)
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise invalid(["body", "limit"], f"Input should be between 1 and {MAX_QUERY_LIMIT}", "less_than_equal", limit)
    order = body.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(["body", "order"], "Input should be 'asc' or 'desc'", "enum", order)
    select = body.get("select")
    if select is not None and (not isinstance(select, list) or not all(isinstance(s, str) for s in select)):
        raise invalid(["body", "select"], "Input should be a valid list of strings", "list_type", select)
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
    since: float | None = None
    if body.get("start_time") is not None:
        moment = parse_time(str(body["start_time"]))
        if moment is None:
            raise invalid(["body", "start_time"], "Input should be a valid datetime", "datetime_parsing")
        since = moment.timestamp()
    filters = _filters(body)
    if raw_ids is not None:
        return RunSearch(ids=ids)
    return RunSearch(
        sessions=sessions or None,
        trace_id=trace_id,
        is_root=is_root,
        run_type=body.get("run_type"),
        since=since,
        filters=filters,
    )


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
