"""The LangSmith client against the stand-in over real loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Slot

from bot.langsmith import (
    DeleteReceipt,
    Endpoints,
    LangSmithClient,
    LangSmithError,
    LangSmithRejected,
    LangSmithUnavailable,
    MetadataDeleteRefused,
    Pairs,
    Project,
    ProjectNotFound,
    RetryPolicy,
    Window,
    metadata_filter,
    quote_filter_value,
)
from bot.sandbox.langsmith import FakeLangSmith, compile_filter, create_app, parse_filter
from bot.sandbox.serving import serve

KEY = "lsv2_pt_0123456789abcdef_client_test"
FAST = RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)
LOOSE = (10_000, 10.0)

Start = Callable[..., tuple[FakeLangSmith, str]]
WIDE = Window(datetime.now(UTC) - timedelta(days=400), datetime.now(UTC) + timedelta(days=1))


def existing(client: LangSmithClient, project_id: str, ids: list[str], window: Window = WIDE) -> set[str]:
    return {run.trace_id for page in client.lookup().existing_traces(project_id, ids, window) for run in page}


def found(client: LangSmithClient, project_id: str, pairs: Pairs, window: Window = WIDE) -> set[str]:
    return {run.trace_id for page in client.lookup().find_traces(project_id, pairs, window) for run in page}


@pytest.fixture
def start(servers: Callable[[int], tuple[Slot, str]]) -> Start:
    """Start a stand-in (generous query limit unless told otherwise); returns it and its URL."""
    used = 0

    def _start(**options: Any) -> tuple[FakeLangSmith, str]:
        nonlocal used
        options.setdefault("api_key", KEY)
        options.setdefault("query_limit", LOOSE)
        fake = FakeLangSmith(**options)
        slot, url = servers(used)
        used += 1
        slot.app = create_app(fake)
        return fake, url

    return _start


@pytest.fixture
def stand_in(start: Start) -> tuple[FakeLangSmith, str]:
    return start()


@pytest.fixture
def make_client() -> Iterator[Callable[..., LangSmithClient]]:
    clients: list[LangSmithClient] = []

    def _make(endpoint: str, **options: Any) -> LangSmithClient:
        options.setdefault("api_key", KEY)
        options.setdefault("retry", FAST)
        options.setdefault("v1_query_rate", LOOSE)
        options.setdefault("query_api", "v1")
        client = LangSmithClient(endpoint=endpoint, **options)
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.close()


# ---- URL layouts and headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "v1", "platform", "v2"),
    [
        ("https://api.smith.langchain.com", "https://api.smith.langchain.com/api/v1",
         "https://api.smith.langchain.com/v1/platform", "https://api.smith.langchain.com/api/v2"),
        ("https://eu.api.smith.langchain.com/", "https://eu.api.smith.langchain.com/api/v1",
         "https://eu.api.smith.langchain.com/v1/platform", "https://eu.api.smith.langchain.com/api/v2"),
        ("https://ls.corp.example/api/v1", "https://ls.corp.example/api/v1", "https://ls.corp.example/api/v1/platform",
         "https://ls.corp.example/api/v2"),
        ("https://ls.corp.example/api/v1/", "https://ls.corp.example/api/v1", "https://ls.corp.example/api/v1/platform",
         "https://ls.corp.example/api/v2"),
    ],
)  # fmt: skip
def test_endpoints_of_each_layout(endpoint: str, v1: str, platform: str, v2: str) -> None:
    assert Endpoints.of(endpoint) == Endpoints(v1=v1, platform=platform, v2=v2)


@pytest.mark.parametrize("endpoint", ["", "api.smith.langchain.com", "ftp://x/"])
def test_endpoints_refuse_non_urls(endpoint: str) -> None:
    with pytest.raises(ValueError, match="LANGSMITH_ENDPOINT"):
        Endpoints.of(endpoint)


@pytest.mark.parametrize(
    ("suffix", "v1", "platform"),
    [
        ("", "/api/v1", "/v1/platform"),
        ("/", "/api/v1", "/v1/platform"),
        ("/api/v1/", "/api/v1", "/api/v1/platform"),
    ],
)
def test_paths_the_stand_in_sees_in_each_layout(
    stand_in: tuple[FakeLangSmith, str],
    make_client: Callable[..., LangSmithClient],
    suffix: str,
    v1: str,
    platform: str,
) -> None:
    fake, url = stand_in
    pid = fake.add_project("prod")
    tid = fake.add_trace(pid)
    eid = fake.add_example(fake.add_dataset("ds"), inputs={"q": 1})
    client = make_client(url + suffix)
    assert client.resolve_project("prod") == Project(pid, "prod")
    client.delete_traces(pid, [tid])
    assert existing(client, pid, [tid]) == {tid}
    client.hard_delete_examples([eid])
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", f"{v1}/sessions"),
        ("POST", f"{v1}/runs/delete"),
        ("POST", f"{v1}/runs/query"),
        ("POST", f"{platform}/datasets/examples/delete"),
    ]
    assert fake.calls[0].query == {"name": ["prod"], "limit": ["1"]}


def test_workspace_id_is_sent_as_tenant_header(start: Start, make_client: Callable[..., LangSmithClient]) -> None:
    workspace = str(uuid.uuid4())
    fake, url = start(require_tenant=workspace)
    fake.add_project("prod")
    assert make_client(url, workspace_id=workspace.upper()).resolve_project("prod").name == "prod"
    assert fake.calls[-1].headers["x-tenant-id"] == workspace
    with pytest.raises(LangSmithRejected) as info:
        make_client(url).resolve_project("prod")
    assert info.value.status == 403
    assert "org_scoped_key_requires_workspace" in info.value.message
    assert len(fake.calls) == 2  # a 403 is not retried


# ---- projects ------------------------------------------------------------------------------


def test_resolve_project_by_name_and_by_uuid(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    pid = fake.add_project("prod")
    fake.add_project("prod-eu")
    client = make_client(url)
    assert client.resolve_project(" prod ") == Project(pid, "prod")
    assert client.resolve_project(pid.replace("-", "").upper()) == Project(pid, "prod")
    assert fake.calls[-1].path == f"/api/v1/sessions/{pid}"


@pytest.mark.parametrize("wanted", ["nope", "Prod", "00000000-0000-4000-8000-000000000000"])
def test_resolve_project_not_found(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient], wanted: str
) -> None:
    fake, url = stand_in
    fake.add_project("prod")
    with pytest.raises(ProjectNotFound) as info:
        make_client(url).resolve_project(wanted)
    assert info.value.project == wanted


def test_list_projects_pages_by_100(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    made = {fake.add_project(f"p{i:03}") for i in range(230)}
    assert {p.id for p in make_client(url).list_projects()} == made
    assert [c.query["offset"] for c in fake.calls] == [["0"], ["100"], ["200"]]


# ---- deletes -------------------------------------------------------------------------------


def test_delete_traces_returns_the_receipt_and_checks_its_input(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    pid = fake.add_project("p")
    ids = fake.add_traces(pid, 3)
    client = make_client(url)
    receipt = client.delete_traces(pid, [*ids, ids[0].upper()])
    assert receipt == DeleteReceipt(202, {"message": "Run deletes queued"})
    assert fake.calls[-1].body == {"session_id": pid, "trace_ids": ids}
    fake.clear_calls()
    with pytest.raises(ValueError, match="1000"):
        client.delete_traces(pid, [str(uuid.uuid4()) for _ in range(1001)])
    with pytest.raises(ValueError, match="not a UUID"):
        client.delete_traces(pid, ["nope"])
    with pytest.raises(ValueError):
        client.delete_traces(pid, [])
    assert fake.calls == []
    assert fake.run_weekend() == 3


def test_delete_by_metadata_states_its_start_and_any_refusal_is_named(
    start: Start, make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = start()
    since = datetime(2025, 11, 3, 8, 30, tzinfo=UTC)
    receipt = make_client(url).delete_by_metadata({"user_id": "123"}, start_time=since)
    assert receipt.status == 202
    assert fake.calls[-1].body == {"metadata": {"user_id": "123"}, "start_time": "2025-11-03T08:30:00Z"}
    fake.inject("runs/delete", status=422, body={"detail": "start_time: invalid"})
    with pytest.raises(MetadataDeleteRefused, match="422"):
        make_client(url).delete_by_metadata({"user_id": "123"}, start_time=since)
    off, off_url = start(metadata_delete_enabled=False)
    with pytest.raises(MetadataDeleteRefused) as info:
        make_client(off_url).delete_by_metadata({"user_id": "123"}, start_time=since)
    assert isinstance(info.value, LangSmithRejected)
    assert info.value.status == 403 and "not enabled" in info.value.message
    assert len(off.calls) == 1


def test_hard_delete_examples_reports_count(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": "secret"}, metadata={"user_id": "123"})
    client = make_client(url)
    receipt = client.hard_delete_examples([eid, str(uuid.uuid4())])
    assert receipt.status == 200 and receipt.body == {"count": 1, "example_ids": [eid]}
    [example] = client.list_examples(example_ids=[eid])
    assert example["inputs"] is None and example["metadata"] is None


# ---- verification queries ------------------------------------------------------------------


def test_existing_traces_checks_2500_ids_in_pages_of_100(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    pid = fake.add_project("p")
    present = fake.add_traces(pid, 2000, child_metadata=[{"step": "1"}])
    elsewhere = fake.add_trace(fake.add_project("other"))
    child_ids = fake.trace_runs(present[0])
    unknown = [str(uuid.uuid4()) for _ in range(498)]
    asked = [*present, *unknown, elsewhere, *[c for c in child_ids if c != present[0]]]
    assert len(asked) == 2500
    client = make_client(url)
    assert existing(client, pid, asked) == set(present)
    queries = fake.calls_to("runs/query")
    assert len(queries) == 25
    assert all(len(c.body["id"]) <= 100 and c.body["session"] == [pid] for c in queries)
    assert all(c.body["limit"] == 100 and {"id", "trace_id"} <= set(c.body["select"]) for c in queries)
    client.delete_traces(pid, present[:1000])
    client.delete_traces(pid, present[1000:])
    fake.run_weekend()
    assert existing(client, pid, asked) == set()


def test_existing_traces_follows_cursors(start: Start, make_client: Callable[..., LangSmithClient]) -> None:
    fake, url = start()
    pid = fake.add_project("p")
    ids = fake.add_traces(pid, 30)

    class SmallPages(httpx.HTTPTransport):
        """Rewrites the page size on the wire, as a server that pages early would."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("runs/query"):
                body = json.loads(request.content)
                body["limit"] = 7
                headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
                request = httpx.Request(request.method, request.url, headers=headers, json=body)
            return super().handle_request(request)

    client = make_client(url, transport=SmallPages())
    assert existing(client, pid, ids) == set(ids)
    queries = fake.calls_to("runs/query")
    assert len(queries) == 5
    assert "cursor" not in queries[0].body and all("cursor" in c.body for c in queries[1:])


