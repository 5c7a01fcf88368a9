"""The trace-ID purge from `/purge` to `verified`, driven over real HTTP with signed requests."""

from __future__ import annotations

from datetime import timedelta

from e2e import (
    ephemeral_texts,
    file_traces,
    jump_to_next_check,
    request_message,
    state,
    wait_ephemeral,
    wait_state,
    wait_thread,
)

from bot.clock import SandboxClock, parse_utc
from bot.sandbox.world import BOB, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World
from storage import batches, checks, events, items


def test_a_trace_purge_goes_from_request_to_verified(world: World, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 5)
    typo = "9a1e0c6f-0000-4bad-8bad-0123456789ab"

    ack = file_traces(world, [*ids, typo])

    assert "Filing a purge of 6 trace IDs" in ack
    root = request_message(world)
    rendered = root.render()
    assert "LangSmith knows 5 of all 6 IDs" in rendered and "Left out as unknown: 1" in rendered
    assert typo not in rendered  # the channel shows counts; the requester sees the unknown ID itself
    assert "Approving deletes 5 traces" in rendered
    world.people.alice.click(root, "Show values")
    wait_ephemeral(world, "U0ALICE", f"Left out as unknown to LangSmith: `{typo}`")

    world.people.alice.click(root, "Approve")
    wait_ephemeral(world, "U0ALICE", "two-person rule")
    world.people.carol.click(root, "Approve")
    wait_ephemeral(world, "U0CAROL", "Only approvers")
    assert state(world) == "awaiting_approval"

    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    wait_thread(world, root, "is *submitted*")
    deletes = world.langsmith.calls_to("runs/delete")
    assert len(deletes) == 1
    assert sorted(deletes[0].body["trace_ids"]) == sorted(ids)
    assert deletes[0].body["session_id"] == project
    decided = world.slack.message(REQUESTS_CHANNEL, root.ts).render()
    assert "Approved* by <@U0BOB>" in decided and "[Approve]" not in decided

    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_thread(world, root, "5 of 5 traces still present")
    assert state(world) == "submitted"
    assert world.slack.messages(NOTIFY_CHANNEL) == []

    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    wait_thread(world, root, "PURGE-1 verified*: 0 of 5 traces remain")
    world.slack.wait_for(lambda s: len(s.messages(NOTIFY_CHANNEL)) == 1, timeout=10)
    notice = world.slack.messages(NOTIFY_CHANNEL)[0].render()
    assert "PURGE-1 verified" in notice and "archives/C0PRIVACY" in notice
    assert not any(trace in notice for trace in ids)

    status = world.people.alice.ask("status purge-1", channel_id=REQUESTS_CHANNEL)
    assert status.splitlines()[0] == "PURGE-1: verified"
    kinds = [event.kind for event in events.for_request(world.bot.store.db, 1)]
    assert kinds[:3] == ["filed", "previewed", "decision_refused"]
    assert {"approved", "executing", "batch_sent", "submitted", "checked", "verified"} <= set(kinds)
    assert events.verify_chain(world.bot.store.db).intact


