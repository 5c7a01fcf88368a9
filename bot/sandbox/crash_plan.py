"""Where a crash-loop trial kills ``purgebot serve``, and what it reports: the plan is drawn from a
seed, so a failing trial runs again exactly as it failed (``bench/crash_loop.py --seed``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SEARCH, DELETES, SUBMITTED = "search", "deletes", "submitted"
PHASES = (SEARCH, DELETES, SUBMITTED)
GROUP, LISTENER, WORKER, MIX = "group", "listener", "worker", "mix"
TARGETS = (GROUP, LISTENER, WORKER)


@dataclass(frozen=True)
class Kill:
    """Where to kill: in ``phase``, once ``after`` calls (search: ``runs/query``, deletes:
    ``runs/delete``) reached the stand-in since this server started — or, after submit, ``after`` ms.
    ``target``: the process group (listener and worker), the listener alone (its worker then exits
    at once) or the worker alone (the listener goes on and starts another)."""

    phase: str
    after: int
    target: str = GROUP


@dataclass(frozen=True)
class TrialConfig:
    traces: int = 20_000
    projects: int = 3
    others: int = 300  # unrelated traces per project, which must survive the purge
    latency: float = 0.02  # seconds the LangSmith stand-in takes for every call from the approval on
    search_latency: float = 0.0  # ... and for the preview's search (about traces / 100 queries, one at a time)
    concurrency: int = 4  # PURGEBOT_DELETE_CONCURRENCY
    max_kills: int = 3
    wait: float = 120.0  # the longest any one step may take
    servers: int = 1  # purgebot serve processes on the one file; with two, each kill picks one at random
    kill: str = GROUP  # which process each kill ends (one of TARGETS), or MIX: each kill picks one at random


@dataclass
class TrialResult:
    trial: int
    seed: int
    kills: list[str] = field(default_factory=list)  # where each kill landed, as seen in the dead process's file
    batches: int = 0
    unanswered: int = 0  # delete calls killed processes made whose batch their file did not record as sent
    duplicates: int = 0  # delete calls that repeated an earlier one (a batch re-sent)
    bound: int = 0  # kills x concurrency
    takeovers: int = 0  # restarts that freed a dead process's claims at once
    downtime: str = ""  # what the check that fell due during downtime did
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def plan_kills(rng: random.Random, config: TrialConfig) -> list[Kill]:
    """1…max_kills kill points in the order a purge reaches them."""
    pages = max(1, config.traces // 100)
    calls = max(1, config.traces // 1000) + 1  # trace batches and the metadata delete
    chosen = sorted(
        (rng.choices(PHASES, weights=(25, 55, 20))[0] for _ in range(rng.randint(1, config.max_kills))),
        key=PHASES.index,
    )
    kills = []
    for phase in chosen:
        if phase == SEARCH:
            after = rng.randint(1, max(1, pages * 9 // 10))
        elif phase == DELETES:
            after = rng.randint(0, calls)
        else:
            after = rng.randint(0, 400)
        kills.append(Kill(phase, after, rng.choice(TARGETS) if config.kill == MIX else config.kill))
    return kills


def trial_seed(seed: int, trial: int) -> int:
    return seed * 1_000_003 + trial
