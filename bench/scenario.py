"""A subject purge at scale, driven end to end: the set-up the throughput, verification and ack-load benches share.

The LangSmith and Slack stand-ins run in this process (so the bench can read the stand-in's call log
and change its latency and limits between phases); ``purgebot serve`` runs as a real child process on
its own SQLite file, reached over signed HTTP. The preview's search runs with LangSmith's query limit
lifted and no latency — it is measured by ``bench/resolution.py``; these benches measure what follows.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_records import Message
from bot.sandbox.world import LANGSMITH_KEY, REQUESTS_CHANNEL, World, running_world

LIFTED = (1_000_000, 1.0)  # a stand-in limit no run reaches
LIFTED_RATE = "1000000/1s"  # the bot's matching pace
SUBJECT = "bench-subject"


class BenchFailed(RuntimeError):
    """The scenario did not reach the state it waits for."""


@dataclass(frozen=True)
class Workspace:
    """What was seeded: the subject's traces per project and the unrelated ones beside them."""

    subject: int
    others: int
    projects: int


def seed(langsmith: FakeLangSmith, *, traces: int, projects: int, others_per_project: int) -> Workspace:
    """The subject's traces spread evenly over ``projects``, a day old (so the search at execution finds
    none anew), with unrelated traces in the same projects."""
    day_ago = datetime.now(UTC) - timedelta(days=1)
    for n in range(projects):
        project = langsmith.add_project(f"prod-{n}")
        share = traces // projects + (1 if n < traces % projects else 0)
        langsmith.add_traces(project, share, metadata={"user_id": SUBJECT}, start_time=day_ago)
        langsmith.add_traces(project, others_per_project, metadata={"user_id": "someone-else"}, start_time=day_ago)
    return Workspace(traces, others_per_project * projects, projects)


@contextlib.contextmanager
def workspace(folder: Path) -> Iterator[World]:
    """The stand-ins, LangSmith's limits lifted and no latency until a bench sets them."""
    langsmith = FakeLangSmith(
        api_key=LANGSMITH_KEY, query_limit=LIFTED, v2_query_limit=LIFTED, default_limit=LIFTED, backend="dual"
    )
    with running_world(folder / "purgebot.db", start=False, langsmith=langsmith) as world:
        yield world


def server(world: World, folder: Path, **env: str) -> ServeProcess:
    """A ``purgebot serve`` on the world's database (not started)."""
    return ServeProcess(
        db_path=world.db_path,
        slack_url=world.slack_url,
        langsmith_url=world.langsmith_url,
        log_path=folder / "serve.log",
        extra_env=env,
    )


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """One value from the server's file, on a short-lived connection (the server writes beside it)."""
    conn = sqlite3.connect(db_path, timeout=30.0)
    try:
        row = conn.execute(sql, params).fetchone()
    except sqlite3.OperationalError:  # no such table yet: the server has not migrated the file
        return None
    finally:
        conn.close()
    return row[0] if row else None


def wait_for(what: str, condition: Callable[[], bool], *, timeout: float, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchFailed(f"{what}: still not so after {timeout:g}s")
        time.sleep(poll)


def state(db_path: Path) -> str | None:
    value = query(db_path, "SELECT state FROM requests WHERE id = 1")
    return None if value is None else str(value)


def file_and_preview(world: World, process: ServeProcess, *, timeout: float) -> Message:
    """File ``/purge metadata user_id=…`` as Alice and wait for the preview with its buttons."""
    with world.people_at(process.url) as (alice, _):
        filed = alice.slash(f'metadata user_id={SUBJECT} --reason "DSR-bench"', channel_id=REQUESTS_CHANNEL)
    if filed.status != 200 or "Filing a subject purge" not in filed.body:
        raise BenchFailed(f"filing was refused: {filed.status} {filed.body}")

    def root() -> Message | None:
        for message in world.slack.messages(REQUESTS_CHANNEL):
            if not message.is_reply and "PURGE-1*" in message.render() and "[Approve]" in message.render():
                return message
        return None

    wait_for("the preview of PURGE-1 is posted", lambda: root() is not None, timeout=timeout, poll=0.2)
    found = root()
    assert found is not None
    return found


def approve(world: World, process: ServeProcess, preview: Message) -> float:
    """Bob approves; returns the monotonic time the click was sent."""
    with world.people_at(process.url) as (_, bob):
        started = time.monotonic()
        clicked = bob.click(preview, "Approve")
    if clicked.status != 200:
        raise BenchFailed(f"the approval was refused: {clicked.status} {clicked.body}")
    return started


def peak_rss_mb(pid: int | None) -> float:
    """The process's peak resident set (VmHWM) so far, in MB."""
    if pid is None:
        raise BenchFailed("the server is not running")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchFailed("no VmHWM in /proc")
