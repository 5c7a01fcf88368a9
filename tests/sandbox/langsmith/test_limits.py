"""Rate limits per API key and bucket."""

from __future__ import annotations

import time

from conftest import StartLangSmith
from standin_http import query


def test_sixteenth_query_in_the_window_gets_429_with_retry_after(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith()
    pid = fake.add_project("p")
    for _ in range(15):
        assert query(http, {"session": [pid], "limit": 1}).status_code == 200
    r = query(http, {"session": [pid], "limit": 1})
    assert r.status_code == 429
    assert r.json() == {"detail": "Too many requests"}
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 10
    assert http.get("/api/v1/sessions").status_code == 200  # other calls have their own budget


def test_window_slides_and_retry_after_can_be_withheld(start_langsmith: StartLangSmith) -> None:
    fake, http = start_langsmith(query_limit=(2, 0.3), send_retry_after=False)
    pid = fake.add_project("p")
    assert [query(http, {"session": [pid]}).status_code for _ in range(3)] == [200, 200, 429]
    assert "Retry-After" not in query(http, {"session": [pid]}).headers
    time.sleep(0.35)
    assert query(http, {"session": [pid]}).status_code == 200


def test_default_limit_covers_other_calls(start_langsmith: StartLangSmith) -> None:
    _, http = start_langsmith(default_limit=(3, 10.0))
    statuses = [http.get("/api/v1/sessions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
