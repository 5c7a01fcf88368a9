"""``purgebot serve`` is two processes: the listener and the worker it starts and supervises.

Real processes on a real SQLite file, over real HTTP: the worker killed alone (the listener restarts
it and ``/healthz`` says so meanwhile), the listener killed alone (its worker exits at once, so no
orphan sends beside the next one), each mid-purge without losing a batch or sending one twice beyond
the call in flight, and a SIGTERM that stops both cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from test_restart import (
    TAKEOVER,
    TRACES,
    assert_claim_is_held_by_the_dead,
    assert_nothing_lost,
    purge_in_flight,
    request_message,
    restart_and_settle,
    wait_until,
)

from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_blocks import render_blocks
from bot.sandbox.world import BOB, REQUESTS_CHANNEL, World, running_world
from storage import outbox, requests
from storage.db import Store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as child processes."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        yield running


def _serve(world: World, start_serve: Callable[..., ServeProcess]) -> ServeProcess:
    return start_serve(world, extra_env={"PURGEBOT_DELETE_CONCURRENCY": "1"})


@contextlib.contextmanager
def _mid_purge(
    world: World, start_serve: Callable[..., ServeProcess]
) -> Iterator[tuple[ServeProcess, Store, list[str]]]:
    """``purgebot serve`` purging TRACES traces with a delete call in flight, and the file to read it from."""
    server = _serve(world, start_serve)
    ids = world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), TRACES)
    server.start()
    store = Store(world.db_path)
    try:
        purge_in_flight(world, server, ids)
        yield server, store, ids
    finally:
        store.close()


def _gone(pid: int) -> bool:
    """The process exited (a zombie not yet reaped by whoever adopted it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return True


def test_a_killed_worker_is_restarted_and_healthz_says_so_meanwhile(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    server = _serve(world, start_serve)
    server.start()
    listener, worker = server.pid, server.worker_pid
    assert worker is not None and worker != listener

    os.kill(worker, signal.SIGKILL)
    seen: list[str] = []
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            answer = client.get("/healthz")
            if answer.status_code == 503:
                seen = answer.json()["problems"]
            time.sleep(0.01)
        assert seen and seen[0].startswith("the worker process exited (killed by SIGKILL)"), seen

        new = server.wait_for_new_worker(worker)
        assert client.get("/healthz").json() == {"ok": True}
    assert server.pid == listener and new != worker  # the listener stayed up throughout
    assert "the worker process exited; restarting it" in server.log_text()


def test_a_kill_of_the_worker_alone_mid_purge_loses_nothing_and_sends_nothing_twice(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    with _mid_purge(world, start_serve) as (server, store, ids):
        listener = server.pid
        os.kill(listener or 0, signal.SIGSTOP)  # read the file the dead worker left before a new one starts
        try:
            dead = server.kill_worker()
            assert_claim_is_held_by_the_dead(store, dead)
        finally:
            os.kill(listener or 0, signal.SIGCONT)
        world.langsmith.latency = 0.05

        server.wait_for_new_worker(dead)
        wait_until("PURGE-1 is submitted", lambda: requests.get(store.db, 1).state == "submitted")
        wait_until("the outbox is drained", lambda: outbox.pending_count(store.db) == 0)

        assert server.pid == listener
        assert server.log_text().count(TAKEOVER) == 1  # at once, not after the lease
        assert_nothing_lost(world, server, store, ids)  # at most the one call in flight went twice


def test_a_kill_of_the_listener_alone_ends_its_worker_at_once_and_loses_nothing(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    with _mid_purge(world, start_serve) as (server, store, ids):
        worker = server.worker_pid
        assert worker is not None
        started = time.monotonic()
        server.kill_listener()  # returns once the worker is gone too

        assert time.monotonic() - started < 2, "the orphaned worker went on"
        assert _gone(worker)
        assert_claim_is_held_by_the_dead(store, worker)
        calls = len(world.langsmith.calls_to("runs/delete"))
        time.sleep(1.0)
        assert len(world.langsmith.calls_to("runs/delete")) == calls  # nothing sends without a listener
        world.langsmith.latency = 0.05

        took = restart_and_settle(world, server, store)

        assert took < 15, f"the restart took {took:.1f}s to finish: it waited for the lease"
        assert server.log_text().count(TAKEOVER) == 1
        assert "the listener process is gone" in server.log_text()
        assert_nothing_lost(world, server, store, ids)


@pytest.mark.parametrize("group", (False, True), ids=("to-the-listener", "to-the-group"))
def test_sigterm_stops_the_listener_and_its_worker_cleanly(
    world: World,
    start_serve: Callable[..., ServeProcess],
    group: bool,
) -> None:
    server = _serve(world, start_serve)
    server.start()
    worker = server.worker_pid
    assert worker is not None

    assert server.stop(group=group) == 0

    wait_until("the worker process is gone", lambda: _gone(worker), timeout=5)
    log = server.log_text()
    assert "did not stop in time" not in log and "did not exit" not in log
    assert "restarting it" not in log  # a stopping listener does not start another worker


def test_the_worker_decides_stored_clicks_and_answers_through_response_url_and_the_home_tab(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    """The listener only stores a click and acks it; the worker process decides it and tells the clicker."""
    server = _serve(world, start_serve)
    ids = world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 3)
    server.start()
    with world.people_at(server.url) as (alice, bob):
        assert alice.slash(f"traces prod-chat {' '.join(ids)} --reason x", channel_id=REQUESTS_CHANNEL).status == 200
        root = request_message(world)

        own = alice.click(root, "Approve")
        assert (own.status, own.body) == (200, "")  # the ack carries nothing: the decision comes later
        wait_until("Alice is told why not", lambda: any(e.via == "response_url" for e in alice.ephemerals()))
        assert requests_state(world) == "awaiting_approval"

        assert bob.delivery.open_home(user_id=BOB).status == 200
        wait_until("Bob's home tab is published", lambda: world.slack.home(BOB) is not None)
        home = world.slack.home(BOB)
        assert home is not None
        assert bob.delivery.click_in_view(user_id=BOB, view=home, label="Approve").status == 200
        wait_until("PURGE-1 is submitted", lambda: requests_state(world) == "submitted")
        wait_until(
            "Bob's home tab is published again, with nothing awaiting him",
            lambda: "Nothing awaits your approval" in render_blocks((world.slack.home(BOB) or home).view["blocks"]),
        )


def requests_state(world: World) -> str:
    with contextlib.closing(Store(world.db_path)) as store:
        return requests.get(store.db, 1).state


def test_the_listener_only_acks_commands_and_the_worker_files_and_answers_them(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    """With the worker stopped, each command is still acknowledged at once and nothing is done: no LangSmith
    lookup, no answer, no request. Once the worker runs again it does each once and answers."""
    server = _serve(world, start_serve)
    ids = world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 3)
    server.start()
    worker = server.worker_pid
    assert worker is not None
    with world.people_at(server.url) as (alice, bob):
        lookups = len(world.langsmith.calls_to("sessions"))
        os.kill(worker, signal.SIGSTOP)
        try:
            filed = alice.slash(f"traces prod-chat {' '.join(ids)} --reason x", channel_id=REQUESTS_CHANNEL)
            status = alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL)
            listed = bob.slash("list", channel_id=REQUESTS_CHANNEL)
            assert [d.status for d in (filed, status, listed)] == [200, 200, 200]
            assert max(d.elapsed for d in (filed, status, listed)) < 1.0
            assert filed.text.startswith("Filing a purge of 3 trace IDs in `prod-chat`")
            assert (status.text, listed.text) == ("Looking up PURGE-1…", "Looking up the requests…")
            time.sleep(0.5)
            assert len(world.langsmith.calls_to("sessions")) == lookups  # the listener asked LangSmith nothing
            assert world.slack.responses() == [] and _request_count(world) == 0
        finally:
            os.kill(worker, signal.SIGCONT)

        request_message(world)
        assert status.response_url is not None and listed.response_url is not None
        # Questions are not stored: handed to the worker, they may be answered before the filing is done.
        assert world.slack.answer_to(status.response_url) in ("PURGE-1 does not exist.", "PURGE-1: awaiting_approval")
        listing = world.slack.answer_to(listed.response_url)
        assert listing == "No requests." or listing.startswith("*PURGE-1* · "), listing
        assert len(world.langsmith.calls_to("sessions")) == lookups + 1
        replayed = alice.delivery.replay(filed)
        assert (replayed.status, replayed.text) == (200, filed.text)  # the first answer; nothing new is filed
        time.sleep(0.3)
        assert _request_count(world) == 1 and len(world.langsmith.calls_to("sessions")) == lookups + 1


def test_commands_acknowledged_before_the_worker_died_are_done_by_the_next_one(
    world: World,
    start_serve: Callable[..., ServeProcess],
) -> None:
    """A worker killed with acknowledged commands waiting: its successor files each once and answers it."""
    server = _serve(world, start_serve)
    ids = world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2)
    server.start()
    worker = server.worker_pid
    assert worker is not None
    with world.people_at(server.url) as (alice, _):
        os.kill(worker, signal.SIGSTOP)
        filed = alice.slash(f"traces prod-chat {' '.join(ids)} --reason x", channel_id=REQUESTS_CHANNEL)
        subject = alice.slash('metadata user_id=42 --reason "DSR-7"', channel_id=REQUESTS_CHANNEL)
        assert (filed.status, subject.status) == (200, 200)
        server.kill_worker()  # SIGKILL reaches a stopped process too

        server.wait_for_new_worker(worker)
        wait_until("both requests are filed", lambda: _request_count(world) == 2, timeout=15)
        time.sleep(0.5)
        assert _request_count(world) == 2  # each once
    with contextlib.closing(Store(world.db_path)) as store:
        kinds = sorted(r.kind for r in requests.list_requests(store.db, limit=10))
        assert kinds == ["metadata", "traces"]
        assert store.db.execute("SELECT count(*) FROM interactions WHERE answer LIKE '%pending%'").fetchone() == (0,)


def _request_count(world: World) -> int:
    with contextlib.closing(Store(world.db_path)) as store:
        return int(store.db.execute("SELECT count(*) FROM requests").fetchone()[0])
