"""The append-only event log, chained by SHA-256 so an edit, a removal or a swap shows.

Each row stores the hash of its canonical content together with the previous row's hash. Events
carry counts and digests, never raw subject values (those live in ``items``), so minimising raw
values later leaves the chain intact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    """One recorded fact about a request (or about the bot, when ``request_id`` is None)."""

    seq: int
    request_id: int | None
    at: str
    actor: str
    kind: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking the chain: intact up to ``head``, or broken at ``first_bad``."""

    intact: bool
    head_seq: int
    head_hash: str
    first_bad: int | None = None


def canonical(seq: int, request_id: int | None, at: str, actor: str, kind: str, data: dict[str, Any]) -> str:
    """The exact text that is hashed: sorted keys, no spaces, so any reader can recompute it."""
    return json.dumps(
        {"seq": seq, "request_id": request_id, "at": at, "actor": actor, "kind": kind, "data": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def append(db: Database, *, request_id: int | None, actor: str, kind: str, data: dict[str, Any], at: str) -> Event:
    """Add an event at the head of the chain; call inside a write transaction."""
    head = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    digest = link_hash(prev, canonical(seq, request_id, at, actor, kind, data))
    db.table("events").insert(
        {
            "seq": seq,
            "request_id": request_id,
            "at": at,
            "actor": actor,
            "kind": kind,
            "data": json.dumps(data, sort_keys=True),
            "prev_hash": prev,
            "hash": digest,
        }
    )
    return Event(seq, request_id, at, actor, kind, data, prev, digest)


def for_request(db: Database, request_id: int) -> list[Event]:
    """Every event of one request, oldest first."""
    rows = db.execute(
        "SELECT seq, request_id, at, actor, kind, data, prev_hash, hash FROM events WHERE request_id = ? ORDER BY seq",
        [request_id],
    ).fetchall()
    return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def recorded(db: Database, request_id: int, kind: str) -> bool:
    """Whether the request already has an event of ``kind`` (things that happen once look here)."""
    return (
        db.execute("SELECT 1 FROM events WHERE request_id = ? AND kind = ? LIMIT 1", [request_id, kind]).fetchone()
        is not None
    )


def verify_chain(db: Database) -> ChainCheck:
    """Recompute every link; report the first event whose content or position does not fit."""
    prev, expected_seq, head_seq = GENESIS, 1, 0
    cursor = db.execute("SELECT seq, request_id, at, actor, kind, data, prev_hash, hash FROM events ORDER BY seq")
    for seq, request_id, at, actor, kind, data, prev_hash, digest in cursor:
        content = canonical(seq, request_id, at, actor, kind, json.loads(data))
        if seq != expected_seq or prev_hash != prev or link_hash(prev, content) != digest:
            return ChainCheck(False, head_seq, prev, first_bad=expected_seq if seq != expected_seq else seq)
        prev, expected_seq, head_seq = digest, seq + 1, seq
    return ChainCheck(True, head_seq, prev)


def contains_head(db: Database, seq: int, digest: str) -> bool:
    """Whether the chain still holds event ``seq`` with hash ``digest`` (detects a cut-off tail)."""
    row = db.execute("SELECT hash FROM events WHERE seq = ?", [seq]).fetchone()
    return row is not None and row[0] == digest


def count_kind(db: Database, request_id: int, kind: str) -> int:
    """How many events of ``kind`` the request has (e.g. how often its work met an unexpected error)."""
    return int(
        db.execute("SELECT count(*) FROM events WHERE request_id = ? AND kind = ?", [request_id, kind]).fetchone()[0]
    )
