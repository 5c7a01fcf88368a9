"""The metadata pairs a subject purge searches for (``user_id=123``): raw subject values, kept apart."""

from __future__ import annotations

from collections.abc import Sequence

from sqlite_utils import Database


def add(db: Database, request_id: int, pairs: Sequence[tuple[str, str]]) -> None:
    db.table("pairs").insert_all(
        {"request_id": request_id, "seq": n, "key": key, "value": value} for n, (key, value) in enumerate(pairs)
    )


def of(db: Database, request_id: int) -> list[tuple[str, str]]:
    return [
        (row[0], row[1])
        for row in db.execute("SELECT key, value FROM pairs WHERE request_id = ? ORDER BY seq", [request_id])
    ]
