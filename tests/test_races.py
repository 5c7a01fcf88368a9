"""Races and replays over real HTTP: a purge executes once, a decision is final, nobody approves their own.

Each test drives the running app through signed requests on loopback and then reads what the
stand-ins saw (LangSmith delete calls, Slack posts and ephemerals) and what purgebot recorded
(events, outbox rows), so a race that slips through shows up as a second delete, a second event
or a loser who was not told.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from e2e import ephemeral_texts, file_traces, request_message, state, wait_ephemeral, wait_state

from bot.clock import SandboxClock
from bot.messages import APPROVE_ACTION
from bot.sandbox.slack_records import Message
from bot.sandbox.slack_user import Delivered, SlackUser
from bot.sandbox.world import ALICE, APPROVER_GROUP, BOB, CAROL, DAVE, REQUESTS_CHANNEL, World
from storage import events, requests

T = TypeVar("T")
WAIT = 15.0
SETTLED = ("submitted", "cancelled", "rejected", "failed")


def together(*actions: Callable[[], T]) -> list[T]:
    """Run each action in its own thread, released at the same instant; their results in order."""
    barrier = threading.Barrier(len(actions))
    results: list[T | None] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a delivery never returned"
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


def kinds(world: World, number: int) -> list[str]:
    assert world.bot is not None
    return [event.kind for event in events.for_request(world.bot.store.db, number)]


def outbox_rows(world: World) -> int:
    assert world.bot is not None
    return int(world.bot.store.db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def deletes_of(world: World, trace_ids: list[str]) -> int:
    """How many runs/delete calls carried any of ``trace_ids``."""
    wanted = set(trace_ids)
    return sum(1 for call in world.langsmith.calls_to("runs/delete") if wanted & set(call.body["trace_ids"]))


def settle(world: World, number: int) -> str:
    """Wait until the request is out of the states a race passes through; its final state."""

    def settled(_: object) -> bool:
        return state(world, number) in SETTLED

    settled.__name__ = f"PURGE-{number} settled"
    world.slack.wait_for(settled, timeout=WAIT)
    return state(world, number)


def approver_crowd(world: World, size: int) -> list[SlackUser]:
    """``size`` new people in the requests channel and the approver group (bob and dave stay)."""
    assert world.people is not None
    ids = [f"U0APPR{n:03d}" for n in range(size)]
    for user in ids:
        world.slack.add_user(user, user.lower())
    world.slack.add_channel(REQUESTS_CHANNEL, "privacy-requests", members=[ALICE, BOB, CAROL, DAVE, *ids])
    world.slack.add_usergroup(APPROVER_GROUP, "privacy-approvers", [DAVE, *ids])
    return [SlackUser(world.delivery, user) for user in ids]


def test_twenty_approvers_clicking_at_once_approve_and_execute_exactly_once(world: World) -> None:
    assert world.bot is not None
    crowd = approver_crowd(world, 20)
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    file_traces(world, ids)
    root = request_message(world)
    # Slack answers the approver-group lookup slowly (Tier 2), so every click passes the first
    # read while the request still awaits approval: only the compare-and-set can pick one winner.
    world.slack.inject("usergroups.users.list", delay=0.5, times=20)

    acks = together(*[partial(person.click, root, "Approve") for person in crowd])

    assert [ack.status for ack in acks] == [200] * 20
    wait_state(world, "submitted")
    approvals = [e for e in events.for_request(world.bot.store.db, 1) if e.kind == "approved"]
    assert len(approvals) == 1
    winner = approvals[0].actor
    assert requests.get(world.bot.store.db, 1).decided_by == winner
    assert deletes_of(world, ids) == 1 and len(world.langsmith.calls_to("runs/delete")) == 1
    losers = [person.user_id for person in crowd if person.user_id != winner]
    assert len(losers) == 19
    for loser in losers:
        wait_ephemeral(world, loser, "already")
    for loser in losers:
        told = ephemeral_texts(world, loser)
        assert len(told) == 1, (loser, told)
        assert f"PURGE-1 is already approved by <@{winner}>" in told[0], told[0]
    assert ephemeral_texts(world, winner) == []
    assert kinds(world, 1).count("decision_refused") == 19
    assert kinds(world, 1).count("executing") == 1


def test_approve_racing_cancel_ends_one_way_or_the_other_and_the_loser_is_told(world: World) -> None:
    assert world.people is not None and world.bot is not None
    alice, bob = world.people.alice, world.people.bob
    project = world.langsmith.add_project("prod-chat")
    outcomes: list[str] = []
    for number in range(1, 7):
        ids = world.langsmith.add_traces(project, 2)
        file_traces(world, ids)
        root = request_message(world, number)

        click, cancel = together(
            partial(bob.click, root, "Approve"),
            partial(alice.ask, f"cancel PURGE-{number}", channel_id=REQUESTS_CHANNEL),
        )

        assert click.status == 200
        final = settle(world, number)
        history = kinds(world, number)
        assert final in ("submitted", "cancelled"), (number, final, history)
        assert not ("approved" in history and "cancelled" in history), history
        if final == "cancelled":
            assert cancel == f"PURGE-{number} is cancelled."
            wait_ephemeral(world, BOB, f"PURGE-{number} is already cancelled by <@{ALICE}>")
            assert deletes_of(world, ids) == 0
            assert history.count("cancelled") == 1 and "executing" not in history
        else:
            refusal = rf"PURGE-{number} is (approved|executing|submitted); only a request awaiting approval can be"
            assert re.fullmatch(refusal + r" cancelled\.", cancel), cancel
            assert deletes_of(world, ids) == 1
            assert history.count("approved") == 1
            assert not any(f"PURGE-{number}" in text for text in ephemeral_texts(world, BOB))
        outcomes.append(final)
    assert len(outcomes) == 6  # which side wins varies from run to run; each round held either way


def test_approve_after_reject_and_reject_after_approve_are_refused_and_change_nothing(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    rejected_ids = world.langsmith.add_traces(project, 2)
    file_traces(world, rejected_ids)
    first = request_message(world, 1)
    world.people.bob.click(first, "Reject")
    wait_state(world, "rejected", 1)
    world.slack.wait_for(lambda s: "Rejected* by <@U0BOB>" in s.message(REQUESTS_CHANNEL, first.ts).render(), WAIT)
    rows, root_edits = outbox_rows(world), len(world.slack.message(REQUESTS_CHANNEL, first.ts).history)

    world.people.dave.click(first, "Approve")

    wait_ephemeral(world, DAVE, "PURGE-1 is already rejected by <@U0BOB>; nothing changed.")
    assert state(world, 1) == "rejected"
    assert deletes_of(world, rejected_ids) == 0
    assert outbox_rows(world) == rows, "a refused click queued something for Slack"
    assert len(world.slack.message(REQUESTS_CHANNEL, first.ts).history) == root_edits
    assert kinds(world, 1).count("approved") == 0 and kinds(world, 1)[-1] == "decision_refused"

    approved_ids = world.langsmith.add_traces(project, 2)
    file_traces(world, approved_ids)
    second = request_message(world, 2)
    world.people.bob.click(second, "Approve")
    wait_state(world, "submitted", 2)
    before = kinds(world, 2)

    world.people.dave.click(second, "Reject")

    wait_ephemeral(world, DAVE, "PURGE-2 is already approved by <@U0BOB>")
    assert state(world, 2) == "submitted"
    assert kinds(world, 2) == [*before, "decision_refused"]
    assert deletes_of(world, approved_ids) == 1


def test_a_replayed_click_gets_the_first_answer_and_does_nothing_new(world: World, clock: SandboxClock) -> None:
    """For the event log, "nothing new" means a replay appends no event at all, not even a refusal.

    The first delivery's own events (``approved``, or ``decision_refused``) are the record; the
    replay is answered from the stored answer and leaves the log exactly as it was.
    """
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    file_traces(world, ids)
    root = request_message(world)

    refused = world.people.alice.click(root, "Approve")
    wait_ephemeral(world, ALICE, "two-person rule")
    log = kinds(world, 1)
    assert log.count("decision_refused") == 1
    refused_again = world.delivery.replay(refused)
    world.slack.wait_for(lambda _: len(ephemeral_texts(world, ALICE)) == 2, WAIT)
    first_answer, second_answer = ephemeral_texts(world, ALICE)
    assert second_answer == first_answer and "two-person rule" in first_answer
    assert refused_again.status == 200 and refused_again.body == refused.body
    assert kinds(world, 1) == log

    approved = world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    log, rows = kinds(world, 1), outbox_rows(world)
    clock.jump_to(clock.now() + timedelta(minutes=4, seconds=30))  # still inside the five-minute window
    replayed = world.delivery.replay(approved)
    again = world.delivery.replay(approved)

    assert replayed.status == again.status == 200
    assert replayed.body == again.body == approved.body
    _quiet(world)
    assert kinds(world, 1) == log
    assert outbox_rows(world) == rows
    assert ephemeral_texts(world, BOB) == []
    assert deletes_of(world, ids) == 1


def _quiet(world: World) -> None:
    """Let the app finish anything a replay might have started (its listener runs after the ack)."""
    assert world.bot is not None
    world.slack.wait_for(lambda _: _idle(world), WAIT)


def _idle(world: World) -> bool:
    assert world.bot is not None
    return int(world.bot.store.db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]) == 0


def test_a_replayed_slash_command_gets_the_first_answer_and_does_nothing_new(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    request_message(world)

    cancelled = world.people.alice.slash("cancel PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_state(world, "cancelled")
    log = kinds(world, 1)
    replayed = world.delivery.replay(cancelled)

    assert cancelled.text == "Cancelling PURGE-1…"
    assert cancelled.response_url is not None
    assert world.slack.answer_to(cancelled.response_url) == "PURGE-1 is cancelled."
    assert replayed.status == 200 and replayed.text == "PURGE-1 is cancelled."  # the first answer, once it was given
    assert kinds(world, 1) == log

    lookups = len(world.langsmith.calls_to("sessions"))
    refused = world.people.alice.slash(
        "traces prod-chta 0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f --reason DSR-9", channel_id=REQUESTS_CHANNEL
    )
    wait_ephemeral(world, ALICE, "no project named `prod-chta`")
    lookups_after_first = len(world.langsmith.calls_to("sessions"))
    replayed_refusal = world.delivery.replay(refused)

    assert lookups_after_first == lookups + 1
    assert replayed_refusal.status == 200 and "no project named `prod-chta`" in replayed_refusal.text
    assert len(world.langsmith.calls_to("sessions")) == lookups_after_first, "the replay asked LangSmith again"
    assert len(ephemeral_texts(world, ALICE)) == 2  # the cancel's answer and the refusal, each once
    assert world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 1


def _told_more_than(world: World, user: str, count: int, _: object) -> bool:
    return len(ephemeral_texts(world, user)) > count


def _forged_click(world: World, root: Message, *, user: str, value: str) -> Delivered:
    return world.delivery.click(
        user_id=user, channel_id=REQUESTS_CHANNEL, message_ts=root.ts, action_id=APPROVE_ACTION, value=value
    )


def test_a_forged_button_value_cannot_approve(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    file_traces(world, ids)
    root = request_message(world)
    digest = requests.get(world.bot.store.db, 1).preview_digest
    assert digest is not None
    forgeries = {
        (ALICE, f"1:{'0' * 64}"): "older preview of PURGE-1",
        (ALICE, "1:"): "older preview of PURGE-1",
        (ALICE, f"1:{digest[:12]}"): "older preview of PURGE-1",
        (ALICE, f"1:{digest}"): "two-person rule",
        (ALICE, f"1:{digest}:{BOB}"): "older preview of PURGE-1",
        (BOB, f"1:{digest.upper()}"): "older preview of PURGE-1",
        (BOB, f"01:{'f' * 64}"): "older preview of PURGE-1",
        (BOB, "PURGE-1"): "does not name a purge request",
        (BOB, f"2:{digest}"): "does not exist",
    }

    for (user, value), expected in forgeries.items():
        before = len(ephemeral_texts(world, user))
        assert _forged_click(world, root, user=user, value=value).status == 200
        world.slack.wait_for(partial(_told_more_than, world, user, before), WAIT)
        assert expected in ephemeral_texts(world, user)[-1], (value, ephemeral_texts(world, user)[-1])
        assert state(world, 1) == "awaiting_approval"

    assert "approved" not in kinds(world, 1)
    assert world.langsmith.calls_to("runs/delete") == []
    # The genuine button still works, so the refusals above were about the forgery, not a broken request.
    _forged_click(world, root, user=BOB, value=f"1:{digest}")
    wait_state(world, "submitted")
    assert deletes_of(world, ids) == 1


def test_a_click_acknowledged_but_never_decided_is_finished_after_a_restart(world: World, clock: SandboxClock) -> None:
    """The state a crash between the ack and the decision leaves: the click is stored, undecided."""
    from datetime import timedelta

    from bot.jobs import Click

    assert world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    root = request_message(world)
    assert "[Approve]" in root.render()
    digest = world.bot.store.db.execute("SELECT preview_digest FROM requests").fetchone()[0]
    world.slack.register_response_url("lost-click", user_id="U0ALICE", channel_id=REQUESTS_CHANNEL)
    workflow = world.bot.workflow
    workflow.claim_interaction("click:1.1:U0BOB", "", job=Click(1, digest, "U0BOB", approve=True), taken=True)
    workflow.claim_interaction(
        "click:1.2:U0ALICE",
        "",
        job=Click(1, digest, "U0ALICE", approve=True, response_url=f"{world.slack_url}/response/lost-click"),
        taken=True,
    )

    assert not world.bot.deferred.step()  # taken by this process lately: a live handler may still be deciding them
    clock.jump_to(clock.now() + timedelta(seconds=31))
    world.stop_bot()
    world.start_bot()

    wait_state(world, "submitted")
    wait_ephemeral(world, "U0ALICE", "PURGE-1")  # her own click is refused, whichever was decided first
    assert [e.via for e in world.slack.ephemerals("U0ALICE")] == ["response_url"]
    assert len(world.langsmith.calls_to("runs/delete")) == 1
    assert not world.bot.deferred.step()  # each finished once
