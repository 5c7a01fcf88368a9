"""Slack misbehaving while purgebot talks to it: every message arrives once, in order, or is shown as failed.

The Slack stand-in is made to rate-limit, time out, refuse a channel or go down; the tests then
read the workspace as a person would (messages, their edit history) and the outbox rows purgebot
kept, so a lost message, a duplicate or a row retried forever shows up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, request_message, wait_state, wait_thread

from bot.clock import SandboxClock
from bot.sandbox.slack_records import Message
from bot.sandbox.world import ALICE, BOB, CAROL, DAVE, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import outbox

WAIT = 15.0


@pytest.fixture
def impatient_world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """A world whose Slack client gives up on an answer after one second."""
    tuning = dataclasses.replace(FAST, slack_timeout=1.0)
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=tuning) as running:
        yield running


def roots(world: World) -> list[Message]:
    return [m for m in world.slack.messages(REQUESTS_CHANNEL) if not m.is_reply]


def outbox_states(world: World, request_id: int) -> list[tuple[str, str | None]]:
    assert world.bot is not None
    rows = world.bot.store.db.execute(
        "SELECT state, error FROM outbox WHERE request_id = ? ORDER BY id", [request_id]
    ).fetchall()
    return [(str(state), error) for state, error in rows]


def wait_outbox_settled(world: World) -> None:
    """Nothing pending: every row is sent, superseded or failed for good."""
    assert world.bot is not None
    store = world.bot.store

    def settled(_: object) -> bool:
        return outbox.pending_count(store.db) == 0

    world.slack.wait_for(settled, WAIT)


def bot_messages(world: World) -> list[Message]:
    return [m for channel in (REQUESTS_CHANNEL, NOTIFY_CHANNEL) for m in world.slack.messages(channel) if m.is_bot]


def outbox_id(message: Message) -> int | None:
    payload = (message.metadata or {}).get("event_payload") or {}
    value = payload.get("outbox_id")
    return int(value) if value is not None else None


def test_a_rate_limited_preview_edit_waits_for_retry_after_and_edits_the_one_message(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.inject("runs/query", delay=0.5)  # the request message goes out before its preview
    world.slack.inject("chat.update", status=429, retry_after=1)

    file_traces(world, world.langsmith.add_traces(project, 2))

    root = request_message(world)
    first = world.slack.calls("chat.postMessage")[0]
    assert "Approve" not in repr(first.params.get("blocks")), "the preview was ready before the first post"
    assert [m.ts for m in roots(world)] == [root.ts], "the request message was posted more than once"
    updates = world.slack.calls("chat.update")
    assert [call.status for call in updates[:2]] == [429, 200]
    assert updates[1].at - updates[0].at >= 0.9, "the edit was retried before Retry-After ran out"
    assert len(world.slack.calls("chat.postMessage")) == 1
    assert "LangSmith knows 2 of all 2 IDs" in root.render()
    assert [c.params["ts"] for c in updates] == [root.ts] * len(updates)


def test_a_notify_channel_slack_cannot_find_is_recorded_not_retried_and_shown_in_status(world: World) -> None:
    assert world.people is not None and world.bot is not None
    world.slack.add_channel(NOTIFY_CHANNEL, "compliance", members=[ALICE], bot_member=False, private=True)
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 1))
    world.langsmith.inject("runs/delete", status=403, body={"detail": "Forbidden"})
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "failed")
    wait_thread(world, root, "Forbidden")
    wait_outbox_settled(world)

    tries = [c for c in world.slack.calls("chat.postMessage") if c.params.get("channel") == NOTIFY_CHANNEL]
    assert len(tries) == 1 and tries[0].error == "channel_not_found"
    failed = [row for row in outbox_states(world, 1) if row[0] == outbox.FAILED]
    assert failed == [(outbox.FAILED, "Slack said channel_not_found")]
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert status.splitlines()[0] == "PURGE-1: failed"
    assert "A Slack post could not be delivered: Slack said channel_not_found" in status
    # Later news of the request still reaches its thread: one dead channel blocks nothing else.
    replies = len(world.slack.thread(REQUESTS_CHANNEL, root.ts))
    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    world.slack.wait_for(lambda s: len(s.thread(REQUESTS_CHANNEL, root.ts)) > replies, WAIT)
    wait_outbox_settled(world)
    assert len([c for c in world.slack.calls("chat.postMessage") if c.params.get("channel") == NOTIFY_CHANNEL]) == 1


def test_a_request_message_refused_with_not_in_channel_is_recorded_and_its_thread_posts_give_up(
    world: World, clock: SandboxClock
) -> None:
    """The bot is removed from the channel after the filing check and before the request message is posted.

    The preview then finds LangSmith down and says so in the request's thread — a thread that
    does not exist: that post must fail for good at once, not wait for its root forever.
    """
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    world.langsmith.inject("sessions", delay=0.5)  # the project lookup runs after the channel check
    world.langsmith.inject("runs/query", status=503, times=FAST.retry.attempts)

    file_traces(world, ids)
    world.slack.wait_for(lambda s: bool(s.calls("conversations.info")), WAIT)
    world.slack.add_channel(REQUESTS_CHANNEL, "privacy-requests", members=[ALICE, BOB, CAROL, DAVE], bot_member=False)

    def paused_note_settled(_: object) -> bool:
        assert world.bot is not None
        return bool(
            world.bot.store.db.execute(
                "SELECT 1 FROM outbox WHERE request_id = 1 AND in_thread = 1 AND state != ?", [outbox.PENDING]
            ).fetchone()
        )

    world.slack.wait_for(paused_note_settled, WAIT)
    # After the pause the preview is stored, and its edit of the missing message fails like the first post.
    clock.jump_to(clock.now() + timedelta(minutes=2))
    world.bot.wake()
    world.slack.wait_for(lambda _: _previewed(world), WAIT)
    wait_outbox_settled(world)

    thread_rows = world.bot.store.db.execute(
        "SELECT state, error, attempts FROM outbox WHERE request_id = 1 AND in_thread = 1"
    ).fetchall()
    assert thread_rows, "no thread post was queued"
    assert all(state == outbox.FAILED and "never posted" in error for state, error, _ in thread_rows), thread_rows
    assert all(attempts == 1 for _, _, attempts in thread_rows), thread_rows
    assert outbox.SENT not in {state for state, _ in outbox_states(world, 1)}
    posts = world.slack.calls("chat.postMessage")
    assert posts and all(c.error == "not_in_channel" for c in posts), [c.error for c in posts]
    assert not any(c.params.get("thread_ts") for c in posts), "a thread post was sent without a thread"
    assert world.slack.messages(REQUESTS_CHANNEL) == []
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert status.splitlines()[0] == "PURGE-1: awaiting_approval"
    assert "A Slack post could not be delivered: Slack said not_in_channel" in status
    # Nothing is retried on later rounds: a request filed afterwards elsewhere is posted, these are not.
    tried = len(posts)
    clock.jump_to(clock.now() + timedelta(minutes=10))
    world.slack.add_channel("C0OTHER", "other-requests", members=[ALICE, BOB])
    world.people.alice.slash(f"traces prod-chat {ids[0]} --reason DSR-2", channel_id="C0OTHER")
    world.slack.wait_for(lambda s: bool(s.messages("C0OTHER")), WAIT)
    wait_outbox_settled(world)
    assert [c.params["channel"] for c in world.slack.calls("chat.postMessage")[tried:]] == ["C0OTHER"]


def _previewed(world: World) -> bool:
    assert world.bot is not None
    row = world.bot.store.db.execute("SELECT preview_digest FROM requests WHERE id = 1").fetchone()
    return row is not None and row[0] is not None


def test_an_edit_that_timed_out_but_reached_slack_is_applied_once(impatient_world: World) -> None:
    world = impatient_world
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.inject("runs/query", delay=0.5)  # the request message goes out before its preview
    world.slack.inject("chat.update", delay=2.0)  # carried out, but answered after the client gave up

    file_traces(world, world.langsmith.add_traces(project, 2))

    root = request_message(world)
    assert world.bot is not None
    world.slack.wait_for(lambda _: world.bot is not None and _row_settled(world, "Slack unreachable"), WAIT)
    wait_outbox_settled(world)
    final = world.slack.message(REQUESTS_CHANNEL, root.ts)
    assert len(roots(world)) == 1
    assert "LangSmith knows 2 of all 2 IDs" in final.render()
    assert len(world.slack.calls("chat.update")) == 1, "the edit was sent again after it had landed"
    assert len(final.history) == 1, f"the message was edited {len(final.history)} times"
    assert world.slack.calls("conversations.replies"), "the notifier should have looked before editing again"


def _row_settled(world: World, error: str) -> bool:
    """A row that failed once with ``error`` has since been marked sent."""
    assert world.bot is not None
    return bool(
        world.bot.store.db.execute(
            "SELECT 1 FROM outbox WHERE state = ? AND attempts > 1 AND error LIKE ?", [outbox.SENT, f"%{error}%"]
        ).fetchone()
    )


def test_after_slack_was_down_every_message_arrives_once_and_in_order(world: World, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    file_traces(world, ids)
    root = request_message(world)
    world.slack.inject("chat.postMessage", status=503, times=5)
    world.slack.inject("chat.update", status=503, times=5)

    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    _ride_out_the_outage(world, clock)

    wait_thread(world, root, "is *submitted*")
    wait_outbox_settled(world)
    failed = [c for c in world.slack.calls() if c.status == 503]
    assert len(failed) == 10, "the outage did not happen as arranged"
    messages = bot_messages(world)
    ids_seen = [outbox_id(m) for m in messages]
    assert None not in ids_seen
    assert len(ids_seen) == len(set(ids_seen)), f"posted twice: {ids_seen}"
    replies = [m for m in world.slack.thread(REQUESTS_CHANNEL, root.ts) if m.is_reply]
    in_ts_order = [outbox_id(m) for m in replies]
    assert in_ts_order == sorted(in_ts_order), "thread messages arrived out of order"  # type: ignore[type-var]
    texts = [m.text for m in replies]
    assert texts[0].startswith("Approved by <@U0BOB>"), texts
    assert any("is *submitted*" in text for text in texts)
    assert "Approved* by <@U0BOB>" in world.slack.message(REQUESTS_CHANNEL, root.ts).render()
    assert len(world.langsmith.calls_to("runs/delete")) == 1
    assert not [row for row in outbox_states(world, 1) if row[0] == outbox.FAILED]


def _ride_out_the_outage(world: World, clock: SandboxClock) -> None:
    """Move the clock past each back-off (2 s, 4 s, 8 s …) until the outbox has delivered everything."""
    assert world.bot is not None
    store = world.bot.store

    def delivered(_: object) -> bool:
        return outbox.pending_count(store.db) == 0

    for _ in range(60):
        clock.jump_to(clock.now() + timedelta(seconds=20))
        world.bot.wake()
        try:
            world.slack.wait_for(delivered, 0.2)
            return
        except TimeoutError:
            continue
    raise AssertionError(f"the outbox never drained; {world.slack.describe()}")
