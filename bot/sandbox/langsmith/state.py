"""A stand-in workspace's data: projects, runs, datasets and examples, and the queue of deletes
that LangSmith's weekend job applies.

Tests seed it directly (``add_project``, ``add_traces``, ...); the route modules read and change it
under :attr:`Workspace.lock`.  The attributes without a leading underscore are shared with those
modules, not meant for tests: tests use the methods.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox.langsmith.model import Example, Run, Session, Version, copy, example_json
from bot.sandbox.langsmith.weekend import QueuedDelete, doomed_traces
from bot.sandbox.langsmith.wire import aware, norm_uuid


def utc_now() -> datetime:
    return datetime.now(UTC)


class Workspace:
    """In-memory LangSmith workspace; thread-safe."""

    def __init__(self, *, tenant_id: str, metadata_delete_enabled: bool, now: Callable[[], datetime]) -> None:
        self.tenant_id = tenant_id
        self.metadata_delete_enabled = metadata_delete_enabled
        self.now = now
        self.lock = threading.RLock()
        self.sessions: dict[str, Session] = {}
        self.runs: dict[str, Run] = {}
        self.traces: dict[str, list[Run]] = {}  # trace id -> runs, root first
        self.datasets: dict[str, str] = {}
        self.examples: dict[str, Example] = {}
        self.queue: list[QueuedDelete] = []
        self.hidden: set[str] = set()  # projects the API key can no longer see

    def __repr__(self) -> str:
        return f"{type(self).__name__}(projects={len(self.sessions)}, traces={len(self.traces)})"

    # ---- projects and traces ---------------------------------------------------------------

    def add_project(self, name: str, project_id: str | None = None) -> str:
        """Create a project (tracing session); names are unique as in LangSmith."""
        sid = norm_uuid(project_id) if project_id else str(uuid.uuid4())
        if sid is None:
            raise ValueError(f"not a UUID: {project_id!r}")
        with self.lock:
            if sid in self.sessions or any(s.name == name for s in self.sessions.values()):
                raise ValueError(f"project exists: {name!r}")
            self.sessions[sid] = Session(sid, name, self.now())
        return sid

    def project_id(self, name: str) -> str:
        """The id of the project called ``name`` (KeyError if none)."""
        with self.lock:
            for session in self.sessions.values():
                if session.name == name:
                    return session.id
        raise KeyError(name)

    def add_trace(
        self,
        project_id: str,
        *,
        trace_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        child_metadata: list[dict[str, Any]] | None = None,
        start_time: datetime | None = None,
        name: str = "agent",
    ) -> str:
        """Create a root run (id == trace id) and one child run per ``child_metadata`` entry.

        ``start_time`` may be any time, past or future; the trace is stored (received) now, so an
        old ``start_time`` added after other traces is a trace ingested late.
        """
        tid = norm_uuid(trace_id) if trace_id else str(uuid.uuid4())
        if tid is None:
            raise ValueError(f"not a UUID: {trace_id!r}")
        now = self.now()
        ts = aware(start_time).timestamp() if start_time else now.timestamp()
        with self.lock:
            session = self._session(project_id)
            if tid in self.traces:
                raise ValueError(f"trace exists: {tid}")
            self._insert_trace(session, tid, ts, now.timestamp(), metadata, child_metadata, name)
        return tid

    def add_traces(
        self,
        project_id: str,
        count: int,
        *,
        metadata: dict[str, Any] | None = None,
        child_metadata: list[dict[str, Any]] | None = None,
        start_time: datetime | None = None,
        name: str = "agent",
    ) -> list[str]:
        """Bulk-create ``count`` traces, one millisecond apart going back from ``start_time`` (default now).

        The metadata dicts are shared between the traces (they are never mutated), which keeps
        100k+ traces cheap in memory.
        """
        now = self.now().timestamp()
        base = aware(start_time).timestamp() if start_time else now
        ids = [str(uuid.uuid4()) for _ in range(count)]
        with self.lock:
            session = self._session(project_id)
            for i, tid in enumerate(ids):
                self._insert_trace(session, tid, base - i * 0.001, now, metadata, child_metadata, name)
        return ids

    def _insert_trace(
        self,
        session: Session,
        tid: str,
        ts: float,
        received: float,
        metadata: dict[str, Any] | None,
        child_metadata: list[dict[str, Any]] | None,
        name: str,
    ) -> None:
        root = Run(tid, tid, session.id, None, name, "chain", ts, metadata or None, received)
        runs = [root]
        for i, meta in enumerate(child_metadata or ()):
            child = Run(
                str(uuid.uuid4()),
                tid,
                session.id,
                tid,
                f"step-{i}",
                "llm",
                ts + 0.0001 * (i + 1),
                meta or None,
                received,
            )
            runs.append(child)
        for run in runs:
            self.runs[run.id] = run
            session.runs.append(run)
        session.dirty = True
        self.traces[tid] = runs

    def hide_project(self, project_id: str) -> None:
        """The key loses sight of the project (a permission change, say): it is not listed,
        ``GET sessions/{id}`` is a 404, queries find none of its runs (v2: no error either) and the
        weekend job deletes none of its traces.  The data stays: a client that reads "nothing
        found" as "nothing there" is wrong here, and a test can show it."""
        with self.lock:
            self.hidden.add(self._session(project_id).id)

    def visible(self, session_id: str) -> Session | None:
        """The project if the key can see it."""
        return None if session_id in self.hidden else self.sessions.get(session_id)

    def _session(self, project_id: str) -> Session:
        sid = norm_uuid(project_id)
        if sid is None or sid not in self.sessions:
            raise KeyError(f"unknown project: {project_id}")
        return self.sessions[sid]

    # ---- datasets and examples -------------------------------------------------------------

    def add_dataset(self, name: str, dataset_id: str | None = None) -> str:
        """Create a dataset and return its id."""
        did = norm_uuid(dataset_id) if dataset_id else str(uuid.uuid4())
        if did is None:
            raise ValueError(f"not a UUID: {dataset_id!r}")
        with self.lock:
            self.datasets[did] = name
        return did

    def add_example(
        self,
        dataset_id: str,
        *,
        inputs: dict[str, Any],
        outputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        example_id: str | None = None,
        created_at: datetime | None = None,
        source_run_id: str | None = None,
    ) -> str:
        """Add an example to a dataset (created if unknown); its first version starts at ``created_at``."""
        eid = norm_uuid(example_id) if example_id else str(uuid.uuid4())
        did = norm_uuid(dataset_id)
        if eid is None or did is None:
            raise ValueError("example and dataset ids must be UUIDs")
        at = aware(created_at) if created_at else self.now()
        with self.lock:
            if eid in self.examples:
                raise ValueError(f"example exists: {eid}")
            self.datasets.setdefault(did, f"dataset-{did[:8]}")
            self.examples[eid] = Example(
                eid,
                did,
                f"#{eid[:4]} @ {self.datasets[did]}",
                at,
                source_run_id,
                [Version(at, dict(inputs), copy(outputs), copy(metadata))],
            )
        return eid

    def edit_example(
        self,
        example_id: str,
        *,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record a new version; fields not given carry over from the latest version."""
        with self.lock:
            example = self._example(example_id)
            last = example.versions[-1]
            example.versions.append(
                Version(
                    self._next_version_time(example, at),
                    copy(inputs) if inputs is not None else last.inputs,
                    copy(outputs) if outputs is not None else last.outputs,
                    copy(metadata) if metadata is not None else last.metadata,
                )
            )

    def remove_example_from_latest(self, example_id: str, *, at: datetime | None = None) -> None:
        """Soft delete: the example leaves the latest version but older versions still hold it."""
        with self.lock:
            example = self._example(example_id)
            last = example.versions[-1]
            when = self._next_version_time(example, at)
            example.versions.append(Version(when, last.inputs, last.outputs, last.metadata, removed=True))

    def example_versions(self, example_id: str) -> list[dict[str, Any]]:
        """Every stored version of an example (for assertions about hard deletes)."""
        with self.lock:
            return [dataclasses.asdict(v) for v in self._example(example_id).versions]

    def example(self, example_id: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The example as ``GET /examples/{id}`` would show it, or None."""
        with self.lock:
            example = self._example(example_id)
            version = example.at(as_of)
            return None if version is None else example_json(example, version)

    def _next_version_time(self, example: Example, at: datetime | None) -> datetime:
        when = aware(at) if at else self.now()
        last = example.versions[-1].at
        return when if when > last else last + timedelta(microseconds=1)

    def _example(self, example_id: str) -> Example:
        eid = norm_uuid(example_id)
        if eid is None or eid not in self.examples:
            raise KeyError(f"unknown example: {example_id}")
        return self.examples[eid]

    # ---- the weekend job and what it leaves ------------------------------------------------

    def pending_deletes(self) -> int:
        """How many accepted delete requests wait for the weekend job."""
        with self.lock:
            return len(self.queue)

    def run_weekend(self) -> int:
        """Apply every queued delete, as LangSmith's weekend job does; return traces deleted."""
        with self.lock:
            doomed = doomed_traces(self.queue, self.traces, self.hidden)
            self.queue.clear()
            touched: set[str] = set()
            for tid in doomed:
                for run in self.traces.pop(tid, ()):
                    self.runs.pop(run.id, None)
                    touched.add(run.session_id)
            for sid in touched:
                session = self.sessions[sid]
                session.runs = [r for r in session.runs if r.trace_id not in doomed]
            return len(doomed)

    def trace_exists(self, trace_id: str) -> bool:
        """True while the trace (its root run) is still stored."""
        tid = norm_uuid(trace_id)
        with self.lock:
            return tid is not None and tid in self.traces

    def trace_runs(self, trace_id: str) -> list[str]:
        """The ids of a stored trace's runs, root first (empty once deleted)."""
        tid = norm_uuid(trace_id)
        with self.lock:
            return [run.id for run in self.traces.get(tid or "", ())]

    def trace_count(self, project_id: str | None = None) -> int:
        """Traces stored, in one project or overall."""
        with self.lock:
            if project_id is None:
                return len(self.traces)
            return sum(1 for r in self._session(project_id).runs if r.parent_run_id is None)
