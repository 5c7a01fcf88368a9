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


def v2_query(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """One v2 ``POST /api/v2/runs/query``."""
    return http.post("/api/v2/runs/query", json=body)


def v2_items(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item v2 ``runs/query`` returns for ``body``, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    payload = dict(body)
    while True:
        r = v2_query(http, payload)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"items", "next_cursor"}
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        payload["cursor"] = page["next_cursor"]


def assert_v2_error(r: httpx.Response, status: int, code: str) -> str:
    """The answer is a v2 error with this status and code; returns its message."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "code", "status"}, body
    assert body["error"]["code"] == code and body["error"]["status"] == status
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return message
