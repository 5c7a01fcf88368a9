"""The client-side sliding-window limiter: arithmetic with a fake clock, locking with real threads."""

from __future__ import annotations

import threading
import time

import pytest

from bot.langsmith.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(calls: int, period: float, clock: FakeClock) -> RateLimiter:
    return RateLimiter(calls, period, clock=clock, sleep=clock.sleep)


def test_first_n_calls_do_not_wait() -> None:
    clock = FakeClock()
    rl = limiter(3, 10.0, clock)
    for _ in range(3):
        rl.acquire()
    assert clock.sleeps == []
    assert clock.now == 0.0


def test_call_over_the_limit_waits_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock()
    rl = limiter(3, 10.0, clock)
    for t in (0.0, 3.0, 6.0):
        clock.now = t
        rl.acquire()
    rl.acquire()  # the window [0, 10) is full: wait for the call at t=0 to expire
    assert clock.now == pytest.approx(10.0)
    rl.acquire()  # next to expire is the call at t=3
    assert clock.now == pytest.approx(13.0)


def test_window_slides_rather_than_resetting() -> None:
    clock = FakeClock()
    rl = limiter(2, 10.0, clock)
    rl.acquire()
    clock.now = 9.0
    rl.acquire()
    clock.now = 10.0  # the t=0 call has left; the t=9 call still counts
    rl.acquire()
    assert clock.sleeps == []
    rl.acquire()
    assert clock.now == pytest.approx(19.0)


def test_never_more_than_n_in_any_window() -> None:
    clock = FakeClock()
    rl = limiter(5, 2.0, clock)
    stamps = []
    for _ in range(50):
        rl.acquire()
        stamps.append(clock.now)
    for i, t in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < t + 2.0) <= 5
    assert stamps[-1] == pytest.approx(18.0)  # 50 calls, 5 per 2 s, the first 5 free


def test_try_acquire_does_not_block() -> None:
    clock = FakeClock()
    rl = limiter(1, 5.0, clock)
    assert rl.try_acquire() is True
    assert rl.try_acquire() is False
    assert rl.delay() == pytest.approx(5.0)
    clock.now = 5.0
    assert rl.delay() == 0.0
    assert rl.try_acquire() is True
    assert clock.sleeps == []


def test_slot_is_stamped_when_the_call_returns() -> None:
    clock = FakeClock()
    rl = limiter(1, 10.0, clock)
    with rl.slot():
        clock.now = 4.0  # the call took 4 s; the server may have seen it as late as t=4
    rl.acquire()
    assert clock.now == pytest.approx(14.0)


def test_slot_is_released_when_the_call_raises() -> None:
    clock = FakeClock()
    rl = limiter(1, 1.0, clock)
    with pytest.raises(RuntimeError), rl.slot():
        raise RuntimeError("boom")
    rl.acquire()
    assert clock.now == pytest.approx(1.0)


@pytest.mark.parametrize(("calls", "period"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_rejects_nonsense(calls: int, period: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(calls, period)


def test_threads_share_one_budget() -> None:
    stamps: list[float] = []
    lock = threading.Lock()
    rl = RateLimiter(4, 0.2)

    def worker() -> None:
        for _ in range(3):
            rl.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    stamps.sort()
    assert len(stamps) == 12
    for i, t in enumerate(stamps):
        # the limiter stamps a slot before the worker reads the clock, so allow a hair of slack
        assert sum(1 for s in stamps[i:] if s < t + 0.2 - 0.01) <= 4


def test_a_full_window_of_calls_in_flight_blocks_until_one_returns() -> None:
    rl = RateLimiter(1, 0.05)
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with rl.slot():
            entered.set()
            release.wait(5)
            order.append("first returned")

    def waiter() -> None:
        rl.acquire()
        order.append("second started")

    h = threading.Thread(target=holder)
    h.start()
    assert entered.wait(5)
    w = threading.Thread(target=waiter)
    w.start()
    time.sleep(0.1)  # longer than the period: only the in-flight call can be holding it back
    assert order == []
    release.set()
    h.join(5)
    w.join(5)
    assert order == ["first returned", "second started"]


def test_close_wakes_a_caller_waiting_for_a_slot_at_once() -> None:
    import threading
    import time

    from bot.langsmith.ratelimit import LimiterClosed

    limiter = RateLimiter(1, 30.0)
    limiter.acquire()
    outcome: list[str] = []

    def wait_for_slot() -> None:
        try:
            limiter.acquire()
            outcome.append("acquired")
        except LimiterClosed:
            outcome.append("closed")

    waiter = threading.Thread(target=wait_for_slot)
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    limiter.close()
    waiter.join(5)
    assert outcome == ["closed"] and time.monotonic() - started < 1.0
    with pytest.raises(LimiterClosed):
        limiter.acquire()
