"""Claims on work rows (requests, checks, outbox rows): who holds them, and letting go of a dead holder's.

A claim is an owner and an expiry; expiry alone lets a restart take over, but only after the
lease runs out. When the owner is known to be dead, its claims can go at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

CLAIMED_TABLES = ("requests", "checks", "outbox", "callbacks")


def owners(db: Database) -> set[str]:
    """Every owner that holds a claim in any claimed table."""
    found: set[str] = set()
    for table in CLAIMED_TABLES:
        found.update(
            row[0] for row in db.execute(f"SELECT DISTINCT claim_owner FROM {table} WHERE claim_owner IS NOT NULL")
        )
    return found


def release_all(db: Database, dead: Iterable[str]) -> int:
    """Drop the claims of ``dead`` owners; their work becomes claimable now. Returns rows freed."""
    freed = 0
    for owner in dead:
        for table in CLAIMED_TABLES:
            freed += db.execute(
                f"UPDATE {table} SET claim_owner = NULL, claim_expires = NULL WHERE claim_owner = ?", [owner]
            ).rowcount
    return freed


RELEASED = "claim_owner = NULL, claim_expires = NULL"
"""SQL for an UPDATE that lets go of a row's claim."""


def begin_attempt(db: Database, table: str, row_id: int, *, owner: str, now: str, expires: str) -> bool:
    """Claim a pending row of an outbox-like ``table`` for one attempt and count the attempt before it is
    made: from then on, it may have reached the other side.

    False when the row is no longer pending, or another live process holds it (two servers on one
    file): do not send it. A dead sender's claim runs out, and whoever takes the row over next may
    look for what it sent before sending again.
    """
    assert table in CLAIMED_TABLES
    return (
        db.execute(
            f"UPDATE {table} SET attempts = attempts + 1, claim_owner = ?, claim_expires = ? WHERE id = ? "
            "AND state = 'pending' AND (claim_owner IS NULL OR claim_owner = ? OR claim_expires < ?)",
            [owner, expires, row_id, owner, now],
        ).rowcount
        == 1
    )
