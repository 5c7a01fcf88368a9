"""Requests that came from a privacy platform, and the status events owed to it.

``intake`` links a request to the platform's own request (``uid``: a replay finds the first answer),
``intake_callbacks`` holds where its status goes, and ``callbacks`` is the outbox of those status
events: a row first, claimed for each attempt, sent in order per request, like the Slack outbox.
A callback's headers are the platform's credential for its own endpoint: a callback target (URL and
headers) rests here only sealed by :mod:`bot.vault` (``sealed``; ``url`` keeps the origin alone),
and is blanked once the request's last status is settled. Rows stored before sealing existed keep
their plain ``url`` and ``headers`` (``sealed`` NULL) until ``unsealed``/``seal`` seal them at start.
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


@dataclass(frozen=True)
class Intake:
    """A request's link to the platform request it answers."""

    request_id: int
    platform: str
    uid: str | None
    tenant: str | None
    answer: dict[str, Any]
    reported_seq: int
    closed: bool


@dataclass(frozen=True)
class Callback:
    """One status event to deliver to one callback endpoint (``sealed``: its target; None: not yet sealed)."""

    id: int
    request_id: int
    status: str
    payload: dict[str, Any]
    attempts: int
    sealed: str | None


_INTAKE = "request_id, platform, uid, tenant, answer, reported_seq, closed"


def _intake(row: tuple[Any, ...]) -> Intake:
    return Intake(row[0], row[1], row[2], row[3], json.loads(row[4]), int(row[5]), bool(row[6]))


def add(
    db: Database,
    *,
    request_id: int,
    platform: str,
    uid: str | None,
    tenant: str | None,
    answer: dict[str, Any],
    callbacks: list[tuple[str, str]],
    at: str,
) -> None:
    """Link ``request_id`` to the platform's request; a second ``uid`` of one platform is an IntegrityError.

    ``callbacks``: (origin, sealed target) of each endpoint the platform named."""
    db.table("intake").insert(
        {
            "request_id": request_id,
            "platform": platform,
            "uid": uid,
            "tenant": tenant,
            "answer": json.dumps(answer),
            "reported_seq": 0,
            "closed": 0,
            "created_at": at,
        }
    )
    for origin, sealed in callbacks:
        row = {"request_id": request_id, "url": origin, "headers": "{}", "sealed": sealed}
        db.table("intake_callbacks").insert(row)


def by_uid(db: Database, platform: str, uid: str) -> Intake | None:
    row = db.execute(f"SELECT {_INTAKE} FROM intake WHERE platform = ? AND uid = ?", [platform, uid]).fetchone()
    return _intake(row) if row else None


def find(db: Database, request_id: int) -> Intake | None:
    row = db.execute(f"SELECT {_INTAKE} FROM intake WHERE request_id = ?", [request_id]).fetchone()
    return _intake(row) if row else None


def open_links(db: Database) -> list[Intake]:
    """Links whose request may still owe a status (no final status queued yet)."""
    return [_intake(row) for row in db.execute(f"SELECT {_INTAKE} FROM intake WHERE closed = 0 ORDER BY request_id")]


def callback_ids(db: Database, request_id: int) -> list[int]:
    return [
        row[0] for row in db.execute("SELECT id FROM intake_callbacks WHERE request_id = ? ORDER BY id", [request_id])
    ]


def advance(db: Database, request_id: int, *, seq: int, closed: bool) -> None:
    """Record that events up to ``seq`` are turned into status rows (and whether the last status is queued)."""
    db.execute("UPDATE intake SET reported_seq = ?, closed = ? WHERE request_id = ?", [seq, int(closed), request_id])


