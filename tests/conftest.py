"""Shared fixtures: a running sandbox world on a real SQLite file, with timings shortened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.app import Tuning
from bot.clock import SandboxClock
from bot.langsmith import RetryPolicy
from bot.sandbox.langsmith import DEFAULT_API_KEY, FakeLangSmith, create_app
from bot.sandbox.process import ServeProcess
from bot.sandbox.serving import serve
from bot.sandbox.world import World, running_world

FAST = Tuning(
    check_interval=0.2,
    worker_idle=0.05,
    progress_interval=0.2,
    channel_pace=0.0,
    retry=RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0),
    langsmith_timeout=5.0,
)


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock()


@pytest.fixture
def world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """The stand-ins and a running purgebot (approvers: bob, and dave through a user group)."""
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST) as running:
        yield running


class Slot:
    """An ASGI app forwarding to whichever stand-in the current test installed.

    Starting uvicorn per test costs ~0.15 s; a module keeps a few servers running and each test
    swaps a fresh stand-in in, so every test still gets clean state.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[int], tuple[Slot, str]]]:
    """The n-th loopback server of this module (started on first use)."""
    with ExitStack() as stack:
        pool: list[tuple[Slot, str]] = []

        def get(n: int) -> tuple[Slot, str]:
            while len(pool) <= n:
                slot = Slot()
                pool.append((slot, stack.enter_context(serve(slot))))
            return pool[n]

        yield get


StartLangSmith = Callable[..., tuple[FakeLangSmith, httpx.Client]]


@pytest.fixture
def start_langsmith(servers: Callable[[int], tuple[Slot, str]]) -> Iterator[StartLangSmith]:
    """Start LangSmith stand-ins built with the given options, each on one of this module's servers;
    each comes with an httpx client sending the stand-in's default API key."""
    with ExitStack() as stack:
        used = 0

        def start(**options: Any) -> tuple[FakeLangSmith, httpx.Client]:
            nonlocal used
            fake = FakeLangSmith(**options)
            slot, url = servers(used)
            used += 1
            slot.app = create_app(fake)
            client = stack.enter_context(httpx.Client(base_url=url, headers={"X-API-Key": DEFAULT_API_KEY}, timeout=10))
            return fake, client

        yield start


@pytest.fixture
def langsmith_http(start_langsmith: StartLangSmith) -> tuple[FakeLangSmith, httpx.Client]:
    """A LangSmith stand-in whose v1 query limit is out of the way (the limit tests start their own)."""
    return start_langsmith(query_limit=(10_000, 10.0))


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Make ``purgebot serve`` child processes against a world's stand-ins; each is killed after the
    test and its log printed (pytest shows it when the test fails)."""
    made: list[ServeProcess] = []

    def make(world: World, **options: Any) -> ServeProcess:
        process = ServeProcess(
            db_path=world.db_path,
            slack_url=world.slack_url,
            langsmith_url=world.langsmith_url,
            log_path=tmp_path / f"serve-{len(made)}.log",
            **options,
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()
        print(f"--- purgebot serve log ({process.log_path}):\n{process.log_text()}")