def test_find_traces_by_metadata_catches_child_runs(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    pid = fake.add_project("p")
    old = datetime.now(UTC) - timedelta(days=3)
    by_root = fake.add_trace(pid, metadata={"user_id": "123"}, start_time=old)
    by_child = fake.add_trace(pid, metadata={"user_id": "9"}, child_metadata=[{"email": "a@b.c"}])
    other = fake.add_trace(pid, metadata={"user_id": "1234"})
    client = make_client(url)
    pairs = [("user_id", "123"), ("email", "a@b.c")]
    assert found(client, pid, pairs) == {by_root, by_child}
    assert found(client, pid, [("user_id", "123"), ("user_id", "1234")]) == {by_root, other}
    recent = Window(old + timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=1))
    assert found(client, pid, pairs, recent) == {by_child}


def test_list_examples_sends_metadata_as_json_and_as_of(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": 1}, metadata={"user_id": "123"}, created_at=t0)
    fake.remove_example_from_latest(eid, at=t0 + timedelta(days=1))
    client = make_client(url)
    assert list(client.list_examples(metadata={"user_id": "123"})) == []
    found = list(client.list_examples(metadata={"user_id": "123"}, as_of=t0 + timedelta(hours=1), dataset_id=did))
    assert [e["id"] for e in found] == [eid]
    assert json.loads(fake.calls[-1].query["metadata"][0]) == {"user_id": "123"}


# ---- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 408, 500, 502, 503, 504, 520, 599])
def test_retryable_answers_are_retried(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient], status: int
) -> None:
    fake, url = stand_in
    pid = fake.add_project("p")
    fake.inject("runs/delete", status=status, times=2)
    receipt = make_client(url).delete_traces(pid, [str(uuid.uuid4())])
    assert receipt.status == 202
    assert [c.status for c in fake.calls_to("runs/delete")] == [status, status, 202]


