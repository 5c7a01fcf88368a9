"""Rate limits per API key and bucket, in fixed windows aligned to multiples of the period."""

from __future__ import annotations

import pytest
from conftest import StartLangSmith
from standin_http import Ticks, query


def test_eleventh_v1_query_in_the_window_gets_429_with_retry_after_to_the_windows_end(
    start_langsmith: StartLangSmith,
) -> None:
    ticks = Ticks(1003.0)  # inside the window [1000, 1010)
    fake, http = start_langsmith(monotonic=ticks)
    pid = fake.add_project("p")
    for _ in range(10):  # the default: 10 per 10 s
        assert query(http, {"session": [pid], "limit": 1}).status_code == 200
    r = query(http, {"session": [pid], "limit": 1})
    assert r.status_code == 429
    assert r.json() == {"detail": "Too many requests"}
    assert r.headers["Retry-After"] == "7"
    ticks.now = 1009.2
    assert query(http, {"session": [pid]}).headers["Retry-After"] == "1"  # ceil(0.8)
    assert http.get("/api/v1/sessions").status_code == 200  # other calls have their own budget
    ticks.now = 1010.0  # a new window
    assert query(http, {"session": [pid]}).status_code == 200


def test_windows_are_fixed_not_sliding(start_langsmith: StartLangSmith) -> None:
    """Four calls just before a window ends and four just after all pass: a sliding window of
    4 per 10 s would refuse the second four."""
    ticks = Ticks(19.9)
    _, http = start_langsmith(default_limit=(4, 10.0), monotonic=ticks)
    assert [http.get("/api/v1/sessions").status_code for _ in range(4)] == [200] * 4
    ticks.now = 20.1
    assert [http.get("/api/v1/sessions").status_code for _ in range(5)] == [200] * 4 + [429]


def test_refused_calls_count_and_retry_after_can_be_withheld(start_langsmith: StartLangSmith) -> None:
    ticks = Ticks(0.0)
    fake, http = start_langsmith(query_limit=(2, 1.0), send_retry_after=False, monotonic=ticks)
    pid = fake.add_project("p")
    assert [query(http, {"session": [pid]}).status_code for _ in range(3)] == [200, 200, 429]
    refused = query(http, {"session": [pid]})
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    ticks.now = 0.99
    assert query(http, {"session": [pid]}).status_code == 429  # still the first window
    ticks.now = 1.0
    assert query(http, {"session": [pid]}).status_code == 200
    assert [c.status for c in fake.calls_to("runs/query")] == [200, 200, 429, 429, 429, 200]


def test_default_limit_covers_other_calls(start_langsmith: StartLangSmith) -> None:
    _, http = start_langsmith(default_limit=(3, 10.0), monotonic=Ticks(5.0))
    statuses = [http.get("/api/v1/sessions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("limit", [(10, 10.0), (3, 0.5)])
def test_retry_after_is_never_below_one_second(start_langsmith: StartLangSmith, limit: tuple[int, float]) -> None:
    calls, period = limit
    ticks = Ticks(period * 7 - 0.001)  # a millisecond before the window ends
    _, http = start_langsmith(default_limit=limit, monotonic=ticks)
    statuses = [http.get("/api/v1/sessions").status_code for _ in range(calls + 1)]
    assert statuses[-1] == 429
    assert http.get("/api/v1/sessions").headers["Retry-After"] == "1"
