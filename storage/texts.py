"""Free text kept beside the event chain: LangSmith's error messages and the bot's refusals.

Such text can carry personal data (an error may echo what was sent), and events are never rewritten.
So an event carries the text's SHA-256 digest, and the words live here, keyed by request and digest,
where minimisation reaches them: the chain still verifies, and the digest still names the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlite_utils import Database

__all__ = ["digest", "keep", "minimise", "read"]


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def keep(db: Database, request_id: int | None, text: str) -> str:
    """Store ``text`` for the request (once) and return its digest, for an event to carry."""
    named = digest(text)
    db.execute("INSERT OR IGNORE INTO texts (request_id, digest, text) VALUES (?, ?, ?)", [request_id, named, text])
    return named


def read(db: Database, request_id: int | None, named: str) -> str | None:
    row = db.execute("SELECT text FROM texts WHERE request_id IS ? AND digest = ?", [request_id, named]).fetchone()
    return str(row[0]) if row else None


def minimise(db: Database, request_id: int, hasher: Callable[[str], str]) -> int:
    """Replace the request's texts with keyed hashes (in the transaction that marks it minimised); returns
    how many."""
    rows = db.execute("SELECT digest, text FROM texts WHERE request_id = ?", [request_id]).fetchall()
    db.conn.executemany(
        "UPDATE texts SET text = ? WHERE request_id = ? AND digest = ?",
        [(hasher(text), request_id, named) for named, text in rows],
    )
    return len(rows)
