"""The app around the routes: path layouts, the call record, injected faults, ``/_sandbox`` controls,
and the stand-in as its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from standin_http import KEY

from bot.sandbox.langsmith import FakeLangSmith


@pytest.mark.parametrize("prefix", ["/api/v1", ""])
def test_v1_routes_answer_under_both_prefixes_and_paths_are_recorded(
    langsmith_http: tuple[FakeLangSmith, httpx.Client], prefix: str
) -> None:
    fake, http = langsmith_http
    fake.add_project("p")
    assert http.get(f"{prefix}/sessions", params={"name": "p"}).json()[0]["name"] == "p"
    call = fake.calls[-1]
    assert call.path == f"{prefix}/sessions" and call.method == "GET" and call.status == 200
    assert call.query == {"name": ["p"]}
    assert call.headers["x-api-key"] == "<redacted>"
    assert http.get("/api/v1/nowhere").status_code == 404


def test_injected_faults_answer_before_auth_then_clear(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    fake.inject("runs/delete", status=503, times=2, retry_after=2, body={"detail": "busy"})
    body = {"session_id": str(uuid.uuid4()), "trace_ids": [str(uuid.uuid4())]}
    first = http.post("/api/v1/runs/delete", json=body)
    assert first.status_code == 503 and first.headers["Retry-After"] == "2" and first.json() == {"detail": "busy"}
    assert http.post("/api/v1/runs/delete", json=body).status_code == 503
    assert http.post("/api/v1/runs/delete", json=body).status_code == 202
    assert [c.status for c in fake.calls_to("runs/delete")] == [503, 503, 202]


def test_injected_delay_slows_the_call(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
    fake.inject("sessions", delay=0.3)
    began = time.monotonic()
    assert http.get("/api/v1/sessions").status_code == 200
    assert time.monotonic() - began >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        fake.inject("sessions", delay=1.0)
        http.get("/api/v1/sessions", timeout=0.1)


def test_sandbox_controls_over_http(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> None:
    fake, http = langsmith_http
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


def test_runs_as_its_own_process() -> None:
    """``python -m bot.sandbox.langsmith`` serves a stand-in other processes can drive, with the
    backend mode and v2 query limit given on its command line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bot.sandbox.langsmith", "--port", str(port), "--seed-demo"),
            *("--backend", "smithdb", "--v2-query-limit", "1/600"),
        ],
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
        subject = {"metadata": {"user_id": "123"}, "start_time": "2000-01-01T00:00:00Z"}
        r = httpx.post(f"{url}/api/v1/runs/delete", json=subject, headers={"x-api-key": KEY})
        assert r.status_code == 202
        assert httpx.post(f"{url}/_sandbox/weekend").json() == {"deleted": 5}
        query = {"project_ids": [pid], "is_root": True, "page_size": 1000}
        left = httpx.post(f"{url}/api/v2/runs/query", json=query, headers={"x-api-key": KEY})
        assert len(left.json()["items"]) == 40
        again = httpx.post(f"{url}/api/v2/runs/query", json=query, headers={"x-api-key": KEY})
        assert again.status_code == 429  # --v2-query-limit 1/600
        v1 = httpx.post(f"{url}/api/v1/runs/query", json={"session": [pid]}, headers={"x-api-key": KEY})
        assert v1.status_code == 410  # --backend smithdb
        assert httpx.get(f"{url}/api/v1/info").json()["instance_flags"]["ch_query_enabled"] is False
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
