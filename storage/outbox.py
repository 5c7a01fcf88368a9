"""The Slack outbox: each post or edit is a row first, marked sent when Slack answers ok.

Rows name a ``slot`` when they stand for one message that is edited over time (a request's root
message, its progress message): the first send posts, later sends edit, and a newer pending edit
of the same slot replaces an older one, so a slow Slack never sees a backlog of stale edits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from storage.claims import RELEASED
from storage.db import inserted_id

PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # permanent: not retried, shown in status
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class OutboxRow:
    """One thing to say in Slack."""

    id: int
    request_id: int | None
    kind: str  # "message" (post or edit a slot) or "ephemeral"
    slot: str | None
    channel: str | None  # None: the request's own channel
    in_thread: bool
    user: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: str
    ts: str | None
    error: str | None


_COLUMNS = "id, request_id, kind, slot, channel, in_thread, user, payload, state, attempts, next_attempt_at, ts, error"


def _row(values: tuple[Any, ...]) -> OutboxRow:
    data = list(values)
    data[5] = bool(data[5])
    data[7] = json.loads(data[7])
    return OutboxRow(*data)


def enqueue(
    db: Database,
    *,
    request_id: int | None,
    payload: dict[str, Any],
    at: str,
    slot: str | None = None,
    channel: str | None = None,
    in_thread: bool = False,
    user: str | None = None,
    kind: str = "message",
) -> int:
    """Add a row; an untried pending row for the same slot is superseded by this one."""
    if slot is not None:
        # A row already tried may have reached Slack (a timeout): it stays, so its retry can find
        # the message by its outbox id; only untried rows are safe to replace.
        db.execute(
            "UPDATE outbox SET state = ? WHERE request_id = ? AND slot = ? AND state = ? AND attempts = 0",
            [SUPERSEDED, request_id, slot, PENDING],
        )
    return inserted_id(
        db.table("outbox").insert(
            {
                "request_id": request_id,
                "kind": kind,
                "slot": slot,
                "channel": channel,
                "in_thread": int(in_thread),
                "user": user,
                "payload": json.dumps(payload),
                "state": PENDING,
                "next_attempt_at": at,
                "created_at": at,
            }
        )
    )


def due(db: Database, now: str, limit: int = 50) -> list[OutboxRow]:
    """The next row of each request whose time has come and that no live process is sending, the
    longest-waiting first.

    Only a request's oldest pending row can go (its messages go out in order), so each request offers
    one row, and a row that failed waits behind the others until its retry is due: one stuck request
    never holds up the rest, however many rows it has queued.  Rows of no request stand alone.
    """
    return [
        _row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM outbox AS o WHERE state = ? AND next_attempt_at <= ? "
            "AND (claim_owner IS NULL OR claim_expires < ?) AND (request_id IS NULL "
            "OR id = (SELECT min(id) FROM outbox WHERE request_id = o.request_id AND state = ?)) "
            "ORDER BY next_attempt_at, id LIMIT ?",
            [PENDING, now, now, PENDING, limit],
        )
    ]


def mark_sent(db: Database, row_id: int, *, ts: str | None, at: str) -> None:
    db.execute(f"UPDATE outbox SET state = ?, ts = ?, sent_at = ?, {RELEASED} WHERE id = ?", [SENT, ts, at, row_id])


def retry_at(db: Database, row_id: int, *, at: str, error: str) -> None:
    db.execute(f"UPDATE outbox SET next_attempt_at = ?, error = ?, {RELEASED} WHERE id = ?", [at, error, row_id])


def fail(db: Database, row_id: int, *, error: str) -> None:
    db.execute(f"UPDATE outbox SET state = ?, error = ?, {RELEASED} WHERE id = ?", [FAILED, error, row_id])


def failures(db: Database, request_id: int) -> list[OutboxRow]:
    return [
        _row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE request_id = ? AND state = ? ORDER BY id", [request_id, FAILED]
        )
    ]


def pending_count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM outbox WHERE state = ?", [PENDING]).fetchone()[0])


def slot_ts(db: Database, request_id: int, slot: str) -> tuple[str, str] | None:
    """(channel, ts) of a slot's message once it was posted."""
    row = db.execute(
        "SELECT channel, ts FROM messages WHERE request_id = ? AND slot = ?", [request_id, slot]
    ).fetchone()
    return (row[0], row[1]) if row else None


def remember_slot(db: Database, request_id: int, slot: str, channel: str, ts: str) -> None:
    db.table("messages").insert({"request_id": request_id, "slot": slot, "channel": channel, "ts": ts}, replace=True)


def slot_failed(db: Database, request_id: int, slot: str) -> str | None:
    """The error of a slot's message if posting it failed permanently (and nothing replaced it)."""
    row = db.execute(
        "SELECT state, error FROM outbox WHERE request_id = ? AND slot = ? AND state IN (?, ?) ORDER BY id LIMIT 1",
        [request_id, slot, FAILED, SENT],
    ).fetchone()
    return str(row[1]) if row and row[0] == FAILED else None