def test_retry_after_is_honoured(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    fake.add_project("p")
    fake.inject("sessions", status=429, retry_after=0.4)
    began = time.monotonic()
    assert make_client(url).resolve_project("p").name == "p"
    calls = fake.calls
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.4
    assert time.monotonic() - began < 5


def test_exhausted_retries_raise_unavailable_with_the_hint(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    fake.inject("runs/query", status=503, times=10, retry_after=0.01, body={"detail": "maintenance"})
    with pytest.raises(LangSmithUnavailable) as info:
        existing(make_client(url), str(uuid.uuid4()), [str(uuid.uuid4())])
    assert info.value.status == 503 and info.value.retry_after == pytest.approx(0.01)
    assert "maintenance" in info.value.reason
    assert len(fake.calls) == FAST.attempts


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, {"detail": "Forbidden: missing permission"}, "Forbidden: missing permission"),
        (404, {"detail": "Not found"}, "Not found"),
        (422, {"detail": [{"loc": ["body", "trace_ids", 0], "msg": "Input should be a valid UUID"}]},
         "body.trace_ids.0: Input should be a valid UUID"),
        (400, {"error": "invalid request", "details": "bad ids"}, "invalid request (bad ids)"),
        (409, {"message": "conflict"}, "conflict"),
    ],
)  # fmt: skip
def test_other_4xx_fail_at_once_with_langsmiths_message(
    stand_in: tuple[FakeLangSmith, str],
    make_client: Callable[..., LangSmithClient],
    status: int,
    body: dict[str, Any],
    message: str,
) -> None:
    fake, url = stand_in
    fake.inject("runs/delete", status=status, body=body, times=5)
    with pytest.raises(LangSmithRejected) as info:
        make_client(url).delete_traces(str(uuid.uuid4()), [str(uuid.uuid4())])
    assert info.value.status == status
    assert info.value.message == message
    assert len(fake.calls) == 1


