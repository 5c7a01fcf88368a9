"""The raw values of a request (trace IDs), kept apart from events so they can be minimised."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlite_utils import Database

REQUESTED = "requested"  # filed, not yet previewed
INCLUDED = "included"  # in the set the preview shows and an approval covers
UNKNOWN = "unknown"  # LangSmith did not know it at preview: left out, named in the preview


def add(
    db: Database,
    request_id: int,
    values: Iterable[str],
    *,
    session_id: str | None,
    status: str = REQUESTED,
    start_seq: int = 0,
) -> int:
    """Store values in order; returns how many were stored."""
    rows = (
        {"request_id": request_id, "seq": start_seq + n, "value": value, "session_id": session_id, "status": status}
        for n, value in enumerate(values)
    )
    before = count(db, request_id)
    db.table("items").insert_all(rows, batch_size=1000)
    return count(db, request_id) - before


def count(db: Database, request_id: int, status: str | None = None) -> int:
    if status is None:
        return int(db.execute("SELECT count(*) FROM items WHERE request_id = ?", [request_id]).fetchone()[0])
    return int(
        db.execute("SELECT count(*) FROM items WHERE request_id = ? AND status = ?", [request_id, status]).fetchone()[0]
    )


def values(db: Database, request_id: int, status: str | None = None) -> list[str]:
    sql = "SELECT value FROM items WHERE request_id = ?" + (" AND status = ?" if status else "") + " ORDER BY seq"
    return [row[0] for row in db.execute(sql, [request_id, *([status] if status else [])])]


def mark(db: Database, request_id: int, values_: Sequence[str], status: str) -> None:
    for start in range(0, len(values_), 500):
        chunk = values_[start : start + 500]
        db.execute(
            f"UPDATE items SET status = ? WHERE request_id = ? AND value IN ({', '.join('?' * len(chunk))})",
            [status, request_id, *chunk],
        )


def set_all(db: Database, request_id: int, *, from_status: str, to_status: str) -> None:
    db.execute("UPDATE items SET status = ? WHERE request_id = ? AND status = ?", [to_status, request_id, from_status])


def unbatched(db: Database, request_id: int, limit: int) -> list[tuple[int, str, str]]:
    """(seq, value, session_id) of approved items not yet in a batch, in order."""
    return [
        (r[0], r[1], r[2])
        for r in db.execute(
            "SELECT seq, value, session_id FROM items WHERE request_id = ? AND status = ? AND batch_id IS NULL "
            "ORDER BY seq LIMIT ?",
            [request_id, INCLUDED, limit],
        )
    ]


def assign(db: Database, request_id: int, seqs: Sequence[int], batch_id: int) -> None:
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        db.execute(
            f"UPDATE items SET batch_id = ? WHERE request_id = ? AND seq IN ({', '.join('?' * len(chunk))})",
            [batch_id, request_id, *chunk],
        )


def sent(db: Database, request_id: int) -> list[tuple[str, str]]:
    """(session_id, value) of every item LangSmith has accepted a delete for, grouped by session.

    An item's ``batch_id`` names its latest batch; a re-send batch (round > 0) only ever holds
    items that an accepted batch carried before, so those count as sent even while pending.
    """
    return [
        (r[0], r[1])
        for r in db.execute(
            "SELECT items.session_id, items.value FROM items JOIN batches ON batches.id = items.batch_id "
            "WHERE items.request_id = ? AND items.status = ? AND (batches.state = 'sent' OR batches.round > 0) "
            "ORDER BY items.session_id, items.seq",
            [request_id, INCLUDED],
        )
    ]


def in_batch(db: Database, batch_id: int) -> list[str]:
    return [row[0] for row in db.execute("SELECT value FROM items WHERE batch_id = ? ORDER BY seq", [batch_id])]


def reassign(db: Database, request_id: int, values_: Sequence[str], batch_id: int) -> None:
    """Point items at a new (re-send) batch."""
    for start in range(0, len(values_), 500):
        chunk = values_[start : start + 500]
        db.execute(
            f"UPDATE items SET batch_id = ? WHERE request_id = ? AND value IN ({', '.join('?' * len(chunk))})",
            [batch_id, request_id, *chunk],
        )
