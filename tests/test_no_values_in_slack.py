"""Personal data stays out of Slack: a whole metadata purge, from filing to the uploaded evidence, and
not one non-ephemeral Slack call carries a subject's value, its e-mail's local part or a sample ID."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FAST
from e2e import jump_to_next_check, request_message, wait_ephemeral, wait_state, wait_thread
from test_subject_purge import file_subject

from bot.clock import SandboxClock
from bot.sandbox.world import BOB, REQUESTS_CHANNEL, World, running_world
from storage import events, requests

USER_ID = "subject-8842"
EMAIL = "zoe.quinn@example.com"


def test_no_channel_message_of_a_whole_lifecycle_carries_a_subject_value(world: World, clock: SandboxClock) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    traces = world.langsmith.add_traces(project, 6, metadata={"user_id": USER_ID})
    traces += world.langsmith.add_traces(project, 2, metadata={"email": EMAIL})
    dataset = world.langsmith.add_dataset("golden")
    examples = [world.langsmith.add_example(dataset, inputs={"q": "hi"}, metadata={"email": EMAIL})]

    file_subject(world, f"metadata user_id={USER_ID} email={EMAIL} --reason DSR-1042 --ticket DSR-1042")
    root = request_message(world)
    world.people.bob.click(root, "Show values")
    wait_ephemeral(world, BOB, EMAIL)  # the approver saw the values: ephemerally, to him alone
    world.people.bob.click(root, "Approve")
    wait_thread(world, root, "0 of 1 example remain")
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    wait_thread(world, root, "Evidence report of PURGE-1")

    public = [c for c in world.slack.calls() if c.method != "chat.postEphemeral"]  # App Home and uploads too
    assert len(public) > 10
    seen = json.dumps([c.params for c in public], ensure_ascii=False)
    for secret in (USER_ID, EMAIL, "zoe.quinn", *traces, *examples):
        assert secret not in seen, secret
    assert "•••42" in seen and "z•••@•••.com" in seen  # the masked forms people recognise the request by


def test_the_filing_ack_masks_the_values_as_the_channel_does(world: World) -> None:
    """The ack is the requester's alone, but it sits on their screen in the channel: values stay masked there too."""
    assert world.people is not None
    world.langsmith.add_project("prod-chat")

    command = f"metadata user_id={USER_ID} email={EMAIL} --reason DSR-1"
    ack = world.people.alice.slash(command, channel_id=REQUESTS_CHANNEL)

    assert "matching `user_id` = `•••42` OR `email` = `z•••@•••.com` across the workspace" in ack.text
    assert USER_ID not in ack.text and "zoe.quinn" not in ack.text


def test_show_values_full_restores_the_values_for_teams_whose_identifiers_are_pseudonyms(
    tmp_path: Path, clock: SandboxClock
) -> None:
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, purgebot_show_values="full") as world:
        project = world.langsmith.add_project("prod-chat")
        world.langsmith.add_traces(project, 2, metadata={"user_id": USER_ID})
        assert world.people is not None
        ack = world.people.alice.slash(f"metadata user_id={USER_ID} --reason DSR-1", channel_id=REQUESTS_CHANNEL)
        assert f"matching `user_id` = `{USER_ID}` across" in ack.text
        shown = request_message(world).render()
        assert f"`user_id` = `{USER_ID}`" in shown and "For example: trace `" in shown
        assert "[Show values]" not in shown


def test_a_request_that_comes_to_rest_keeps_counts_only_and_older_ones_get_the_edit_after_an_upgrade(
    world: World,
) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(project, 3, metadata={"user_id": USER_ID})
    file_subject(world, f"metadata user_id={USER_ID} email={EMAIL} --reason DSR-1")
    root = request_message(world)
    assert "•••42" in root.render()
    world.people.dave.click(root, "Reject")

    def redacted(_: object) -> bool:
        current = next(m for m in world.slack.messages(root.channel) if m.ts == root.ts).render()
        return "rejected" in current.lower() and "•••" not in current

    world.slack.wait_for(redacted, timeout=15)
    final = next(m for m in world.slack.messages(root.channel) if m.ts == root.ts).render()
    assert "matching 2 pairs" in final and "3 traces in 1 project" in final and "[Show values]" not in final
    db = world.bot.store.db
    assert [e.kind for e in events.for_request(db, 1)].count("message_redacted") == 1

    # A request that ended before this version redacted: found at start and edited the same way.
    with world.bot.store.write() as write:
        write.execute("UPDATE requests SET redacted_at = NULL WHERE id = 1")
    updates = len(world.slack.calls("chat.update"))
    world.stop_bot()
    world.start_bot()
    assert world.bot is not None
    world.slack.wait_for(lambda s: len(s.calls("chat.update")) > updates, timeout=15)
    assert [e.kind for e in events.for_request(world.bot.store.db, 1)].count("message_redacted") == 2
    assert requests.get(world.bot.store.db, 1).redacted_at is not None
