"""The time window a run query looks at, and the runs it finds.

v2's ``runs/query`` looks only at the last 24 hours unless told otherwise, so a check that forgot
its window would see nothing older than a day and certify it deleted.  Every query therefore
carries a :class:`Window` that the caller built from what it knows (:func:`window_for`), and each
check records the window it used, so the evidence shows what was looked at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["MARGIN", "FoundRun", "Window", "found_run", "is_root_among", "parse_start", "rfc3339", "window_for"]

MARGIN = timedelta(days=1)  # before the earliest known start: clock skew and time zones in LangSmith's data


@dataclass(frozen=True)
class Window:
    """``[start, end]``: the runs whose start time lies in it are looked at (v2 ``min_start_time``/
    ``max_start_time``; v1 sends ``start_time`` = ``start`` and has no upper bound)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a query window needs time-zone-aware bounds")
        if self.start > self.end:
            raise ValueError("a query window must not end before it starts")

    def covers(self, needed: Window) -> bool:
        """Whether this window (what a query looked at) contains ``needed`` (what it had to look at)."""
        return self.start <= needed.start and self.end >= needed.end

    def until(self, now: datetime) -> Window:
        """The query window for this need: from its start up to ``now`` (v2's ``max_start_time``)."""
        return Window(start=min(self.start, now), end=max(self.end, now))

    def as_dict(self) -> dict[str, str]:
        return {"min_start_time": rfc3339(self.start), "max_start_time": rfc3339(self.end)}


@dataclass(frozen=True)
class FoundRun:
    """A root run a query returned: its trace, its project and when it started (if LangSmith said)."""

    trace_id: str
    project_id: str
    start_time: datetime | None


def window_for(starts: Iterable[datetime | None], *, now: datetime, lookback: timedelta) -> Window:
    """The window a query must look at to see runs with these start times.

    It begins at the earliest start minus :data:`MARGIN`, or at ``now - lookback`` when any start is
    unknown (or none is given: a search for what is not yet known); one unknown start is enough to
    look back all the way, since a window fitted to the others could miss it.  It ends at the latest
    known start, or ``now`` when some start is unknown; a query states ``end = now`` (:meth:`until`).
    """
    earliest: datetime | None = None
    latest: datetime | None = None
    unknown = True
    for start in starts:
        if start is None:
            unknown = True
            break
        unknown = False
        earliest = start if earliest is None else min(earliest, start)
        latest = start if latest is None else max(latest, start)
    if unknown or earliest is None or latest is None:
        return Window(start=now - lookback, end=now)
    return Window(start=min(earliest - MARGIN, now), end=min(latest, now))


def found_run(run: dict[str, Any], project_field: str, project_id: str) -> FoundRun:
    """A run of a query answer as a :class:`FoundRun`; ``project_field`` is v1's ``session_id`` or
    v2's ``project_id``, and the project asked about stands in when the answer leaves it out."""
    run_id = str(run.get("id", "")).lower()
    return FoundRun(
        trace_id=str(run.get("trace_id") or run_id).lower(),
        project_id=str(run.get(project_field) or project_id).lower(),
        start_time=parse_start(run.get("start_time")),
    )


def is_root_among(run: dict[str, Any], asked: set[str]) -> bool:
    """Whether ``run`` is the root run of one of the traces ``asked`` about (a root has ``id == trace_id``)."""
    run_id = str(run.get("id", "")).lower()
    return run_id in asked and str(run.get("trace_id") or run_id).lower() == run_id


def parse_start(value: object) -> datetime | None:
    """A run's ``start_time`` as LangSmith writes it (RFC 3339, maybe without zone: UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