def test_read_timeout_is_retried(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    fake.add_project("p")
    fake.inject("sessions", delay=2.0)
    assert make_client(url, timeout=0.2).resolve_project("p").name == "p"
    deadline = time.monotonic() + 5  # the stand-in records the hang-up when its delay ends
    while fake.calls[0].status is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.status for c in fake.calls] == [499, 200]  # 499: the client hung up


def test_timeouts_exhaust_into_unavailable(
    stand_in: tuple[FakeLangSmith, str], make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = stand_in
    fake.inject("sessions", delay=2.0, times=3)
    with pytest.raises(LangSmithUnavailable) as info:
        make_client(url, timeout=0.15).resolve_project("p")
    assert info.value.status is None and "ReadTimeout" in info.value.reason
    assert isinstance(info.value, LangSmithError)


def test_connection_refused_is_unavailable(make_client: Callable[..., LangSmithClient]) -> None:
    with serve(create_app(FakeLangSmith())) as url:
        pass  # the port is free again now
    with pytest.raises(LangSmithUnavailable) as info:
        make_client(url).resolve_project("p")
    assert info.value.status is None and "Connect" in info.value.reason


# ---- secrets -------------------------------------------------------------------------------


def test_the_key_never_appears_in_errors(start: Start, make_client: Callable[..., LangSmithClient]) -> None:
    fake, url = start(api_key="lsv2_the_right_key")
    client = make_client(url)  # sends KEY, which is wrong here
    with pytest.raises(LangSmithRejected) as rejected:
        client.resolve_project("p")
    assert rejected.value.status == 401
    fake.inject("runs/delete", status=400, body={"detail": f"bad key {KEY}"})
    with pytest.raises(LangSmithRejected) as echoed:
        client.delete_traces(str(uuid.uuid4()), [str(uuid.uuid4())])
    fake.inject("runs/query", status=503, body={"error": KEY}, times=5)
    with pytest.raises(LangSmithUnavailable) as unavailable:
        existing(client, str(uuid.uuid4()), [str(uuid.uuid4())])
    fake.inject("sessions", delay=1.0, times=5)
    with pytest.raises(LangSmithUnavailable) as timed_out:
        make_client(url, timeout=0.1).resolve_project("p")
    for exc in (rejected.value, echoed.value, unavailable.value, timed_out.value):
        assert KEY not in str(exc) and KEY not in repr(exc)
        assert KEY not in str(vars(exc))
    assert "[redacted]" in str(echoed.value)
    assert KEY not in repr(client)


def test_retry_logs_do_not_carry_the_key(
    stand_in: tuple[FakeLangSmith, str],
    make_client: Callable[..., LangSmithClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, url = stand_in
    fake.add_project("p")
    fake.inject("sessions", status=503, body={"detail": KEY})
    with caplog.at_level("DEBUG"):
        make_client(url).resolve_project("p")
    assert caplog.records  # retries are logged ...
    assert all(KEY not in r.getMessage() and KEY not in str(r.__dict__) for r in caplog.records)  # ... without the key


# ---- pacing --------------------------------------------------------------------------------


def test_client_side_limiter_keeps_a_burst_free_of_429(
    start: Start, make_client: Callable[..., LangSmithClient]
) -> None:
    fake, url = start(query_limit=(5, 0.3))
    pid = fake.add_project("p")
    ids = fake.add_traces(pid, 20)
    no_retry = RetryPolicy(attempts=1)  # a 429 would surface as LangSmithUnavailable
    client = make_client(url, v1_query_rate=(5, 0.3), retry=no_retry)
    errors: list[Exception] = []

    def burst(chunk: list[str]) -> None:
        try:
            for tid in chunk:
                assert existing(client, pid, [tid]) == {tid}
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=burst, args=(ids[i::4],)) for i in range(4)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    statuses = [c.status for c in fake.calls_to("runs/query")]
    assert len(statuses) == 20 and set(statuses) == {200}
    assert time.monotonic() - began >= 0.9  # 20 calls at 5 per 0.3 s need three waits


# ---- filter quoting ------------------------------------------------------------------------


def test_quote_filter_value_picks_a_safe_quote_or_refuses() -> None:
    assert quote_filter_value("123") == '"123"'
    assert quote_filter_value('say "hi"') == "'say \"hi\"'"
    for bad in ['it\'s "both"', "back\\slash", "new\nline"]:
        with pytest.raises(ValueError):
            quote_filter_value(bad)


def test_metadata_filter_round_trips_through_the_stand_ins_parser() -> None:
    text = metadata_filter([("user_id", "123"), ("email", "o'brien@x.io")])
    assert text.startswith("or(and(eq(metadata_key, ")
    node = parse_filter(text)
    assert node[0] == "or" and len(node[1]) == 2
    assert compile_filter(parse_filter(metadata_filter([("k", 'a"b')]))) is not None
    with pytest.raises(ValueError):
        metadata_filter([])


def test_metadata_filter_keeps_every_value_of_a_repeated_key() -> None:
    text = metadata_filter([("user_id", "123"), ("user_id", "456"), ("user_id", "123")])
    node = parse_filter(text)
    assert node[0] == "or" and len(node[1]) == 2  # both values, the repeated pair once
    assert '"123"' in text and '"456"' in text
