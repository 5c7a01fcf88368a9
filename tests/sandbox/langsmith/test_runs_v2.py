"""v2 ``POST /api/v2/runs/query`` over real loopback HTTP: the 24-hour default window, required
``project_ids``, strict bodies and ``selects``, and errors in v2's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import Ticks, assert_v2_error, v2_items, v2_query

from bot.sandbox.langsmith import FakeLangSmith

NOW = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
PAIR = 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))'


@pytest.fixture
def v2(start_langsmith: StartLangSmith) -> tuple[FakeLangSmith, httpx.Client]:
    """A stand-in whose clock reads NOW."""
    return start_langsmith(now=lambda: NOW)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_default_window_hides_a_three_day_old_trace_even_by_id(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    old = fake.add_trace(pid, start_time=NOW - timedelta(days=3))
    fresh = fake.add_trace(pid, start_time=NOW - timedelta(hours=1))
    assert [i["id"] for i in v2_items(http, {"project_ids": [pid]})] == [fresh]
    assert v2_items(http, {"project_ids": [pid], "ids": [old]}) == []
    assert v2_items(http, {"project_ids": [pid], "trace_id": old}) == []
    wide = {"project_ids": [pid], "min_start_time": rfc3339(NOW - timedelta(days=4))}
    assert [i["id"] for i in v2_items(http, wide)] == [fresh, old]
    assert [i["id"] for i in v2_items(http, {**wide, "ids": [old]})] == [old]
    assert [i["id"] for i in v2_items(http, {**wide, "trace_id": old})] == [old]


def test_window_is_inclusive_and_ends_at_now_by_default(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    edge = fake.add_trace(pid, start_time=NOW - timedelta(days=1))
    ahead = fake.add_trace(pid, start_time=NOW + timedelta(minutes=5))  # a clock skewed ahead
    ancient = fake.add_trace(pid, start_time=NOW - timedelta(days=300))
    assert [i["id"] for i in v2_items(http, {"project_ids": [pid]})] == [edge]
    window = {
        "project_ids": [pid],
        "min_start_time": rfc3339(NOW - timedelta(days=300)),
        "max_start_time": "2027-02-10T13:00:00+01:00",  # NOW, in another offset
    }
    assert [i["id"] for i in v2_items(http, window)] == [edge, ancient]
    window["max_start_time"] = rfc3339(NOW + timedelta(hours=1))
    assert [i["id"] for i in v2_items(http, window)] == [ahead, edge, ancient]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": ["{run}"]},
        {"trace_id": "{run}"},
        {"project_ids": []},
        {"project_ids": "{pid}"},
        {"project_ids": ["not-a-uuid"]},
        {"project_ids": ["{pid}"], "reference_dataset_id": "{pid}"},
        {"reference_dataset_id": "nope"},
    ],
)
def test_project_ids_are_required_even_with_ids(v2: tuple[FakeLangSmith, httpx.Client], body: dict[str, Any]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    run = fake.add_trace(pid, start_time=NOW)
    filled = json.loads(json.dumps(body).replace("{pid}", pid).replace("{run}", run))
    assert_v2_error(v2_query(http, filled), 400, "INVALID_REQUEST")


def test_reference_dataset_id_alone_is_accepted(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    fake.add_trace(pid, start_time=NOW)
    did = fake.add_dataset("d")
    assert v2_items(http, {"reference_dataset_id": did}) == []  # the stand-in's runs are no experiments


@pytest.mark.parametrize("size", [0, 1001, -1, "10", 10.0, True])
def test_page_size_must_be_an_integer_from_1_to_1000(v2: tuple[FakeLangSmith, httpx.Client], size: object) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    message = assert_v2_error(v2_query(http, {"project_ids": [pid], "page_size": size}), 400, "INVALID_REQUEST")
    assert "page_size" in message


def test_page_size_defaults_to_100_and_reaches_1000(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    fake.add_traces(pid, 1001, start_time=NOW)
    assert len(v2_query(http, {"project_ids": [pid]}).json()["items"]) == 100
    assert len(v2_query(http, {"project_ids": [pid], "page_size": 1000}).json()["items"]) == 1000
    assert len(v2_query(http, {"project_ids": [pid], "page_size": 1}).json()["items"]) == 1


def test_items_carry_exactly_the_selected_fields_in_lower_case(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, start_time=NOW - timedelta(hours=2), child_metadata=[{"user_id": "123"}])
    [child] = [r for r in fake.trace_runs(tid) if r != tid]
    assert v2_items(http, {"project_ids": [pid]}) == [{"id": child}, {"id": tid}]  # omitted: only ID
    selects = ["ID", "TRACE_ID", "START_TIME", "PROJECT_ID", "PARENT_RUN_ID", "IS_ROOT", "NAME"]
    root = v2_items(http, {"project_ids": [pid], "selects": selects, "is_root": True})
    assert root == [
        {
            "id": tid,
            "trace_id": tid,
            "start_time": "2027-02-10T10:00:00.000000",
            "project_id": pid,
            "parent_run_id": None,
            "is_root": True,
            "name": "agent",
        }
    ]
    no_id = v2_items(http, {"project_ids": [pid], "selects": ["TRACE_ID"], "is_root": False})
    assert no_id == [{"trace_id": tid}]  # ID was not selected, so no id: a client must ask for it
    meta = v2_items(http, {"project_ids": [pid], "selects": ["METADATA"], "is_root": False})
    assert meta == [{"metadata": {"user_id": "123"}}]


@pytest.mark.parametrize("selects", [["id"], ["Id"], ["INPUTS"], ["SESSION_ID"], [], "ID", [1]])
def test_unknown_or_lower_case_selects_are_refused(v2: tuple[FakeLangSmith, httpx.Client], selects: object) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    assert_v2_error(v2_query(http, {"project_ids": [pid], "selects": selects}), 400, "INVALID_REQUEST")


@pytest.mark.parametrize("field", ["session", "limit", "select", "run_type", "sort_order", "start_time", "projectIds"])
def test_unknown_body_fields_are_refused(v2: tuple[FakeLangSmith, httpx.Client], field: str) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    message = assert_v2_error(v2_query(http, {"project_ids": [pid], field: None}), 400, "INVALID_REQUEST")
    assert field in message


@pytest.mark.parametrize(
    "extra",
    [
        {"min_start_time": "2027-02-09T12:00:00"},  # no offset
        {"min_start_time": "2027-02-09"},
        {"min_start_time": "2027-02-30T00:00:00Z"},
        {"max_start_time": 1786708800},
        {"min_start_time": "2027-02-10T12:00:00Z", "max_start_time": "2027-02-09T12:00:00Z"},
        {"ids": ["00000000-0000-4000-8000-000000000001"] * 1001},
        {"trace_id": "nope"},
        {"is_root": "true"},
        {"has_error": 1},
        {"filter": "gt(metadata_value, '1')"},
        {"tree_filter": ""},
        {"trace_filter": 7},
        {"cursor": "garbage!"},
    ],
)
def test_malformed_fields_are_400s(v2: tuple[FakeLangSmith, httpx.Client], extra: dict[str, Any]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    assert_v2_error(v2_query(http, {"project_ids": [pid], **extra}), 400, "INVALID_REQUEST")


def test_errors_come_in_v2s_shape(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    bad_json = http.post(
        "/api/v2/runs/query", content=b'{"project_ids": ', headers={"Content-Type": "application/json"}
    )
    assert_v2_error(bad_json, 400, "INVALID_REQUEST")
    assert_v2_error(http.post("/api/v2/runs/query", json=[pid]), 400, "INVALID_REQUEST")
    no_key = httpx.post(str(http.base_url.join("/api/v2/runs/query")), json={"project_ids": [pid]})
    assert_v2_error(no_key, 401, "UNAUTHORIZED")
    assert_v2_error(http.get("/api/v2/runs/query"), 405, "METHOD_NOT_ALLOWED")
    assert_v2_error(http.post("/api/v2/traces/query", json={"project_id": pid}), 404, "NOT_FOUND")
    fake.inject("/api/v2/", status=503)
    assert_v2_error(v2_query(http, {"project_ids": [pid]}), 503, "UNAVAILABLE")


def test_org_scoped_key_without_workspace_is_a_v2_403(start_langsmith: StartLangSmith) -> None:
    tenant = "3f0b3a52-7a39-4f3e-9a41-0c2b4a1e5d6f"
    fake, http = start_langsmith(require_tenant=tenant)
    pid = fake.add_project("p")
    message = assert_v2_error(v2_query(http, {"project_ids": [pid]}), 403, "FORBIDDEN")
    assert "org_scoped_key_requires_workspace" in message
    with_workspace = http.post("/api/v2/runs/query", json={"project_ids": [pid]}, headers={"X-Tenant-Id": tenant})
    assert with_workspace.status_code == 200


def test_unknown_project_yields_nothing_and_no_error(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    tid = fake.add_trace(pid, start_time=NOW)
    unknown = "3f0b3a52-7a39-4f3e-9a41-0c2b4a1e5d6f"
    assert v2_items(http, {"project_ids": [unknown]}) == []
    assert v2_items(http, {"project_ids": [unknown], "ids": [tid]}) == []  # the run is in another project
    assert v2_items(http, {"project_ids": [unknown, pid], "ids": [tid]}) == [{"id": tid}]


def test_v2_query_has_its_own_bucket_of_300_per_10_seconds(start_langsmith: StartLangSmith) -> None:
    ticks = Ticks(50.5)
    fake, http = start_langsmith(now=lambda: NOW, monotonic=ticks, query_limit=(1, 10.0))
    pid = fake.add_project("p")
    assert [v2_query(http, {"project_ids": [pid]}).status_code for _ in range(300)] == [200] * 300
    limited = v2_query(http, {"project_ids": [pid]})
    assert_v2_error(limited, 429, "RATE_LIMITED")
    assert limited.headers["Retry-After"] == "10"  # ceil(60 - 50.5)
    assert http.post("/api/v1/runs/query", json={"session": [pid]}).status_code == 200  # v1's own bucket
    ticks.now = 60.0
    assert v2_query(http, {"project_ids": [pid]}).status_code == 200
