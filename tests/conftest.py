"""Shared fixtures: a running sandbox world on a real SQLite file, with timings shortened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import Tuning
from bot.clock import SandboxClock
from bot.langsmith import RetryPolicy
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
