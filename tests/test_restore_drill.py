"""The restore drill: back up while ``purgebot serve`` works, lose the node, restore into a new file, serve on it.

What the README's deployment section promises an operator: a backup taken with ``purgebot backup``
while the bot is in the middle of a purge restores to a bot that finds every request, every scheduled
check and the chain head of the moment of the backup, and carries on from there — the purge that was
being sent finishes, the request awaiting approval can still be approved. The real console script
serves (twice, as child processes) against the Slack and LangSmith stand-ins.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e import request_message

from bot.sandbox.process import ServeProcess
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from storage import batches, events, requests
from storage.db import Store

WAIT = 30.0
TRACES = 3500
BACKED_UP = re.compile(r"^backed up to (\S+): integrity ok, chain intact at (\d+):([0-9a-f]{64}); ")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as child processes."""
    with running_world(tmp_path / "node-1" / "purgebot.db", start=False) as running:
        running.db_path.parent.mkdir()
        yield running


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: still not true after {timeout:g}s")
        time.sleep(0.02)


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def state(path: Path, number: int) -> str:
    with contextlib.closing(Store(path)) as store:
        return requests.get(store.db, number).state


def sent_batches(path: Path, number: int) -> int:
    with contextlib.closing(Store(path)) as store:
        return sum(1 for b in batches.for_request(store.db, number) if b.state == batches.SENT)


def purgebot(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SLACK_", "LANGSMITH_", "PURGEBOT_"))}
    return subprocess.run(
        [str(Path(sys.executable).parent / "purgebot"), *args],
        env={**env, "PURGEBOT_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backup_taken_mid_purge_restores_to_a_bot_that_loses_nothing(
    world: World, tmp_path: Path, start_serve: Callable[..., ServeProcess]
) -> None:
    project = world.langsmith.add_project("prod-chat")
    node_1 = start_serve(world, extra_env={"PURGEBOT_DELETE_CONCURRENCY": "1", "PURGEBOT_VERIFY_AT": "+1h"})
    node_1.start()
    with world.people_at(node_1.url) as (alice, bob):
        # PURGE-1 submitted, its check scheduled; PURGE-2 awaiting approval; PURGE-3 being sent.
        alice.slash(
            f"traces prod-chat {' '.join(world.langsmith.add_traces(project, 5))} --reason a",
            channel_id=REQUESTS_CHANNEL,
        )
        bob.click(request_message(world, 1), "Approve")
        wait_until("PURGE-1 is submitted", lambda: state(world.db_path, 1) == "submitted")
        alice.slash(
            f"traces prod-chat {' '.join(world.langsmith.add_traces(project, 2))} --reason b",
            channel_id=REQUESTS_CHANNEL,
        )
        request_message(world, 2)
        big = world.langsmith.add_traces(project, TRACES)
        alice.slash(f"traces prod-chat {' '.join(big)} --reason c", channel_id=REQUESTS_CHANNEL)
        root_3 = request_message(world, 3)
        world.langsmith.latency = 1.0  # each delete call takes a second: the backup lands mid-purge
        bob.click(root_3, "Approve")
        wait_until("a first batch of PURGE-3 is sent", lambda: sent_batches(world.db_path, 3) >= 1)

        backup = tmp_path / "backups" / "purgebot-mid-purge.db"
        backup.parent.mkdir()
        backed_up = purgebot("backup", str(backup), db=world.db_path)

    assert backed_up.returncode == 0, backed_up.stderr
    match = BACKED_UP.match(backed_up.stdout.strip())
    assert match, backed_up.stdout
    head_seq, head_hash = int(match[2]), match[3]
    assert read(backup, "SELECT id, state FROM requests ORDER BY id") == [
        (1, "submitted"),
        (2, "awaiting_approval"),
        (3, "executing"),
    ]
    assert 1 <= sent_batches(backup, 3) < 4  # taken while PURGE-3 was being sent
    checks_then = read(backup, "SELECT request_id, seq, kind, due_at, state FROM checks ORDER BY id")
    assert [(c[0], c[2], c[4]) for c in checks_then] == [(1, "scheduled", "pending")]

    # The node is lost: killed mid-purge, its disk gone with it.
    node_1.kill()
    with contextlib.closing(Store(world.db_path)) as store:
        assert events.contains_head(store.db, head_seq, head_hash)  # the backup was a moment of the live record
    shutil.rmtree(world.db_path.parent)
    world.langsmith.latency = 0.0

    restored = tmp_path / "node-2" / "purgebot.db"
    restored.parent.mkdir()
    shutil.copyfile(backup, restored)
    node_2 = ServeProcess(
        db_path=restored,
        slack_url=world.slack_url,
        langsmith_url=world.langsmith_url,
        extra_env={"PURGEBOT_VERIFY_AT": "+1h"},
        log_path=tmp_path / "node-2.log",
    )
    with node_2:
        assert node_2.running  # a restored record is not an empty one: no --new-database needed
        wait_until("PURGE-3 is submitted on the restored record", lambda: state(restored, 3) == "submitted")
        with world.people_at(node_2.url) as (alice, bob):
            assert alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL).splitlines()[0] == ("PURGE-1: submitted")
            bob.click(request_message(world, 2), "Approve")
            wait_until("PURGE-2 is submitted", lambda: state(restored, 2) == "submitted")

    audit = purgebot("audit", "verify", "--expect", f"{head_seq}:{head_hash}", db=restored)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert read(restored, "SELECT request_id, seq, kind, due_at, state FROM checks WHERE request_id = 1") == [
        c for c in checks_then if c[0] == 1
    ]
    sent = {t for call in world.langsmith.calls_to("runs/delete") if call.status == 202 for t in call.body["trace_ids"]}
    assert set(big) <= sent  # every trace of the purge cut off mid-way went out
