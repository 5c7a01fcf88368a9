"""Seeding a stand-in: traces of any age, traces ingested late, the demo workspace, seeding over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from conftest import StartLangSmith
from standin_http import all_runs, v2_items

from bot.sandbox.langsmith import FakeLangSmith, seed_demo

NOW = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)


def test_traces_of_any_age_and_ingested_late(start_langsmith: StartLangSmith) -> None:
    clock = [NOW - timedelta(days=5)]
    fake, http = start_langsmith(now=lambda: clock[0])
    pid = fake.add_project("p")
    early = fake.add_trace(pid)  # started and received five days ago
    clock[0] = NOW
    late = fake.add_trace(pid, start_time=NOW - timedelta(days=300))  # started long ago, received now
    batch = fake.add_traces(pid, 2, start_time=NOW - timedelta(days=3))
    runs = {r["id"]: r for r in all_runs(http, {"session": [pid], "select": ["start_time", "trace_first_received_at"]})}
    assert runs[early]["start_time"] == runs[early]["trace_first_received_at"] == "2027-02-05T12:00:00.000000"
    assert runs[late]["start_time"] == "2026-04-16T12:00:00.000000"
    assert runs[late]["trace_first_received_at"] == "2027-02-10T12:00:00.000000"
    assert [runs[t]["start_time"] for t in batch] == ["2027-02-07T12:00:00.000000", "2027-02-07T11:59:59.999000"]
    assert v2_items(http, {"project_ids": [pid]}) == []  # none started in the last day
    found = v2_items(http, {"project_ids": [pid], "min_start_time": "2026-01-01T00:00:00Z", "selects": ["ID"]})
    assert [i["id"] for i in found] == [*batch, early, late]


def test_seed_over_http_takes_a_start_time(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    bare = httpx.Client(base_url=http.base_url)
    body = {"project": "old", "traces": 2, "metadata": {"user_id": "1"}, "start_time": "2026-01-05T08:00:00Z"}
    seeded = bare.post("/_sandbox/seed", json=body).json()
    runs = all_runs(http, {"session": [seeded["project_id"]], "select": ["start_time"]})
    assert [r["start_time"] for r in runs] == ["2026-01-05T08:00:00.000000", "2026-01-05T07:59:59.999000"]
    bad = bare.post("/_sandbox/seed", json={"project": "x", "traces": 1, "start_time": "yesterday"})
    assert bad.status_code == 400 and "start_time" in bad.json()["detail"]
    assert bare.post("/_sandbox/seed", json=["not", "an", "object"]).status_code == 400
    bare.close()
    assert fake.trace_count() == 2


def test_the_demo_workspace(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith()
    seeded = seed_demo(fake)
    assert fake.trace_count(seeded["project_id"]) == 45 and len(seeded["subject_traces"]) == 5
    subject = 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))'
    roots = all_runs(http, {"session": [seeded["project_id"]], "tree_filter": subject, "is_root": True})
    assert {r["id"] for r in roots} == set(seeded["subject_traces"])
    assert fake.example(seeded["examples"][1]) is None  # removed from latest, kept in history
