"""v1 ``POST runs/query`` over real loopback HTTP: strict validation, the filters given, cursor pages."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from standin_http import all_runs, assert_fastapi_422, query

from bot.sandbox.langsmith import FakeLangSmith


@pytest.mark.parametrize("path", ["/api/v1/runs/delete", "/api/v1/runs/query"])
def test_malformed_json_is_a_422(langsmith_http: tuple[FakeLangSmith, httpx.Client], path: str) -> None:
    _, http = langsmith_http
    r = http.post(path, content=b'{"session_id": ', headers={"Content-Type": "application/json"})
    assert assert_fastapi_422(r)[0]["type"] == "json_invalid"


def test_query_validation(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    assert assert_fastapi_422(query(http, {"session": pid}))[0]["loc"] == ["body", "session"]
    for limit in (0, 101):
        assert assert_fastapi_422(query(http, {"session": [pid], "limit": limit}))[0]["loc"] == [
            "body",
            "limit",
        ]
    bad = query(http, {"session": [pid], "filter": "eq(metadata_key, "})
    assert bad.status_code == 400
    assert isinstance(bad.json()["detail"], str)
    assert query(http, {"session": [pid], "cursor": "garbage!"}).status_code == 400


def test_pagination_covers_every_run_exactly_once_newest_first(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    fake.add_traces(pid, 120, child_metadata=[{"step": "1"}])  # 240 runs
    other = fake.add_project("other")
    fake.add_traces(other, 5)
    runs = all_runs(http, {"session": [pid], "limit": 7, "select": ["id", "start_time"]})
    ids = [r["id"] for r in runs]
    assert len(ids) == 240 == len(set(ids))
    assert set(runs[0]) == {"id", "start_time"}
    times = [r["start_time"] for r in runs]
    assert times == sorted(times, reverse=True)
    roots = all_runs(http, {"session": [pid], "is_root": True, "select": ["id", "trace_id"]})
    assert len(roots) == 120 and all(r["id"] == r["trace_id"] for r in roots)
    asc = all_runs(http, {"session": [pid], "order": "asc", "limit": 50})
    assert [r["id"] for r in asc] == list(reversed(ids))


def test_cursor_comes_back_in_the_body_and_is_null_on_the_last_page(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    fake.add_traces(pid, 3)
    page = query(http, {"session": [pid], "limit": 2}).json()
    assert set(page) >= {"runs", "cursors"} and isinstance(page["cursors"]["next"], str)
    last = query(http, {"session": [pid], "limit": 2, "cursor": page["cursors"]["next"]}).json()
    assert len(last["runs"]) == 1 and last["cursors"]["next"] is None


def test_id_query_ignores_other_filters_and_finds_only_stored_runs(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    a, b = fake.add_project("a"), fake.add_project("b")
    in_a = fake.add_traces(a, 150)
    in_b = fake.add_trace(b)
    asked = [*in_a[:60], in_b, str(uuid.uuid4())]
    runs = all_runs(http, {"session": [a], "id": asked, "is_root": False, "select": ["id", "trace_id", "session_id"]})
    assert {r["id"] for r in runs} == {*in_a[:60], in_b}
    assert {r["session_id"] for r in runs if r["id"] == in_b} == {b}


def test_bulk_seeding_is_cheap_and_id_lookups_do_not_scan(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("big")
    ids = fake.add_traces(pid, 20_000, metadata={"tenant": "acme"})
    assert fake.trace_count(pid) == 20_000
    runs = all_runs(http, {"session": [pid], "id": ids[10_000:10_100], "select": ["id"]})
    assert {r["id"] for r in runs} == set(ids[10_000:10_100])


@pytest.mark.parametrize(
    ("extra", "loc", "type_"),
    [
        ({"project_ids": ["S"]}, ["body", "project_ids"], "extra_forbidden"),
        ({"sessions": ["S"]}, ["body", "sessions"], "extra_forbidden"),
        ({"page_size": 10}, ["body", "page_size"], "extra_forbidden"),
        ({"end_time": "2026-01-01T00:00:00Z"}, ["body", "end_time"], "not_implemented"),
        ({"error": False}, ["body", "error"], "not_implemented"),
        ({"select": ["id", "inputs"]}, ["body", "select", 1], "enum"),
        ({"select": ["ID"]}, ["body", "select", 0], "enum"),
        ({"select": "id"}, ["body", "select"], "list_type"),
        ({"run_type": "agent"}, ["body", "run_type"], "enum"),
    ],
)
def test_unknown_fields_and_selects_are_refused(
    langsmith_http: tuple[FakeLangSmith, httpx.Client], extra: dict[str, Any], loc: list[Any], type_: str
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    filled = {k: ([pid] if v == ["S"] else v) for k, v in extra.items()}
    [problem] = assert_fastapi_422(query(http, {"session": [pid], **filled}))
    assert problem["loc"] == loc and problem["type"] == type_


def test_every_field_the_bot_sends_is_served(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    """The bodies ``bot.langsmith`` builds (and the other served fields) pass the strict check."""
    fake, http = langsmith_http
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, metadata={"user_id": "123"})
    body = {
        "session": [pid],
        "is_root": True,
        "tree_filter": 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))',
        "filter": 'eq(metadata_key, "user_id")',
        "trace_filter": 'eq(name, "agent")',
        "select": ["id", "trace_id", "start_time", "session_id"],
        "start_time": "2000-01-01T00:00:00+00:00",
        "trace": tid,
        "run_type": "chain",
        "order": "desc",
        "limit": 100,
    }
    runs = all_runs(http, body)
    assert [(r["id"], r["session_id"]) for r in runs] == [(tid, pid)]
    by_id = all_runs(http, {"session": [pid], "id": [tid], "select": ["id", "trace_id", "session_id"], "limit": 100})
    assert [r["id"] for r in by_id] == [tid]
