"""The raw values of a request — trace IDs and dataset example IDs — kept apart from events.

Events carry counts and digests only; the values live here so they can be minimised later
without touching the event chain. Each item belongs to a *container*: its project (session) for
a trace, its dataset for an example.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from storage.requests import DEFAULT_WORKSPACE

REQUESTED = "requested"  # filed, not yet previewed
INCLUDED = "included"  # in the set the preview shows and an approval covers
UNKNOWN = "unknown"  # LangSmith did not know it at preview: left out, named in the preview

TRACE = "trace"
EXAMPLE = "example"

PREVIEW = "preview"  # found before approval: the approver saw it
EXECUTION = "execution"  # found by the incremental search at execution (a trace that appeared since)
CHECK = "check"  # found by a check: an older trace of the subject that LangSmith ingested late


@dataclass(frozen=True)
class Found:
    """One item a search turned up: its ID, its container, and (examples) the version it was in."""

    value: str
    container: str
    as_of: str | None = None
    started: str | None = None  # a trace's start time (UTC ISO), which every later query window must cover


def add(
    db: Database,
    request_id: int,
    found: Iterable[Found],
    *,
    kind: str = TRACE,
    status: str = REQUESTED,
    origin: str = PREVIEW,
    workspace: str = DEFAULT_WORKSPACE,
) -> int:
    """Append items in order, skipping any the request already holds; returns how many were new.

    The number comes from SQLite's change counter (an ignored duplicate is no change): counting the
    request's items before and after would read a million rows for every page a search stores.
    """
    start = int(
        db.execute("SELECT coalesce(max(seq) + 1, 0) FROM items WHERE request_id = ?", [request_id]).fetchone()[0]
    )
    before = db.conn.total_changes
    rows = (
        {
            "request_id": request_id,
            "seq": start + n,
            "value": item.value,
            "kind": kind,
            "status": status,
            "found": origin,
            "as_of": item.as_of,
            "start_time": item.started,
            "session_id": item.container if kind == TRACE else None,
            "dataset_id": item.container if kind == EXAMPLE else None,
            "workspace": workspace,
        }
        for n, item in enumerate(found)
    )
    db.table("items").insert_all(rows, batch_size=1000, ignore=True)
    return db.conn.total_changes - before


def count(
    db: Database, request_id: int, status: str | None = None, *, kind: str | None = None, origin: str | None = None
) -> int:
    where, params = _where(request_id, status, kind, origin)
    return int(db.execute(f"SELECT count(*) FROM items WHERE {where}", params).fetchone()[0])


def count_from(db: Database, request_id: int, first_seq: int, *, origin: str) -> int:
    """How many items found by ``origin`` the request holds from position ``first_seq`` on: items are
    appended, so what a later search added sits past the earlier items, and this reads only that tail."""
    return int(
        db.execute(
            "SELECT count(*) FROM items WHERE request_id = ? AND seq >= ? AND found = ?",
            [request_id, first_seq, origin],
        ).fetchone()[0]
    )


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


def included_counts(db: Database, request_id: int) -> tuple[int, int]:
    """(traces, examples) in the set an approval covers, counted once when it changes (preview, search
    at execution) and stored on the request, so ``/purge status`` need not count a million rows."""
    return (
        count(db, request_id, INCLUDED, kind=TRACE),
        count(db, request_id, INCLUDED, kind=EXAMPLE),
    )


def set_starts(db: Database, request_id: int, starts: Mapping[str, str]) -> None:
    """Record when traces started (the trace-ID preview learns it from LangSmith)."""
    db.conn.executemany(
        "UPDATE items SET start_time = ? WHERE request_id = ? AND kind = ? AND value = ?",
        [(started, request_id, TRACE, value) for value, started in starts.items()],
    )


@dataclass(frozen=True)
class StartSpan:
    """When the approved traces started: the earliest and latest known start, and how many are unknown."""

    earliest: str | None
    latest: str | None
    unknown: int


def start_span(db: Database, request_id: int) -> StartSpan:
    """The start times of the request's approved traces, which a query window must cover."""
    row = db.execute(
        "SELECT min(start_time), max(start_time), coalesce(sum(start_time IS NULL), 0) FROM items "
        "WHERE request_id = ? AND kind = ? AND status = ?",
        [request_id, TRACE, INCLUDED],
    ).fetchone()
    return StartSpan(row[0], row[1], int(row[2]))


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


def per_container(db: Database, request_id: int, kind: str, *, workspace: str | None = None) -> list[tuple[str, int]]:
    """(container, items) for the preview, largest first; of one workspace, or of all."""
    column = "session_id" if kind == TRACE else "dataset_id"
    only, params = _in_workspace(workspace)
    return [
        (row[0], int(row[1]))
        for row in db.execute(
            f"SELECT {column}, count(*) FROM items WHERE request_id = ? AND kind = ? AND status != ?{only} "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column}",
            [request_id, kind, UNKNOWN, *params],
        )
    ]


def per_workspace(db: Database, request_id: int, kind: str) -> dict[str, int]:
    """How many items of ``kind`` (not left out as unknown) each workspace holds."""
    return {
        str(row[0]): int(row[1])
        for row in db.execute(
            "SELECT workspace, count(*) FROM items WHERE request_id = ? AND kind = ? AND status != ? "
            "GROUP BY workspace",
            [request_id, kind, UNKNOWN],
        )
    }


def mark(db: Database, request_id: int, values_: Sequence[str], status: str) -> None:
    for start in range(0, len(values_), 500):
        chunk = values_[start : start + 500]
        db.execute(
            f"UPDATE items SET status = ? WHERE request_id = ? AND value IN ({', '.join('?' * len(chunk))})",
            [status, request_id, *chunk],
        )


