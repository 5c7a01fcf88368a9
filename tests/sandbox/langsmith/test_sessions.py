"""Projects: ``GET sessions`` by name, name fragment and id, offset pages; and who may call at all."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import KEY, assert_fastapi_422

from bot.sandbox.langsmith import FakeLangSmith


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
def test_missing_or_wrong_key_is_401(
    langsmith_http: tuple[FakeLangSmith, httpx.Client], headers: dict[str, str]
) -> None:
    fake, http = langsmith_http
    r = httpx.get(str(http.base_url.join("/api/v1/sessions")), headers=headers)
    assert r.status_code == 401
    assert "detail" in r.json()
    assert all(KEY not in json.dumps(c.headers) for c in fake.calls)  # the key is never recorded


def test_key_header_name_is_case_insensitive(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    _, http = langsmith_http
    r = httpx.get(str(http.base_url.join("/api/v1/sessions")), headers={"x-api-key": KEY})
    assert r.status_code == 200


def test_org_scoped_key_needs_the_workspace_header(start_langsmith: StartLangSmith) -> None:
    tenant = str(uuid.uuid4())
    _, http = start_langsmith(require_tenant=tenant)
    r = http.get("/api/v1/sessions")
    assert r.status_code == 403
    assert r.json()["error"] == "org_scoped_key_requires_workspace"
    other = http.get("/api/v1/sessions", headers={"X-Tenant-Id": str(uuid.uuid4())})
    assert (other.status_code, other.json()) == (403, {"error": "Forbidden"})  # another workspace's ID
    ok = http.get("/api/v1/sessions", headers={"X-Tenant-Id": tenant.upper()})
    assert ok.status_code == 200


def test_a_workspace_key_is_refused_with_another_workspaces_id(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    assert http.get("/api/v1/sessions", headers={"X-Tenant-Id": fake.tenant_id}).status_code == 200
    other = http.get("/api/v1/sessions", headers={"X-Tenant-Id": str(uuid.uuid4())})
    assert (other.status_code, other.json()) == (403, {"error": "Forbidden"})


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v2/runs/query", "/v1/platform/datasets/examples/delete"])
def test_in_the_wrong_region_every_key_is_forbidden_and_info_still_answers(
    start_langsmith: StartLangSmith, path: str
) -> None:
    fake, http = start_langsmith(wrong_region=True)
    for headers in ({}, {"X-API-Key": "lsv2_pt_another"}, {"X-Tenant-Id": fake.tenant_id}):
        refused = http.post(path, json={}, headers=headers)
        assert (refused.status_code, refused.json()) == (403, {"error": "Forbidden"})
    assert http.get("/api/v1/info").status_code == 200
    fake.wrong_region = False  # the same organisation, reached in its own region
    assert http.get("/api/v1/sessions").status_code == 200


def test_a_revoked_key_is_401(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    fake.api_key = "lsv2_pt_rotated"
    assert http.get("/api/v1/sessions").status_code == 401


def test_sessions_by_name_contains_and_id(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
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
def test_sessions_limit_out_of_range_is_422(langsmith_http: tuple[FakeLangSmith, httpx.Client], limit: str) -> None:
    _, http = langsmith_http
    detail = assert_fastapi_422(http.get("/api/v1/sessions", params={"limit": limit}))
    assert detail[0]["loc"] == ["query", "limit"]


def test_sessions_page_by_offset(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    made = {fake.add_project(f"p{i}") for i in range(7)}
    seen: list[str] = []
    for offset in range(0, 9, 3):
        seen += [s["id"] for s in http.get("/api/v1/sessions", params={"offset": offset, "limit": 3}).json()]
    assert sorted(seen) == sorted(made)
