"""A thread-safe, client-side sliding-window rate limiter.

LangSmith documents per-key limits (``runs/query``: 15 calls per 10 s; everything else 1000 per
10 s).  The bot shares one key between its executor threads and its verifier, so it paces itself
*before* sending instead of learning about the limit from a 429: a 429 costs a back-off that is
usually much longer than the wait the limiter imposes, and it eats into the quota of other tools
that share the key.

Two ways to take a slot:

* :meth:`RateLimiter.acquire` blocks until fewer than ``calls`` slots were taken in the last
  ``period`` seconds, then takes one stamped *now*.
* :meth:`RateLimiter.slot` is a context manager for a call whose arrival time at the server is
  unknown: the slot counts as taken while the call is in flight and is stamped when the call
  *returns*.  The server saw the call somewhere between entry and exit, so stamping at exit keeps
  the server's own sliding window within the limit however the network delays each call.

Time is injectable (``clock``/``sleep``) so the arithmetic is unit-tested with a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["RateLimiter"]


class LimiterClosed(Exception):
    """The limiter was closed (the process is stopping) while a caller waited for a slot."""


class RateLimiter:
    """At most ``calls`` slots in any ``period`` seconds, shared by every thread that uses it."""

    def __init__(
        self,
        calls: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """``sleep`` defaults to a wait that ``close()`` cuts short; tests pass a fake."""
        if calls < 1:
            raise ValueError(f"calls must be at least 1, got {calls}")
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.calls = calls
        self.period = float(period)
        self._clock = clock
        self._closed = threading.Event()
        self._sleep = sleep or self._closed.wait
        self._stamps: deque[float] = deque()  # times of finished slots, oldest first
        self._in_flight = 0  # slots taken by slot() whose call has not returned yet
        self._cond = threading.Condition()

    def __repr__(self) -> str:
        return f"RateLimiter(calls={self.calls}, period={self.period})"

    def acquire(self) -> None:
        """Block until a slot is free, then take it, stamped now."""
        self._reserve()
        with self._cond:
            self._in_flight -= 1
            self._stamps.append(self._clock())

    def try_acquire(self) -> bool:
        """Take a slot stamped now if one is free; never blocks."""
        with self._cond:
            self._prune(self._clock())
            if self._in_flight + len(self._stamps) >= self.calls:
                return False
            self._stamps.append(self._clock())
            return True

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the duration of a call; it is stamped when the block exits."""
        self._reserve()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._stamps.append(self._clock())
                self._cond.notify_all()

    def delay(self) -> float:
        """Seconds until a slot frees up (0.0 if one is free now); informational."""
        with self._cond:
            now = self._clock()
            self._prune(now)
            if self._in_flight + len(self._stamps) < self.calls:
                return 0.0
            if self._stamps:
                return max(0.0, self._stamps[0] + self.period - now)
            return self.period

    def _prune(self, now: float) -> None:
        horizon = now - self.period
        while self._stamps and self._stamps[0] <= horizon:
            self._stamps.popleft()

    def close(self) -> None:
        """Wake every waiting caller with ``LimiterClosed``; later callers get it at once."""
        self._closed.set()
        with self._cond:
            self._cond.notify_all()

    def _reserve(self) -> None:
        """Mark one slot in flight, waiting as long as the window is full."""
        while True:
            if self._closed.is_set():
                raise LimiterClosed("the rate limiter was closed")
            with self._cond:
                now = self._clock()
                self._prune(now)
                if self._in_flight + len(self._stamps) < self.calls:
                    self._in_flight += 1
                    return
                if not self._stamps:
                    # Every slot is in flight; a finished call stamps its slot, which then
                    # expires ``period`` later, so wait for a call to finish first.
                    self._cond.wait(timeout=self.period)
                    continue
                wait = self._stamps[0] + self.period - now
            # Sleep outside the lock so other threads can finish their calls meanwhile.
            self._sleep(max(wait, 0.0))


@dataclass(frozen=True)
class KeyLimiters:
    """LangSmith's limits on one API key: v1 run queries, v2 run queries, and every call.

    LangSmith counts per key, so workspaces that share a key (an org-scoped key used with several
    ``X-Tenant-Id``) must share these, or together they would ask twice what the key may.
    """

    v1_query: RateLimiter
    v2_query: RateLimiter
    call: RateLimiter

    @classmethod
    def of(cls, v1_query: tuple[int, float], v2_query: tuple[int, float], call: tuple[int, float]) -> KeyLimiters:
        return cls(RateLimiter(*v1_query), RateLimiter(*v2_query), RateLimiter(*call))
