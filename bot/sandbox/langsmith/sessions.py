"""``GET sessions`` and ``GET sessions/{id}``: projects by name, name fragment or id (reference §5).

A project the key cannot see (:meth:`Workspace.hide_project`) is neither listed nor found.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.langsmith.answers import Answer, invalid, paging, query_uuid
from bot.sandbox.langsmith.model import Session
from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.wire import iso_dt, norm_uuid


def list_sessions(ws: Workspace, query: Any) -> list[dict[str, Any]]:
    """A bare array, newest first, offset-paged; ``name`` matches exactly, ``name_contains`` ignores case."""
    offset, limit = paging(query)
    ids = [query_uuid(v, "id") for v in query.getlist("id")]
    name = query.get("name")
    contains = query.get("name_contains")
    found = [
        s
        for s in ws.sessions.values()
        if s.id not in ws.hidden
        and (name is None or s.name == name)
        and (contains is None or contains.lower() in s.name.lower())
        and (not ids or s.id in ids)
    ]
    found.sort(key=lambda s: (s.start, s.id), reverse=True)
    return [_session_json(ws, s) for s in found[offset : offset + limit]]


def get_session(ws: Workspace, raw_id: str) -> dict[str, Any]:
    sid = norm_uuid(raw_id)
    if sid is None:
        raise invalid(["path", "session_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
    session = ws.visible(sid)
    if session is None:
        raise Answer(404, {"detail": "Not found"})
    return _session_json(ws, session)


def _session_json(ws: Workspace, session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "tenant_id": ws.tenant_id,
        "name": session.name,
        "start_time": iso_dt(session.start),
        "end_time": None,
        "description": None,
        "extra": None,
        "default_dataset_id": None,
        "reference_dataset_id": None,
        "trace_tier": "longlived",
        "run_count": len(session.runs),
    }
