"""A real ``purgebot serve`` process killed with SIGKILL between batches resumes without losing one.

The stand-ins run in this process; the bot runs as the installed console script in a child
process, started, killed (no shutdown code runs) and started again on the same SQLite file. The
restart must take over the dead process's claim at once — not after the 60 s lease — re-send at
most the one batch that was in flight (delete concurrency 1), and post nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import parse_utc
from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_records import Message
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from storage import batches, checks, events, items, outbox, requests
from storage.db import Store

WAIT = 20.0
TRACES = 3500
TAKEOVER = "took over work of stopped processes"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as a child process."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        yield running


@pytest.fixture
def server(world: World, start_serve: Callable[..., ServeProcess]) -> ServeProcess:
    return start_serve(world, extra_env={"PURGEBOT_DELETE_CONCURRENCY": "1"})


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: still not true after {timeout:g}s")
        time.sleep(0.01)
    return time.monotonic() - started


def request_message(world: World) -> Message:
    """The root message of PURGE-1 once its preview (and so its [Approve] button) is posted."""

    def root() -> Message | None:
        for message in world.slack.messages(REQUESTS_CHANNEL):
            if not message.is_reply and "PURGE-1*" in message.render() and "[Approve]" in message.render():
                return message
        return None

    wait_until("the preview of PURGE-1 is posted", lambda: root() is not None)
    found = root()
    assert found is not None
    return found


def file_and_approve(world: World, server: ServeProcess, ids: list[str], before_click: Callable[[], None]) -> None:
    """Alice files a purge of ``ids`` in prod-chat over HTTP; once the preview is up, Bob approves."""
    with world.people_at(server.url) as (alice, bob):
        filed = alice.slash(f"traces prod-chat {' '.join(ids)} --reason x", channel_id=REQUESTS_CHANNEL)
        assert filed.status == 200, filed.body
        root = request_message(world)
        assert f"purge of {len(ids):,} trace IDs" in root.render()
        before_click()
        clicked = bob.click(root, "Approve")
        assert clicked.status == 200, clicked.body


def purge_in_flight(world: World, server: ServeProcess, ids: list[str], *, latency: float = 0.5) -> None:
    """File and approve a purge of ``ids`` whose delete calls take ``latency`` seconds each, and return once
    the second call has arrived: a kill now lands with a call in flight and a batch already answered."""

    def slow_deletes() -> None:
        world.langsmith.latency = latency

    file_and_approve(world, server, ids, slow_deletes)
    wait_until("the second delete call arrives", lambda: len(world.langsmith.calls_to("runs/delete")) >= 2)


def restart_and_settle(world: World, server: ServeProcess, store: Store) -> float:
    """Start a new server on the same database; returns the seconds until PURGE-1 is submitted."""
    started = time.monotonic()
    server.start()
    wait_until("PURGE-1 is submitted", lambda: requests.get(store.db, 1).state == "submitted")
    took = time.monotonic() - started
    wait_until("the outbox is drained", lambda: outbox.pending_count(store.db) == 0)
    return took


def assert_claim_is_held_by_the_dead(store: Store, dead_pid: int) -> None:
    """The killed worker process still holds PURGE-1, with a lease far from running out: waiting would be slow."""
    request = requests.get(store.db, 1)
    assert request.state == "executing"
    assert request.claim_owner is not None and f":{dead_pid}:" in request.claim_owner
    assert request.claim_expires is not None
    assert (parse_utc(request.claim_expires) - datetime.now(UTC)).total_seconds() > 30


def assert_nothing_lost(world: World, server: ServeProcess, store: Store, ids: list[str]) -> Counter[frozenset[str]]:
    """Every approved ID went out, each batch is recorded sent once, and Slack saw nothing twice."""
    db = store.db
    request = requests.get(db, 1)
    assert request.state == "submitted"
    assert request.claim_owner is None

    rows = batches.for_request(db, 1)
    assert sorted(b.size for b in rows) == [500, 1000, 1000, 1000]
    assert [(b.state, b.attempts, b.status_code) for b in rows] == [("sent", 1, 202)] * 4
    batch_ids = {frozenset(items.in_batch(db, b)) for b in rows}
    assert set().union(*batch_ids) == set(ids)

    deletes = world.langsmith.calls_to("runs/delete")
    sent = Counter(frozenset(call.body["trace_ids"]) for call in deletes)
    assert set(sent) == batch_ids  # each call is exactly one stored batch: nothing re-cut, nothing extra
    assert set().union(*(frozenset(call.body["trace_ids"]) for call in deletes if call.status == 202)) == set(ids)
    assert sum(count - 1 for count in sent.values()) <= 1  # at most the one batch in flight went twice

    recorded = events.for_request(db, 1)
    assert sorted(Counter(e.data["batch"] for e in recorded if e.kind == "batch_sent").values()) == [1, 1, 1, 1]
    assert [e.kind for e in recorded].count("submitted") == 1
    assert events.verify_chain(db).intact
    scheduled = [c for c in checks.for_request(db, 1) if c.kind == checks.SCHEDULED]
    assert [(c.seq, c.state) for c in scheduled] == [(0, checks.PENDING)]

    posted = [m for m in world.slack.messages(REQUESTS_CHANNEL) if m.is_bot]
    outbox_ids = [(m.metadata or {}).get("event_payload", {}).get("outbox_id") for m in posted]
    assert len(outbox_ids) == len(set(outbox_ids)), "a message was posted twice"
    replies = [m.render() for m in posted if m.is_reply]
    assert sum("is *submitted*" in text for text in replies) == 1
    assert sum(f"{TRACES:,} of {TRACES:,} trace IDs accepted" in text for text in replies) == 1

    with world.people_at(server.url) as (alice, _):
        status = alice.ask("status purge-1", channel_id=REQUESTS_CHANNEL)
    assert status.splitlines()[0] == "PURGE-1: submitted"
    return sent


def test_a_kill_between_batches_resumes_at_once_and_loses_no_batch(world: World, server: ServeProcess) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, TRACES)
    server.start()
    store = Store(world.db_path)
    try:
        purge_in_flight(world, server, ids)
        first = server.worker_pid  # the worker process holds the claim
        assert first is not None
        server.kill()

        assert_claim_is_held_by_the_dead(store, first)
        before = batches.for_request(store.db, 1)
        # the first call was answered; the batches cut ahead of the calls since are pending
        assert before[0].state == "sent" and len(before) > 1 and {b.state for b in before[1:]} == {"pending"}
        world.langsmith.latency = 0.05

        took = restart_and_settle(world, server, store)

        assert took < 15, f"the restart took {took:.1f}s to finish: it waited for the lease"
        assert server.log_text().count(TAKEOVER) == 1
        sent = assert_nothing_lost(world, server, store, ids)
        first_batch = frozenset(items.in_batch(store.db, before[0]))
        assert sent[first_batch] == 1  # the batch answered before the kill is not sent again
        assert len(world.langsmith.calls_to("runs/delete")) <= 5
        assert server.stop() == 0  # and a graceful stop (SIGTERM) exits cleanly
    finally:
        store.close()


def test_a_kill_during_the_first_delete_resumes_and_completes(world: World, server: ServeProcess) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, TRACES)
    server.start()
    store = Store(world.db_path)
    try:

        def hang_first_delete() -> None:
            world.langsmith.inject("runs/delete", delay=30.0)  # the first delete hangs until the client goes

        file_and_approve(world, server, ids, hang_first_delete)
        wait_until("the first delete call arrives", lambda: len(world.langsmith.calls_to("runs/delete")) == 1)
        first = server.worker_pid  # the worker process holds the claim
        assert first is not None
        server.kill()

        assert_claim_is_held_by_the_dead(store, first)
        # Batches are written as they are sent: the first is stored, none is recorded as sent.
        states = [b.state for b in batches.for_request(store.db, 1)]
        assert states and set(states) == {"pending"}
        wait_until("the hung call is cut off", lambda: world.langsmith.calls_to("runs/delete")[0].status == 499)

        took = restart_and_settle(world, server, store)

        assert took < 15, f"the restart took {took:.1f}s to finish: it waited for the lease"
        assert server.log_text().count(TAKEOVER) == 1
        sent = assert_nothing_lost(world, server, store, ids)
        assert len(world.langsmith.calls_to("runs/delete")) == 5 and sorted(sent.values()) == [1, 1, 1, 2]
    finally:
        store.close()


def test_a_graceful_stop_between_batches_finishes_the_call_in_flight_and_hands_over(
    world: World, server: ServeProcess
) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, TRACES)
    server.start()
    store = Store(world.db_path)
    try:
        purge_in_flight(world, server, ids, latency=1.0)
        started = time.monotonic()
        assert server.stop() == 0
        took = time.monotonic() - started

        assert took < 5, f"SIGTERM took {took:.1f}s: the executor went on sending"
        request = requests.get(store.db, 1)
        assert (request.state, request.claim_owner) == ("executing", None)  # released, not left to a lease
        assert [b.state for b in batches.for_request(store.db, 1)] == ["sent", "sent", "pending", "pending"]
        assert len(world.langsmith.calls_to("runs/delete")) == 2
        world.langsmith.latency = 0.05

        restart_and_settle(world, server, store)

        assert TAKEOVER not in server.log_text()  # nothing was left claimed by the stopped process
        sent = assert_nothing_lost(world, server, store, ids)
        assert sorted(sent.values()) == [1, 1, 1, 1]  # a graceful stop re-sends nothing
    finally:
        store.close()


def test_a_kill_while_slack_holds_back_its_answer_posts_nothing_twice(world: World, server: ServeProcess) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    server.start()
    store = Store(world.db_path)
    try:

        def slow_slack() -> None:
            world.slack.inject("chat.postMessage", delay=2.0)  # the next post is made; its answer is held back

        file_and_approve(world, server, ids, slow_slack)

        def held_back() -> Message | None:
            return next((m for m in world.slack.messages(REQUESTS_CHANNEL) if m.is_reply), None)

        wait_until("a thread reply is posted", lambda: held_back() is not None)
        server.kill()
        posted = held_back()
        assert posted is not None and posted.metadata is not None
        row_id = posted.metadata["event_payload"]["outbox_id"]
        state = store.db.execute("SELECT state FROM outbox WHERE id = ?", [row_id]).fetchone()[0]
        assert state == "pending"  # Slack has the message; purgebot never heard back

        restart_and_settle(world, server, store)

        messages = [m for m in world.slack.messages(REQUESTS_CHANNEL) if m.is_bot]
        outbox_ids = [(m.metadata or {}).get("event_payload", {}).get("outbox_id") for m in messages]
        assert outbox_ids.count(row_id) == 1 and len(outbox_ids) == len(set(outbox_ids))
        state, ts = store.db.execute("SELECT state, ts FROM outbox WHERE id = ?", [row_id]).fetchone()
        assert (state, ts) == ("sent", posted.ts)  # found by its outbox id, not posted again
        assert sum("is *submitted*" in m.text for m in messages) == 1
    finally:
        store.close()
