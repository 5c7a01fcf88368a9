"""Rate-limit windows per API key and bucket, as LangSmith's load balancer keeps them.

Fixed windows (the reference: "a fixed window per API key at the load balancer"): each bucket
counts calls in windows aligned to multiples of its period on a monotonic clock, and a call past
the limit is refused until the window ends.  Refused calls count too, so a client that keeps
knocking stays refused; one that waits out ``Retry-After`` gets through.  A client pacing itself
with a sliding window of the same size never meets a 429 here; one that bursts at a window's end
and again at the next one's start gets twice its budget through, as it would at LangSmith.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable


class RateWindows:
    """Per (key, bucket): the current window's start and how many calls it has seen."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def admit(self, key: str, bucket: str, limit: tuple[int, float]) -> int | None:
        """Count the call; None if it may go ahead, else whole seconds (≥ 1) until its window ends."""
        calls, period = limit
        now = self._clock()
        start = math.floor(now / period) * period
        with self._lock:
            began, seen = self._windows.get((key, bucket), (start, 0))
            seen = seen + 1 if began == start else 1
            self._windows[(key, bucket)] = (start, seen)
        if seen <= calls:
            return None
        return max(1, math.ceil(start + period - now))