def enqueue(db: Database, *, request_id: int, callback_id: int, status: str, payload: dict[str, Any], at: str) -> int:
    return inserted_id(
        db.table("callbacks").insert(
            {
                "request_id": request_id,
                "callback_id": callback_id,
                "status": status,
                "payload": json.dumps(payload),
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
        )
    )


def due(db: Database, now: str, limit: int = 50) -> list[Callback]:
    """The oldest pending row of each request whose time has come and that no live process is sending:
    a request's events go out in order, and one endpoint that is down holds up only its own request."""
    rows = db.execute(
        "SELECT c.id, c.request_id, c.status, c.payload, c.attempts, k.sealed FROM callbacks AS c "
        "JOIN intake_callbacks AS k ON k.id = c.callback_id WHERE c.state = ? AND c.next_attempt_at <= ? "
        "AND (c.claim_owner IS NULL OR c.claim_expires < ?) "
        "AND c.id = (SELECT min(id) FROM callbacks WHERE request_id = c.request_id AND state = ?) "
        "ORDER BY c.next_attempt_at, c.id LIMIT ?",
        [PENDING, now, now, PENDING, limit],
    )
    return [Callback(r[0], r[1], r[2], json.loads(r[3]), int(r[4]), r[5]) for r in rows]


def unsealed(db: Database) -> list[tuple[int, int, str, dict[str, str]]]:
    """(id, request id, url, headers) of each callback target stored in the clear, before sealing existed."""
    return [
        (int(row[0]), int(row[1]), str(row[2]), json.loads(row[3] or "{}"))
        for row in db.execute("SELECT id, request_id, url, headers FROM intake_callbacks WHERE sealed IS NULL")
    ]


def seal(db: Database, callback_id: int, *, origin: str, sealed: str) -> None:
    """Replace a target stored in the clear by its sealed form (the clear URL keeps only its origin)."""
    db.execute(
        "UPDATE intake_callbacks SET url = ?, headers = '{}', sealed = ? WHERE id = ?", [origin, sealed, callback_id]
    )


def mark_sent(db: Database, row_id: int, *, at: str) -> None:
    db.execute(
        f"UPDATE callbacks SET state = ?, sent_at = ?, error = NULL, {RELEASED} WHERE id = ?", [SENT, at, row_id]
    )


def retry_at(db: Database, row_id: int, *, at: str, error: str) -> None:
    db.execute(f"UPDATE callbacks SET next_attempt_at = ?, error = ?, {RELEASED} WHERE id = ?", [at, error, row_id])


def fail(db: Database, row_id: int, *, error: str) -> None:
    db.execute(f"UPDATE callbacks SET state = ?, error = ?, {RELEASED} WHERE id = ?", [FAILED, error, row_id])


def forget_targets_when_done(db: Database, request_id: int) -> None:
    """Blank the callback targets (with the platform's credential) once nothing more is owed to the request."""
    owed = db.execute(
        "SELECT 1 FROM intake WHERE request_id = ? AND (closed = 0 OR EXISTS "
        "(SELECT 1 FROM callbacks WHERE request_id = ? AND state = ?))",
        [request_id, request_id, PENDING],
    ).fetchone()
    if owed is None:
        db.execute("UPDATE intake_callbacks SET headers = '{}', sealed = '' WHERE request_id = ?", [request_id])


def undelivered(db: Database, request_id: int) -> list[tuple[str, str]]:
    """(status, error) of each status event that could not be delivered, or that is still being retried."""
    return [
        (row[0], row[1])
        for row in db.execute(
            "SELECT status, error FROM callbacks WHERE request_id = ? "
            "AND (state = ? OR (state = ? AND error IS NOT NULL)) ORDER BY id",
            [request_id, FAILED, PENDING],
        )
    ]


def pending_count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM callbacks WHERE state = ?", [PENDING]).fetchone()[0])


def statuses(db: Database, request_id: int) -> list[tuple[str, str]]:
    """(status, state) of every status event of the request, in order."""
    return [
        (row[0], row[1])
        for row in db.execute("SELECT status, state FROM callbacks WHERE request_id = ? ORDER BY id", [request_id])
    ]


def has_news(db: Database) -> bool:
    """Whether any open link has events its status rows do not yet account for."""
    return (
        db.execute(
            "SELECT 1 FROM intake AS i WHERE closed = 0 AND EXISTS "
            "(SELECT 1 FROM events WHERE request_id = i.request_id AND seq > i.reported_seq) LIMIT 1"
        ).fetchone()
        is not None
    )


def events_since(db: Database, request_id: int, seq: int) -> list[tuple[int, str]]:
    """(seq, kind) of the request's events after ``seq``, in order: what ``feed`` has not yet looked at."""
    return [
        (int(row[0]), str(row[1]))
        for row in db.execute(
            "SELECT seq, kind FROM events WHERE request_id = ? AND seq > ? ORDER BY seq", [request_id, seq]
        )
    ]
