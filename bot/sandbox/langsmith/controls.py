"""``/_sandbox/...``: unauthenticated controls, so a test can drive a stand-in in another process.

``POST weekend``, ``POST inject``, ``POST inject_random``, ``POST clear_faults``, ``GET calls``,
``POST seed``, ``GET status``, ``POST backend`` (``{"backend": "smithdb"}``), ``POST hide_project``
(``{"project_id": ...}``).  A control body that makes no sense is a 400 naming the problem.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.sandbox.langsmith.faults import Fault
from bot.sandbox.langsmith.seeding import seed_from_json
from bot.sandbox.langsmith.wire import split_path

if TYPE_CHECKING:
    from bot.sandbox.langsmith.service import FakeLangSmith

Control = Callable[["FakeLangSmith", dict[str, Any]], Any]


async def control(state: FakeLangSmith, request: Request) -> Response:
    """Answer one ``/_sandbox/...`` call."""
    _, action = split_path(request.url.path)
    handler = _CONTROLS.get((request.method, action))
    if handler is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    try:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return JSONResponse(handler(state, body))
    except (KeyError, TypeError, ValueError) as exc:
        return JSONResponse({"detail": f"bad {action}: {exc}"}, status_code=400)


def _inject(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    fault = dict(body)
    state.inject(fault.pop("path"), **fault)
    return {"ok": True}


def _inject_random(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    state.inject_random(
        body["path"],
        rate=float(body["rate"]),
        faults=[Fault.from_json(item) for item in body.get("faults", [])],
        seed=int(body.get("seed", 0)),
        times=body.get("times"),
    )
    return {"ok": True}


def _clear_faults(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    state.clear_faults()
    return {"ok": True}


def _hide_project(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    state.hide_project(body["project_id"])
    return {"ok": True}


def _backend(state: FakeLangSmith, body: dict[str, Any]) -> dict[str, Any]:
    state.backend = body["backend"]
    return {"backend": state.backend}


_CONTROLS: dict[tuple[str, str], Control] = {
    ("POST", "weekend"): lambda state, body: {"deleted": state.run_weekend()},
    ("POST", "inject"): _inject,
    ("POST", "inject_random"): _inject_random,
    ("POST", "clear_faults"): _clear_faults,
    ("GET", "calls"): lambda state, body: {"calls": [dataclasses.asdict(c) for c in state.calls]},
    ("GET", "status"): lambda state, body: {"pending_deletes": state.pending_deletes(), "traces": state.trace_count()},
    ("POST", "seed"): seed_from_json,
    ("POST", "backend"): _backend,
    ("POST", "hide_project"): _hide_project,
}
