"""Replay memory and the queue of acknowledged work: one row per slash command, click, form or event.

Slack may deliver the same request twice, and a person may double-click; within the window the
repeat gets the first answer and does nothing new. A row whose answer holds ``pending`` is work
the ack promised and nobody has finished (``bot.jobs``); ``finish`` ends it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database


def remember(db: Database, key: str, answer: dict[str, Any], at: str) -> None:
    """Store the first answer for ``key`` (a key older than the window is overwritten)."""
    db.execute("INSERT OR REPLACE INTO interactions (key, at, answer) VALUES (?, ?, ?)", [key, at, json.dumps(answer)])


def settle(db: Database, key: str, answer: dict[str, Any]) -> None:
    db.execute("UPDATE interactions SET answer = ? WHERE key = ?", [json.dumps(answer), key])


def recall(db: Database, key: str, *, since: str) -> dict[str, Any] | None:
    """The stored answer for ``key`` if it was given at or after ``since``."""
    row = db.execute("SELECT answer FROM interactions WHERE key = ? AND at >= ?", [key, since]).fetchone()
    return json.loads(row[0]) if row else None


def finish(db: Database, key: str, text: str | None = None) -> None:
    """End the pending work of ``key``: its answer becomes ``text`` (None: the provisional one stays)."""
    row = db.execute("SELECT answer FROM interactions WHERE key = ?", [key]).fetchone()
    if row is not None:
        settle(db, key, {"text": json.loads(row[0])["text"] if text is None else text})


def undecided(db: Database, *, stale_before: str) -> list[str]:
    """Work stored and acknowledged that nobody has taken on, or whose taker took longer than a taker can
    live (``taken_at`` before ``stale_before``: it crashed), oldest first."""
    rows = db.execute(
        "SELECT key FROM interactions WHERE json_extract(answer, '$.pending') IS NOT NULL"
        " AND coalesce(json_extract(answer, '$.taken_at'), '') < ? ORDER BY at",
        [stale_before],
    )
    return [key for (key,) in rows]


def take(db: Database, key: str, *, at: str, stale_before: str) -> dict[str, Any] | None:
    """Take undone work to do it (inside the caller's write transaction): its answer, now marked taken at
    ``at`` and counting this try in ``tries``; None when it was done or another process took it since."""
    row = db.execute("SELECT answer FROM interactions WHERE key = ?", [key]).fetchone()
    answer: dict[str, Any] | None = json.loads(row[0]) if row else None
    if answer is None or "pending" not in answer or answer.get("taken_at", "") >= stale_before:
        return None
    answer["taken_at"] = at
    answer["tries"] = int(answer.get("tries", 0)) + 1
    settle(db, key, answer)
    return answer


def forget_before(db: Database, cutoff: str) -> int:
    """Drop answers older than ``cutoff``; unfinished work is kept until it is done."""
    return db.execute("DELETE FROM interactions WHERE at < ? AND answer NOT LIKE '%\"pending\"%'", [cutoff]).rowcount
