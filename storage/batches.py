"""The ``batches`` table: each delete call is a row before it is sent, and marked when answered.

A first-round batch of traces or examples is a range of positions in the approved set — the items of
one project (traces) or of one workspace (examples) from ``first_seq`` to ``last_seq`` — so cutting
it writes this one row. A re-send batch names its items by ``items.batch_id`` instead: what a check
found remaining is scattered, not a range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from storage.db import inserted_id
from storage.requests import DEFAULT_WORKSPACE

PENDING = "pending"
SENT = "sent"
REFUSED = "refused"  # LangSmith answered with a non-retryable error; never re-sent
SUPERSEDED = "superseded"  # a re-send batch a later round replaced before it was sent; never sent


@dataclass(frozen=True)
class Batch:
    """One delete call: ≤1000 trace IDs of one project, ≤1000 examples, or the metadata delete."""

    id: int
    request_id: int
    round: int
    session_id: str | None
    size: int
    digest: str
    state: str
    created_at: str
    sent_at: str | None
    status_code: int | None
    response: str | None
    attempts: int
    kind: str
    workspace: str
    first_seq: int | None  # the range of a first-round batch of traces or examples; None for the others
    last_seq: int | None


TRACES = "traces"
EXAMPLES = "examples"
METADATA = "metadata"  # LangSmith's workspace-wide delete by metadata, one call for the pairs

_COLUMNS = (
    "id, request_id, round, session_id, size, digest, state, created_at, sent_at, status_code, response, attempts, "
    "kind, workspace, first_seq, last_seq"
)


def create(
    db: Database,
    *,
    request_id: int,
    round_: int,
    session_id: str | None,
    size: int,
    digest: str,
    at: str,
    kind: str = TRACES,
    workspace: str = DEFAULT_WORKSPACE,
    seqs: tuple[int, int] | None = None,
) -> int:
    """Store a pending batch; ``seqs`` is the (first, last) position of a first-round range."""
    return inserted_id(
        db.table("batches").insert(
            {
                "request_id": request_id,
                "round": round_,
                "session_id": session_id,
                "size": size,
                "digest": digest,
                "state": PENDING,
                "created_at": at,
                "kind": kind,
                "workspace": workspace,
                "first_seq": seqs[0] if seqs else None,
                "last_seq": seqs[1] if seqs else None,
            }
        )
    )


def get(db: Database, batch_id: int) -> Batch:
    return Batch(*db.execute(f"SELECT {_COLUMNS} FROM batches WHERE id = ?", [batch_id]).fetchone())


def last_cut(db: Database, request_id: int, kind: str, window: tuple[int, int]) -> tuple[str, int] | None:
    """(group, last position) of the last first-round range of ``kind`` that reaches into ``window`` —
    the group is the project of traces, the workspace of examples: where cutting that part of the
    approved set goes on after a restart. None before its first batch. (A range cut before m017 may
    span both parts of the approved set: it counts as the last of either.)"""
    row = db.execute(
        "SELECT CASE WHEN kind = ? THEN session_id ELSE workspace END, last_seq FROM batches "
        "WHERE request_id = ? AND kind = ? AND round = 0 AND last_seq >= ? AND first_seq < ? ORDER BY id DESC LIMIT 1",
        [TRACES, request_id, kind, *window],
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def for_request(db: Database, request_id: int, state: str | None = None, *, kind: str | None = None) -> list[Batch]:
    clauses: list[str] = ["request_id = ?"]
    params: list[object] = [request_id]
    for column, value in (("state", state), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT {_COLUMNS} FROM batches WHERE {' AND '.join(clauses)} ORDER BY id"
    return [Batch(*row) for row in db.execute(sql, params)]


def mark_sent(db: Database, batch_id: int, *, status_code: int, response: dict[str, Any], at: str) -> bool:
    """Record LangSmith's answer once; a second call for the same batch changes nothing."""
    cursor = db.execute(
        "UPDATE batches SET state = ?, sent_at = ?, status_code = ?, response = ?, attempts = attempts + 1 "
        "WHERE id = ? AND state = ?",
        [SENT, at, status_code, json.dumps(response), batch_id, PENDING],
    )
    return cursor.rowcount == 1


def counts(db: Database, request_id: int, kind: str = TRACES) -> tuple[int, int, int, int]:
    """(batches, batches sent, items in batches, items in sent batches) of the first round, for progress."""
    row = db.execute(
        "SELECT count(*), coalesce(sum(state = 'sent'), 0), coalesce(sum(size), 0), "
        "coalesce(sum(CASE WHEN state = 'sent' THEN size ELSE 0 END), 0) "
        "FROM batches WHERE request_id = ? AND round = 0 AND kind = ?",
        [request_id, kind],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def mark_refused(db: Database, batch_id: int, *, status_code: int, message: str, at: str) -> None:
    db.execute(
        "UPDATE batches SET state = ?, sent_at = ?, status_code = ?, response = ?, attempts = attempts + 1 "
        "WHERE id = ? AND state = ?",
        [REFUSED, at, status_code, json.dumps({"error": message}), batch_id, PENDING],
    )


def supersede_pending_resends(db: Database, request_id: int, kind: str) -> int:
    """Retire the request's unsent re-send batches of ``kind``: a new round re-sends what remains."""
    return db.execute(
        "UPDATE batches SET state = ? WHERE request_id = ? AND kind = ? AND state = ? AND round > 0",
        [SUPERSEDED, request_id, kind, PENDING],
    ).rowcount


def supersede(db: Database, batch_id: int) -> bool:
    """Retire one pending batch that no longer holds anything to send (a later round took its items)."""
    return (
        db.execute("UPDATE batches SET state = ? WHERE id = ? AND state = ?", [SUPERSEDED, batch_id, PENDING]).rowcount
        == 1
    )
