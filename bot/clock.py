"""Where the bot reads the time.

Everything that schedules or stamps asks a ``Clock`` instead of calling ``datetime.now`` so the
demo can jump over a weekend and tests can pin time (time-machine moves ``SystemClock`` too).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    """The wall clock plus an offset the demo can move forward (never backward)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def jump_to(self, moment: datetime) -> None:
        """Make ``now()`` read ``moment`` (if it lies ahead) and keep ticking from there."""
        with self._lock:
            gap = moment - (datetime.now(UTC) + self._offset)
            if gap > timedelta():
                self._offset += gap


def utc_iso(moment: datetime) -> str:
    """The one text form of a moment that storage keeps: ISO-8601 in UTC, so strings sort by time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(text: str) -> datetime:
    """Read back a moment written by ``utc_iso``."""
    return datetime.fromisoformat(text)
