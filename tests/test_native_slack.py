"""Slack-native details of the request message: Approve asks for confirmation, counts read as English."""

from __future__ import annotations

from e2e import request_message
from test_subject_purge import file_subject

from bot.messages import APPROVE_ACTION
from bot.sandbox.world import REQUESTS_CHANNEL, World


def test_approve_asks_for_confirmation_and_one_of_a_kind_reads_as_one(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.add_trace(project, metadata={"user_id": "123"})
    dataset = world.langsmith.add_dataset("golden")
    world.langsmith.add_example(dataset, inputs={"q": "hi"}, metadata={"user_id": "123"})
    file_subject(world, "metadata user_id=123 --reason DSR-1")
    root = request_message(world)

    (approve,) = [
        element
        for block in root.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("action_id") == APPROVE_ACTION
    ]
    confirm = approve["confirm"]
    assert confirm["title"]["text"] == "Approve PURGE-1?" and len(confirm["title"]["text"]) <= 100
    assert "cannot be undone" in confirm["text"]["text"] and len(confirm["text"]["text"]) <= 300
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Approve", "Cancel")

    shown = root.render()
    assert "*Approving deletes 1 trace*, hard-deletes 1 example in every version." in shown
    assert "these 1" not in shown
    status = world.people.alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL).body
    assert "Approving deletes: 1 trace, 1 example" in status and "Approved set" not in status
