"""Slack-native details: Approve asks for confirmation, counts read as English, times are Slack dates."""

from __future__ import annotations

from typing import Any

import pytest
from e2e import file_traces, request_message, thread, wait_thread
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from test_subject_purge import file_subject

from bot.clock import parse_utc
from bot.messages import APPROVE_ACTION
from bot.sandbox.slack_blocks import DATE_TOKEN
from bot.sandbox.world import BOT_TOKEN, REQUESTS_CHANNEL, World
from storage import checks


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
    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "Approving deletes: 1 trace, 1 example" in status and "Approved set" not in status


def test_times_are_slack_dates_that_each_reader_sees_in_their_own_zone(world: World) -> None:
    """`<!date^EPOCH^FORMAT|fallback>`: Slack shows the reader's zone; the fallback is the configured zone."""
    assert world.people is not None and world.bot is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_thread(world, root, "PURGE-1 is *submitted*")  # the state is stored before its note reaches Slack
    (check,) = checks.for_request(world.bot.store.db, 1)
    due = parse_utc(check.due_at)

    token = f"<!date^{int(due.timestamp())}^{{date_long_pretty}} {{time}}|{due:%a %d %b %Y %H:%M} UTC>"
    raw = [reply.text for reply in world.slack.thread(REQUESTS_CHANNEL, root.ts) if reply.is_reply]
    assert any(f"the traces on {token}" in text for text in raw), raw
    assert DATE_TOKEN.fullmatch(token)
    assert any(f"the traces on {due:%a %d %b %Y %H:%M} UTC" in text for text in thread(world, root))


def test_the_slack_stand_in_refuses_a_date_without_its_fallback(world: World) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=world.slack_url + "/api/")
    good = "<!date^1796000000^{date_long_pretty} {time}|Mon 30 Nov 2026 09:00 UTC>"
    for text in ("<!date^1796000000^{date}>", "<!date^soon^{date}|later>"):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=REQUESTS_CHANNEL, text=text, blocks=[section(text)])
        assert refused.value.response["error"] == "invalid_blocks"
    posted = client.chat_postMessage(channel=REQUESTS_CHANNEL, text=good, blocks=[section(good)])
    assert world.slack.message(REQUESTS_CHANNEL, str(posted["ts"])).render() == "Mon 30 Nov 2026 09:00 UTC"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_states_read_as_words_in_status_and_list(world: World) -> None:
    assert world.people is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 1))
    request_message(world)

    status = world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    listed = world.people.alice.ask("list", channel_id=REQUESTS_CHANNEL)
    bystander = world.people.carol.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)

    # the first line of a status keeps DESIGN.md's contract, `PURGE-n: <state>`, for anything that reads it
    assert status.splitlines()[0] == bystander.splitlines()[0] == "PURGE-1: awaiting_approval"
    for answer in (status.split("\n", 1)[1], listed):  # everything a person reads beyond that line: words
        assert "awaiting approval" in answer and "awaiting_approval" not in answer, answer
    assert listed.count("awaiting approval") == 1  # once per request, not twice
