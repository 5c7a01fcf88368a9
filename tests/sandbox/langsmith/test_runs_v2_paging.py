"""v2 ``runs/query`` pages and filters: cursor paging over thousands of runs, stable under inserts,
the cursor bound to its query and window; the filter language over v2; ``project_id`` in items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import StartLangSmith
from standin_http import assert_v2_error, v2_items, v2_query

from bot.sandbox.langsmith import FakeLangSmith

NOW = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
PAIR = 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))'


class WallClock:
    """The stand-in's ``now``, moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def v2(start_langsmith: StartLangSmith, wall: WallClock) -> tuple[FakeLangSmith, httpx.Client]:
    return start_langsmith(now=wall)


def test_2500_runs_come_in_pages_of_1000_newest_first(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    made = fake.add_traces(pid, 2500, start_time=NOW - timedelta(hours=1))
    fake.add_traces(fake.add_project("other"), 10, start_time=NOW - timedelta(hours=1))
    body = {"project_ids": [pid], "page_size": 1000, "selects": ["ID", "START_TIME"]}
    sizes, items = [], []
    while True:
        page = v2_query(http, body).json()
        sizes.append(len(page["items"]))
        items += page["items"]
        if page["next_cursor"] is None:
            break
        assert isinstance(page["next_cursor"], str)
        body["cursor"] = page["next_cursor"]
    assert sizes == [1000, 1000, 500]
    assert [i["id"] for i in items] == made  # add_traces makes them newest first, 1 ms apart
    assert [i["start_time"] for i in items] == sorted((i["start_time"] for i in items), reverse=True)


def test_paging_is_stable_under_concurrent_inserts(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    made = fake.add_traces(pid, 2500, start_time=NOW - timedelta(hours=1))
    body = {"project_ids": [pid], "page_size": 1000}
    first = v2_query(http, body).json()
    newer = fake.add_traces(pid, 5, start_time=NOW - timedelta(minutes=1))  # ahead of the cursor
    late = fake.add_traces(pid, 5, start_time=NOW - timedelta(hours=20))  # behind it, ingested late
    rest = v2_items(http, {**body, "cursor": first["next_cursor"]})
    seen = [i["id"] for i in first["items"] + rest]
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(made) <= set(seen)  # nothing that was there is skipped
    assert set(late) <= set(seen) and not set(newer) & set(seen)


def test_later_pages_keep_the_first_pages_default_window(
    v2: tuple[FakeLangSmith, httpx.Client], wall: WallClock
) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    made = fake.add_traces(pid, 30, start_time=NOW - timedelta(hours=23))
    first = v2_query(http, {"project_ids": [pid], "page_size": 10}).json()
    wall.now = NOW + timedelta(hours=2)  # a fresh query's window would no longer reach them
    assert v2_items(http, {"project_ids": [pid]}) == []
    rest = v2_items(http, {"project_ids": [pid], "page_size": 20, "cursor": first["next_cursor"]})
    assert [i["id"] for i in first["items"] + rest] == made


def test_a_cursor_only_serves_the_query_it_came_from(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    fake.add_traces(pid, 5, start_time=NOW - timedelta(hours=1), metadata={"user_id": "123"})
    cursor = v2_query(http, {"project_ids": [pid], "page_size": 2}).json()["next_cursor"]
    changed = {"project_ids": [pid], "page_size": 2, "filter": PAIR, "cursor": cursor}
    assert "cursor" in assert_v2_error(v2_query(http, changed), 400, "INVALID_REQUEST")
    assert len(v2_items(http, {"project_ids": [pid], "page_size": 3, "cursor": cursor})) == 3


def test_tree_filter_catches_metadata_on_a_child_run(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    pid = fake.add_project("p")
    at = NOW - timedelta(hours=3)
    on_root = fake.add_trace(pid, start_time=at, metadata={"user_id": "123"})
    on_child = fake.add_trace(pid, start_time=at, metadata={"user_id": "9"}, child_metadata=[{"user_id": "123"}])
    fake.add_trace(pid, start_time=at, metadata={"user_id": "1234"}, child_metadata=[{"note": "123"}])
    body = {"project_ids": [pid], "selects": ["ID", "TRACE_ID"]}
    roots = v2_items(http, {**body, "tree_filter": PAIR, "is_root": True})
    assert {i["id"] for i in roots} == {on_root, on_child}
    assert {i["trace_id"] for i in v2_items(http, {**body, "trace_filter": PAIR})} == {on_root}
    matching = v2_items(http, {**body, "filter": PAIR})
    assert {i["trace_id"] for i in matching} == {on_root, on_child} and len(matching) == 2
    child_only = v2_items(http, {**body, "filter": PAIR, "is_root": False})
    assert [i["trace_id"] for i in child_only] == [on_child]


def test_ids_and_filters_apply_together(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    """Unlike v1, where ``id`` overrides every other filter."""
    fake, http = v2
    pid = fake.add_project("p")
    mine = fake.add_trace(pid, start_time=NOW, metadata={"user_id": "123"})
    other = fake.add_trace(pid, start_time=NOW, metadata={"user_id": "456"})
    assert v2_items(http, {"project_ids": [pid], "ids": [mine, other], "filter": PAIR}) == [{"id": mine}]
    assert v2_items(http, {"project_ids": [pid], "ids": [mine], "is_root": False}) == []
    assert v2_items(http, {"project_ids": [pid], "ids": [mine], "has_error": True}) == []


def test_items_name_the_project_not_the_session(v2: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = v2
    a, b = fake.add_project("a"), fake.add_project("b")
    in_a = fake.add_trace(a, start_time=NOW - timedelta(minutes=2))
    in_b = fake.add_trace(b, start_time=NOW - timedelta(minutes=1))
    items = v2_items(http, {"project_ids": [a, b], "selects": ["ID", "PROJECT_ID"]})
    assert items == [{"id": in_b, "project_id": b}, {"id": in_a, "project_id": a}]
    assert all("session_id" not in i for i in items)
