"""Rate-limit windows per API key and bucket, as LangSmith's load balancer keeps them."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable


class RateWindows:
    """Sliding windows: at most ``calls`` per ``period`` seconds in each (key, bucket).

    Refused calls do not count, so a client that waits out ``Retry-After`` gets through.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def admit(self, key: str, bucket: str, limit: tuple[int, float]) -> int | None:
        """None if the call may go ahead (and is counted), else the seconds until it may (≥ 1)."""
        calls, period = limit
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault((key, bucket), deque())
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= calls:
                return max(1, math.ceil(window[0] + period - now))
            window.append(now)
            return None
