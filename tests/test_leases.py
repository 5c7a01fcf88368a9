"""Leases are fenced: two live ``purgebot serve`` processes on one file never both run a request.

During a rolling deploy the old server can look dead (a LangSmith call retrying for minutes outlives a
60-second lease) while it is alive. The new one takes the request over; the old one must stop before
its next call, and no item may be cut into two batches.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_two_processes import request_message, state, wait_until

from bot.clock import SystemClock, utc_iso
from bot.lease import Lease, LeaseLost
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess
from bot.sandbox.world import LANGSMITH_KEY, REQUESTS_CHANNEL, World, running_world
from storage import batches, items, requests
from storage.db import Store

SLOW = {"PURGEBOT_DELETE_CONCURRENCY": "1", "PURGEBOT_LANGSMITH_QUERY_RATE": "100000/1s"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, query_limit=(100_000, 1.0))
    with running_world(tmp_path / "purgebot.db", start=False, langsmith=langsmith) as running:
        yield running


def stall_and_expire(pid: int, db_path: Path) -> None:
    """SIGSTOP the process at a moment it holds no write transaction and not its turn to write (a stalled
    writer would hold up everyone), and let its claim run out."""
    turn = os.open(f"{db_path}-lock", os.O_RDWR)
    try:
        for _ in range(200):
            os.kill(pid, signal.SIGSTOP)
            try:
                fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
                with contextlib.closing(sqlite3.connect(db_path, timeout=0.2, isolation_level=None)) as db:
                    db.execute("UPDATE requests SET claim_expires = '2000-01-01T00:00:00.000000+00:00' WHERE id = 1")
                return
            except (BlockingIOError, sqlite3.OperationalError):
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.05)
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
    finally:
        os.close(turn)
    raise AssertionError("the process never stood outside a write transaction")


def owner(db_path: Path) -> str:
    with contextlib.closing(Store(db_path)) as store:
        return requests.get(store.db, 1).claim_owner or ""


def sent_batches(db_path: Path) -> int:
    with contextlib.closing(Store(db_path)) as store:
        return sum(1 for b in batches.for_request(store.db, 1) if b.state == batches.SENT)


def test_a_server_whose_lease_was_taken_stops_and_no_item_is_cut_twice(
    world: World, start_serve: Callable[..., ServeProcess]
) -> None:
    project = world.langsmith.add_project("prod-chat")
    subject = world.langsmith.add_traces(project, 12_000, metadata={"user_id": "123"})
    servers = [start_serve(world, extra_env=SLOW), start_serve(world, extra_env=SLOW)]
    for server in servers:
        server.start()
    with world.people_at(servers[0].url) as (alice, bob):
        assert alice.slash('metadata user_id=123 --reason "DSR-1"', channel_id=REQUESTS_CHANNEL).status == 200
        root = request_message(world, 1)
        world.langsmith.latency = 0.4  # each delete call takes a while: the takeover lands mid-purge
        bob.click(root, "Approve")
    wait_until("three batches are sent", lambda: sent_batches(world.db_path) >= 3)

    holder = owner(world.db_path)
    old = next(server for server in servers if f":{server.worker_pid}:" in holder)
    stalled = old.worker_pid  # the worker process holds the claim
    assert stalled is not None
    # The holder stalls (a long pause, a frozen VM) until its claim has run out; the other server takes
    # the request over; then the holder wakes, alive and in the middle of sending.
    stall_and_expire(stalled, world.db_path)
    try:
        wait_until("the other server holds PURGE-1", lambda: owner(world.db_path) != holder)
    finally:
        os.kill(stalled, signal.SIGCONT)
    wait_until("the purge is submitted", lambda: state(world.db_path, 1) == "submitted", timeout=90)

    with contextlib.closing(Store(world.db_path)) as store:
        first_round = [b for b in batches.for_request(store.db, 1) if b.round == 0 and b.kind == batches.TRACES]
        assert sum(b.size for b in first_round) == items.count(store.db, 1, items.INCLUDED, kind=items.TRACE)
        assert len({b.digest for b in first_round}) == len(first_round) == 12
        assert all(b.state == batches.SENT for b in first_round)
    sent = Counter(t for c in world.langsmith.calls_to("runs/delete") for t in c.body.get("trace_ids", []))
    assert set(sent) == set(subject)
    assert sum(n - 1 for n in sent.values()) <= 1000  # at most the one call in flight at the takeover
    assert "another process holds the request" in old.log_text()
    assert all(server.running for server in servers)


def test_only_the_owner_renews_and_a_lost_lease_fences_every_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "purgebot.db")
    clock = SystemClock()
    with store.write() as db:
        request = requests.insert(db, kind="traces", state="approved", requester="U1", channel="C1", reason="r",
                                  created_at=utc_iso(clock.now()), updated_at=utc_iso(clock.now()))  # fmt: skip
        assert requests.claim(db, where="1", params=[], owner="a", now=utc_iso(clock.now()), expires="9999")
    lease = Lease(store=store, request_id=request.id, owner="a", length=timedelta(seconds=60), clock=clock)
    intruder = Lease(store=store, request_id=request.id, owner="b", length=timedelta(seconds=60), clock=clock)
    with store.write() as db:
        lease.renew(db)
        with pytest.raises(LeaseLost):
            intruder.renew(db)  # a renewal fails for a non-owner
    lease.ensure()
    with store.write() as db:
        db.execute("UPDATE requests SET claim_owner = 'b' WHERE id = ?", [request.id])
    with pytest.raises(LeaseLost):
        lease.ensure()
    with pytest.raises(LeaseLost), store.write() as db:
        lease.fence(db)
    assert requests.get(store.db, request.id).claim_owner == "b"
    store.close()
