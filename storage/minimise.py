"""Replacing a request's raw subject values with keyed hashes, in every table that holds them.

The items (trace and example IDs), the searched pair values, the ID samples a preview showed,
LangSmith's answers that name examples, the Slack payloads already sent, the free texts beside the
events (``storage.texts``) and the request's reason are rewritten; events never held raw values or
free text, only digests, so the chain is untouched and still verifies. Connections run with
``secure_delete`` so the old bytes do not linger in free pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlite_utils import Database

from storage import outbox, texts

Hasher = Callable[[str], str]

ID_LISTS = ("sample_traces", "sample_examples", "unknown_ids", "example_ids")  # JSON lists of IDs kept for people


def due(db: Database, *, ended_states: list[str], ended_before: str) -> list[int]:
    """Requests that ended before ``ended_before`` and still hold raw values."""
    marks = ", ".join("?" for _ in ended_states)
    return [
        row[0]
        for row in db.execute(
            f"SELECT id FROM requests WHERE state IN ({marks}) AND updated_at < ? AND minimised_at IS NULL ORDER BY id",
            [*ended_states, ended_before],
        )
    ]


HASHED = "hmac-sha256:"  # how every keyed hash begins, so a value is never hashed twice


def items_chunk(db: Database, request_id: int, hasher: Hasher, *, size: int) -> int:
    """Hash up to ``size`` of the request's item values not yet hashed; returns how many.

    Call in a write transaction, repeatedly, until it returns less than ``size``: each call is short.
    """
    rows = db.execute(
        "SELECT seq, value FROM items WHERE request_id = ? AND value NOT LIKE ? ORDER BY seq LIMIT ?",
        [request_id, HASHED + "%", size],
    ).fetchall()
    db.conn.executemany(
        "UPDATE items SET value = ? WHERE request_id = ? AND seq = ?",
        [(hasher(value), request_id, seq) for seq, value in rows],
    )
    return len(rows)


def finish(db: Database, request_id: int, hasher: Hasher, *, at: str) -> int:
    """Hash the rest — pair values, ID lists, pending Slack payloads — and mark the request minimised;
    returns how many pairs. Call in a write transaction, after :func:`items_chunk` has hashed every item."""
    pair_rows = db.execute("SELECT seq, value FROM pairs WHERE request_id = ?", [request_id]).fetchall()
    for seq, value in pair_rows:
        if value.startswith(HASHED):
            continue
        db.execute("UPDATE pairs SET value = ? WHERE request_id = ? AND seq = ?", [hasher(value), request_id, seq])
    # A message still waiting after the whole retention period will not be sent any more either.
    db.execute(
        "UPDATE outbox SET payload = '{}', state = CASE WHEN state = ? THEN ? ELSE state END WHERE request_id = ?",
        [outbox.PENDING, outbox.SUPERSEDED, request_id],
    )
    _hash_lists(db, "requests", "id", "preview", [request_id], ID_LISTS, hasher)
    batch_ids = [row[0] for row in db.execute("SELECT id FROM batches WHERE request_id = ?", [request_id])]
    _hash_lists(db, "batches", "id", "response", batch_ids, ID_LISTS, hasher)
    texts.minimise(db, request_id, hasher)
    reason, failure = db.execute("SELECT reason, failure FROM requests WHERE id = ?", [request_id]).fetchone()
    db.execute(
        "UPDATE requests SET minimised_at = ?, reason = ?, failure = ? WHERE id = ?",
        [at, hasher(reason or ""), hasher(failure) if failure else None, request_id],
    )
    return len(pair_rows)


def _hash_lists(
    db: Database, table: str, key: str, column: str, ids: list[int], lists: tuple[str, ...], hasher: Hasher
) -> None:
    """Hash the ID lists inside a JSON column (a preview's samples, LangSmith's answer naming examples)."""
    for row_id in ids:
        row = db.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [row_id]).fetchone()
        if not row or not row[0]:
            continue
        data = json.loads(row[0])
        if not isinstance(data, dict) or not any(name in data for name in lists):
            continue
        for name in lists:
            if isinstance(data.get(name), list):
                data[name] = [hasher(str(value)) for value in data[name]]
        db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", [json.dumps(data), row_id])
