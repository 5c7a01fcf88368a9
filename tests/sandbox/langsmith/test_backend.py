"""Backend modes (reference §5): ``GET info``'s flags, and which query API each mode serves."""

from __future__ import annotations

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import query, v2_items

from bot.sandbox.langsmith import FakeLangSmith

FLAGS = {
    "clickhouse": {"ch_query_enabled": True, "sdb_query_enabled": False},
    "dual": {"ch_query_enabled": True, "sdb_query_enabled": True},
    "smithdb": {"ch_query_enabled": False, "sdb_query_enabled": True},
}


@pytest.mark.parametrize("mode", list(FLAGS))
def test_info_flags_match_the_mode_and_need_no_key(start_langsmith: StartLangSmith, mode: str) -> None:
    _, http = start_langsmith(backend=mode)
    r = httpx.get(str(http.base_url.join("/api/v1/info")))  # no key
    assert r.status_code == 200
    assert r.json()["instance_flags"] == FLAGS[mode]


def test_the_default_is_dual(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    assert fake.backend == "dual"
    assert http.get("/api/v1/info").json()["instance_flags"] == FLAGS["dual"]


def test_clickhouse_has_no_v2_api(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(backend="clickhouse")
    pid = fake.add_project("p")
    r = http.post("/api/v2/runs/query", json={"project_ids": [pid]})
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["code"] == "NOT_FOUND" and error["status"] == 404 and isinstance(error["message"], str)
    unauthenticated = httpx.post(str(http.base_url.join("/api/v2/runs/query")), json={"project_ids": [pid]})
    assert unauthenticated.status_code == 404  # an absent route, before any auth
    assert query(http, {"session": [pid]}).status_code == 200


@pytest.mark.parametrize("mode", ["dual", "smithdb"])
def test_dual_and_smithdb_serve_v2(start_langsmith: StartLangSmith, mode: str) -> None:
    fake, http = start_langsmith(backend=mode)
    pid = fake.add_project("p")
    tid = fake.add_trace(pid)
    assert v2_items(http, {"project_ids": [pid]}) == [{"id": tid}]
    assert (query(http, {"session": [pid]}).status_code == 200) is (mode == "dual")


@pytest.mark.parametrize("path", ["/api/v1/runs/query", "/runs/query"])
def test_smithdb_answers_410_on_v1_runs_query_and_points_to_v2(start_langsmith: StartLangSmith, path: str) -> None:
    fake, http = start_langsmith(backend="smithdb")
    pid = fake.add_project("p")
    r = http.post(path, json={"session": [pid]})
    assert r.status_code == 410
    assert "removed" in r.json()["detail"] and "/api/v2/runs/query" in r.json()["detail"]
    assert httpx.post(str(http.base_url.join(path)), json={}).status_code == 401  # auth comes first


def test_smithdb_keeps_deletes_sessions_and_examples(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(backend="smithdb")
    pid = fake.add_project("p")
    tid = fake.add_trace(pid)
    did = fake.add_dataset("d")
    eid = fake.add_example(did, inputs={"q": 1})
    assert http.get("/api/v1/sessions", params={"name": "p"}).json()[0]["id"] == pid
    assert http.get(f"/api/v1/sessions/{pid}").status_code == 200
    assert http.post("/api/v1/runs/delete", json={"session_id": pid, "trace_ids": [tid]}).status_code == 202
    assert http.get("/api/v1/examples", params={"dataset": did}).json()[0]["id"] == eid
    assert http.get(f"/api/v1/examples/{eid}").status_code == 200
    assert http.get("/api/v1/datasets").status_code == 200
    hard = http.post("/v1/platform/datasets/examples/delete", json={"example_ids": [eid], "hard_delete": True})
    assert hard.status_code == 200 and hard.json()["count"] == 1
    assert fake.run_weekend() == 1


def test_mode_changes_at_runtime_by_attribute_and_control(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith()
    pid = fake.add_project("p")
    assert query(http, {"session": [pid]}).status_code == 200
    fake.backend = "smithdb"
    assert query(http, {"session": [pid]}).status_code == 410
    assert http.get("/api/v1/info").json()["instance_flags"] == FLAGS["smithdb"]
    bare = httpx.Client(base_url=http.base_url)  # the controls need no key
    assert bare.post("/_sandbox/backend", json={"backend": "clickhouse"}).json() == {"backend": "clickhouse"}
    assert fake.backend == "clickhouse"
    assert query(http, {"session": [pid]}).status_code == 200
    assert http.post("/api/v2/runs/query", json={"project_ids": [pid]}).status_code == 404
    refused = bare.post("/_sandbox/backend", json={"backend": "postgres"})
    assert refused.status_code == 400 and "clickhouse, dual, smithdb" in refused.json()["detail"]
    assert fake.backend == "clickhouse"
    bare.close()
    with pytest.raises(ValueError, match="backend must be one of"):
        fake.backend = "Dual"
