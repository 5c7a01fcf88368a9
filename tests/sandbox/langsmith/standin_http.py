"""Helpers for the LangSmith stand-in's own tests: calls and assertions over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from bot.sandbox.langsmith import DEFAULT_API_KEY

KEY = DEFAULT_API_KEY


def query(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """One v1 ``POST runs/query``."""
    return http.post("/api/v1/runs/query", json=body)


def all_runs(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run v1 ``runs/query`` returns for ``body``, following ``cursors.next``."""
    runs: list[dict[str, Any]] = []
    payload = dict(body)
    while True:
        r = query(http, payload)
        assert r.status_code == 200, r.text
        page = r.json()
        runs.extend(page["runs"])
        if not page["runs"] or not page["cursors"]["next"]:
            return runs
        payload["cursor"] = page["cursors"]["next"]


def assert_fastapi_422(r: httpx.Response) -> list[dict[str, Any]]:
    """The answer is FastAPI's validation error; returns its ``detail`` list."""
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= item.keys()
    return detail


class Ticks:
    """A monotonic clock a test moves by hand (``FakeLangSmith(monotonic=...)``), so rate windows
    are crossed without sleeping and calls never straddle a window by accident."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
