"""The event chain: intact when untouched; an edit, a removal, a swap or a cut-off tail shows."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import events
from storage.db import Store

EVENTS = 6


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


@pytest.fixture
def chain(store: Store) -> list[events.Event]:
    """Six events of two requests and the bot, appended as the workflow appends them."""
    appended = []
    with store.write() as db:
        db.execute(
            "INSERT INTO requests (id, kind, state, requester, channel, reason, created_at, updated_at) "
            "VALUES (1, 'traces', 'submitted', 'U0ALICE', 'C0PRIVACY', 'r', 't', 't')"
        )
    for n in range(EVENTS):
        with store.write() as db:
            appended.append(
                events.append(
                    db,
                    request_id=None if n == 3 else 1,
                    actor="U0BOB" if n % 2 else "purgebot",
                    kind=["filed", "previewed", "approved", "started", "batch_sent", "submitted"][n],
                    data={"count": n, "digest": hashlib.sha256(str(n).encode()).hexdigest(), "note": "ü"},
                    at=f"2026-03-02T09:00:0{n}.000000+00:00",
                )
            )
    return appended


def check(store: Store) -> events.ChainCheck:
    return events.verify_chain(store.db)


def sql(store: Store, statement: str, *params: object) -> None:
    """Tamper with the file directly, as someone with the file and the sqlite3 shell could."""
    with store.write() as db:
        db.execute(statement, list(params))


def test_a_fresh_chain_is_intact_and_reports_its_head(store: Store, chain: list[events.Event]) -> None:
    result = check(store)

    assert result == events.ChainCheck(True, EVENTS, chain[-1].hash, None)
    assert [e.seq for e in chain] == list(range(1, EVENTS + 1))
    assert chain[0].prev_hash == events.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in chain)
    assert events.contains_head(store.db, EVENTS, chain[-1].hash)


def test_an_empty_chain_is_intact_at_genesis(store: Store) -> None:
    assert check(store) == events.ChainCheck(True, 0, events.GENESIS, None)


def test_hashes_are_recomputable_from_the_documented_canonical_form(store: Store, chain: list[events.Event]) -> None:
    """An auditor without our code: sha256(prev_hash + canonical JSON with sorted keys, no spaces)."""
    for event in chain:
        content = json.dumps(
            {
                "seq": event.seq,
                "request_id": event.request_id,
                "at": event.at,
                "actor": event.actor,
                "kind": event.kind,
                "data": event.data,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        assert hashlib.sha256((event.prev_hash + content).encode()).hexdigest() == event.hash


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", json.dumps({"count": 999, "digest": "0" * 64, "note": "ü"})),
        ("actor", "U0MALLORY"),
        ("at", "2026-03-01T00:00:00.000000+00:00"),
        ("kind", "rejected"),
        ("request_id", 2),
        ("hash", "f" * 64),
        ("prev_hash", "e" * 64),
    ],
)
@pytest.mark.parametrize("seq", [1, 3, EVENTS])
def test_an_edited_row_is_the_first_bad_event(
    store: Store, chain: list[events.Event], column: str, value: object, seq: int
) -> None:
    sql(store, f"UPDATE events SET {column} = ? WHERE seq = ?", value, seq)

    result = check(store)

    assert not result.intact
    assert result.first_bad == seq
    assert result.head_seq == seq - 1
    assert result.head_hash == (chain[seq - 2].hash if seq > 1 else events.GENESIS)


def test_a_key_order_change_in_data_is_not_an_edit(store: Store, chain: list[events.Event]) -> None:
    """Only content is hashed (canonical JSON), not how the row's JSON text happens to be spelled."""
    row = json.loads(store.db.execute("SELECT data FROM events WHERE seq = 2").fetchone()[0])
    respelled = json.dumps(dict(reversed(list(row.items()))), indent=2)
    sql(store, "UPDATE events SET data = ? WHERE seq = 2", respelled)

    assert check(store).intact


@pytest.mark.parametrize("seq", [1, 3, EVENTS - 1])
def test_a_deleted_row_is_reported_by_its_missing_number(store: Store, chain: list[events.Event], seq: int) -> None:
    sql(store, "DELETE FROM events WHERE seq = ?", seq)

    result = check(store)

    assert not result.intact
    assert result.first_bad == seq


@pytest.mark.parametrize(("a", "b"), [(2, 3), (1, EVENTS), (4, 5)])
def test_two_swapped_rows_break_at_the_earlier(store: Store, chain: list[events.Event], a: int, b: int) -> None:
    sql(store, "UPDATE events SET seq = -1 WHERE seq = ?", a)
    sql(store, "UPDATE events SET seq = ? WHERE seq = ?", a, b)
    sql(store, "UPDATE events SET seq = ? WHERE seq = -1", b)

    result = check(store)

    assert not result.intact
    assert result.first_bad == a


def test_swapped_contents_keeping_positions_break_at_the_earlier(store: Store, chain: list[events.Event]) -> None:
    """Swap everything but ``seq`` (so numbering looks intact) between events 2 and 4."""
    columns = "request_id, at, actor, kind, data, prev_hash, hash"
    two = store.db.execute(f"SELECT {columns} FROM events WHERE seq = 2").fetchone()
    four = store.db.execute(f"SELECT {columns} FROM events WHERE seq = 4").fetchone()
    assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
    sql(store, f"UPDATE events SET {assignments} WHERE seq = 2", *four)
    sql(store, f"UPDATE events SET {assignments} WHERE seq = 4", *two)

    result = check(store)

    assert (result.intact, result.first_bad) == (False, 2)


def test_a_cut_off_tail_is_caught_only_by_the_expected_head(store: Store, chain: list[events.Event]) -> None:
    head = chain[-1]
    sql(store, "DELETE FROM events WHERE seq >= ?", EVENTS - 1)

    result = check(store)

    assert result.intact, "what is left is a valid (shorter) chain"
    assert (result.head_seq, result.head_hash) == (EVENTS - 2, chain[EVENTS - 3].hash)
    assert not events.contains_head(store.db, head.seq, head.hash)
    assert events.contains_head(store.db, EVENTS - 2, chain[EVENTS - 3].hash)


def test_a_rewritten_history_is_caught_by_the_expected_head(store: Store, chain: list[events.Event]) -> None:
    """Edit event 2 and recompute every later hash: the chain verifies, but no longer holds the old head."""
    head = chain[-1]
    rows = store.db.execute("SELECT seq, request_id, at, actor, kind, data FROM events ORDER BY seq").fetchall()
    prev = events.GENESIS
    for seq, request_id, at, actor, kind, data in rows:
        content = json.loads(data)
        if seq == 2:
            content["count"] = 12345
        digest = events.link_hash(prev, events.canonical(seq, request_id, at, actor, kind, content))
        sql(
            store,
            "UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            json.dumps(content),
            prev,
            digest,
            seq,
        )
        prev = digest

    assert check(store).intact
    assert not events.contains_head(store.db, head.seq, head.hash)


def test_contains_head_wants_the_exact_hash(store: Store, chain: list[events.Event]) -> None:
    assert events.contains_head(store.db, 3, chain[2].hash)
    assert not events.contains_head(store.db, 3, chain[3].hash)
    assert not events.contains_head(store.db, EVENTS + 1, chain[-1].hash)


def test_for_request_lists_one_requests_events_in_order(store: Store, chain: list[events.Event]) -> None:
    mine = events.for_request(store.db, 1)

    assert [e.seq for e in mine] == [1, 2, 3, 5, 6]
    assert mine == [e for e in chain if e.request_id == 1]
