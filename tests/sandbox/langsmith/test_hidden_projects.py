"""A project the API key can no longer see: not listed, not found, queried as empty, never purged."""

from __future__ import annotations

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import all_runs, v2_items

from bot.sandbox.langsmith import FakeLangSmith

SINCE = "2000-01-01T00:00:00Z"


@pytest.fixture
def hidden(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> tuple[FakeLangSmith, httpx.Client, str, str]:
    """A stand-in with project ``secret`` (one trace of user 123, hidden) beside ``open``."""
    fake, http = langsmith_http
    secret = fake.add_project("secret")
    tid = fake.add_trace(secret, metadata={"user_id": "123"})
    fake.add_trace(fake.add_project("open"))
    fake.hide_project(secret)
    return fake, http, secret, tid


def test_a_hidden_project_is_neither_listed_nor_found(hidden: tuple[FakeLangSmith, httpx.Client, str, str]) -> None:
    _, http, secret, _ = hidden
    assert [s["name"] for s in http.get("/api/v1/sessions").json()] == ["open"]
    assert http.get("/api/v1/sessions", params={"name": "secret"}).json() == []
    assert http.get("/api/v1/sessions", params={"id": secret}).json() == []
    missing = http.get(f"/api/v1/sessions/{secret}")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found"}


def test_queries_find_nothing_in_it_and_v2_says_nothing_wrong(
    hidden: tuple[FakeLangSmith, httpx.Client, str, str],
) -> None:
    fake, http, secret, tid = hidden
    assert all_runs(http, {"session": [secret]}) == []
    assert all_runs(http, {"id": [tid]}) == []  # v1's id lookup spans projects, but not this one
    assert all_runs(http, {"trace": tid}) == []
    assert len(all_runs(http, {})) == 1  # every project: only "open"
    wide = {"project_ids": [secret], "min_start_time": SINCE}
    assert v2_items(http, wide) == []
    assert v2_items(http, {**wide, "ids": [tid]}) == []
    assert fake.trace_exists(tid)  # the data is still there


def test_the_weekend_job_deletes_nothing_in_it(hidden: tuple[FakeLangSmith, httpx.Client, str, str]) -> None:
    fake, http, secret, tid = hidden
    by_id = http.post("/api/v1/runs/delete", json={"session_id": secret, "trace_ids": [tid]})
    by_metadata = http.post("/api/v1/runs/delete", json={"metadata": {"user_id": "123"}, "start_time": SINCE})
    assert by_id.status_code == by_metadata.status_code == 202  # queued, as for any id
    assert fake.run_weekend() == 0
    assert fake.trace_exists(tid)


def test_hide_project_over_http(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith()
    pid = fake.add_project("p")
    bare = httpx.Client(base_url=http.base_url)  # the controls need no key
    assert bare.post("/_sandbox/hide_project", json={"project_id": pid.upper()}).json() == {"ok": True}
    assert http.get(f"/api/v1/sessions/{pid}").status_code == 404
    unknown = bare.post("/_sandbox/hide_project", json={"project_id": "8b1e7c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"})
    assert unknown.status_code == 400 and "unknown project" in unknown.json()["detail"]
    assert bare.post("/_sandbox/hide_project", json={}).status_code == 400
    bare.close()
    with pytest.raises(KeyError):
        fake.hide_project("not-a-project")
