"""The raw values of a request — trace IDs and dataset example IDs — kept apart from events.

Events carry counts and digests only; the values live here so they can be minimised later
without touching the event chain. Each item belongs to a *container*: its project (session) for
a trace, its dataset for an example.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

REQUESTED = "requested"  # filed, not yet previewed
INCLUDED = "included"  # in the set the preview shows and an approval covers
UNKNOWN = "unknown"  # LangSmith did not know it at preview: left out, named in the preview

TRACE = "trace"
EXAMPLE = "example"

PREVIEW = "preview"  # found before approval: the approver saw it
EXECUTION = "execution"  # found by the incremental search at execution (a trace that appeared since)


@dataclass(frozen=True)
class Found:
    """One item a search turned up: its ID, its container, and (examples) the version it was in."""

    value: str
    container: str
    as_of: str | None = None


def add(
    db: Database,
    request_id: int,
    found: Iterable[Found],
    *,
    kind: str = TRACE,
    status: str = REQUESTED,
    origin: str = PREVIEW,
) -> int:
    """Append items in order, skipping any the request already holds; returns how many were new."""
    start = int(
        db.execute("SELECT coalesce(max(seq) + 1, 0) FROM items WHERE request_id = ?", [request_id]).fetchone()[0]
    )
    before = count(db, request_id)
    rows = (
        {
            "request_id": request_id,
            "seq": start + n,
            "value": item.value,
            "kind": kind,
            "status": status,
            "found": origin,
            "as_of": item.as_of,
            "session_id": item.container if kind == TRACE else None,
            "dataset_id": item.container if kind == EXAMPLE else None,
        }
        for n, item in enumerate(found)
    )
    db.table("items").insert_all(rows, batch_size=1000, ignore=True)
    return count(db, request_id) - before


def count(
    db: Database, request_id: int, status: str | None = None, *, kind: str | None = None, origin: str | None = None
) -> int:
    where, params = _where(request_id, status, kind, origin)
    return int(db.execute(f"SELECT count(*) FROM items WHERE {where}", params).fetchone()[0])


def values(db: Database, request_id: int, status: str | None = None, *, kind: str | None = None) -> list[str]:
    where, params = _where(request_id, status, kind, None)
    return [row[0] for row in db.execute(f"SELECT value FROM items WHERE {where} ORDER BY seq", params)]


def digest(db: Database, request_id: int, status: str) -> str:
    """SHA-256 of the sorted ``kind:value`` lines of the request's items in ``status``, streamed from SQLite.

    Names the exact set an approval covers without naming its members, and without loading a
    million IDs into memory to sort them.
    """
    hasher = hashlib.sha256()
    cursor = db.execute(
        "SELECT kind, value FROM items WHERE request_id = ? AND status = ? ORDER BY kind, value", [request_id, status]
    )
    for kind, value in cursor:
        hasher.update(f"{kind}:{value}\n".encode())
    return hasher.hexdigest()


def sample(db: Database, request_id: int, kind: str, size: int) -> list[str]:
    """The first ``size`` included items of ``kind``, for the preview."""
    return [
        row[0]
        for row in db.execute(
            "SELECT value FROM items WHERE request_id = ? AND kind = ? AND status != ? ORDER BY seq LIMIT ?",
            [request_id, kind, UNKNOWN, size],
        )
    ]


def holds(db: Database, request_id: int, kind: str, candidates: Sequence[str]) -> set[str]:
    """Which of ``candidates`` the request already holds (any status)."""
    found: set[str] = set()
    for start in range(0, len(candidates), 500):
        chunk = list(candidates[start : start + 500])
        found.update(
            row[0]
            for row in db.execute(
                "SELECT value FROM items WHERE request_id = ? AND kind = ? "
                f"AND value IN ({', '.join('?' * len(chunk))})",
                [request_id, kind, *chunk],
            )
        )
    return found


def per_container(db: Database, request_id: int, kind: str) -> list[tuple[str, int]]:
    """(container, items) for the preview, largest first."""
    column = "session_id" if kind == TRACE else "dataset_id"
    return [
        (row[0], int(row[1]))
        for row in db.execute(
            f"SELECT {column}, count(*) FROM items WHERE request_id = ? AND kind = ? AND status != ? "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column}",
            [request_id, kind, UNKNOWN],
        )
    ]


def mark(db: Database, request_id: int, values_: Sequence[str], status: str) -> None:
    for start in range(0, len(values_), 500):
        chunk = values_[start : start + 500]
        db.execute(
            f"UPDATE items SET status = ? WHERE request_id = ? AND value IN ({', '.join('?' * len(chunk))})",
            [status, request_id, *chunk],
        )


def set_all(db: Database, request_id: int, *, from_status: str, to_status: str) -> None:
    db.execute("UPDATE items SET status = ? WHERE request_id = ? AND status = ?", [to_status, request_id, from_status])


def unbatched(db: Database, request_id: int, kind: str, limit: int) -> list[tuple[int, str, str]]:
    """(seq, value, container) of included items of ``kind`` not yet in a batch, by container then order."""
    column = "session_id" if kind == TRACE else "dataset_id"
    return [
        (r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT seq, value, {column} FROM items WHERE request_id = ? AND kind = ? AND status = ? "
            f"AND batch_id IS NULL ORDER BY {column}, seq LIMIT ?",
            [request_id, kind, INCLUDED, limit],
        )
    ]


def assign(db: Database, request_id: int, seqs: Sequence[int], batch_id: int) -> None:
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        db.execute(
            f"UPDATE items SET batch_id = ? WHERE request_id = ? AND seq IN ({', '.join('?' * len(chunk))})",
            [batch_id, request_id, *chunk],
        )


def sent(db: Database, request_id: int, kind: str = TRACE) -> list[Found]:
    """Every item of ``kind`` LangSmith has accepted a delete for, grouped by container.

    An item's ``batch_id`` names its latest batch; a re-send batch (round > 0) only ever holds
    items that an accepted batch carried before, so those count as sent even while pending.
    """
    column = "session_id" if kind == TRACE else "dataset_id"
    return [
        Found(r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT items.value, items.{column}, items.as_of FROM items JOIN batches ON batches.id = items.batch_id "
            "WHERE items.request_id = ? AND items.kind = ? AND items.status = ? "
            "AND (batches.state = 'sent' OR batches.round > 0) "
            f"ORDER BY items.{column}, items.seq",
            [request_id, kind, INCLUDED],
        )
    ]


def in_batch(db: Database, batch_id: int) -> list[str]:
    return [row[0] for row in db.execute("SELECT value FROM items WHERE batch_id = ? ORDER BY seq", [batch_id])]


def reassign(db: Database, request_id: int, kind: str, values_: Sequence[str], batch_id: int) -> None:
    """Point items at a new (re-send) batch."""
    for start in range(0, len(values_), 500):
        chunk = values_[start : start + 500]
        db.execute(
            f"UPDATE items SET batch_id = ? WHERE request_id = ? AND kind = ? "
            f"AND value IN ({', '.join('?' * len(chunk))})",
            [batch_id, request_id, kind, *chunk],
        )


def _where(request_id: int, status: str | None, kind: str | None, origin: str | None) -> tuple[str, list[object]]:
    clauses: list[str] = ["request_id = ?"]
    params: list[object] = [request_id]
    for column, value in (("status", status), ("kind", kind), ("found", origin)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params
