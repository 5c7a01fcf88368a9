"""CheckScheduler.stalled: what ``/healthz`` says of the scheduler, on a clock the test moves."""

from __future__ import annotations

import threading
import time

import pytest

from bot.scheduler import CheckScheduler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait(event: threading.Event) -> None:
    assert event.wait(10), "the scheduler did not run its job"


def test_a_run_that_outlasts_interval_and_grace_is_stalled_and_recovers() -> None:
    clock, entered, release, finished = Clock(), threading.Event(), threading.Event(), threading.Event()

    def tick() -> None:
        entered.set()
        release.wait(10)
        finished.set()

    scheduler = CheckScheduler(tick, interval=60.0, stall_grace=30.0, monotonic=clock)
    scheduler.start()
    try:
        wait(entered)
        clock.now += 90.0
        assert scheduler.stalled() is None  # exactly interval + grace: not yet
        clock.now += 1.0
        assert scheduler.stalled() == "the check scheduler has been in one run for 91 s (its interval is 60 s)"

        release.set()
        wait(finished)
        clock.now += 0.5  # the run recorded its end after `finished` was set; give it the same moment
        deadline = time.monotonic() + 10
        while scheduler.stalled() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert scheduler.stalled() is None
        clock.now += 120.0
        assert scheduler.stalled() == "the check scheduler has not run for 120 s (its interval is 60 s)"
    finally:
        release.set()
        scheduler.stop()

    assert scheduler.stalled() == "the check scheduler is not running"


def test_wakes_are_never_lost_and_never_run_two_ticks_at_once(caplog: pytest.LogCaptureFixture) -> None:
    """A wake in every phase of a run — mid-tick, or as it winds down — leads to one more tick, never a
    second tick beside the first, and never APScheduler's 'maximum number of running instances' refusal."""
    lock, inside, most, ticks = threading.Lock(), [0], [0], [0]

    def tick() -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)
        with lock:
            inside[0] -= 1
            ticks[0] += 1

    scheduler = CheckScheduler(tick, interval=3600.0)
    scheduler.start()
    try:
        for _ in range(200):
            before = ticks[0]
            scheduler.wake()
            deadline = time.monotonic() + 10
            while ticks[0] == before and time.monotonic() < deadline:
                time.sleep(0.0005)
            assert ticks[0] > before, "a wake was lost"
    finally:
        scheduler.stop()

    assert most[0] == 1
    assert not [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]
