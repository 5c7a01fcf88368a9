"""A small seeded sample of the crash loop (``bench/crash_loop.py`` runs 20 trials of 20,000 traces).

The same trial code (``bot.sandbox.crash``) kills the real ``purgebot serve`` with SIGKILL during the
preview's search, during the deletes and just after ``submitted``, restarts it on the same SQLite
file, and checks that nothing was lost, nothing was recorded or posted twice, and that a check that
fell due while the server was down runs when it comes back.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from bot.sandbox.crash import run_trial
from bot.sandbox.crash_plan import (
    DELETES,
    GROUP,
    LISTENER,
    SEARCH,
    SUBMITTED,
    WORKER,
    TrialConfig,
    plan_kills,
    trial_seed,
)

SEED = 10
TRIALS = (1, 2)
CONFIG = TrialConfig(traces=4000, projects=2, others=50, wait=60.0)


def test_the_seeded_sample_kills_in_every_phase() -> None:
    """The seed is chosen so the two trials below cover every kind of kill point."""
    phases = {kill.phase for trial in TRIALS for kill in plan_kills(random.Random(trial_seed(SEED, trial)), CONFIG)}
    assert phases == {SEARCH, DELETES, SUBMITTED}


@pytest.mark.parametrize("target", (GROUP, LISTENER, WORKER))
@pytest.mark.parametrize("trial", TRIALS)
def test_a_server_killed_at_random_points_loses_nothing_and_runs_the_overdue_check(
    tmp_path: Path, trial: int, target: str
) -> None:
    """``serve`` is two processes: kill -9 of its process group, of the listener alone, of the worker alone."""
    config = dataclasses.replace(CONFIG, kill=target)
    result = run_trial(trial, SEED, config, tmp_path)

    assert result.failures == [], "\n".join(result.failures)
    assert len(result.kills) == len(plan_kills(random.Random(result.seed), config))
    assert all(where.startswith(f"{target} ") for where in result.kills)
    assert result.batches == 5  # 2,000 traces in each of 2 projects, 1,000 a call, plus the metadata delete
    assert result.duplicates <= result.bound
    assert result.downtime == "clear: 4,000 checked, 0 remain"


def test_two_servers_on_one_file_killed_at_random_lose_nothing(tmp_path: Path) -> None:
    """As during a rolling deploy: two ``purgebot serve`` share the file, and each kill hits one of them."""
    config = dataclasses.replace(CONFIG, servers=2)
    result = run_trial(1, SEED, config, tmp_path)

    assert result.failures == [], "\n".join(result.failures)
    assert result.batches == 5 and result.duplicates <= result.bound
    assert result.downtime == "clear: 4,000 checked, 0 remain"
