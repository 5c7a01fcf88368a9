"""``/purge audit``: approvers read the event chain's head in Slack, the same head ``purgebot audit verify`` prints."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from e2e import file_traces, request_message, wait_state, wait_thread

from bot.sandbox.world import REQUESTS_CHANNEL, World
from storage import events


def audit(world: World, user: str) -> str:
    assert world.people is not None
    return str(getattr(world.people, user).ask("audit", channel_id=REQUESTS_CHANNEL))


def cli_head(db_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LANGSMITH_", "PURGEBOT_"))}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "purgebot"), "audit", "verify"],
        env={**env, "PURGEBOT_DB": str(db_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_approver_reads_the_head_the_command_line_prints(world: World) -> None:
    assert world.people is not None and world.bot is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 3))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    wait_thread(world, root, "is *submitted*")
    head = events.verify_chain(world.bot.store.db)

    answer = audit(world, "bob")

    assert answer.startswith(f"The event chain is intact: {head.head_seq:,} events, head `")
    assert f"`{cli_head(world.db_path)}`" in answer
    assert f"`purgebot audit verify --expect {head.head_seq}:{head.head_hash}`" in answer
    assert audit(world, "dave") == answer  # an approver through the user group
    ephemeral = [call for call in world.slack.calls("chat.postMessage") if "event chain" in str(call.params)]
    assert ephemeral == []  # answered through the command's response_url, seen only by the one who asked


def test_anyone_else_is_told_it_is_for_approvers(world: World) -> None:
    assert audit(world, "alice") == "Only approvers can check the event chain."
    assert audit(world, "carol") == "Only approvers can check the event chain."


def test_an_empty_chain_is_intact_and_says_so(world: World) -> None:
    assert audit(world, "bob") == "The event chain is intact and empty: nothing has been recorded yet."


def test_an_edited_event_is_named(world: World) -> None:
    assert world.people is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2))
    request_message(world)
    conn = sqlite3.connect(world.db_path)
    with conn:
        conn.execute("UPDATE events SET actor = 'U0MALLORY' WHERE seq = 1")
    conn.close()

    answer = audit(world, "bob")

    assert answer.startswith("The event chain is *broken* at event 1: an event was edited, removed or reordered")
