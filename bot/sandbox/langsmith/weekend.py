"""LangSmith's weekend delete job: which traces the queued deletes take.

``runs/delete`` only queues (202); nothing goes until the job runs.  Trace-id deletes take the
traces of the named project (ids of other projects are ignored); metadata deletes are
workspace-wide and OR-matched: a trace goes if ANY of its runs carries ANY of the pairs (values
compared as JSON) and the trace started within the delete's time bounds.  The job sees the
workspace as it is when it runs, so a matching trace ingested after the request goes too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from bot.sandbox.langsmith.model import Run


@dataclasses.dataclass(frozen=True)
class TraceDelete:
    session_id: str
    trace_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class MetadataDelete:
    """Traces carrying any of ``pairs`` whose start (their root run's) is within ``[since, until]``."""

    pairs: tuple[tuple[str, Any], ...]
    since: float
    until: float | None


QueuedDelete = TraceDelete | MetadataDelete


def doomed_traces(queue: Sequence[QueuedDelete], traces: dict[str, list[Run]], hidden: set[str]) -> set[str]:
    """The ids of the stored traces the queued deletes take; none in a project the key cannot see."""
    doomed: set[str] = set()
    by_metadata = [item for item in queue if isinstance(item, MetadataDelete)]
    for item in queue:
        if isinstance(item, TraceDelete):
            for tid in item.trace_ids:
                runs = traces.get(tid)
                if runs and runs[0].session_id == item.session_id:
                    doomed.add(tid)
    if by_metadata:
        for tid, runs in traces.items():
            if any(_takes(item, runs) for item in by_metadata):
                doomed.add(tid)
    return {tid for tid in doomed if traces[tid][0].session_id not in hidden}


def _takes(item: MetadataDelete, runs: list[Run]) -> bool:
    start = runs[0].ts
    if start < item.since or (item.until is not None and start > item.until):
        return False
    return any(_carries(run, item.pairs) for run in runs)


def _carries(run: Run, pairs: tuple[tuple[str, Any], ...]) -> bool:
    meta = run.metadata
    return meta is not None and any(k in meta and meta[k] == v for k, v in pairs)
