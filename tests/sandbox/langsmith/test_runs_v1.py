"""v1 ``runs/delete`` and ``runs/query`` over real loopback HTTP: queued deletes, validation, cursor pages."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import all_runs, assert_fastapi_422, query

from bot.sandbox.langsmith import FakeLangSmith


def test_delete_is_queued_even_for_unknown_ids_and_applied_only_at_the_weekend(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("prod")
    keep, gone1, gone2 = fake.add_traces(pid, 3)
    unknown = str(uuid.uuid4())
    r = http.post("/api/v1/runs/delete", json={"session_id": pid, "trace_ids": [gone1, gone2.upper(), unknown]})
    assert r.status_code == 202
    assert r.json() == {"message": "Run deletes queued"}
    assert fake.trace_exists(gone1) and fake.trace_exists(gone2)
    assert fake.pending_deletes() == 1
    assert fake.run_weekend() == 2
    assert not fake.trace_exists(gone1) and not fake.trace_exists(gone2)
    assert fake.trace_exists(keep)
    assert fake.pending_deletes() == 0
    assert {run["id"] for run in all_runs(http, {"session": [pid]})} == {keep}


def test_trace_delete_only_touches_the_named_project(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    a, b = fake.add_project("a"), fake.add_project("b")
    in_b = fake.add_trace(b)
    r = http.post("/api/v1/runs/delete", json={"session_id": a, "trace_ids": [in_b]})
    assert r.status_code == 202
    assert fake.run_weekend() == 0
    assert fake.trace_exists(in_b)


def test_metadata_delete_is_workspace_wide_or_matched_and_takes_whole_traces(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    a, b = fake.add_project("a"), fake.add_project("b")
    by_root = fake.add_trace(a, metadata={"user_id": "123"})
    by_child = fake.add_trace(b, metadata={"env": "prod"}, child_metadata=[{"email": "x@y.z"}])
    other = fake.add_trace(a, metadata={"user_id": "456"}, child_metadata=[{"email": "other@y.z"}])
    r = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "123", "email": "x@y.z"}})
    assert r.status_code == 202
    assert fake.run_weekend() == 2
    assert not fake.trace_exists(by_root) and not fake.trace_exists(by_child)
    assert fake.trace_exists(other)
    assert all_runs(http, {"session": [b]}) == []  # the child run went with its trace


def test_metadata_delete_refused_when_not_enabled(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(metadata_delete_enabled=False)
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, metadata={"user_id": "1"})
    r = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "1"}})
    assert r.status_code == 403
    assert "bulk run deletes are not enabled" in r.json()["detail"]
    assert fake.pending_deletes() == 0
    r = http.post("/api/v1/runs/delete", json={"session_id": pid, "trace_ids": [tid]})
    assert r.status_code == 202


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"session_id": "S", "trace_ids": ["T"] * 1001}, ["body", "trace_ids"]),
        ({"session_id": "S", "trace_ids": ["not-a-uuid"]}, ["body", "trace_ids", 0]),
        ({"session_id": "nope", "trace_ids": ["T"]}, ["body", "session_id"]),
        ({"trace_ids": ["T"]}, ["body", "session_id"]),
        ({"metadata": {"user_id": 123}}, ["body", "metadata", "user_id"]),
        ({}, ["body"]),
    ],
)
def test_delete_validation_is_a_fastapi_422(
    langsmith_http: tuple[FakeLangSmith, httpx.Client], body: dict[str, Any], loc: list[Any]
) -> None:
    fake, http = langsmith_http
    sid, tid = str(uuid.uuid4()), str(uuid.uuid4())
    text = json.dumps(body).replace('"S"', json.dumps(sid)).replace('"T"', json.dumps(tid))
    r = http.post("/api/v1/runs/delete", content=text, headers={"Content-Type": "application/json"})
    detail = assert_fastapi_422(r)
    assert detail[0]["loc"] == loc
    assert fake.pending_deletes() == 0


def test_exactly_1000_ids_are_accepted(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    _, http = langsmith_http
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    r = http.post("/api/v1/runs/delete", json={"session_id": str(uuid.uuid4()), "trace_ids": ids})
    assert r.status_code == 202


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
