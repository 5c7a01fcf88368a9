"""Purges previewed, executed and verified on each LangSmith backend — ClickHouse only (v1 queries),
dual, SmithDB only (v2 queries) — and v1 vanishing between submission and the first check.

The traces are 3 days old: v2 looks only at the last 24 hours unless a query states its window, so
a check that forgot it would find nothing and certify a purge that never happened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, jump_to_next_check, request_message, state, thread, wait_state, wait_thread
from test_subject_purge import file_subject

from bot.clock import SandboxClock
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.world import LANGSMITH_KEY, NOTIFY_CHANNEL, World, running_world
from storage import checks

BACKENDS = ["clickhouse", "dual", "smithdb"]
ANSWERS = {"clickhouse": "v1", "dual": "v2", "smithdb": "v2"}  # what `auto` picks from /info
THREE_DAYS_AGO = datetime.now(UTC) - timedelta(days=3)


@pytest.fixture
def on_backend(tmp_path: Path, clock: SandboxClock, request: pytest.FixtureRequest) -> Iterator[World]:
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, backend=request.param)
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, langsmith=langsmith) as running:
        yield running


def done_checks(world: World) -> list[checks.Check]:
    assert world.bot is not None
    return [c for c in checks.for_request(world.bot.store.db, 1) if c.state == checks.DONE]


@pytest.mark.parametrize("on_backend", BACKENDS, indirect=True)
def test_a_trace_id_purge_of_three_day_old_traces_is_verified(on_backend: World, clock: SandboxClock) -> None:
    world = on_backend
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 5, start_time=THREE_DAYS_AGO)
    file_traces(world, ids)
    root = request_message(world)
    assert "LangSmith knows 5 of all 5 IDs" in root.render()  # the preview found them: its window reached back
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    jump_to_next_check(world, clock)  # before the weekend: they are all still there
    wait_thread(world, root, "5 of 5 traces still present")
    assert state(world) == "submitted"

    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    assert [c.api for c in done_checks(world)] == [ANSWERS[world.langsmith.backend]] * 2
    window_start = datetime.fromisoformat(done_checks(world)[-1].window_start or "")
    assert window_start <= THREE_DAYS_AGO - timedelta(days=1)  # a day before the earliest trace


@pytest.mark.parametrize("on_backend", BACKENDS, indirect=True)
def test_a_subject_purge_of_three_day_old_traces_is_verified(on_backend: World, clock: SandboxClock) -> None:
    world = on_backend
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(project, 4, metadata={"user_id": "123"}, start_time=THREE_DAYS_AGO)
    world.langsmith.add_trace(project, child_metadata=[{"user_id": "123"}], start_time=THREE_DAYS_AGO)
    world.langsmith.add_traces(project, 6, metadata={"user_id": "456"}, start_time=THREE_DAYS_AGO)
    file_subject(world, "metadata user_id=123 --reason DSR-20")
    root = request_message(world)
    assert "5 traces in 1 project" in root.render()
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    jump_to_next_check(world, clock)
    wait_thread(world, root, "5 of 5 traces still present")
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    assert {c.api for c in done_checks(world)} == {ANSWERS[world.langsmith.backend]}


@pytest.mark.parametrize("kind", ["traces", "metadata"])
def test_v1_vanishing_between_submission_and_the_first_check(tmp_path: Path, clock: SandboxClock, kind: str) -> None:
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, backend="clickhouse")
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, langsmith=langsmith) as world:
        assert world.people is not None and world.bot is not None
        project = langsmith.add_project("prod-chat")
        ids = langsmith.add_traces(project, 3, metadata={"user_id": "123"}, start_time=THREE_DAYS_AGO)
        if kind == "traces":
            file_traces(world, ids)
        else:
            file_subject(world, "metadata user_id=123 --reason DSR-21")
        root = request_message(world)
        world.people.bob.click(root, "Approve")
        wait_state(world, "submitted")
        assert world.bot.workspaces["default"].query_api().value == "v1"

        langsmith.backend = "smithdb"  # LangSmith moves the workspace: v1 run queries now answer 410
        jump_to_next_check(world, clock)
        wait_thread(world, root, "3 of 3 traces still present")  # not "0 remain": the 410 was no answer
        langsmith.run_weekend()
        jump_to_next_check(world, clock)
        wait_state(world, "verified")
        assert [c.api for c in done_checks(world)] == ["v2", "v2"]
        assert any(call.status == 410 for call in langsmith.calls_to("/api/v1/runs/query"))


@pytest.mark.parametrize("on_backend", ["smithdb"], indirect=True)
def test_a_project_the_key_no_longer_sees_is_never_verified(on_backend: World, clock: SandboxClock) -> None:
    world = on_backend
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3, start_time=THREE_DAYS_AGO)
    file_traces(world, ids)
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    world.langsmith.hide_project(project)  # its queries now answer "nothing", which proves nothing
    jump_to_next_check(world, clock)
    wait_thread(world, root, "cannot be verified yet")
    assert f"project {project} is no longer visible to the API key" in " ".join(thread(world, root))
    assert state(world) == "submitted"
    assert not [m for m in world.slack.messages(NOTIFY_CHANNEL) if "verified" in m.text]
    assert done_checks(world) == []


@pytest.mark.parametrize("on_backend", ["smithdb"], indirect=True)
def test_a_refused_query_is_never_nothing_found(on_backend: World, clock: SandboxClock) -> None:
    world = on_backend
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(project, 3, metadata={"user_id": "123"}, start_time=THREE_DAYS_AGO)
    file_subject(world, "metadata user_id=123 --reason DSR-22")
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    refusal = {"error": {"message": "min_start_time is after max_start_time", "code": "INVALID_REQUEST", "status": 400}}
    world.langsmith.inject("/api/v2/runs/query", status=400, times=1000, body=refusal)
    jump_to_next_check(world, clock)
    wait_thread(world, root, "got no answer from LangSmith")
    assert state(world) == "submitted" and done_checks(world) == []
    pending = checks.next_pending(world.bot.store.db, 1)
    assert pending is not None and pending.last_error is not None
    assert "400" in pending.last_error  # v2's error shape, read into LangSmith's own words:
    assert "min_start_time is after max_start_time (INVALID_REQUEST)" in pending.last_error
