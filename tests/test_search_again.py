"""The search at execution overlaps the first deletes, and a crash or an outage in the middle of that
overlap loses nothing: over real HTTP, against the stand-ins, and with a real ``purgebot serve`` killed
with SIGKILL mid-overlap.

The approved set (what the preview showed) is cut and sent while the search for traces that appeared
since the preview still goes through the projects; what that search finds is cut once it is done.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from e2e import request_message, state, wait_state, wait_thread

from bot.clock import SandboxClock
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from storage import batches, events, items, requests
from storage.db import Store

SUBJECT = {"user_id": "123"}
PROJECTS = 6
# ≤ 1,000 traces a project: its search is one v2 query (a page), so a fault injected for N queries covers N projects


def seed(langsmith: FakeLangSmith, per_project: int) -> tuple[list[str], set[str]]:
    """``PROJECTS`` projects, each with the subject's traces and others'; returns (projects, subject's)."""
    projects = [langsmith.add_project(f"project-{n}") for n in range(PROJECTS)]
    subject: set[str] = set()
    for project in projects:
        subject |= set(langsmith.add_traces(project, per_project, metadata=SUBJECT))
        langsmith.add_traces(project, 5, metadata={"user_id": "456"})
    return projects, subject


def appear_late(langsmith: FakeLangSmith, projects: list[str]) -> set[str]:
    """The subject keeps using the product between the preview and the approval, in half the projects."""
    return {trace for project in projects[::2] for trace in langsmith.add_traces(project, 3, metadata=SUBJECT)}


def accepted(langsmith: FakeLangSmith) -> Counter[str]:
    """How many times LangSmith accepted a delete of each trace (by its ID)."""
    return Counter(
        trace
        for call in langsmith.calls_to("runs/delete")
        if call.status == 202
        for trace in call.body.get("trace_ids") or []
    )


def searched_projects(langsmith: FakeLangSmith, since: int) -> list[str]:
    """The projects the run queries from call ``since`` on asked about."""
    return [
        project for call in langsmith.calls_to("runs/query")[since:] for project in call.body.get("project_ids") or []
    ]


def assert_every_trace_once_and_nothing_else(langsmith: FakeLangSmith, store: Store, wanted: set[str]) -> None:
    deleted = accepted(langsmith)
    assert set(deleted) == wanted, "a trace of the subject was missed, or another's deleted"
    assert items.sent_count(store.db, 1) == len(wanted)
    assert {found.value for found in items.sent(store.db, 1)} == wanted
    rows = batches.for_request(store.db, 1, kind=batches.TRACES)
    assert all(b.state == batches.SENT for b in rows)
    # ranges of one project never overlap: no trace is cut into two batches
    cut = Counter(value for b in rows for value in items.in_batch(store.db, b))
    assert set(cut) == wanted and set(cut.values()) == {1}
    assert sum(b.size for b in rows) == len(wanted)
    assert events.verify_chain(store.db).intact
    kinds = Counter(e.kind for e in events.for_request(store.db, 1))
    assert kinds["searched_again"] == 1 and kinds["submitted"] == 1
    assert kinds["batch_sent"] == len(batches.for_request(store.db, 1, batches.SENT))


def test_the_first_deletes_go_out_while_the_search_at_execution_runs(world: World) -> None:
    assert world.people is not None and world.bot is not None
    projects, subject = seed(world.langsmith, per_project=900)
    world.people.alice.slash("metadata user_id=123 --reason DSR-7", channel_id=REQUESTS_CHANNEL)
    root = request_message(world)
    late = appear_late(world.langsmith, projects)
    asked_before = len(world.langsmith.calls_to("runs/query"))
    world.langsmith.inject("runs/query", delay=0.4, times=PROJECTS)  # each project's search takes a while

    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    queries = world.langsmith.calls_to("runs/query")[asked_before:]
    first_delete = next(c for c in world.langsmith.calls_to("runs/delete") if c.body.get("trace_ids"))
    last_answer = max(c.answered or 0.0 for c in queries)
    assert first_delete.at < last_answer, "the first delete waited for the whole search"
    late_calls = [c for c in world.langsmith.calls_to("runs/delete") if late & set(c.body.get("trace_ids") or [])]
    assert late_calls and min(c.at for c in late_calls) >= last_answer  # found since: cut once the search is done
    assert_every_trace_once_and_nothing_else(world.langsmith, world.bot.store, subject | late)
    wait_thread(world, root, "Found 9 traces of this subject that appeared after the preview")
    assert requests.get(world.bot.store.db, 1).included_traces == len(subject | late)


def test_langsmith_failing_the_search_mid_overlap_keeps_the_deletes_sent_and_resumes(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None and world.bot is not None
    store = world.bot.store
    projects, subject = seed(world.langsmith, per_project=900)
    world.people.alice.slash("metadata user_id=123 --reason DSR-8", channel_id=REQUESTS_CHANNEL)
    root = request_message(world)
    late = appear_late(world.langsmith, projects)
    world.langsmith.inject("runs/query", delay=0.3, times=2)  # two projects are searched, slowly
    world.langsmith.inject("runs/query", status=503, times=40)  # then LangSmith stops answering queries

    world.people.bob.click(root, "Approve")
    wait_thread(world, root, "LangSmith is not answering the search for traces that appeared since the preview")

    request = requests.get(store.db, 1)
    assert request.state == "executing" and request.paused_until is not None  # not falsely submitted
    assert request.searched_again_at is None
    sent_before = {b.id for b in batches.for_request(store.db, 1, batches.SENT)}
    assert sent_before, "the approved set's deletes went out beside the search"
    assert accepted(world.langsmith).keys() <= subject  # only what the preview showed, so far
    covered = store.db.execute("SELECT project FROM search_covered WHERE request_id = 1").fetchall()
    assert len(covered) == 2

    world.langsmith.faults.clear()
    asked_before = len(world.langsmith.calls_to("runs/query"))
    clock.jump_to(clock.now() + timedelta(minutes=2))
    world.bot.wake()
    wait_state(world, "submitted")

    again = searched_projects(world.langsmith, asked_before)
    assert set(again) == set(projects) - {row[0] for row in covered}  # only what it had not finished
    assert all(b.attempts == 1 for b in batches.for_request(store.db, 1))  # nothing recorded twice
    assert_every_trace_once_and_nothing_else(world.langsmith, store, subject | late)
    assert state(world) == "submitted"


def test_langsmith_refusing_the_search_fails_the_request_and_cuts_nothing_more(world: World) -> None:
    assert world.people is not None and world.bot is not None
    store = world.bot.store
    projects, _ = seed(world.langsmith, per_project=900)
    world.people.alice.slash("metadata user_id=123 --reason DSR-10", channel_id=REQUESTS_CHANNEL)
    root = request_message(world)
    late = appear_late(world.langsmith, projects)
    world.langsmith.inject("runs/query", status=403, times=40, body={"detail": "Forbidden"})

    world.people.bob.click(root, "Approve")
    wait_state(world, "failed")

    assert requests.get(store.db, 1).searched_again_at is None
    assert not late & set(accepted(world.langsmith)), "a trace the refused search did not report was deleted"
    kinds = [e.kind for e in events.for_request(store.db, 1)]
    assert "failed" in kinds and "submitted" not in kinds and "searched_again" not in kinds
    # what went out before the refusal stays recorded, each batch once
    sent = batches.for_request(store.db, 1, batches.SENT)
    assert kinds.count("batch_sent") == len(sent) and all(b.attempts == 1 for b in sent)
    wait_thread(world, root, "failed")


# ---------------------------------------------------------------------------- a real SIGKILL


@pytest.fixture
def bare_world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as a child process."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        yield running


def wait_until(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: still not true after {timeout:g}s")
        time.sleep(0.01)


def test_a_kill_mid_overlap_resumes_the_search_and_deletes_every_trace(
    bare_world: World, start_serve: Callable[..., ServeProcess]
) -> None:
    world = bare_world
    projects, subject = seed(world.langsmith, per_project=900)
    server = start_serve(world, extra_env={"PURGEBOT_DELETE_CONCURRENCY": "1"})
    server.start()
    store = Store(world.db_path)
    try:
        with world.people_at(server.url) as (alice, bob):
            filed = alice.slash("metadata user_id=123 --reason DSR-9", channel_id=REQUESTS_CHANNEL)
            assert filed.status == 200, filed.body
            root = request_message(world)
            late = appear_late(world.langsmith, projects)
            world.langsmith.inject("runs/query", delay=0.6, times=PROJECTS)
            world.langsmith.latency = 0.1
            assert bob.click(root, "Approve").status == 200

        def mid_overlap() -> bool:
            covered = store.db.execute("SELECT count(*) FROM search_covered").fetchone()[0]
            return covered >= 1 and bool(batches.for_request(store.db, 1, batches.SENT))

        wait_until("a project is searched and a delete accepted", mid_overlap)
        dead = server.worker_pid  # the worker process holds the claim; the kill takes its whole group
        server.kill()

        request = requests.get(store.db, 1)
        assert request.state == "executing" and request.searched_again_at is None
        assert request.claim_owner is not None and f":{dead}:" in request.claim_owner
        covered = {row[0] for row in store.db.execute("SELECT project FROM search_covered")}
        assert 1 <= len(covered) < PROJECTS
        world.langsmith.faults.clear()
        world.langsmith.latency = 0.0
        asked_before = len(world.langsmith.calls_to("runs/query"))

        server.start()
        wait_until("PURGE-1 is submitted", lambda: requests.get(store.db, 1).state == "submitted")

        again = searched_projects(world.langsmith, asked_before)
        assert set(again) == set(projects) - covered  # finished projects are not searched again
        deleted = accepted(world.langsmith)
        assert set(deleted) == subject | late  # everything, nothing else
        assert max(deleted.values()) <= 2  # at most the call in flight at the kill went twice
        sent = batches.for_request(store.db, 1, batches.SENT)
        assert all(b.attempts == 1 for b in sent)
        assert_every_trace_once_and_nothing_else(world.langsmith, store, subject | late)
    finally:
        store.close()
