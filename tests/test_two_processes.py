"""Two processes on one SQLite file, and a file written by the previous schema, with the real server.

``purgebot serve`` runs as a child process (``ServeProcess``) while ``purgebot verify`` runs again
and again as other processes on the same file: WAL and ``BEGIN IMMEDIATE`` with a busy timeout must
make them take turns — no "database is locked", no broken chain, no corrupt page — and the purge
must still complete. Then a database made by the schema before ``m002_subject_purges`` is served:
the server migrates it at start and answers ``/purge status`` for the request it holds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.clock import utc_iso
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_records import Message
from bot.sandbox.world import (
    ALICE,
    BOB,
    BOT_TOKEN,
    LANGSMITH_KEY,
    NOTIFY_CHANNEL,
    REQUESTS_CHANNEL,
    World,
    running_world,
)
from bot.states import State
from storage import batches, checks, events, items, requests
from storage.db import Store
from storage.migrations import migrations

WAIT = 60.0
QUERY_RATE = "100000/1s"  # the stand-in's runs/query limit is raised to match: this is about SQLite
OWNED = ("SLACK_", "LANGSMITH_", "PURGEBOT_")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, latency=0.02, query_limit=(100_000, 1.0))
    with running_world(tmp_path / "purgebot.db", start=False, langsmith=langsmith) as running:
        yield running


@pytest.fixture
def server(world: World, start_serve: Callable[..., ServeProcess]) -> ServeProcess:
    return start_serve(
        world, extra_env={"PURGEBOT_DELETE_CONCURRENCY": "1", "PURGEBOT_LANGSMITH_QUERY_RATE": QUERY_RATE}
    )


# ----------------------------------------------------------------------------- helpers


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: still not true after {timeout:g}s")
        time.sleep(0.02)


def request_message(world: World, number: int) -> Message:
    def root() -> Message | None:
        for message in world.slack.messages(REQUESTS_CHANNEL):
            text = message.render()
            if not message.is_reply and f"PURGE-{number}*" in text and "[Approve]" in text:
                return message
        return None

    wait_until(f"the preview of PURGE-{number} is posted", lambda: root() is not None)
    found = root()
    assert found is not None
    return found


def state(db_path: Path, number: int) -> str | None:
    with contextlib.closing(Store(db_path)) as store:
        request = requests.find(store.db, number)
    return request.state if request else None


def outbox_drained(db_path: Path) -> bool:
    with contextlib.closing(Store(db_path)) as store:
        return int(store.db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]) == 0


def cli_env(world: World) -> dict[str, str]:
    """What ``purgebot verify`` needs (as tests/test_cli.py builds it), pointed at the stand-ins."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(OWNED) and k.upper() != "PORT"}
    return {
        **base,
        "PURGEBOT_DB": str(world.db_path),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": world.slack_url + "/api/",
        "LANGSMITH_API_KEY": LANGSMITH_KEY,
        "LANGSMITH_ENDPOINT": world.langsmith_url,
        "PURGEBOT_LANGSMITH_QUERY_RATE": QUERY_RATE,
    }