def set_all(db: Database, request_id: int, *, from_status: str, to_status: str) -> None:
    db.execute("UPDATE items SET status = ? WHERE request_id = ? AND status = ?", [to_status, request_id, from_status])


def next_chunk(
    db: Database, request_id: int, kind: str, limit: int, *, after: tuple[str | None, int] | None = None
) -> list[tuple[int, str, str | None, str]]:
    """(seq, value, project, workspace) of the next ≤ ``limit`` included items of ``kind`` not yet in a batch.

    Traces come project by project, in order, from ``after`` — the project and position of the last
    item the previous batch took — along ``idx_items_container``, so each cut reads only what it
    takes (a project lives in one workspace). Examples are few and are cut across datasets, in order,
    from the first not in a batch, within one workspace: a delete call goes to one workspace.
    """
    if kind == EXAMPLE:
        first = db.execute(
            "SELECT workspace FROM items WHERE request_id = ? AND kind = ? AND status = ? "
            "AND session_id IS NULL AND batch_id IS NULL ORDER BY seq LIMIT 1",
            [request_id, kind, INCLUDED],
        ).fetchone()
        if first is None:
            return []
        examples = db.execute(
            "SELECT seq, value, NULL, workspace FROM items WHERE request_id = ? AND kind = ? AND status = ? "
            "AND session_id IS NULL AND batch_id IS NULL AND workspace = ? ORDER BY seq LIMIT ?",
            [request_id, kind, INCLUDED, first[0], limit],
        )
        return [(r[0], r[1], r[2], r[3]) for r in examples]
    project, seq = after if after is not None else ("", -1)
    while project is not None:
        rows = db.execute(
            "SELECT seq, value, session_id, workspace FROM items WHERE request_id = ? AND kind = ? AND status = ? "
            "AND session_id = ? AND seq > ? AND batch_id IS NULL ORDER BY seq LIMIT ?",
            [request_id, kind, INCLUDED, project, seq, limit],
        ).fetchall()
        if rows:
            return [(r[0], r[1], r[2], r[3]) for r in rows]
        project, seq = (
            db.execute(
                "SELECT min(session_id) FROM items WHERE request_id = ? AND kind = ? AND status = ? AND session_id > ?",
                [request_id, kind, INCLUDED, project],
            ).fetchone()[0],
            -1,
        )
    return []


def batch_plan(db: Database, request_id: int, kind: str, size: int, *, per_container: bool) -> tuple[int, int]:
    """(batches, items) that cutting the included items of ``kind`` into batches of ``size`` comes to —
    within each container, or across them within each workspace — known before the batches are written."""
    groups = "session_id" if per_container else "workspace"
    row = db.execute(
        f"SELECT coalesce(sum((n + ? - 1) / ?), 0), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM items "
        f"WHERE request_id = ? AND kind = ? AND status = ? GROUP BY {groups})",
        [size, size, request_id, kind, INCLUDED],
    ).fetchone()
    return int(row[0]), int(row[1])


def assign(db: Database, request_id: int, seqs: Sequence[int], batch_id: int) -> None:
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        db.execute(
            f"UPDATE items SET batch_id = ? WHERE request_id = ? AND seq IN ({', '.join('?' * len(chunk))})",
            [batch_id, request_id, *chunk],
        )


_SENT = (
    "FROM items {index} JOIN batches ON batches.id = items.batch_id "
    "WHERE items.request_id = ? AND items.kind = ? AND items.status = ? "
    "AND (batches.state = 'sent' OR batches.round > 0)"
)


def sent(db: Database, request_id: int, kind: str = TRACE, *, workspace: str | None = None) -> list[Found]:
    """Every item of ``kind`` LangSmith has accepted a delete for, grouped by container; in one
    workspace, or in all.

    An item's ``batch_id`` names its latest batch; a re-send batch (round > 0) only ever holds
    items that an accepted batch carried before, so those count as sent even while pending.
    """
    column = "session_id" if kind == TRACE else "dataset_id"
    only, params = _in_workspace(workspace, "items.")
    return [
        Found(r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT items.value, items.{column}, items.as_of {_SENT.format(index='')}{only} "
            f"ORDER BY items.{column}, items.seq",
            [request_id, kind, INCLUDED, *params],
        )
    ]


def sent_count(db: Database, request_id: int, kind: str = TRACE, *, workspace: str | None = None) -> int:
    """How many items of ``kind`` LangSmith has accepted a delete for (see :func:`sent`)."""
    only, params = _in_workspace(workspace, "items.")
    return int(
        db.execute(f"SELECT count(*) {_SENT.format(index='')}{only}", [request_id, kind, INCLUDED, *params]).fetchone()[
            0
        ]
    )


def _in_workspace(workspace: str | None, prefix: str = "") -> tuple[str, list[object]]:
    """An SQL condition (and its parameter) for one workspace's items; nothing for all of them."""
    return ("", []) if workspace is None else (f" AND {prefix}workspace = ?", [workspace])


def sent_among(db: Database, request_id: int, kind: str, candidates: Sequence[str]) -> list[Found]:
    """Which of ``candidates`` are sent items (see :func:`sent`): a check looks up what it finds rather
    than holding a million sent IDs in memory."""
    column = "session_id" if kind == TRACE else "dataset_id"
    found: list[Found] = []
    for start in range(0, len(candidates), 500):
        chunk = list(candidates[start : start + 500])
        found.extend(
            Found(r[0], r[1], r[2])
            for r in db.execute(
                # by value (the planner would otherwise walk every item of the request by status)
                f"SELECT items.value, items.{column}, items.as_of {_SENT.format(index='INDEXED BY uq_items_value')} "
                f"AND items.value IN ({', '.join('?' * len(chunk))})",
                [request_id, kind, INCLUDED, *chunk],
            )
        )
    return found


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
