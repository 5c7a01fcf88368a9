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

from storage import batches
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
    # Plain tuples through one prepared statement: a search stores a million of these, and building a
    # dict per row for sqlite-utils' insert_all was most of the bot's own cost of a search.
    rows = (
        (
            request_id,
            start + n,
            item.value,
            kind,
            status,
            origin,
            item.as_of,
            item.started,
            item.container if kind == TRACE else None,
            item.container if kind == EXAMPLE else None,
            workspace,
        )
        for n, item in enumerate(found)
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO items (request_id, seq, value, kind, status, found, as_of, start_time, session_id, "
        "dataset_id, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
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


def previewed_end(db: Database, request_id: int) -> int:
    """The position just past the last item found before the approval: what a search at execution (or
    a check) adds comes after it. Read back from the end, so it touches only that tail."""
    row = db.execute(
        "SELECT seq FROM items WHERE request_id = ? AND found = ? ORDER BY seq DESC LIMIT 1", [request_id, PREVIEW]
    ).fetchone()
    return 0 if row is None else int(row[0]) + 1


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


def next_range(
    db: Database, request_id: int, kind: str, limit: int, *, after: tuple[str, int] | None, window: tuple[int, int]
) -> list[tuple[int, str, str | None, str]]:
    """(seq, value, project, workspace) of the next ≤ ``limit`` included items of ``kind`` at positions in
    ``window``, after ``after`` — the group and position of the last item the previous batch took.

    Traces come project by project, examples workspace by workspace (a delete call goes to one
    workspace; a project lives in one), each group in order along ``idx_items_container``, so each cut
    reads only what it takes. The items returned are exactly the range from the first to the last:
    items are appended, so none can join a range once cut.
    """
    column, extra = ("session_id", "") if kind == TRACE else ("workspace", " AND session_id IS NULL")
    group, seq = after if after is not None else ("", -1)
    first, end = window
    while True:
        rows = db.execute(
            # the group's index, not the key's: by (request, position) SQLite would walk every project
            "SELECT seq, value, session_id, workspace FROM items INDEXED BY idx_items_container "
            f"WHERE request_id = ? AND kind = ? AND status = ?{extra} AND {column} = ? AND seq >= ? AND seq < ? "
            "ORDER BY seq LIMIT ?",
            [request_id, kind, INCLUDED, group, max(seq + 1, first), end, limit],
        ).fetchall()
        if rows:
            return [(r[0], r[1], r[2], r[3]) for r in rows]
        group, seq = (
            db.execute(
                f"SELECT min({column}) FROM items WHERE request_id = ? AND kind = ? AND status = ?{extra} "
                f"AND {column} > ?",
                [request_id, kind, INCLUDED, group],
            ).fetchone()[0],
            -1,
        )
        if group is None:
            return []


def batch_plan(db: Database, request_id: int, kind: str, size: int, *, window: tuple[int, int]) -> tuple[int, int]:
    """(batches, items) that cutting the included items of ``kind`` at positions in ``window`` into
    batches of ``size`` comes to — within each project (traces) or each workspace (examples), as
    :func:`next_range` cuts them — known before the batches are written."""
    groups = "session_id" if kind == TRACE else "workspace"
    row = db.execute(
        f"SELECT coalesce(sum((n + ? - 1) / ?), 0), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM items "
        f"WHERE request_id = ? AND kind = ? AND status = ? AND seq >= ? AND seq < ? GROUP BY {groups})",
        [size, size, request_id, kind, INCLUDED, *window],
    ).fetchone()
    return int(row[0]), int(row[1])


# An item is sent when a re-send holds it (``batch_id``: a re-send only ever holds items an accepted
# batch carried before, or ones a check found, so it counts even while pending), or when the sent
# first-round range of its project or workspace covers its position. Ranges of one group do not
# overlap, so the one that can cover an item is the last to start at or before it (one index seek).
_SENT = (
    "FROM items {index} WHERE items.request_id = ? AND items.kind = ? AND items.status = ? "
    "AND (items.batch_id IS NOT NULL OR coalesce((SELECT ranges.state = 'sent' AND ranges.last_seq >= items.seq "
    "FROM batches AS ranges WHERE ranges.request_id = items.request_id AND ranges.round = 0 AND ranges.kind = ? "
    "AND ranges.workspace = items.workspace AND ranges.session_id IS items.session_id "
    "AND ranges.first_seq <= items.seq ORDER BY ranges.first_seq DESC LIMIT 1), 0))"
)


def _sent_params(request_id: int, kind: str) -> list[object]:
    return [request_id, kind, INCLUDED, batches.TRACES if kind == TRACE else batches.EXAMPLES]


def sent(db: Database, request_id: int, kind: str = TRACE, *, workspace: str | None = None) -> list[Found]:
    """Every item of ``kind`` LangSmith has accepted a delete for, grouped by container; in one
    workspace, or in all."""
    column = "session_id" if kind == TRACE else "dataset_id"
    only, params = _in_workspace(workspace, "items.")
    return [
        Found(r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT items.value, items.{column}, items.as_of {_SENT.format(index='')}{only} "
            f"ORDER BY items.{column}, items.seq",
            [*_sent_params(request_id, kind), *params],
        )
    ]


def sent_count(db: Database, request_id: int, kind: str = TRACE, *, workspace: str | None = None) -> int:
    """How many items of ``kind`` LangSmith has accepted a delete for (see :func:`sent`)."""
    only, params = _in_workspace(workspace, "items.")
    return int(
        db.execute(
            f"SELECT count(*) {_SENT.format(index='')}{only}", [*_sent_params(request_id, kind), *params]
        ).fetchone()[0]
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
                [*_sent_params(request_id, kind), *chunk],
            )
        )
    return found


def in_batch(db: Database, batch: batches.Batch) -> list[str]:
    """The values a batch holds: its range of the approved set, or the items a re-send took."""
    params: list[object]
    if batch.first_seq is None or batch.last_seq is None:
        query, params = "SELECT value FROM items WHERE batch_id = ? ORDER BY seq", [batch.id]
    else:
        query = (
            "SELECT value FROM items WHERE request_id = ? AND kind = ? AND status = ? AND session_id IS ? "
            "AND workspace = ? AND seq BETWEEN ? AND ? ORDER BY seq"
        )
        kind = TRACE if batch.kind == batches.TRACES else EXAMPLE
        params = [batch.request_id, kind, INCLUDED, batch.session_id, batch.workspace, batch.first_seq, batch.last_seq]
    return [row[0] for row in db.execute(query, params)]


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