def purgebot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = str(Path(sys.executable).parent / "purgebot")
    return subprocess.run([script, *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass(frozen=True)
class Run:
    """One ``purgebot verify`` and what PURGE-2 was doing when it started and ended."""

    code: int
    output: str
    purge_before: str | None
    purge_after: str | None

    def spans(self, moment: str) -> bool:
        """Whether PURGE-2 was in state ``moment`` at some time during this run."""
        order: list[str | None] = [None, State.AWAITING_APPROVAL, State.APPROVED, State.EXECUTING, State.SUBMITTED]
        return order.index(self.purge_before) <= order.index(moment) <= order.index(self.purge_after)


def assert_file_is_sound(db_path: Path) -> None:
    with contextlib.closing(Store(db_path)) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chain = events.verify_chain(store.db)
        assert chain.intact, f"the event chain is broken at event {chain.first_bad}"


def assert_nothing_posted_twice(world: World) -> None:
    posted = [
        m
        for channel in (REQUESTS_CHANNEL, NOTIFY_CHANNEL)
        for m in world.slack.messages(channel)
        if m.is_bot and not m.files
    ]  # uploaded evidence reports carry no metadata
    ids = Counter((m.metadata or {}).get("event_payload", {}).get("outbox_id") for m in posted)
    assert None not in ids and max(ids.values()) == 1, ids


# ----------------------------------------------------------------------------- two processes


def test_verify_runs_again_and_again_beside_a_server_purging_on_the_same_file(
    world: World, server: ServeProcess
) -> None:
    langsmith = world.langsmith
    small = langsmith.add_project("prod-chat")
    first = langsmith.add_traces(small, 30)
    day_ago = datetime.now(UTC) - timedelta(days=1)
    for n in range(2):
        project = langsmith.add_project(f"prod-{n}")
        langsmith.add_traces(project, 3000, metadata={"user_id": "42"}, start_time=day_ago)
        langsmith.add_traces(project, 100, metadata={"user_id": "7"})
    server.start()
    env = cli_env(world)

    # PURGE-1: a small purge by trace IDs, submitted before the big one starts.
    with world.people_at(server.url) as (alice, bob):
        assert alice.slash(f"traces prod-chat {' '.join(first)} --reason x", channel_id=REQUESTS_CHANNEL).status == 200
        assert bob.click(request_message(world, 1), "Approve").status == 200
    wait_until("PURGE-1 is submitted", lambda: state(world.db_path, 1) == "submitted")

    # PURGE-2: 6,000 traces of a subject, each delete call held 0.5 s so the deletes take a while.
    langsmith.inject("runs/delete", delay=0.5, times=100)
    runs: list[Run] = []
    done = threading.Event()
    weekend_ran = threading.Event()

    def verify_again_and_again() -> None:
        while not done.is_set():
            before = state(world.db_path, 2)
            result = purgebot("verify", "PURGE-1", env=env)
            runs.append(Run(result.returncode, result.stdout + result.stderr, before, state(world.db_path, 2)))
            if len(runs) >= 3 and not weekend_ran.is_set():
                weekend_ran.set()
                langsmith.run_weekend()  # PURGE-1's traces go: later checks find nothing and verify it

    loops = [threading.Thread(target=verify_again_and_again, name=f"verify-{n}") for n in range(2)]
    for loop in loops:
        loop.start()
    try:
        with world.people_at(server.url) as (alice, bob):
            filed = alice.slash('metadata user_id=42 --reason "DSR-7"', channel_id=REQUESTS_CHANNEL)
            assert filed.status == 200, filed.body
            assert bob.click(request_message(world, 2), "Approve").status == 200
        wait_until("PURGE-2 is submitted", lambda: state(world.db_path, 2) == "submitted")
        wait_until(
            "a verify found PURGE-1 verified after PURGE-2 was submitted",
            lambda: any(run.code == 0 and run.purge_before == "submitted" for run in runs),
        )
    finally:
        done.set()
        for loop in loops:
            loop.join(timeout=120)

    codes = Counter(run.code for run in runs)
    assert set(codes) <= {0, 2}, [run.output for run in runs if run.code not in (0, 2)]
    assert codes[0] and codes[2], codes  # "remain" before the weekend, "verified" after it
    assert not [run.output for run in runs if "locked" in run.output.lower()]
    assert sum(run.spans(State.EXECUTING) for run in runs) >= 2, runs  # each loop ran while PURGE-2 executed
    assert "locked" not in server.log_text().lower() and "Traceback" not in server.log_text()

    with contextlib.closing(Store(world.db_path)) as store:
        assert requests.get(store.db, 1).state == "verified"
        rows = batches.for_request(store.db, 2)
        assert [b.state for b in rows] == [batches.SENT] * 7  # 6 x 1,000 trace IDs and the metadata delete
        assert len(items.values(store.db, 2, items.INCLUDED, kind=items.TRACE)) == 6000
        manual = [c for c in checks.for_request(store.db, 1) if c.kind == checks.MANUAL]
        assert len(manual) == len(runs) and all(c.state == checks.DONE for c in manual)

    langsmith.run_weekend()
    final = purgebot("verify", "PURGE-2", env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert final.stdout.strip() == "PURGE-2: verified: 0 of 6,000 traces remain"
    wait_until("the outbox is drained", lambda: outbox_drained(world.db_path))
    audit = purgebot("audit", "verify", env=cli_env(world))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert_file_is_sound(world.db_path)
    assert_nothing_posted_twice(world)
    assert server.stop() == 0


# ----------------------------------------------------------------------------- the previous schema


def test_the_server_migrates_a_database_of_the_previous_schema_and_shows_its_request(
    world: World, server: ServeProcess
) -> None:
    project = world.langsmith.add_project("prod-chat")
    traces = world.langsmith.add_traces(project, 3)
    old = Database(world.db_path)
    migrations.apply(old, stop_before="m002_subject_purges")
    assert "pairs" not in old.table_names() and "kind" not in old["batches"].columns_dict
    filed, sent = "2026-01-05T10:00:00Z", "2026-01-05T10:05:00Z"
    old.table("requests").insert(
        {
            "id": 1,
            "kind": "traces",
            "state": "submitted",
            "requester": ALICE,
            "channel": REQUESTS_CHANNEL,
            "reason": "DSR-1042",
            "ticket": "DSR-1042",
            "project": "prod-chat",
            "session_id": project,
            "item_count": 3,
            "items_digest": "d" * 64,
            "created_at": filed,
            "updated_at": sent,
            "preview": '{"total": 3, "checked": 3, "known": 3, "sampled": false, "unknown_ids": [], "included": 3}',
            "preview_digest": "p" * 64,
            "decided_by": BOB,
            "decided_at": filed,
            "submitted_at": sent,
        }
    )
    old.table("batches").insert(
        {
            "id": 1,
            "request_id": 1,
            "round": 0,
            "session_id": project,
            "size": 3,
            "digest": "b" * 64,
            "state": "sent",
            "created_at": sent,
            "sent_at": sent,
            "status_code": 202,
            "attempts": 1,
        }
    )
    old.table("items").insert_all(
        {"request_id": 1, "seq": n, "value": trace, "session_id": project, "status": "included", "batch_id": 1}
        for n, trace in enumerate(traces)
    )
    due = utc_iso(datetime.now(UTC) + timedelta(days=3))
    old.table("checks").insert({"request_id": 1, "seq": 0, "kind": "scheduled", "due_at": due, "state": "pending"})
    for kind in ("filed", "approved", "batch_sent", "submitted"):
        events.append(
            old, request_id=1, actor=ALICE, kind=kind, data={"batch": 1} if kind == "batch_sent" else {}, at=sent
        )
    old.conn.commit()
    old.close()

    server.start()

    with world.people_at(server.url) as (alice, _):
        lines = alice.ask("status purge-1", channel_id=REQUESTS_CHANNEL).splitlines()
    assert lines[0] == "PURGE-1: submitted"
    assert "Batches of trace IDs: 1 of 1 accepted (3 of 3)" in lines
    with contextlib.closing(Store(world.db_path)) as store:
        assert "m002_subject_purges" in [m.name for m in migrations.applied(store.db)]
        assert not list(migrations.pending(store.db))
        assert store.db.execute("SELECT DISTINCT kind FROM items").fetchall() == [("trace",)]
        assert store.db.execute("SELECT kind FROM batches").fetchall() == [("traces",)]
        assert [(c.seq, c.state, c.target) for c in checks.for_request(store.db, 1)] == [(0, "pending", "traces")]
    assert_file_is_sound(world.db_path)

    checked = purgebot("verify", "PURGE-1", env=cli_env(world))  # the migrated rows are usable by another process
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "PURGE-1: submitted: 3 of 3 traces remain"
    assert server.stop() == 0
