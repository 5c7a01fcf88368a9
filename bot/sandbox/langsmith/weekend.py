"""LangSmith's weekend delete job: which traces the queued deletes take.

``runs/delete`` only queues (202); nothing goes until the job runs.  Trace-id deletes take the
traces of the named project (ids of other projects are ignored); metadata deletes are
workspace-wide and OR-matched: a trace goes if ANY of its runs carries ANY of the pairs.
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
    pairs: tuple[tuple[str, Any], ...]


QueuedDelete = TraceDelete | MetadataDelete


def doomed_traces(queue: Sequence[QueuedDelete], traces: dict[str, list[Run]]) -> set[str]:
    """The ids of the stored traces the queued deletes take."""
    doomed: set[str] = set()
    pairs: list[tuple[str, Any]] = []
    for item in queue:
        if isinstance(item, TraceDelete):
            for tid in item.trace_ids:
                runs = traces.get(tid)
                if runs and runs[0].session_id == item.session_id:
                    doomed.add(tid)
        else:
            pairs.extend(item.pairs)
    if pairs:
        for tid, runs in traces.items():
            if any(_carries(run, pairs) for run in runs):
                doomed.add(tid)
    return doomed


def _carries(run: Run, pairs: list[tuple[str, Any]]) -> bool:
    meta = run.metadata
    return meta is not None and any(k in meta and meta[k] == v for k, v in pairs)
