"""The LangSmith stand-in over real loopback HTTP: status codes, shapes, limits, weekend deletes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Slot

from bot.sandbox.langsmith_server import FakeLangSmith, FilterError, create_app, parse_filter

KEY = "lsv2_sandbox_key"
Start = Callable[..., tuple[FakeLangSmith, httpx.Client]]


@pytest.fixture
def start(servers: Callable[[int], tuple[Slot, str]]) -> Iterator[Start]:
    """Start a stand-in with the given options; returns it and an authenticated client."""
    with ExitStack() as stack:
        used = 0

        def _start(**options: Any) -> tuple[FakeLangSmith, httpx.Client]:
            nonlocal used
            fake = FakeLangSmith(**options)
            slot, url = servers(used)
            used += 1
            slot.app = create_app(fake)
            client = stack.enter_context(httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=10))
            return fake, client

        yield _start


@pytest.fixture
def fake_and_http(start: Start) -> tuple[FakeLangSmith, httpx.Client]:
    """A stand-in whose query limit is out of the way (the limit tests start their own)."""
    return start(query_limit=(10_000, 10.0))


def _query(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post("/api/v1/runs/query", json=body)


def _all_runs(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    payload = dict(body)
    while True:
        r = _query(http, payload)
        assert r.status_code == 200, r.text
        page = r.json()
        runs.extend(page["runs"])
        if not page["runs"] or not page["cursors"]["next"]:
            return runs
        payload["cursor"] = page["cursors"]["next"]


def _assert_fastapi_422(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= item.keys()
    return detail


# ---- deletes and the weekend ---------------------------------------------------------------


def test_delete_is_queued_even_for_unknown_ids_and_applied_only_at_the_weekend(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
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
    assert {run["id"] for run in _all_runs(http, {"session": [pid]})} == {keep}


def test_trace_delete_only_touches_the_named_project(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    a, b = fake.add_project("a"), fake.add_project("b")
    in_b = fake.add_trace(b)
    r = http.post("/api/v1/runs/delete", json={"session_id": a, "trace_ids": [in_b]})
    assert r.status_code == 202
    assert fake.run_weekend() == 0
    assert fake.trace_exists(in_b)


def test_metadata_delete_is_workspace_wide_or_matched_and_takes_whole_traces(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    a, b = fake.add_project("a"), fake.add_project("b")
    by_root = fake.add_trace(a, metadata={"user_id": "123"})
    by_child = fake.add_trace(b, metadata={"env": "prod"}, child_metadata=[{"email": "x@y.z"}])
    other = fake.add_trace(a, metadata={"user_id": "456"}, child_metadata=[{"email": "other@y.z"}])
    r = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "123", "email": "x@y.z"}})
    assert r.status_code == 202
    assert fake.run_weekend() == 2
    assert not fake.trace_exists(by_root) and not fake.trace_exists(by_child)
    assert fake.trace_exists(other)
    assert _all_runs(http, {"session": [b]}) == []  # the child run went with its trace


def test_metadata_delete_refused_when_not_enabled(start: Start) -> None:
    fake, http = start(metadata_delete_enabled=False)
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
    fake_and_http: tuple[FakeLangSmith, httpx.Client], body: dict[str, Any], loc: list[Any]
) -> None:
    fake, http = fake_and_http
    sid, tid = str(uuid.uuid4()), str(uuid.uuid4())
    text = json.dumps(body).replace('"S"', json.dumps(sid)).replace('"T"', json.dumps(tid))
    r = http.post("/api/v1/runs/delete", content=text, headers={"Content-Type": "application/json"})
    detail = _assert_fastapi_422(r)
    assert detail[0]["loc"] == loc
    assert fake.pending_deletes() == 0


def test_exactly_1000_ids_are_accepted(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    _, http = fake_and_http
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    r = http.post("/api/v1/runs/delete", json={"session_id": str(uuid.uuid4()), "trace_ids": ids})
    assert r.status_code == 202


@pytest.mark.parametrize("path", ["/api/v1/runs/delete", "/api/v1/runs/query"])
def test_malformed_json_is_a_422(fake_and_http: tuple[FakeLangSmith, httpx.Client], path: str) -> None:
    _, http = fake_and_http
    r = http.post(path, content=b'{"session_id": ', headers={"Content-Type": "application/json"})
    assert _assert_fastapi_422(r)[0]["type"] == "json_invalid"


# ---- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
def test_missing_or_wrong_key_is_401(
    fake_and_http: tuple[FakeLangSmith, httpx.Client], headers: dict[str, str]
) -> None:
    fake, http = fake_and_http
    r = httpx.get(str(http.base_url.join("/api/v1/sessions")), headers=headers)
    assert r.status_code == 401
    assert "detail" in r.json()
    assert all(KEY not in json.dumps(c.headers) for c in fake.calls)  # the key is never recorded


def test_key_header_name_is_case_insensitive(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    _, http = fake_and_http
    r = httpx.get(str(http.base_url.join("/api/v1/sessions")), headers={"x-api-key": KEY})
    assert r.status_code == 200


def test_org_scoped_key_needs_the_workspace_header(start: Start) -> None:
    tenant = str(uuid.uuid4())
    _, http = start(require_tenant=tenant)
    r = http.get("/api/v1/sessions")
    assert r.status_code == 403
    assert r.json()["error"] == "org_scoped_key_requires_workspace"
    assert http.get("/api/v1/sessions", headers={"X-Tenant-Id": str(uuid.uuid4())}).status_code == 403
    ok = http.get("/api/v1/sessions", headers={"X-Tenant-Id": tenant})
    assert ok.status_code == 200


# ---- sessions ------------------------------------------------------------------------------


def test_sessions_by_name_contains_and_id(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = fake_and_http
    prod = fake.add_project("prod")
    fake.add_project("prod-eu")
    staging = fake.add_project("staging")
    r = http.get("/api/v1/sessions", params={"name": "prod", "limit": 1})
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and [s["id"] for s in body] == [prod]
    assert {"id", "tenant_id", "name", "start_time"} <= body[0].keys()
    assert http.get("/api/v1/sessions", params={"name": "Prod"}).json() == []
    names = {s["name"] for s in http.get("/api/v1/sessions", params={"name_contains": "PROD"}).json()}
    assert names == {"prod", "prod-eu"}
    by_id = http.get("/api/v1/sessions", params=[("id", prod), ("id", staging)]).json()
    assert {s["id"] for s in by_id} == {prod, staging}
    assert http.get(f"/api/v1/sessions/{staging}").json()["name"] == "staging"
    missing = http.get(f"/api/v1/sessions/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found"}


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_sessions_limit_out_of_range_is_422(fake_and_http: tuple[FakeLangSmith, httpx.Client], limit: str) -> None:
    _, http = fake_and_http
    detail = _assert_fastapi_422(http.get("/api/v1/sessions", params={"limit": limit}))
    assert detail[0]["loc"] == ["query", "limit"]


def test_sessions_page_by_offset(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = fake_and_http
    made = {fake.add_project(f"p{i}") for i in range(7)}
    seen: list[str] = []
    for offset in range(0, 9, 3):
        seen += [s["id"] for s in http.get("/api/v1/sessions", params={"offset": offset, "limit": 3}).json()]
    assert sorted(seen) == sorted(made)


# ---- runs/query ----------------------------------------------------------------------------


def test_query_validation(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = fake_and_http
    pid = fake.add_project("p")
    assert _assert_fastapi_422(_query(http, {"session": pid}))[0]["loc"] == ["body", "session"]
    for limit in (0, 101):
        assert _assert_fastapi_422(_query(http, {"session": [pid], "limit": limit}))[0]["loc"] == [
            "body",
            "limit",
        ]
    bad = _query(http, {"session": [pid], "filter": "eq(metadata_key, "})
    assert bad.status_code == 400
    assert isinstance(bad.json()["detail"], str)
    assert _query(http, {"session": [pid], "cursor": "garbage!"}).status_code == 400


def test_pagination_covers_every_run_exactly_once_newest_first(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    pid = fake.add_project("p")
    fake.add_traces(pid, 120, child_metadata=[{"step": "1"}])  # 240 runs
    other = fake.add_project("other")
    fake.add_traces(other, 5)
    runs = _all_runs(http, {"session": [pid], "limit": 7, "select": ["id", "start_time"]})
    ids = [r["id"] for r in runs]
    assert len(ids) == 240 == len(set(ids))
    assert set(runs[0]) == {"id", "start_time"}
    times = [r["start_time"] for r in runs]
    assert times == sorted(times, reverse=True)
    roots = _all_runs(http, {"session": [pid], "is_root": True, "select": ["id", "trace_id"]})
    assert len(roots) == 120 and all(r["id"] == r["trace_id"] for r in roots)
    asc = _all_runs(http, {"session": [pid], "order": "asc", "limit": 50})
    assert [r["id"] for r in asc] == list(reversed(ids))


def test_cursor_comes_back_in_the_body_and_is_null_on_the_last_page(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    pid = fake.add_project("p")
    fake.add_traces(pid, 3)
    page = _query(http, {"session": [pid], "limit": 2}).json()
    assert set(page) >= {"runs", "cursors"} and isinstance(page["cursors"]["next"], str)
    last = _query(http, {"session": [pid], "limit": 2, "cursor": page["cursors"]["next"]}).json()
    assert len(last["runs"]) == 1 and last["cursors"]["next"] is None


def test_id_query_ignores_other_filters_and_finds_only_stored_runs(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    a, b = fake.add_project("a"), fake.add_project("b")
    in_a = fake.add_traces(a, 150)
    in_b = fake.add_trace(b)
    asked = [*in_a[:60], in_b, str(uuid.uuid4())]
    runs = _all_runs(http, {"session": [a], "id": asked, "is_root": False, "select": ["id", "trace_id", "session_id"]})
    assert {r["id"] for r in runs} == {*in_a[:60], in_b}
    assert {r["session_id"] for r in runs if r["id"] == in_b} == {b}


@pytest.fixture
def filter_world(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> dict[str, Any]:
    fake, http = fake_and_http
    pid = fake.add_project("p")
    t = {
        "root": fake.add_trace(pid, metadata={"user_id": "123"}),
        "child": fake.add_trace(pid, metadata={"user_id": "456"}, child_metadata=[{"user_id": "123"}]),
        "split": fake.add_trace(pid, metadata={"user_id": "999", "note": "123"}),
        "email": fake.add_trace(pid, metadata={"email": "o'brien@x.io"}),
        "none": fake.add_trace(pid),
    }
    return {"http": http, "pid": pid, "t": t, "fake": fake}


PAIR = 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))'


def _traces_of(world: dict[str, Any], body: dict[str, Any]) -> set[str]:
    runs = _all_runs(world["http"], {"session": [world["pid"]], "select": ["id", "trace_id"], **body})
    names = {v: k for k, v in world["t"].items()}
    return {names[r["trace_id"]] for r in runs}


def test_filter_pair_binds_key_and_value_to_one_entry(filter_world: dict[str, Any]) -> None:
    runs = _all_runs(filter_world["http"], {"session": [filter_world["pid"]], "filter": PAIR})
    # the root of "root" and the child run of "child" match; "split" has 123 under another key
    assert len(runs) == 2
    assert _traces_of(filter_world, {"filter": PAIR}) == {"root", "child"}
    assert _traces_of(filter_world, {"filter": PAIR, "is_root": True}) == {"root"}


def test_tree_filter_finds_traces_through_child_runs(filter_world: dict[str, Any]) -> None:
    roots = _all_runs(filter_world["http"], {"session": [filter_world["pid"]], "tree_filter": PAIR, "is_root": True})
    assert {r["id"] for r in roots} == {filter_world["t"]["root"], filter_world["t"]["child"]}
    assert _traces_of(filter_world, {"trace_filter": PAIR}) == {"root"}


def test_filter_or_in_neq_and_quotes(filter_world: dict[str, Any]) -> None:
    either = (
        "or(and(eq(metadata_key, 'user_id'), eq(metadata_value, '999')),"
        " and(eq(metadata_key, \"email\"), eq(metadata_value, 'o\\'brien@x.io')))"
    )
    assert _traces_of(filter_world, {"filter": either}) == {"split", "email"}
    keys = 'and(in(metadata_key, ["note", "email"]), neq(metadata_value, "nothing"))'
    assert _traces_of(filter_world, {"filter": keys}) == {"split", "email"}
    by_id = f'in(trace_id, ["{filter_world["t"]["none"]}"])'
    assert _traces_of(filter_world, {"filter": by_id}) == {"none"}
    assert _traces_of(filter_world, {"filter": 'eq(run_type, "llm")'}) == {"child"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "eq(metadata_key)",
        "gt(metadata_value, '1')",
        "eq(colour, 'x')",
        "and(eq(id, 'x')",
        "eq(id, 'x') junk",
    ],
)
def test_unparsable_filters_raise(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


# ---- rate limits ---------------------------------------------------------------------------


def test_sixteenth_query_in_the_window_gets_429_with_retry_after(start: Start) -> None:
    fake, http = start()
    pid = fake.add_project("p")
    for _ in range(15):
        assert _query(http, {"session": [pid], "limit": 1}).status_code == 200
    r = _query(http, {"session": [pid], "limit": 1})
    assert r.status_code == 429
    assert r.json() == {"detail": "Too many requests"}
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 10
    assert http.get("/api/v1/sessions").status_code == 200  # other calls have their own budget


def test_window_slides_and_retry_after_can_be_withheld(start: Start) -> None:
    fake, http = start(query_limit=(2, 0.3), send_retry_after=False)
    pid = fake.add_project("p")
    assert [_query(http, {"session": [pid]}).status_code for _ in range(3)] == [200, 200, 429]
    assert "Retry-After" not in _query(http, {"session": [pid]}).headers
    time.sleep(0.35)
    assert _query(http, {"session": [pid]}).status_code == 200


def test_default_limit_covers_other_calls(start: Start) -> None:
    _, http = start(default_limit=(3, 10.0))
    statuses = [http.get("/api/v1/sessions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


# ---- examples ------------------------------------------------------------------------------


def test_examples_as_of_selects_the_version_in_force(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": "v1"}, metadata={"user_id": "123"}, created_at=t0)
    fake.edit_example(eid, inputs={"q": "v2"}, metadata={"user_id": "999"}, at=t0 + timedelta(days=1))
    fake.remove_example_from_latest(eid, at=t0 + timedelta(days=2))
    fake.add_example(did, inputs={"q": "other"}, metadata={"user_id": "123", "x": "y"}, created_at=t0)

    def search(as_of: str | None, user: str) -> list[dict[str, Any]]:
        params = {"metadata": json.dumps({"user_id": user})}
        if as_of:
            params["as_of"] = as_of
        r = http.get("/api/v1/examples", params=params)
        assert r.status_code == 200, r.text
        return [e for e in r.json() if e["id"] == eid]

    assert search(None, "123") == [] and search("latest", "999") == []  # removed from latest
    first = search((t0 + timedelta(hours=1)).isoformat(), "123")
    assert first and first[0]["inputs"] == {"q": "v1"}
    assert {
        "id",
        "dataset_id",
        "name",
        "inputs",
        "outputs",
        "metadata",
        "created_at",
        "modified_at",
    } <= first[0].keys()
    assert search((t0 + timedelta(hours=30)).isoformat(), "999")[0]["inputs"] == {"q": "v2"}
    assert search((t0 - timedelta(hours=1)).isoformat(), "123") == []
    # containment: both pairs must be present
    both = http.get("/api/v1/examples", params={"metadata": json.dumps({"user_id": "123", "x": "y"})}).json()
    assert len(both) == 1 and both[0]["inputs"] == {"q": "other"}
    assert http.get(f"/api/v1/examples/{eid}").status_code == 404
    old = http.get(f"/api/v1/examples/{eid}", params={"as_of": "2026-01-01T12:00:00Z"})
    assert old.status_code == 200 and old.json()["metadata"] == {"user_id": "123"}
    assert _assert_fastapi_422(http.get("/api/v1/examples", params={"limit": 101}))


@pytest.mark.parametrize("platform", ["/v1/platform", "/api/v1/platform"])
def test_hard_delete_nulls_every_version_and_counts_existing_ids(
    fake_and_http: tuple[FakeLangSmith, httpx.Client], platform: str
) -> None:
    fake, http = fake_and_http
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": "secret"}, outputs={"a": "x"}, metadata={"u": "1"}, created_at=t0)
    fake.edit_example(eid, inputs={"q": "secret 2"}, at=t0 + timedelta(days=1))
    keep = fake.add_example(did, inputs={"q": "keep"}, created_at=t0)
    r = http.post(
        f"{platform}/datasets/examples/delete",
        json={"example_ids": [eid, str(uuid.uuid4())], "hard_delete": True},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 1, "example_ids": [eid]}
    assert all(
        v["inputs"] is None and v["outputs"] is None and v["metadata"] is None for v in fake.example_versions(eid)
    )
    old = http.get(f"/api/v1/examples/{eid}", params={"as_of": (t0 + timedelta(hours=1)).isoformat()}).json()
    assert old["inputs"] is None and old["metadata"] is None and old["id"] == eid
    assert http.get(f"/api/v1/examples/{keep}").json()["inputs"] == {"q": "keep"}
    assert fake.calls[-3].path == f"{platform}/datasets/examples/delete"


@pytest.mark.parametrize(
    "body",
    [
        {"example_ids": [], "hard_delete": True},
        {"hard_delete": True},
        {"example_ids": ["E"] * 1001, "hard_delete": True},
        {"example_ids": ["E"], "hard_delete": False},
        {"example_ids": ["E"]},
    ],
)
def test_hard_delete_validation(fake_and_http: tuple[FakeLangSmith, httpx.Client], body: dict[str, Any]) -> None:
    _, http = fake_and_http
    text = json.dumps(body).replace('"E"', json.dumps(str(uuid.uuid4())))
    r = http.post("/v1/platform/datasets/examples/delete", content=text, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert isinstance(r.json()["error"], str)


# ---- layouts, faults, sandbox controls -----------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v1", ""])
def test_v1_routes_answer_under_both_prefixes_and_paths_are_recorded(
    fake_and_http: tuple[FakeLangSmith, httpx.Client], prefix: str
) -> None:
    fake, http = fake_and_http
    fake.add_project("p")
    assert http.get(f"{prefix}/sessions", params={"name": "p"}).json()[0]["name"] == "p"
    call = fake.calls[-1]
    assert call.path == f"{prefix}/sessions" and call.method == "GET" and call.status == 200
    assert call.query == {"name": ["p"]}
    assert call.headers["x-api-key"] == "<redacted>"
    assert http.get("/api/v1/nowhere").status_code == 404


def test_injected_faults_answer_before_auth_then_clear(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    fake.inject("runs/delete", status=503, times=2, retry_after=2, body={"detail": "busy"})
    body = {"session_id": str(uuid.uuid4()), "trace_ids": [str(uuid.uuid4())]}
    first = http.post("/api/v1/runs/delete", json=body)
    assert first.status_code == 503 and first.headers["Retry-After"] == "2" and first.json() == {"detail": "busy"}
    assert http.post("/api/v1/runs/delete", json=body).status_code == 503
    assert http.post("/api/v1/runs/delete", json=body).status_code == 202
    assert [c.status for c in fake.calls_to("runs/delete")] == [503, 503, 202]


def test_injected_delay_slows_the_call(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = fake_and_http
    fake.inject("sessions", delay=0.3)
    began = time.monotonic()
    assert http.get("/api/v1/sessions").status_code == 200
    assert time.monotonic() - began >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        fake.inject("sessions", delay=1.0)
        http.get("/api/v1/sessions", timeout=0.1)


def test_sandbox_controls_over_http(fake_and_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = fake_and_http
    bare = httpx.Client(base_url=http.base_url)  # no key: the controls need none
    seeded = bare.post("/_sandbox/seed", json={"project": "p", "traces": 3, "metadata": {"user_id": "1"}}).json()
    assert len(seeded["trace_ids"]) == 3 and fake.trace_exists(seeded["trace_ids"][0])
    examples = bare.post("/_sandbox/seed", json={"dataset": "d", "examples": [{"inputs": {"q": 1}}]}).json()
    assert len(examples["example_ids"]) == 1
    bare.post("/_sandbox/inject", json={"path": "runs/delete", "status": 500})
    body = {"session_id": seeded["project_id"], "trace_ids": seeded["trace_ids"][:2]}
    assert http.post("/api/v1/runs/delete", json=body).status_code == 500
    assert http.post("/api/v1/runs/delete", json=body).status_code == 202
    assert bare.get("/_sandbox/status").json() == {"pending_deletes": 1, "traces": 3}
    assert bare.post("/_sandbox/weekend").json() == {"deleted": 2}
    calls = bare.get("/_sandbox/calls").json()["calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/api/v1/runs/delete", 500),
        ("POST", "/api/v1/runs/delete", 202),
    ]
    assert calls[1]["body"] == body
    bare.close()


def test_bulk_seeding_is_cheap_and_id_lookups_do_not_scan(
    fake_and_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = fake_and_http
    pid = fake.add_project("big")
    ids = fake.add_traces(pid, 20_000, metadata={"tenant": "acme"})
    assert fake.trace_count(pid) == 20_000
    runs = _all_runs(http, {"session": [pid], "id": ids[10_000:10_100], "select": ["id"]})
    assert {r["id"] for r in runs} == set(ids[10_000:10_100])


def test_runs_as_its_own_process() -> None:
    """``python -m bot.sandbox.langsmith_server`` serves a stand-in other processes can drive."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.sandbox.langsmith_server", "--port", str(port), "--seed-demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                status = httpx.get(f"{url}/_sandbox/status").json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert status["traces"] == 45
        sessions = httpx.get(f"{url}/api/v1/sessions", params={"name": "support-bot"}, headers={"x-api-key": KEY})
        pid = sessions.json()[0]["id"]
        r = httpx.post(f"{url}/api/v1/runs/delete", json={"metadata": {"user_id": "123"}}, headers={"x-api-key": KEY})
        assert r.status_code == 202
        assert httpx.post(f"{url}/_sandbox/weekend").json() == {"deleted": 5}
        left = httpx.post(
            f"{url}/api/v1/runs/query", json={"session": [pid], "is_root": True}, headers={"x-api-key": KEY}
        )
        assert len(left.json()["runs"]) == 40
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
