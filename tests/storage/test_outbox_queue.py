"""The outbox's queue on a real SQLite file: each request in turn, each request's rows in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import claims, outbox
from storage.db import Store

T0 = "2026-12-01T09:00:00.000000+00:00"
LATER = "2026-12-01T09:05:00.000000+00:00"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def test_one_request_with_a_long_queue_does_not_starve_the_others(store: Store) -> None:
    with store.write() as db:
        stuck = [outbox.enqueue(db, request_id=1, payload={"text": f"a{n}"}, at=T0) for n in range(200)]
        other = outbox.enqueue(db, request_id=2, payload={"text": "b"}, at=T0)
        loose = outbox.enqueue(db, request_id=None, channel="C1", payload={"text": "c"}, at=T0)
    due = [row.id for row in outbox.due(store.db, LATER)]
    assert due == [stuck[0], other, loose]  # one row a request, its oldest: messages stay in order


def test_a_row_that_failed_waits_behind_the_others_until_its_retry_is_due(store: Store) -> None:
    with store.write() as db:
        first = outbox.enqueue(db, request_id=1, payload={"text": "a"}, at=T0)
        second = outbox.enqueue(db, request_id=2, payload={"text": "b"}, at=T0)
        outbox.retry_at(db, first, at="2026-12-01T09:01:00.000000+00:00", error="Slack said ratelimited")
    assert [row.id for row in outbox.due(store.db, T0)] == [second]
    assert [row.id for row in outbox.due(store.db, LATER)] == [second, first]


def test_an_attempt_claims_its_row_so_a_second_server_does_not_post_it_too(store: Store) -> None:
    with store.write() as db:
        row = outbox.enqueue(db, request_id=1, payload={"text": "a"}, at=T0)
        assert claims.begin_attempt(db, "outbox", row, owner="server-a", now=T0, expires=LATER)
        assert not claims.begin_attempt(db, "outbox", row, owner="server-b", now=T0, expires=LATER)  # a is sending it
    assert outbox.due(store.db, T0) == []  # nor is it offered while a's claim lives
    after_expiry = "2026-12-01T09:06:00.000000+00:00"
    assert [r.id for r in outbox.due(store.db, after_expiry)] == [row]  # a died mid-attempt: b takes over
    with store.write() as db:
        assert claims.begin_attempt(
            db, "outbox", row, owner="server-b", now=after_expiry, expires="2026-12-01T09:07:00+00:00"
        )
        outbox.mark_sent(db, row, ts="1.2", at=after_expiry)
        assert not claims.begin_attempt(
            db, "outbox", row, owner="server-a", now=after_expiry, expires=LATER
        )  # sent: done
