"""``GET /healthz``: 200 while the bot can do its work, 503 with the reason when it cannot.

The real app over HTTP on loopback, on a real SQLite file: the database taken away from under the
running bot, a worker that stopped, the scheduler stuck in a run on a LangSmith that hangs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import FAST

from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.world import LANGSMITH_KEY, World, running_world


def healthz(world: World) -> httpx.Response:
    return httpx.get(world.app_url.rstrip("/") + "/healthz", timeout=10)


def wait_health(world: World, status: int) -> httpx.Response:
    def reached(_: object) -> bool:
        return healthz(world).status_code == status

    reached.__name__ = f"/healthz answers {status}"
    world.slack.wait_for(reached, timeout=15)
    return healthz(world)


def test_a_healthy_bot_answers_200(world: World) -> None:
    response = healthz(world)
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_a_database_taken_away_is_503_naming_it_until_it_is_back(world: World, tmp_path: Path) -> None:
    """The volume detached under the running bot: its open handles still work, a new one cannot."""
    away = tmp_path / "elsewhere.db"
    world.db_path.rename(away)
    try:
        response = healthz(world)
    finally:
        away.rename(world.db_path)

    assert response.status_code == 503
    (problem,) = response.json()["problems"]
    assert problem.startswith(f"the database is not writable: cannot use the database {world.db_path}")
    assert healthz(world).status_code == 200


def test_a_stopped_worker_is_503_naming_it(world: World) -> None:
    assert world.bot is not None
    executor = next(worker for worker in world.bot.workers if worker.name == "executor")
    executor.stop()

    response = healthz(world)

    assert response.status_code == 503
    assert response.json() == {"ok": False, "problems": ["the executor worker has stopped"]}


@pytest.fixture
def hanging_langsmith_world(tmp_path: Path) -> Iterator[World]:
    """A bot whose scheduler may be quiet for 0.5 s past its interval, and a LangSmith that takes 3 s a call."""
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY)
    tuning = replace(FAST, scheduler_stall_grace=0.5)
    with running_world(tmp_path / "purgebot.db", tuning=tuning, langsmith=langsmith, start=False) as world:
        langsmith.latency = 3.0  # the scheduler's first run reads LangSmith's /info: it hangs there
        world.start_bot()
        yield world


def test_a_scheduler_stuck_in_a_run_is_503_until_the_run_ends(hanging_langsmith_world: World) -> None:
    world = hanging_langsmith_world

    stuck = wait_health(world, 503)
    (problem,) = stuck.json()["problems"]
    assert problem.startswith("the check scheduler has been in one run for ")
    assert problem.endswith("(its interval is 0.2 s)")

    world.langsmith.latency = 0.0
    assert wait_health(world, 200).json() == {"ok": True}
