"""Ready-made workspaces: the demo's, and one described in JSON by ``POST /_sandbox/seed``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.wire import parse_time


def seed_demo(state: Workspace) -> dict[str, Any]:
    """A small workspace for ``purgebot demo``: one project, a subject ``user_id=123`` in five
    traces (one only via a child run), and a dataset with copies of two of them."""
    pid = state.add_project("support-bot")
    others = state.add_traces(pid, 40, metadata={"user_id": "456"})
    subject = [state.add_trace(pid, metadata={"user_id": "123", "channel": "web"}) for _ in range(4)]
    subject.append(state.add_trace(pid, metadata={"channel": "web"}, child_metadata=[{"user_id": "123"}]))
    did = state.add_dataset("support-examples")
    examples = [
        state.add_example(did, inputs={"q": "reset my password"}, outputs={"a": "done"}, metadata={"user_id": "123"}),
        state.add_example(
            did, inputs={"q": "where is my order"}, outputs={"a": "shipped"}, metadata={"user_id": "123"}
        ),
        state.add_example(did, inputs={"q": "hello"}, outputs={"a": "hi"}, metadata={"user_id": "456"}),
    ]
    state.remove_example_from_latest(examples[1])
    return {
        "project_id": pid,
        "subject_traces": subject,
        "other_traces": others,
        "dataset_id": did,
        "examples": examples,
    }


def seed_from_json(state: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """``{"project": name, "traces": n, "metadata": {...}, "child_metadata": [...], "start_time": iso}``
    and/or ``{"dataset": name, "examples": [{"inputs":..., "outputs":..., "metadata":...}]}``.

    ``start_time`` (default now) may be days or months ago: traces seeded after others with an old
    start are traces ingested late."""
    out: dict[str, Any] = {}
    if "project" in body:
        try:
            pid = state.project_id(body["project"])
        except KeyError:
            pid = state.add_project(body["project"])
        out["project_id"] = pid
        out["trace_ids"] = state.add_traces(
            pid,
            int(body.get("traces", 0)),
            metadata=body.get("metadata"),
            child_metadata=body.get("child_metadata"),
            start_time=_start_time(body.get("start_time")),
        )
    if "dataset" in body:
        did = state.add_dataset(body["dataset"])
        out["dataset_id"] = did
        out["example_ids"] = [
            state.add_example(did, inputs=ex.get("inputs", {}), outputs=ex.get("outputs"), metadata=ex.get("metadata"))
            for ex in body.get("examples", [])
        ]
    return out


def _start_time(raw: object) -> datetime | None:
    if raw is None:
        return None
    moment = parse_time(raw) if isinstance(raw, str) else None
    if moment is None:
        raise ValueError(f"start_time must be an ISO 8601 time, not {raw!r}")
    return moment
