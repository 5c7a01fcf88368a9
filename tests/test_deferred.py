"""What an ack promised is done once, or given up in words: never retried forever, never lost.

A stored job is taken before it is done; a doer that dies leaves it taken, and another takes it once
``TAKEN_FOR`` has passed. These tests store jobs as a crash would leave them, on the running bot's
real file, and watch what the deferred worker does with them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, request_message, state

from bot.app import PurgeBot
from bot.clock import SandboxClock, utc_iso
from bot.deferred import GAVE_UP, MAX_TRIES, TAKEN_FOR
from bot.jobs import SlashCommand, encode
from bot.sandbox.world import ALICE, REQUESTS_CHANNEL, World, running_world
from storage import interactions


def _leave(world: World, clock: SandboxClock, key: str, pending: dict[str, object], *, tries: int) -> None:
    """Store ``pending`` as doers that died ``tries`` times left it: taken, long ago."""
    assert world.bot is not None
    answer = {"text": "Filing…", "pending": pending, "taken_at": utc_iso(clock.now() - timedelta(minutes=5))}
    if tries:
        answer["tries"] = tries
    with world.bot.store.write() as db:
        interactions.remember(db, key, answer, utc_iso(clock.now()))


def _filing(world: World, clock: SandboxClock, name: str) -> tuple[dict[str, object], str]:
    """A stored ``/purge metadata`` and the ``response_url`` its answer goes to."""
    world.slack.register_response_url(name, user_id=ALICE, channel_id=REQUESTS_CHANNEL)
    url = f"{world.slack_url}/response/{name}"
    job = SlashCommand(
        text=f'metadata user_id={name} --reason "DSR-1"',
        user=ALICE,
        channel=REQUESTS_CHANNEL,
        trigger_id=name,
        response_url=url,
        received_at=utc_iso(clock.now()),
    )
    return encode(job), url


def _requests(world: World) -> int:
    assert world.bot is not None
    return int(world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0])


def _still_pending(world: World) -> int:
    assert world.bot is not None
    return int(
        world.bot.store.db.execute(
            "SELECT count(*) FROM interactions WHERE json_extract(answer, '$.pending') IS NOT NULL"
        ).fetchone()[0]
    )


@pytest.mark.parametrize("tries", (0, MAX_TRIES - 1))
def test_work_a_dead_doer_left_is_done_once(world: World, clock: SandboxClock, tries: int) -> None:
    assert world.bot is not None
    pending, _ = _filing(world, clock, "left-behind")
    _leave(world, clock, "command:left-behind", pending, tries=tries)
    world.bot.wake()

    world.slack.wait_for(lambda _: _requests(world) == 1, timeout=10)
    world.slack.wait_for(lambda _: _still_pending(world) == 0, timeout=10)
    assert not world.bot.deferred.step()
    assert _requests(world) == 1


def test_work_that_failed_every_try_is_given_up_and_the_person_told(world: World, clock: SandboxClock) -> None:
    assert world.bot is not None
    pending, url = _filing(world, clock, "hopeless")
    _leave(world, clock, "command:hopeless", pending, tries=MAX_TRIES)
    world.bot.wake()

    assert world.slack.answer_to(url) == GAVE_UP
    assert _requests(world) == 0 and _still_pending(world) == 0
    assert not world.bot.deferred.step()


def test_a_stored_job_that_cannot_be_read_is_dropped_and_blocks_nothing(
    world: World, clock: SandboxClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert world.bot is not None
    _leave(world, clock, "command:garbled", {"kind": "teleport", "to": "mars"}, tries=1)
    _leave(world, clock, "command:missing", {"kind": "command", "text": "status PURGE-1"}, tries=1)
    pending, _ = _filing(world, clock, "behind-them")
    _leave(world, clock, "command:behind-them", pending, tries=1)
    world.bot.wake()

    world.slack.wait_for(lambda _: _requests(world) == 1, timeout=10)
    world.slack.wait_for(lambda _: _still_pending(world) == 0, timeout=10)
    dropped = [r for r in caplog.records if r.getMessage() == "a stored job cannot be read; dropped"]
    assert sorted(r.__dict__["key"] for r in dropped) == ["command:garbled", "command:missing"]


def test_a_question_the_worker_process_cannot_take_is_answered_by_the_listener(
    world: World, clock: SandboxClock
) -> None:
    """``purgebot serve``'s listener hands questions to its worker process; with none to take one (it is
    down, or restarting), the listener answers it itself rather than leave the person without one."""
    listener = PurgeBot(world.settings, clock=clock, tuning=world.tuning, environ=world.environ, worker_process=True)
    try:
        world.slack.register_response_url("asked", user_id=ALICE, channel_id=REQUESTS_CHANNEL)
        url = f"{world.slack_url}/response/asked"
        question = SlashCommand(
            text="status PURGE-4",
            user=ALICE,
            channel=REQUESTS_CHANNEL,
            trigger_id="asked",
            response_url=url,
            received_at=utc_iso(clock.now()),
        )
        listener.deferred.answer_after_ack(question)  # its worker process was never started

        assert world.slack.answer_to(url, timeout=1) == "PURGE-4 does not exist."
        assert _still_pending(world) == 0  # a question is not stored
    finally:
        listener.stop()


@contextlib.contextmanager
def _locked(db_path: Path) -> Iterator[None]:
    """Hold the database's write lock as a writer that takes no turns would (``sqlite3`` by hand)."""
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def impatient(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """A running world whose writes give up after 0.3 s instead of 30."""
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=replace(FAST, busy_timeout=0.3)) as running:
        yield running


def test_a_command_whose_claim_cannot_be_written_is_refused_in_the_ack_and_changes_nothing(
    impatient: World,
) -> None:
    world = impatient
    assert world.people is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2))
    request_message(world)

    with _locked(world.db_path):
        cancel = world.people.alice.slash("cancel PURGE-1", channel_id=REQUESTS_CHANNEL)

    assert cancel.status == 200
    assert cancel.text.startswith("purgebot could not record this (database ") and "is locked" in cancel.text
    assert cancel.text.endswith("Nothing changed; try again.")
    time.sleep(0.3)
    assert world.slack.responses() == []  # nothing follows the ack: nothing was kept to do
    assert state(world) == "awaiting_approval" and _still_pending(world) == 0


def test_work_the_database_refuses_after_the_ack_is_said_so_and_done_on_a_later_try(
    impatient: World, clock: SandboxClock
) -> None:
    world = impatient
    assert world.people is not None and world.bot is not None
    world.slack.inject("conversations.info", delay=1.0)  # the filing checks the channel first: lock meanwhile

    filed = world.people.alice.slash('metadata user_id=42 --reason "DSR-7"', channel_id=REQUESTS_CHANNEL)
    assert filed.status == 200 and filed.text.startswith("Filing a subject purge")
    assert filed.response_url is not None
    with _locked(world.db_path):
        told = world.slack.answer_to(filed.response_url, timeout=5)

    assert told.startswith("purgebot could not record this yet (database ") and "is locked" in told
    assert told.endswith("it tries again shortly.")
    assert _requests(world) == 0 and _still_pending(world) == 1  # kept, taken: no one else does it for now
    assert not world.bot.deferred.step()

    clock.jump_to(clock.now() + TAKEN_FOR + timedelta(seconds=1))
    world.bot.wake()
    world.slack.wait_for(lambda _: _requests(world) == 1 and _still_pending(world) == 0, timeout=10)
    request_message(world)
