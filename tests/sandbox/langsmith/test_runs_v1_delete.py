"""v1 ``POST runs/delete`` over real loopback HTTP: queued until the weekend, by trace ids or by
metadata within a start-time range, and validated strictly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import all_runs, assert_fastapi_422

from bot.sandbox.langsmith import FakeLangSmith

SINCE = "2000-01-01T00:00:00Z"  # a metadata delete needs a start; this one reaches every seeded trace
NOW = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)


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
    body = {"metadata": {"user_id": "123", "email": "x@y.z"}, "start_time": SINCE}
    r = http.post("/api/v1/runs/delete", json=body)
    assert r.status_code == 202
    assert fake.run_weekend() == 2
    assert not fake.trace_exists(by_root) and not fake.trace_exists(by_child)
    assert fake.trace_exists(other)
    assert all_runs(http, {"session": [b]}) == []  # the child run went with its trace


def test_metadata_delete_refused_when_not_enabled(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(metadata_delete_enabled=False)
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, metadata={"user_id": "1"})
    r = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "1"}, "start_time": SINCE})
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
        ({"metadata": {"user_id": "1"}}, ["body", "start_time"]),
        ({"metadata": {}, "start_time": "2026-01-01T00:00:00Z"}, ["body", "metadata"]),
        ({"metadata": {"user_id": "1"}, "start_time": "last week"}, ["body", "start_time"]),
        (
            {"metadata": {"u": "1"}, "start_time": "2026-02-01T00:00:00Z", "end_time": "2026-01-01"},
            ["body", "end_time"],
        ),
        ({"session_id": "S", "trace_ids": ["T"], "start_time": "2026-01-01T00:00:00Z"}, ["body", "start_time"]),
        ({"session_id": "S", "trace_ids": ["T"], "end_time": "2026-01-01T00:00:00Z"}, ["body", "end_time"]),
        ({"session_id": "S", "trace_ids": ["T"], "delete_examples": "yes"}, ["body", "delete_examples"]),
        ({"session_id": "S", "trace_ids": ["T"], "project_id": "S"}, ["body", "project_id"]),
        ({"run_ids": ["T"]}, ["body", "run_ids"]),
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


def test_a_metadata_delete_without_start_time_is_refused_naming_the_field(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    fake.add_trace(fake.add_project("p"), metadata={"user_id": "123"})
    r = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "123"}})
    [problem] = assert_fastapi_422(r)
    assert problem["loc"] == ["body", "start_time"] and problem["type"] == "missing"
    assert "start_time" in problem["msg"]
    assert fake.pending_deletes() == 0 and fake.run_weekend() == 0


def test_a_metadata_delete_takes_only_traces_that_started_within_its_bounds(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(now=lambda: NOW)
    pid = fake.add_project("p")
    subject = {"user_id": "123"}
    days = {age: fake.add_trace(pid, metadata=subject, start_time=NOW - timedelta(days=age)) for age in (3, 30, 300)}
    since = (NOW - timedelta(days=31)).isoformat()
    assert http.post("/api/v1/runs/delete", json={"metadata": subject, "start_time": since}).status_code == 202
    late = fake.add_trace(pid, metadata=subject, start_time=NOW - timedelta(days=10))  # ingested after the request
    assert fake.run_weekend() == 3
    assert [age for age, tid in days.items() if fake.trace_exists(tid)] == [300]
    assert not fake.trace_exists(late)
    bounded = {"metadata": subject, "start_time": "2026-01-01T00:00:00", "end_time": "2026-05-01T00:00:00+00:00"}
    assert http.post("/api/v1/runs/delete", json=bounded).status_code == 202
    assert fake.run_weekend() == 1  # 300 days before NOW is April 2026
    assert not fake.trace_exists(days[300])


def test_metadata_values_may_be_any_json_and_match_as_json(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    number = fake.add_trace(pid, metadata={"user_id": 123})
    text = fake.add_trace(pid, metadata={"user_id": "123"})
    nested = fake.add_trace(pid, child_metadata=[{"who": {"id": 7, "tags": ["a"]}}])
    body = {"metadata": {"user_id": 123, "who": {"id": 7, "tags": ["a"]}}, "start_time": SINCE}
    assert http.post("/api/v1/runs/delete", json=body).status_code == 202
    assert fake.run_weekend() == 2
    assert not fake.trace_exists(number) and not fake.trace_exists(nested)
    assert fake.trace_exists(text)


def test_delete_examples_is_accepted_and_leaves_the_dataset_copies(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, metadata={"user_id": "123"})
    eid = fake.add_example(fake.add_dataset("d"), inputs={"q": "secret"}, source_run_id=tid)
    body = {"metadata": {"user_id": "123"}, "start_time": SINCE, "delete_examples": True}
    assert http.post("/api/v1/runs/delete", json=body).status_code == 202
    assert fake.run_weekend() == 1
    example = fake.example(eid)
    assert example is not None and example["inputs"] == {"q": "secret"}  # hard-delete examples yourself
