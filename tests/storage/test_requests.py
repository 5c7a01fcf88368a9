"""The ``requests`` table: gap-free numbers, compare-and-set transitions, and claims."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import checks, claims, requests
from storage.db import NotFound, Store

T0 = "2026-03-02T09:00:00.000000+00:00"
T0_PLUS_30S = "2026-03-02T09:00:30.000000+00:00"
T0_PLUS_60S = "2026-03-02T09:01:00.000000+00:00"
T0_PLUS_61S = "2026-03-02T09:01:01.000000+00:00"
RACERS = 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def file_request(store: Store, *, state: str = "awaiting_approval", requester: str = "U0ALICE") -> requests.Request:
    with store.write() as db:
        return requests.insert(
            db,
            kind="traces",
            state=state,
            requester=requester,
            channel="C0PRIVACY",
            reason="DSR-1042",
            item_count=0,
            created_at=T0,
            updated_at=T0,
        )


class Refused(Exception):
    pass


# ----------------------------------------------------------------------------- numbers


def test_numbers_start_at_1_and_have_no_gaps(store: Store) -> None:
    numbers = [file_request(store).id for _ in range(5)]

    assert numbers == [1, 2, 3, 4, 5]
    assert [r.label for r in requests.list_requests(store.db)] == [f"PURGE-{n}" for n in (5, 4, 3, 2, 1)]


def test_a_refused_insert_uses_no_number(store: Store) -> None:
    assert file_request(store).id == 1
    with pytest.raises(Refused), store.write() as db:
        assert (
            requests.insert(
                db,
                kind="traces",
                state="awaiting_approval",
                requester="U0ALICE",
                channel="C0PRIVACY",
                reason="x",
                created_at=T0,
                updated_at=T0,
            ).id
            == 2
        )
        raise Refused

    assert file_request(store).id == 2
    assert store.db.execute("SELECT group_concat(id) FROM requests").fetchone()[0] == "1,2"


def test_get_of_a_missing_request_names_it(store: Store) -> None:
    with pytest.raises(NotFound, match="PURGE-7 does not exist"):
        requests.get(store.db, 7)
    assert requests.find(store.db, 7) is None


# ----------------------------------------------------------------------------- transitions


def test_transition_moves_only_from_the_named_states(store: Store) -> None:
    request = file_request(store)

    with store.write() as db:
        wrong = requests.transition(db, request.id, from_states=["approved"], to="executing", at=T0_PLUS_30S)
    assert not wrong
    assert requests.get(store.db, request.id).state == "awaiting_approval"
    assert requests.get(store.db, request.id).updated_at == T0

    with store.write() as db:
        moved = requests.transition(
            db, request.id, from_states=["awaiting_approval"], to="approved", at=T0_PLUS_30S, decided_by="U0BOB"
        )
    after = requests.get(store.db, request.id)
    assert moved
    assert (after.state, after.updated_at, after.decided_by) == ("approved", T0_PLUS_30S, "U0BOB")


def test_of_many_threads_racing_the_same_transition_exactly_one_wins(store: Store) -> None:
    request = file_request(store)
    start = threading.Barrier(RACERS)
    outcomes: list[bool] = []
    connections: set[int] = set()
    lock = threading.Lock()

    def race(who: int) -> None:
        store.db  # noqa: B018 - open this thread's connection before the start line
        start.wait(timeout=10)
        with store.write() as db:
            won = requests.transition(
                db,
                request.id,
                from_states=["awaiting_approval"],
                to="approved",
                at=T0_PLUS_30S,
                decided_by=f"U0APPROVER{who}",
            )
        with lock:
            outcomes.append(won)
            connections.add(id(db.conn))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == RACERS
    assert outcomes.count(True) == 1
    assert len(connections) == RACERS, "each thread used its own connection"
    winner = requests.get(store.db, request.id)
    assert winner.state == "approved"
    assert winner.decided_by is not None and winner.decided_by.startswith("U0APPROVER")


def test_a_where_clause_blocks_the_move(store: Store) -> None:
    """The two-person rule inside the compare-and-set: the requester cannot approve their own request."""
    request = file_request(store, requester="U0ALICE")

    def approve(clicker: str) -> bool:
        with store.write() as db:
            return requests.transition(
                db,
                request.id,
                from_states=["awaiting_approval"],
                to="approved",
                at=T0_PLUS_30S,
                where="requester != ?",
                params=[clicker],
                decided_by=clicker,
            )

    assert not approve("U0ALICE")
    assert requests.get(store.db, request.id).state == "awaiting_approval"
    assert requests.get(store.db, request.id).decided_by is None
    assert approve("U0BOB")
    assert requests.get(store.db, request.id).decided_by == "U0BOB"
    assert not approve("U0DAVE")


def test_transition_of_a_missing_request_changes_nothing(store: Store) -> None:
    with store.write() as db:
        assert not requests.transition(db, 42, from_states=["awaiting_approval"], to="approved", at=T0)
    assert store.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 0


# ----------------------------------------------------------------------------- claims


def claim(store: Store, owner: str, now: str, expires: str = T0_PLUS_60S) -> requests.Request | None:
    with store.write() as db:
        return requests.claim(db, where="state = ?", params=["approved"], owner=owner, now=now, expires=expires)


def test_a_claimed_request_waits_for_its_expiry_unless_the_owner_asks_again(store: Store) -> None:
    request = file_request(store, state="approved")

    first = claim(store, "host:1:a", T0)
    assert first is not None and first.id == request.id
    assert (first.claim_owner, first.claim_expires) == ("host:1:a", T0_PLUS_60S)

    assert claim(store, "host:2:b", T0_PLUS_30S) is None
    assert claim(store, "host:2:b", T0_PLUS_60S) is None  # the lease runs until its expiry

    again = claim(store, "host:1:a", T0_PLUS_30S, expires="2026-03-02T09:01:30.000000+00:00")
    assert again is not None and again.claim_expires == "2026-03-02T09:01:30.000000+00:00"

    taken = claim(store, "host:2:b", "2026-03-02T09:01:31.000000+00:00", expires="2026-03-02T09:02:31.000000+00:00")
    assert taken is not None and taken.claim_owner == "host:2:b"
    assert claim(store, "host:1:a", "2026-03-02T09:01:32.000000+00:00") is None


def test_claim_takes_only_rows_matching_where_oldest_first(store: Store) -> None:
    file_request(store, state="awaiting_approval")
    second = file_request(store, state="approved")
    third = file_request(store, state="approved")

    got = claim(store, "host:1:a", T0)
    assert got is not None and got.id == second.id
    other = claim(store, "host:2:b", T0)
    assert other is not None and other.id == third.id
    assert claim(store, "host:3:c", T0) is None


def test_release_gives_up_only_ones_own_claim(store: Store) -> None:
    request = file_request(store, state="approved")
    assert claim(store, "host:1:a", T0) is not None

    with store.write() as db:
        requests.release(db, request.id, "host:2:b")
    assert claim(store, "host:2:b", T0) is None

    with store.write() as db:
        requests.release(db, request.id, "host:1:a")
    assert claim(store, "host:2:b", T0) is not None


def test_release_all_frees_a_dead_owners_request_claims_at_once(store: Store) -> None:
    dead = file_request(store, state="approved")
    alive = file_request(store, state="approved")
    assert claim(store, "host:1:dead", T0) is not None
    assert claim(store, "host:2:alive", T0) is not None
    assert claim(store, "host:3:new", T0_PLUS_30S) is None

    with store.write() as db:
        assert claims.owners(db) == {"host:1:dead", "host:2:alive"}
        assert claims.release_all(db, ["host:1:dead"]) == 1
        assert claims.release_all(db, ["host:9:unknown"]) == 0

    taken = claim(store, "host:3:new", T0_PLUS_30S)
    assert taken is not None and taken.id == dead.id
    assert requests.get(store.db, alive.id).claim_owner == "host:2:alive"
    assert claim(store, "host:4:other", T0_PLUS_30S) is None


def test_release_all_makes_a_dead_owners_running_check_claimable(store: Store) -> None:
    request = file_request(store, state="submitted")
    with store.write() as db:
        check_id = checks.schedule(db, request_id=request.id, seq=0, kind=checks.SCHEDULED, due_at=T0)
        running = checks.claim_due(db, now=T0_PLUS_30S, owner="host:1:dead", expires=T0_PLUS_61S)
    assert running is not None and running.id == check_id and running.state == checks.RUNNING

    with store.write() as db:
        assert checks.claim_due(db, now=T0_PLUS_60S, owner="host:2:new", expires=T0_PLUS_61S) is None
        assert claims.owners(db) == {"host:1:dead"}
        assert claims.release_all(db, ["host:1:dead"]) == 1

    with store.write() as db:
        retaken = checks.claim_due(db, now=T0_PLUS_60S, owner="host:2:new", expires=T0_PLUS_61S)
    assert retaken is not None and retaken.id == check_id
    assert retaken.attempts == 2
