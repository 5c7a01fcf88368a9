"""Tokens and the API key never reach logs, the database, Slack, or error text."""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import pytest
from e2e import file_traces, jump_to_next_check, request_message, wait_state

from bot import report
from bot.clock import SandboxClock
from bot.sandbox.world import BOT_TOKEN, LANGSMITH_KEY, REQUESTS_CHANNEL, SIGNING_SECRET, World

SECRETS = (BOT_TOKEN, SIGNING_SECRET, LANGSMITH_KEY)


def test_a_full_lifecycle_leaves_no_secret_anywhere(
    world: World, clock: SandboxClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert world.people is not None and world.bot is not None
    caplog.set_level(logging.DEBUG)
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 3))
    world.langsmith.inject("runs/delete", status=503)  # an error path too: its text must be clean
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "submitted")
    world.people.alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    db_path = world.db_path
    json_path, md_path = report.write(
        world.bot.store.db, 1, db_path.parent / "report", now=clock.now(), tz=ZoneInfo("UTC")
    )
    reports = json_path.read_text() + md_path.read_text()
    world.stop_bot()

    stored = b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*"))
    slack_calls = json.dumps([call.params for call in world.slack.calls()], default=str)
    shown = json.dumps([m.render() for channel in ("C0PRIVACY", "C0COMPLIANCE") for m in world.slack.messages(channel)])
    shown += json.dumps([e.text for e in world.slack.ephemerals()])
    langsmith_calls = json.dumps([(c.path, c.query, c.body, c.headers) for c in world.langsmith.calls], default=str)
    for secret in SECRETS:
        assert secret.encode() not in stored
        assert secret not in slack_calls
        assert secret not in shown
        assert secret not in caplog.text
        assert secret not in langsmith_calls
        assert secret not in reports
    assert any(record.name.startswith("bot.") for record in caplog.records), "nothing logged: the scan proves nothing"
    assert [c.status for c in world.langsmith.calls_to("runs/delete")] == [503, 202]
