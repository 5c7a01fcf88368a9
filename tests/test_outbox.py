"""Slack output is an outbox: rate limits are waited out, timeouts never post twice, dead ends are shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, request_message, wait_state

from bot.clock import SandboxClock
from bot.sandbox.world import NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import outbox


@pytest.fixture
def impatient_world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """A world whose Slack client gives up on an answer after one second."""
    tuning = dataclasses.replace(FAST, slack_timeout=1.0)
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=tuning) as running:
        yield running


def _roots(world: World) -> list[str]:
    return [m.ts for m in world.slack.messages(REQUESTS_CHANNEL) if not m.is_reply]


def test_a_rate_limited_post_is_retried_after_retry_after_and_posted_once(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    world.slack.inject("chat.postMessage", status=429, retry_after=1)

    file_traces(world, world.langsmith.add_traces(project, 1))

    request_message(world)
    assert len(_roots(world)) == 1
    answers = [call.status for call in world.slack.calls("chat.postMessage")]
    assert answers[:2] == [429, 200]


def test_a_post_that_timed_out_but_reached_slack_is_not_posted_again(impatient_world: World) -> None:
    world = impatient_world
    project = world.langsmith.add_project("prod-chat")
    world.slack.inject("chat.postMessage", delay=2.0)
    world.langsmith.inject("runs/query", delay=0.5)  # the preview's edit comes after the retried post

    file_traces(world, world.langsmith.add_traces(project, 1))

    request_message(world)
    assert len(_roots(world)) == 1
    assert world.slack.calls("conversations.history"), "the notifier should have looked before re-posting"
    assert len(world.slack.calls("chat.postMessage")) == 1


def test_a_notify_channel_the_bot_left_is_recorded_not_retried_and_shown_in_status(world: World) -> None:
    assert world.people is not None and world.bot is not None
    world.slack.add_channel(NOTIFY_CHANNEL, "compliance", members=["U0ALICE"], bot_member=False)
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 1))
    world.langsmith.inject("runs/delete", status=403, body={"detail": "Forbidden"})
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "failed")

    def recorded(_: object) -> bool:
        assert world.bot is not None
        return bool(outbox.failures(world.bot.store.db, 1))

    world.slack.wait_for(recorded, timeout=10)
    tries = [c for c in world.slack.calls("chat.postMessage") if c.params.get("channel") == NOTIFY_CHANNEL]
    assert len(tries) == 1 and tries[0].error == "not_in_channel"
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "could not be delivered: Slack said not_in_channel" in status


def test_an_error_slack_never_documented_is_tried_a_few_times_then_shown_in_status(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    world.slack.inject("chat.postMessage", error="brand_new_error", times=50)
    file_traces(world, world.langsmith.add_traces(project, 1))

    def failed(_: object) -> bool:
        assert world.bot is not None
        clock.jump_to(clock.now() + timedelta(minutes=10))  # past each back-off
        world.bot.wake()
        return bool(outbox.failures(world.bot.store.db, 1))

    world.slack.wait_for(failed, timeout=20)
    (row, *_) = outbox.failures(world.bot.store.db, 1)
    tries = [c for c in world.slack.calls("chat.postMessage") if f"'outbox_id': {row.id}}}" in str(c.params)]
    assert len(tries) == 5 and all(c.error == "brand_new_error" for c in tries)
    assert row.error == "Slack said brand_new_error 5 times, an answer purgebot does not know"
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "could not be delivered: Slack said brand_new_error" in status


def test_a_file_row_queued_before_the_upgrade_is_still_uploaded(world: World) -> None:
    """Rows queued by an older version carry one file each; the notifier still sends them."""
    assert world.bot is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 1))
    root = request_message(world)
    with world.bot.store.write() as db:
        outbox.enqueue(
            db,
            request_id=1,
            kind="file",
            in_thread=True,
            at=world.clock.now().isoformat(),
            payload={"filename": "PURGE-1-evidence.md", "title": "PURGE-1-evidence.md", "content": "# PURGE-1\n"},
        )
    world.bot.wake()

    world.slack.wait_for(lambda s: any(f.completed for f in s.uploaded_files()), timeout=10)
    (upload,) = world.slack.uploaded_files()
    assert (upload.filename, upload.content, upload.thread_ts) == ("PURGE-1-evidence.md", b"# PURGE-1\n", root.ts)