def test_an_approver_group_member_can_approve(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    root = request_message(world)

    world.people.dave.click(root, "Approve")

    wait_state(world, "submitted")
    assert [c.params["usergroup"] for c in world.slack.calls("usergroups.users.list")] == ["S0PRIVACY"]


def test_rejection_records_who_and_sends_nothing(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    root = request_message(world)

    world.people.alice.click(root, "Reject")
    wait_ephemeral(world, "U0ALICE", "/purge cancel PURGE-1")
    world.people.bob.click(root, "Reject")
    wait_state(world, "rejected")
    world.slack.wait_for(lambda s: "Rejected* by <@U0BOB>" in s.message(REQUESTS_CHANNEL, root.ts).render(), timeout=5)

    world.people.dave.click(root, "Approve")
    wait_ephemeral(world, "U0DAVE", "already rejected by <@U0BOB>")
    assert world.langsmith.calls_to("runs/delete") == []
    assert state(world) == "rejected"


def test_only_the_requester_cancels_and_only_while_awaiting_approval(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    request_message(world)

    by_bob = world.people.bob.ask("cancel PURGE-1", channel_id=REQUESTS_CHANNEL)
    by_alice = world.people.alice.ask("cancel PURGE-1", channel_id=REQUESTS_CHANNEL)
    again = world.people.alice.ask("cancel PURGE-1", channel_id=REQUESTS_CHANNEL)

    assert "Only the requester" in by_bob
    assert by_alice == "PURGE-1 is cancelled."
    assert "only a request awaiting approval can be cancelled" in again
    assert state(world) == "cancelled"
    assert world.bot is not None
    (cancelled,) = [e for e in events.for_request(world.bot.store.db, 1) if e.kind == "cancelled"]
    assert (cancelled.actor, cancelled.data) == ("U0ALICE", {"actor_name": "alice"})


def test_a_replayed_slash_command_gets_the_first_answer_and_files_nothing_new(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    first = world.delivery.slash(
        user_id="U0ALICE", channel_id=REQUESTS_CHANNEL, text=f"traces prod-chat {ids[0]} {ids[1]} --reason DSR-1"
    )

    replay = world.delivery.replay(first)
    request_message(world)

    assert replay.status == 200 and replay.body == first.body
    assert items.count(world.bot.store.db, 1) == 2
    assert world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 1


def test_a_double_click_and_a_racing_approver_execute_once(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 3))
    root = request_message(world)

    first = world.people.bob.click(root, "Approve")
    world.delivery.replay(first)
    world.people.dave.click(root, "Approve")

    wait_state(world, "submitted")
    wait_ephemeral(world, "U0DAVE", "already")
    assert len(world.langsmith.calls_to("runs/delete")) == 1
    approvals = [e for e in events.for_request(world.bot.store.db, 1) if e.kind == "approved"]
    assert [e.actor for e in approvals] == [BOB]


def test_2500_ids_go_out_as_three_batches_with_the_resolved_session(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2500)
    file_traces(world, ids)
    root = request_message(world)
    assert "LangSmith knows 1,000 of a random sample of 1,000 of the 2,500 IDs" in root.render()
    (asked,) = world.langsmith.calls_to("runs/query")  # one v2 query of 1,000 IDs (v1 took ten of 100)
    assert asked.path == "/api/v2/runs/query" and len(asked.body["ids"]) == 1000

    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    deletes = world.langsmith.calls_to("runs/delete")
    assert sorted(len(call.body["trace_ids"]) for call in deletes) == [500, 1000, 1000]
    assert {call.body["session_id"] for call in deletes} == {project}
    assert sorted(trace for call in deletes for trace in call.body["trace_ids"]) == sorted(ids)
    assert [b.state for b in batches.for_request(world.bot.store.db, 1)] == ["sent"] * 3
    wait_thread(world, root, "2,500 of 2,500 trace IDs accepted")


def test_a_429_is_retried_and_the_purge_completes(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 3))
    root = request_message(world)
    world.langsmith.inject("runs/delete", status=429, retry_after=1)

    world.people.bob.click(root, "Approve")

    wait_state(world, "submitted")
    statuses = [call.status for call in world.langsmith.calls_to("runs/delete")]
    assert statuses == [429, 202]


def test_a_403_fails_the_request_with_langsmiths_reason_in_the_thread(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 3))
    root = request_message(world)
    world.langsmith.inject("runs/delete", status=403, body={"detail": "Forbidden: key lacks runs:delete"})

    world.people.bob.click(root, "Approve")

    wait_state(world, "failed")
    wait_thread(world, root, "Forbidden: key lacks runs:delete")
    assert len(world.langsmith.calls_to("runs/delete")) == 1
    world.slack.wait_for(lambda s: any("PURGE-1 failed" in m.text for m in s.messages(NOTIFY_CHANNEL)), timeout=5)


def test_an_unknown_project_is_refused_and_uses_no_number(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 1)

    file_traces(world, ids, project="prod-chta")
    wait_ephemeral(world, "U0ALICE", "no project named `prod-chta`")
    file_traces(world, ids)

    root = request_message(world, 1)
    assert "PURGE-1*" in root.render()


def test_a_channel_without_the_bot_is_refused(world: World) -> None:
    assert world.people is not None and world.bot is not None
    world.slack.add_channel("C0SECRET", "secret", members=["U0ALICE"], bot_member=False, private=True)
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 1)

    world.people.alice.slash(f"traces prod-chat {ids[0]} --reason x", channel_id="C0SECRET")

    wait_ephemeral(world, "U0ALICE", "invite @purgebot")
    assert world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 0


def test_traces_still_present_are_sent_again_then_escalated(world: World, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 4))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    for attempt in range(1, 4):
        jump_to_next_check(world, clock)
        world.slack.wait_for(lambda s, n=attempt: len(world.langsmith.calls_to("runs/delete")) == n + 1, timeout=10)
        wait_thread(world, root, "4 of 4 traces still present")
    jump_to_next_check(world, clock)
    wait_state(world, "unverified")

    done = [c for c in checks.for_request(world.bot.store.db, 1) if c.state == checks.DONE]
    assert [(c.seq, c.remaining) for c in done] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    world.slack.wait_for(lambda s: any("unverified" in m.text for m in s.messages(NOTIFY_CHANNEL)), timeout=5)
    escalation = [m.text for m in world.slack.messages(NOTIFY_CHANNEL) if "unverified" in m.text]
    assert escalation and "<@U0BOB>" in escalation[0] and "<!subteam^S0PRIVACY>" in escalation[0]

    world.langsmith.run_weekend()
    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_state(world, "verified")


def test_a_check_that_fell_due_while_the_bot_was_down_runs_when_it_starts(world: World, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "submitted")
    upcoming = checks.next_pending(world.bot.store.db, 1)
    assert upcoming is not None

    world.stop_bot()
    world.langsmith.run_weekend()
    clock.jump_to(parse_utc(upcoming.due_at) + timedelta(days=2))
    world.start_bot()

    wait_state(world, "verified")


def test_bad_input_gets_a_precise_answer_and_creates_nothing(world: World) -> None:
    assert world.people is not None and world.bot is not None
    world.langsmith.add_project("prod-chat")
    answers = {
        "traces prod-chat 0c6f-xyz --reason x": "`0c6f-xyz` is not a trace ID",
        "traces prod-chat 0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f": "--reason is required",
        "trace prod-chat": "Did you mean `traces`?",
        "status 7": "PURGE-7",
    }
    for text, expected in answers.items():
        delivered = world.people.alice.slash(text, channel_id=REQUESTS_CHANNEL)
        assert delivered.status == 200
        assert expected in delivered.body, (text, delivered.body)
    assert ephemeral_texts(world, "U0ALICE") == []  # a syntax error is the ack's own answer
    assert world.people.alice.ask("cancel PURGE-99", channel_id=REQUESTS_CHANNEL) == "PURGE-99 does not exist."
    assert world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 0
