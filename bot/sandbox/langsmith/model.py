"""The records a stand-in workspace holds: projects (sessions), runs, dataset examples and their versions.

Runs are kept small (``__slots__``, shared metadata dicts) because a bench holds 100k+ of them.
Times are epoch floats on runs (cheap to compare and sort) and datetimes elsewhere.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.langsmith.wire import iso, iso_dt


class Run:
    """One run. ``ts`` is its start time; ``received`` when the stand-in stored it (a trace ingested
    late has an old ``ts`` and a recent ``received``)."""

    __slots__ = ("id", "metadata", "name", "parent_run_id", "received", "run_type", "session_id", "trace_id", "ts")

    def __init__(
        self,
        run_id: str,
        trace_id: str,
        session_id: str,
        parent_run_id: str | None,
        name: str,
        run_type: str,
        ts: float,
        metadata: dict[str, Any] | None,
        received: float,
    ) -> None:
        self.id = run_id
        self.trace_id = trace_id
        self.session_id = session_id
        self.parent_run_id = parent_run_id
        self.name = name
        self.run_type = run_type
        self.ts = ts
        self.metadata = metadata
        self.received = received


def run_key(run: Run) -> tuple[float, str]:
    """Sort key for ``start_time desc`` with the id as a tie-breaker; cursors carry it."""
    return (-run.ts, run.id)


def run_fields(run: Run, root: Run, tenant_id: str) -> dict[str, Any]:
    """Every field the stand-in can answer for a run, under v1's names (``session_id``); each query
    API picks and renames what it serves."""
    stamp = datetime.fromtimestamp(root.ts, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dotted = f"{stamp}{run.trace_id}"
    if run.parent_run_id is not None:
        dotted += "." + datetime.fromtimestamp(run.ts, UTC).strftime("%Y%m%dT%H%M%S%fZ") + run.id
    return {
        "id": run.id,
        "trace_id": run.trace_id,
        "session_id": run.session_id,
        "parent_run_id": run.parent_run_id,
        "name": run.name,
        "run_type": run.run_type,
        "status": "success",
        "dotted_order": dotted,
        "app_path": f"/o/{tenant_id}/projects/p/{run.session_id}/r/{run.id}?trace_id={run.trace_id}",
        "start_time": iso(run.ts),
        "end_time": iso(run.ts + 0.5),
        "extra": {"metadata": dict(run.metadata or {})},
        "metadata": dict(run.metadata or {}),
        "is_root": run.parent_run_id is None,
        "trace_tier": "longlived",
        "ttl_seconds": None,
        "trace_first_received_at": iso(root.received),
    }


class Session:
    """A project; ``runs`` is sorted lazily (``dirty``) so bulk inserts stay cheap."""

    __slots__ = ("dirty", "id", "name", "runs", "start")

    def __init__(self, session_id: str, name: str, start: datetime) -> None:
        self.id = session_id
        self.name = name
        self.start = start
        self.runs: list[Run] = []
        self.dirty = False

    def sorted_runs(self) -> list[Run]:
        if self.dirty:
            self.runs.sort(key=run_key)
            self.dirty = False
        return self.runs


@dataclasses.dataclass
class Version:
    at: datetime
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    metadata: dict[str, Any] | None
    removed: bool = False


@dataclasses.dataclass
class Example:
    id: str
    dataset_id: str
    name: str
    created_at: datetime
    source_run_id: str | None
    versions: list[Version]

    def at(self, as_of: datetime | None) -> Version | None:
        """The version in force at ``as_of`` (None = latest); None if absent or removed then."""
        chosen: Version | None = None
        if as_of is None:
            chosen = self.versions[-1]
        else:
            for version in self.versions:
                if version.at <= as_of:
                    chosen = version
        if chosen is None or chosen.removed:
            return None
        return chosen


def example_json(example: Example, version: Version) -> dict[str, Any]:
    return {
        "id": example.id,
        "dataset_id": example.dataset_id,
        "name": example.name,
        "inputs": version.inputs,
        "outputs": version.outputs,
        "metadata": version.metadata,
        "created_at": iso_dt(example.created_at),
        "modified_at": iso_dt(version.at),
        "source_run_id": example.source_run_id,
        "attachment_urls": None,
    }


def copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)
