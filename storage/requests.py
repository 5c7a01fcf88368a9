"""The ``requests`` table: one row per purge request, moved between states by compare-and-set."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlite_utils import Database

from storage.db import NotFound, inserted_id

DEFAULT_WORKSPACE = "default"  # the one workspace of the LANGSMITH_* variables


@dataclass(frozen=True)
class Request:
    """A purge request as stored. ``id`` is the n of ``PURGE-n``."""

    id: int
    kind: str
    state: str
    requester: str
    channel: str
    reason: str
    ticket: str | None
    due_date: str | None
    project: str | None
    session_id: str | None
    item_count: int
    items_digest: str | None
    trigger_id: str | None
    created_at: str
    updated_at: str
    preview: str | None
    preview_digest: str | None
    decided_by: str | None
    decided_at: str | None
    submitted_at: str | None
    paused_until: str | None
    failure: str | None
    claim_owner: str | None
    claim_expires: str | None
    as_of: str | None
    watermark: str | None
    minimised_at: str | None
    included_traces: int  # the approved set's size per kind (storage.items.included_counts)
    included_examples: int
    redacted_at: str | None  # when the message was edited down to counts, once the request came to rest
    workspaces: str | None  # JSON list of the LangSmith workspaces it covers; None: ``default`` (before m011)
    searched_again_at: str | None  # when the search at execution finished (subject purges; m017)

    @property
    def label(self) -> str:
        return f"PURGE-{self.id}"

    @property
    def workspace_names(self) -> list[str]:
        """The LangSmith workspaces the request covers, in the order they were configured."""
        names = json.loads(self.workspaces) if self.workspaces else [DEFAULT_WORKSPACE]
        return [str(name) for name in names]

    @property
    def preview_data(self) -> dict[str, Any] | None:
        return json.loads(self.preview) if self.preview else None

    @property
    def preview_succeeded(self) -> bool:
        """A preview is stored and is not the record of a failed one: only then can anyone decide."""
        data = self.preview_data
        return data is not None and "error" not in data


_COLUMNS = [f.name for f in fields(Request)]


def _row(values: Iterable[Any]) -> Request:
    return Request(**dict(zip(_COLUMNS, values, strict=True)))


def insert(db: Database, **values: Any) -> Request:
    """Store a new request with the next number (no gaps: numbers are only taken by stored rows)."""
    return get(db, inserted_id(db.table("requests").insert(values)))


def get(db: Database, request_id: int) -> Request:
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM requests WHERE id = ?", [request_id]).fetchone()
    if row is None:
        raise NotFound(f"PURGE-{request_id} does not exist")
    return _row(row)


def find(db: Database, request_id: int) -> Request | None:
    try:
        return get(db, request_id)
    except NotFound:
        return None


PREVIEW_SUCCEEDED = "preview IS NOT NULL AND json_extract(preview, '$.error') IS NULL"
"""SQL for :attr:`Request.preview_succeeded`, for compare-and-set conditions."""


def transition(
    db: Database,
    request_id: int,
    *,
    from_states: Iterable[str],
    to: str,
    at: str,
    where: str = "",
    params: Iterable[Any] = (),
    **changes: Any,
) -> bool:
    """Move a request to ``to`` only if it is in one of ``from_states`` (and ``where`` holds).

    This single UPDATE is the compare-and-set every state change goes through: of two racing
    callers exactly one sees ``True``; the other changes nothing.
    """
    from_list = list(from_states)
    sets = ", ".join(["state = ?", "updated_at = ?", *[f"{column} = ?" for column in changes]])
    sql = f"UPDATE requests SET {sets} WHERE id = ? AND state IN ({', '.join('?' for _ in from_list)})" + (
        f" AND ({where})" if where else ""
    )
    cursor = db.execute(sql, [to, at, *changes.values(), request_id, *from_list, *params])
    return cursor.rowcount == 1


def update(db: Database, request_id: int, **changes: Any) -> None:
    """Change bookkeeping columns that are not the state (preview, claim, pause)."""
    db.table("requests").update(request_id, changes)


def list_requests(db: Database, *, states: Iterable[str] | None = None, limit: int = 50) -> list[Request]:
    """Newest first, optionally only those in ``states``."""
    state_list = list(states or [])
    where = f"WHERE state IN ({', '.join('?' for _ in state_list)})" if state_list else ""
    rows = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM requests {where} ORDER BY id DESC LIMIT ?", [*state_list, limit]
    ).fetchall()
    return [_row(row) for row in rows]


def claim(db: Database, *, where: str, params: Iterable[Any], owner: str, now: str, expires: str) -> Request | None:
    """Take the oldest request matching ``where`` whose claim is free or expired; call in a write transaction.

    A claim is an owner and an expiry, so a restarted process takes over only what a dead one left.
    """
    row = db.execute(
        f"SELECT id FROM requests WHERE ({where}) AND (claim_owner IS NULL OR claim_owner = ? "
        "OR claim_expires < ?) ORDER BY id LIMIT 1",
        [*params, owner, now],
    ).fetchone()
    if row is None:
        return None
    db.execute("UPDATE requests SET claim_owner = ?, claim_expires = ? WHERE id = ?", [owner, expires, row[0]])
    return get(db, row[0])


def unredacted(db: Database, states: Iterable[str]) -> list[int]:
    """Requests in ``states`` whose message was never edited down to counts (they ended before the edit)."""
    marks = ", ".join("?" for _ in states)
    return [
        row[0]
        for row in db.execute(
            f"SELECT id FROM requests WHERE state IN ({marks}) AND redacted_at IS NULL ORDER BY id", list(states)
        )
    ]


def renew(db: Database, request_id: int, *, owner: str, expires: str) -> bool:
    """Extend ``owner``'s claim; False when the claim is no longer theirs (another process took it)."""
    return (
        db.execute(
            "UPDATE requests SET claim_expires = ? WHERE id = ? AND claim_owner = ?", [expires, request_id, owner]
        ).rowcount
        == 1
    )


def holds(db: Database, request_id: int, owner: str) -> bool:
    """Whether ``owner`` still holds the request's claim (a fence before work only the holder may do)."""
    row = db.execute("SELECT claim_owner FROM requests WHERE id = ?", [request_id]).fetchone()
    return row is not None and row[0] == owner


def release(db: Database, request_id: int, owner: str) -> None:
    db.execute(
        "UPDATE requests SET claim_owner = NULL, claim_expires = NULL WHERE id = ? AND claim_owner = ?",
        [request_id, owner],
    )
