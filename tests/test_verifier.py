"""Checks against a served purgebot: what counts as still present, what as new, and when a check that
gets no answer is tried again and escalated — never a verdict it did not earn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from e2e import WAIT, file_traces, jump_to_next_check, request_message, state, thread, wait_state, wait_thread
from test_subject_purge import deleted_traces, file_subject

from bot.clock import SandboxClock, parse_utc
from bot.sandbox.world import NOTIFY_CHANNEL, REQUESTS_CHANNEL, World
from bot.verifier import ESCALATE_AFTER, retry_delay
from storage import checks


def test_every_value_of_a_repeated_key_is_searched_deleted_and_checked(world: World, clock: SandboxClock) -> None:
    assert world.people is not None
    prod = world.langsmith.add_project("prod-chat")
    first = set(world.langsmith.add_traces(prod, 3, metadata={"user_id": "123"}))
    second = set(world.langsmith.add_traces(prod, 2, metadata={"user_id": "456"}))
    world.langsmith.add_traces(prod, 4, metadata={"user_id": "789"})

    file_subject(world, "metadata user_id=123 user_id=456 --reason DSR-11")
    root = request_message(world)
    assert "5 traces in 1 project" in root.render()
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    assert set(deleted_traces(world)) == first | second

    world.langsmith.run_weekend()
    # LangSmith ingests, late, an older trace of the first value: the check must look for it too.
    filed = datetime.now(UTC) - timedelta(days=2)
    late = world.langsmith.add_trace(prod, metadata={"user_id": "123"}, start_time=filed)
    jump_to_next_check(world, clock)
    wait_thread(world, root, "1 of 5 traces still present, including 1 older trace of this subject")
    assert state(world) == "submitted"

    # its delete is sent again with the others that remain, after the thread says so
    world.slack.wait_for(lambda _: late in deleted_traces(world), timeout=WAIT)
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")


def test_new_since_means_started_after_filing_and_older_late_arrivals_are_still_present(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None
    prod = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(prod, 3, metadata={"user_id": "123"})
    file_subject(world, "metadata user_id=123 --reason DSR-12")
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    world.langsmith.run_weekend()

    world.langsmith.add_trace(prod, metadata={"user_id": "123"})  # the subject still uses the product
    ingested_late = world.langsmith.add_trace(
        prod, metadata={"user_id": "123"}, start_time=datetime.now(UTC) - timedelta(hours=6)
    )
    jump_to_next_check(world, clock)
    wait_thread(world, root, "1 of 3 traces still present, including 1 older trace")
    said = [text for text in thread(world, root) if "still present" in text][-1]
    assert "1 new trace of this subject since the request" in said
    assert state(world) == "submitted"
    assert world.langsmith.trace_exists(ingested_late)


def test_after_weeks_down_re_checks_are_scheduled_from_when_a_check_ran(world: World, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    prod = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(prod, 3, metadata={"user_id": "123"})
    file_subject(world, "metadata user_id=123 --reason DSR-13")
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "submitted")
    first = checks.next_pending(world.bot.store.db, 1)
    assert first is not None

    # Three weeks down, and LangSmith never ran its weekend job: the first check finds everything.
    back = parse_utc(first.due_at) + timedelta(weeks=3)
    clock.jump_to(back)
    world.bot.wake()

    def rescheduled(_: object) -> bool:
        return checks.next_pending(world.bot.store.db, 1) not in (None, first)

    world.slack.wait_for(rescheduled, timeout=15)
    upcoming = checks.next_pending(world.bot.store.db, 1)
    assert upcoming is not None and upcoming.seq == 1
    assert parse_utc(upcoming.due_at) > back + timedelta(days=1)  # a weekend lies between
    assert state(world) == "submitted"
    done = [c for c in checks.for_request(world.bot.store.db, 1) if c.state == checks.DONE]
    assert len(done) == 1


def test_a_check_that_gets_no_answer_backs_off_and_is_escalated_once_after_a_day(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None and world.bot is not None
    prod = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(prod, 3, metadata={"user_id": "123"})
    file_subject(world, "metadata user_id=123 --reason DSR-14")
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    world.langsmith.run_weekend()
    world.langsmith.inject("runs/query", status=503, times=10_000)

    started = None
    waits = []
    for _ in range(12):
        pending = checks.next_pending(world.bot.store.db, 1)
        assert pending is not None
        attempts = pending.attempts
        jump_to_next_check(world, clock)
        world.slack.wait_for(
            lambda _, before=attempts: (
                (c := checks.next_pending(world.bot.store.db, 1)) is not None
                and c.attempts > before
                and c.state == checks.PENDING
            ),
            timeout=15,
        )
        after = checks.next_pending(world.bot.store.db, 1)
        assert after is not None and after.failing_since is not None
        started = started or parse_utc(after.failing_since)
        waits.append(parse_utc(after.due_at) - clock.now())
        if after.escalated_at is not None:
            break
    assert after.escalated_at is not None
    assert parse_utc(after.escalated_at) - started >= ESCALATE_AFTER
    assert waits[0] < waits[2] <= retry_delay(100)  # it backs off, up to a ceiling
    assert state(world) == "submitted"
    wait_thread(world, root, "got no answer from LangSmith")

    def escalations() -> list[str]:
        return [m.text for m in world.slack.messages(NOTIFY_CHANNEL) if "retried until it gets an answer" in m.text]

    world.slack.wait_for(lambda _: bool(escalations()), timeout=15)
    assert len(escalations()) == 1
    assert not [m for m in world.slack.messages(NOTIFY_CHANNEL) if "verified" in m.text]


def test_retry_delay_doubles_from_fifteen_minutes_to_four_hours() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 6)] == [timedelta(minutes=m) for m in (15, 30, 60, 120, 240, 240)]
    assert retry_delay(10_000) == timedelta(hours=4)


def test_a_manual_check_of_a_trace_purge_is_recorded_as_a_check_of_traces(world: World) -> None:
    """From Slack and from ``purgebot verify`` alike: the record says what the check looked at, never "both"."""
    assert world.people is not None and world.bot is not None
    prod = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(prod, 3))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_thread(world, root, "Manual check of PURGE-1")
    world.bot.verifier.check_now(1, requested_by="purgebot-cli")

    manual = [c for c in checks.for_request(world.bot.store.db, 1) if c.kind == checks.MANUAL]
    assert [(c.requested_by, c.target, c.state) for c in manual] == [
        ("U0ALICE", checks.TRACES, checks.DONE),
        ("purgebot-cli", checks.TRACES, checks.DONE),
    ]


def test_a_manual_check_that_found_traces_before_the_weekend_does_not_hold_back_mondays_verdict(
    world: World, clock: SandboxClock
) -> None:
    """It looked at traces and examples: what it found of each is kept apart, so once Monday's check finds the
    traces gone, the examples (gone since the check at submit) do not wait for their 7-day re-check."""
    assert world.people is not None and world.bot is not None
    prod = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(prod, 3, metadata={"user_id": "123"})
    world.langsmith.add_example(world.langsmith.add_dataset("golden"), inputs={"q": "hi"}, metadata={"user_id": "123"})
    file_subject(world, "metadata user_id=123 --reason DSR-13")
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_thread(world, root, "0 of 1 example remain")
    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_thread(world, root, "Manual check of PURGE-1: 3 of 3 traces still present; 0 of 1 example remain")

    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")

    (manual,) = [c for c in checks.for_request(world.bot.store.db, 1) if c.kind == checks.MANUAL]
    assert (manual.target, manual.found()) == (checks.BOTH, {"traces": (3, 3), "examples": (1, 0)})
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "3 of 3 traces, 0 of 1 example remained" in status
