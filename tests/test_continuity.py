"""``purgebot serve`` on an empty database: a first start goes ahead, a lost record does not pass for one.

The real console script as a child process, against the Slack and LangSmith stand-ins. "Ran before"
is what Slack shows: a purge verified by an in-process bot on another file left its announcement,
with purgebot's message metadata, in the notify channel.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, jump_to_next_check, request_message, wait_state

from bot.clock import SandboxClock
from bot.continuity import ACTOR
from bot.sandbox.process import ServeProcess, free_port, serve_env
from bot.sandbox.world import NOTIFY_CHANNEL, World, running_world
from storage import events
from storage.db import Store


@pytest.fixture
def quiet_world(tmp_path: Path) -> Iterator[World]:
    """The stand-ins of a workspace where purgebot never posted."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        yield running


@pytest.fixture
def posted_world(tmp_path: Path) -> Iterator[World]:
    """A workspace whose notify channel announces PURGE-1 verified; the bot that did it has stopped."""
    clock = SandboxClock()
    with running_world(tmp_path / "original.db", clock=clock, tuning=FAST) as world:
        assert world.people is not None
        file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 3))
        world.people.bob.click(request_message(world), "Approve")
        wait_state(world, "submitted")
        world.langsmith.run_weekend()
        jump_to_next_check(world, clock)
        wait_state(world, "verified")
        world.slack.wait_for(lambda s: len(s.messages(NOTIFY_CHANNEL)) == 1, timeout=10)
        world.stop_bot()
        yield world


def serve_once(world: World, db_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``purgebot serve`` expected to stop by itself (a refusal), with the sandbox's environment."""
    env = serve_env(
        db_path=db_path, slack_url=world.slack_url, langsmith_url=world.langsmith_url, port=free_port(), extra_env=extra
    )
    script = str(Path(sys.executable).parent / "purgebot")
    return subprocess.run([script, "serve", *args], env=env, capture_output=True, text=True, timeout=60)


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # JSON lines are logs
    assert len(lines) == 1, result.stderr
    return lines[0]


def log_lines(process: ServeProcess) -> list[dict[str, str]]:
    return [json.loads(line) for line in process.log_text().splitlines() if line.startswith("{")]


def serve_process(world: World, db_path: Path, log_path: Path, *args: str, **extra: str) -> ServeProcess:
    process = ServeProcess(
        db_path=db_path,
        slack_url=world.slack_url,
        langsmith_url=world.langsmith_url,
        extra_env=extra,
        log_path=log_path,
    )
    process.command.extend(args)
    return process


def chain(path: Path) -> list[tuple[int, str, str, str]]:
    store = Store(path)
    try:
        rows = store.db.execute("SELECT seq, actor, kind, data FROM events ORDER BY seq").fetchall()
        assert events.verify_chain(store.db).intact
    finally:
        store.close()
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def test_an_empty_database_where_purgebot_posted_before_is_refused_in_one_line(
    posted_world: World, tmp_path: Path
) -> None:
    lost = tmp_path / "volume-not-mounted" / "purgebot.db"
    lost.parent.mkdir()

    line = only_line(serve_once(posted_world, lost))

    assert line.startswith(
        f"purgebot: {lost} is a new, empty database, but purgebot posted in the notify channel {NOTIFY_CHANNEL} "
        "before (last on "
    )
    assert "is the volume mounted?" in line and "restore the latest backup" in line and "--new-database" in line
    assert only_line(serve_once(posted_world, lost)) == line  # still empty: refused again, not waved through
    # The record it stands in for starts as ever.
    with serve_process(posted_world, posted_world.db_path, tmp_path / "original.log") as server:
        assert server.running


def test_new_database_begins_a_new_record_once_and_its_chain_says_so(posted_world: World, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"

    with serve_process(posted_world, fresh, tmp_path / "first.log", "--new-database") as server:
        assert server.running
    with serve_process(posted_world, fresh, tmp_path / "again.log") as server:  # no longer empty: no flag needed
        assert server.running
    refused = only_line(serve_once(posted_world, fresh, "--new-database"))

    ((seq, actor, kind, data),) = chain(fresh)
    assert (seq, actor, kind) == (1, ACTOR, "record_started")
    assert json.loads(data)["earlier_post_in_notify_channel"] is not None
    assert refused == (
        f"purgebot: --new-database is for an empty database, but {fresh} holds 0 requests and 1 events: "
        "start without it"
    )


def test_a_first_start_in_a_workspace_where_purgebot_never_posted_goes_ahead(
    quiet_world: World, tmp_path: Path
) -> None:
    with serve_process(quiet_world, quiet_world.db_path, tmp_path / "serve.log") as server:
        assert server.running
        logged = log_lines(server)
    assert any(entry["message"].startswith("a new database; purgebot has not posted") for entry in logged)
    assert chain(quiet_world.db_path) == []  # nothing recorded for an ordinary first start
    history = quiet_world.slack.calls("conversations.history")
    assert history and all(call.params.get("include_all_metadata") in ("1", "true", True) for call in history)


def test_purgebot_log_level_warning_leaves_out_the_info_lines(quiet_world: World, tmp_path: Path) -> None:
    with serve_process(
        quiet_world, quiet_world.db_path, tmp_path / "serve.log", PURGEBOT_LOG_LEVEL="warning"
    ) as server:
        logged = log_lines(server)
    assert {entry["level"] for entry in logged} <= {"warning", "error", "critical"}
    assert not any(entry["message"] == "serving" for entry in logged)


def test_an_empty_database_is_refused_when_slack_will_not_show_the_history(quiet_world: World, tmp_path: Path) -> None:
    quiet_world.slack.scopes = quiet_world.slack.scopes - {"channels:history"}

    line = only_line(serve_once(quiet_world, quiet_world.db_path))

    assert line.startswith(f"purgebot: {quiet_world.db_path} is a new, empty database and Slack would not show")
    assert "missing_scope: the app needs channels:history" in line and "--new-database" in line
