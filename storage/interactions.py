"""Replay memory: the first answer given to a slash command (trigger_id) or click (action_ts + user).

Slack may deliver the same request twice, and a person may double-click; within the window the
repeat gets the first answer and does nothing new.
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


def unsettled(db: Database, *, before: str) -> list[tuple[str, dict[str, Any]]]:
    """Interactions claimed before ``before`` whose work was never finished (a crash after the ack)."""
    rows = db.execute("SELECT key, answer FROM interactions WHERE at < ? AND answer LIKE '%\"pending\"%'", [before])
    return [(key, answer) for key, raw in rows if "pending" in (answer := json.loads(raw))]


def forget_before(db: Database, cutoff: str) -> int:
    """Drop answers older than ``cutoff``; unfinished work is kept until it is done."""
    return db.execute("DELETE FROM interactions WHERE at < ? AND answer NOT LIKE '%\"pending\"%'", [cutoff]).rowcount
