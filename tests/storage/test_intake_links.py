"""Links to platform requests and their status outbox on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import claims, events, intake
from storage.db import Store

T0 = "2026-12-01T09:00:00.000000+00:00"
LATER = "2026-12-01T09:05:00.000000+00:00"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def link(store: Store, request_id: int, uid: str | None = "u-1", callbacks: int = 1) -> list[int]:
    with store.write() as db:
        intake.add(
            db,
            request_id=request_id,
            platform="ketch",
            uid=uid,
            tenant="axonic",
            answer={"kind": "DeleteResponse"},
            callbacks=[("https://ketch.example", f"sealed-{n}") for n in range(callbacks)],
            at=T0,
        )
        return intake.callback_ids(db, request_id)


def test_a_uid_links_one_request_per_platform(store: Store) -> None:
    link(store, 1)
    with pytest.raises(sqlite3.IntegrityError), store.write() as db:
        intake.add(db, request_id=2, platform="ketch", uid="u-1", tenant=None, answer={}, callbacks=[], at=T0)
    link(store, 3, uid=None)
    link(store, 4, uid=None)  # requests of purgebot's own API carry no uid
    found = intake.by_uid(store.db, "ketch", "u-1")
    assert found is not None and found.request_id == 1 and found.answer == {"kind": "DeleteResponse"}


def test_each_request_offers_its_oldest_pending_status_and_a_retry_waits(store: Store) -> None:
    (a,) = link(store, 1)
    (b,) = link(store, 2, uid="u-2")
    with store.write() as db:
        first = intake.enqueue(db, request_id=1, callback_id=a, status="in_progress", payload={}, at=T0)
        intake.enqueue(db, request_id=1, callback_id=a, status="completed", payload={}, at=T0)
        other = intake.enqueue(db, request_id=2, callback_id=b, status="denied", payload={}, at=T0)
    assert [row.id for row in intake.due(store.db, T0)] == [first, other]
    with store.write() as db:
        assert claims.begin_attempt(db, "callbacks", first, owner="p1", now=T0, expires=LATER)
        assert not claims.begin_attempt(db, "callbacks", first, owner="p2", now=T0, expires=LATER)  # a live claim holds
        intake.retry_at(db, first, at=LATER, error="the endpoint answered HTTP 503")
    assert [row.id for row in intake.due(store.db, T0)] == [other]  # request 1 waits, in order
    assert intake.undelivered(store.db, 1) == [("in_progress", "the endpoint answered HTTP 503")]


def test_targets_are_blanked_once_nothing_more_is_owed(store: Store) -> None:
    (a,) = link(store, 1)
    with store.write() as db:
        row = intake.enqueue(db, request_id=1, callback_id=a, status="denied", payload={}, at=T0)
        intake.advance(db, 1, seq=5, closed=True)
        intake.forget_targets_when_done(db, 1)
    assert intake.due(store.db, T0)[0].sealed == "sealed-0"  # still owed
    with store.write() as db:
        intake.mark_sent(db, row, at=T0)
        intake.forget_targets_when_done(db, 1)
    assert store.db.execute("SELECT url, headers, sealed FROM intake_callbacks").fetchall() == [
        ("https://ketch.example", "{}", "")
    ]


def test_a_target_stored_in_the_clear_is_listed_until_sealed(store: Store) -> None:
    link(store, 1, callbacks=0)
    with store.write() as db:
        db.execute(  # as a version before m016 stored it
            "INSERT INTO intake_callbacks (request_id, url, headers) VALUES (1, 'https://k.example/cb?t=1', ?)",
            ['{"Authorization": "Bearer cb"}'],
        )
    ((callback_id, request_id, url, headers),) = intake.unsealed(store.db)
    assert (request_id, url, headers) == (1, "https://k.example/cb?t=1", {"Authorization": "Bearer cb"})
    with store.write() as db:
        intake.seal(db, callback_id, origin="https://k.example", sealed="sealed")
    assert intake.unsealed(store.db) == []
    assert store.db.execute("SELECT url, headers, sealed FROM intake_callbacks").fetchall() == [
        ("https://k.example", "{}", "sealed")
    ]


def test_news_are_events_after_the_cursor_of_an_open_link(store: Store) -> None:
    link(store, 1)
    assert not intake.has_news(store.db)
    with store.write() as db:
        seq = events.append(db, request_id=1, actor="U0BOB", kind="approved", data={}, at=T0).seq
    assert intake.has_news(store.db) and intake.events_since(store.db, 1, 0) == [(seq, "approved")]
    with store.write() as db:
        intake.advance(db, 1, seq=seq, closed=False)
    assert not intake.has_news(store.db)
