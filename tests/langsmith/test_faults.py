"""Nothing is lost when LangSmith misbehaves: faults on real HTTP, through a proxy that can reset.

purgebot talks to the LangSmith stand-in through :mod:`bot.sandbox.faulty_proxy`, so a "reset"
fault is a real TCP RST the client sees as a transport error.  Retryable faults (429 with and
without Retry-After, 500/502/503, read timeouts, resets) on 30 % of calls still end in
``submitted`` and then ``verified``; a non-retryable answer fails the request cleanly after one
call; exhausted retries pause the request and say until when; a long rate-limit wait shows in
the progress message.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e import file_traces, jump_to_next_check, request_message, state, thread

from bot.app import Tuning
from bot.clock import SandboxClock, parse_utc
from bot.langsmith import LangSmithClient, LangSmithUnavailable, RetryPolicy, WaitNotice
from bot.sandbox.faulty_proxy import FaultyProxy, proxying
from bot.sandbox.langsmith import FakeLangSmith, Fault, create_app
from bot.sandbox.serving import serve
from bot.sandbox.slack_records import Message
from bot.sandbox.world import LANGSMITH_KEY, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import batches, events, requests

POLICY = RetryPolicy(attempts=8, timeout=20.0, wait_initial=0.01, wait_max=0.1, wait_jitter=0.0)
CLIENT_TIMEOUT = 1.0
TUNING = Tuning(
    check_interval=0.2,
    worker_idle=0.05,
    progress_interval=0.2,
    channel_pace=0.0,
    retry=POLICY,
    langsmith_timeout=CLIENT_TIMEOUT,
)
LOOSE = (10_000, 10.0)  # these tests are about faults, not pacing: no 15-per-10-s query budget
WAIT = 60.0

RETRYABLE = (
    Fault(status=429, retry_after=1),
    Fault(status=429),
    Fault(status=500),
    Fault(status=502),
    Fault(status=503),
    Fault(delay=CLIENT_TIMEOUT * 2),  # the client times out reading
    Fault(reset="before"),  # TCP reset before the stand-in acts
    Fault(reset="after"),  # the stand-in acted, the answer is lost in a reset
)


@dataclass
class Faulty:
    world: World
    proxy: FaultyProxy
    fake: FakeLangSmith


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock()


def start(stack: ExitStack, tmp_path: Path, clock: SandboxClock, *, tuning: Tuning = TUNING, **settings: Any) -> Faulty:
    """The stand-ins, the faulty proxy in front of LangSmith's, and purgebot talking through it.

    The workspace serves v1 queries (ClickHouse): 100 IDs a query makes enough queries for the seeded
    faults to meet every kind; v2's 1,000 a query would make a handful. Both share one transport.
    """
    fake = FakeLangSmith(api_key=LANGSMITH_KEY, query_limit=LOOSE, backend="clickhouse")
    world = stack.enter_context(
        running_world(
            tmp_path / "purgebot.db",
            clock=clock,
            tuning=tuning,
            langsmith=fake,
            start=False,
            purgebot_langsmith_query_rate="1000/10s",
            **settings,
        )
    )
    proxy = stack.enter_context(proxying(world.langsmith_url))
    world.langsmith_url = proxy.url
    world.start_bot()
    stack.callback(world.stop_bot)  # before the proxy closes
    return Faulty(world, proxy, fake)


@pytest.fixture
def faulty(tmp_path: Path, clock: SandboxClock) -> Iterator[Faulty]:
    with ExitStack() as stack:
        yield start(stack, tmp_path, clock)


@pytest.fixture
def one_at_a_time(tmp_path: Path, clock: SandboxClock) -> Iterator[Faulty]:
    """Delete concurrency 1: after a refusal no further batch may go out."""
    with ExitStack() as stack:
        yield start(stack, tmp_path, clock, purgebot_delete_concurrency=1)


def wait_state(world: World, wanted: str, timeout: float = WAIT) -> None:
    def reached(_: object) -> bool:
        return state(world) == wanted

    reached.__name__ = f"PURGE-1 is {wanted}"
    world.slack.wait_for(reached, timeout=timeout)


def shown_in_thread(world: World, root: Message) -> list[str]:
    """Each reply as a person reads it (blocks), and its fallback text."""
    replies = [m for m in world.slack.thread(REQUESTS_CHANNEL, root.ts) if m.is_reply]
    return [m.render() for m in replies] + [m.text for m in replies]


def wait_thread(world: World, root: Message, words: str, timeout: float = WAIT) -> None:
    def said(_: object) -> bool:
        return any(words in text for text in shown_in_thread(world, root))

    said.__name__ = f"thread says {words!r}"
    world.slack.wait_for(said, timeout=timeout)


def approved(world: World, count: int) -> tuple[str, list[str], Message]:
    """Alice files a purge of ``count`` traces and Bob approves it; (project, ids, root message)."""
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, count)
    file_traces(world, ids)
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    return project, ids, root


def progress(world: World, root: Message) -> Message:
    replies = [m for m in world.slack.thread(REQUESTS_CHANNEL, root.ts) if "deletes" in m.render().lower()]
    progress_messages = [m for m in replies if "Sending deletes" in m.render() or "Deletes sent" in m.render()]
    assert len(progress_messages) == 1, [m.render() for m in progress_messages]
    return progress_messages[0]


# ---- 30 % of calls fail in every retryable way ---------------------------------------------------


def test_a_purge_survives_retryable_faults_on_30_percent_of_calls(faulty: Faulty, clock: SandboxClock) -> None:
    world, fake = faulty.world, faulty.fake
    assert world.bot is not None
    fake.inject_random("runs/delete", rate=0.3, faults=RETRYABLE, seed=7)
    fake.inject_random("runs/query", rate=0.3, faults=RETRYABLE, seed=2)
    started = time.monotonic()

    project, ids, root = approved(world, 2500)
    wait_state(world, "submitted")
    submitted_after = time.monotonic() - started

    db = world.bot.store.db
    sent = batches.for_request(db, 1)
    assert sorted(b.size for b in sent) == [500, 1000, 1000]
    assert [b.state for b in sent] == [batches.SENT] * 3
    recorded = Counter(e.data["batch"] for e in events.for_request(db, 1) if e.kind == "batch_sent")
    assert recorded == {b.id: 1 for b in sent}  # each batch row marked sent exactly once
    deletes = fake.calls_to("runs/delete")
    answered = [c for c in deletes if c.status == 202 and c.fault is None]  # 202s the client saw
    assert {t for c in answered for t in c.body["trace_ids"]} == set(ids)
    assert {c.body["session_id"] for c in deletes} == {project}
    assert len(answered) == 3  # a batch is re-sent only until the client sees a 202
    wait_thread(world, root, "2,500 of 2,500 trace IDs accepted")

    fake.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    wait_thread(world, root, "PURGE-1 verified*: 0 of 2,500 traces remain")

    faults = Counter(c.fault for c in fake.calls if c.fault)
    kinds = {label.split(" ")[0] for label in faults}
    # the seeds are fixed: every kind of fault was met, by deletes and by queries
    assert kinds == {"429", "500", "502", "503", "delay=2", "reset-before", "reset-after"}, faults
    assert "429 retry-after=1" in faults and "429" in faults
    assert {"429", "reset-before"} <= {c.fault.split(" ")[0] for c in deletes if c.fault}
    assert faulty.proxy.resets == faults["reset-before"] + faults["reset-after"]
    assert sum(faults.values()) >= 0.2 * len(fake.calls_to("runs/"))
    print(f"submitted after {submitted_after:.1f}s; {len(fake.calls)} calls, faults {dict(faults)}")


# ---- refusals -------------------------------------------------------------------------------------

REFUSALS = {
    400: ({"detail": "Bad request: trace_ids malformed"}, "Bad request: trace_ids malformed"),
    401: ({"detail": "Invalid API key"}, "Invalid API key"),
    403: ({"detail": "Forbidden: key lacks runs:delete"}, "Forbidden: key lacks runs:delete"),
    404: ({"detail": "Session not found"}, "Session not found"),
    422: (
        {"detail": [{"loc": ["body", "trace_ids"], "msg": "ensure this value has at most 1000 items"}]},
        "body.trace_ids: ensure this value has at most 1000 items",
    ),
}


@pytest.mark.parametrize("status", sorted(REFUSALS))
def test_a_refusal_fails_the_request_after_one_call(one_at_a_time: Faulty, status: int) -> None:
    world, fake = one_at_a_time.world, one_at_a_time.fake
    assert world.bot is not None
    body, said = REFUSALS[status]
    fake.inject("runs/delete", status=status, body=body, times=1000)  # a retry would meet it again

    _, _, root = approved(world, 2500)

    wait_state(world, "failed", timeout=15)
    wait_thread(world, root, f"LangSmith refused a call ({status}: {said})", timeout=15)
    world.slack.wait_for(lambda s: any("PURGE-1 failed" in m.text for m in s.messages(NOTIFY_CHANNEL)), timeout=5)
    # the request fails only after every call of its pass came back, so these counts are final
    assert [c.status for c in fake.calls_to("runs/delete")] == [status]
    # one call refused; the batches written while it was in flight stay pending, never sent
    states = sorted(b.state for b in batches.for_request(world.bot.store.db, 1))
    assert states[-1] == batches.REFUSED and set(states[:-1]) <= {batches.PENDING} and len(states) <= 3
    assert requests.get(world.bot.store.db, 1).failure is not None


# ---- exhausted retries pause, then resume --------------------------------------------------------


def test_exhausted_retries_pause_the_request_and_it_resumes(faulty: Faulty, clock: SandboxClock) -> None:
    world, fake = faulty.world, faulty.fake
    assert world.bot is not None
    fake.inject("runs/delete", status=503, times=10_000, body={"detail": "Service Unavailable"})

    _, ids, root = approved(world, 3)

    wait_thread(world, root, "Pausing until", timeout=15)
    request = requests.get(world.bot.store.db, 1)
    assert request.state == "executing" and request.paused_until is not None
    until = parse_utc(request.paused_until)
    assert until >= clock.now() + timedelta(seconds=59)
    note = next(text for text in thread(world, root) if "Pausing until" in text)
    assert "503" in note and f"Pausing until {until:%a %d %b %Y %H:%M}" in note
    assert len(fake.calls_to("runs/delete")) == POLICY.attempts  # bounded by the policy
    assert world.bot.executor.step() is False  # while paused, there is nothing to pick up
    assert len(fake.calls_to("runs/delete")) == POLICY.attempts
    assert state(world) == "executing"

    fake.clear_faults()
    clock.jump_to(until + timedelta(seconds=1))
    world.bot.wake()

    wait_state(world, "submitted", timeout=15)
    deletes = fake.calls_to("runs/delete")
    assert len(deletes) == POLICY.attempts + 1 and deletes[-1].status == 202
    assert sorted(deletes[-1].body["trace_ids"]) == sorted(ids)
    assert requests.get(world.bot.store.db, 1).paused_until is None


# ---- the thread says when the bot waits on a rate limit ------------------------------------------


def test_a_long_rate_limit_wait_shows_in_the_progress_message(faulty: Faulty) -> None:
    world, fake = faulty.world, faulty.fake
    assert world.bot is not None
    fake.inject("runs/delete", status=429, retry_after=3, body={"detail": "Too many requests"})
    shown = "Waiting for LangSmith's rate limit (Retry-After 3 s)"

    started = time.monotonic()
    _, _, root = approved(world, 3)

    wait_thread(world, root, shown, timeout=10)  # while the client is still waiting
    assert state(world) == "executing"
    assert len(fake.calls_to("runs/delete")) == 1
    wait_state(world, "submitted", timeout=15)
    took = time.monotonic() - started
    assert took >= 3.0
    assert [c.status for c in fake.calls_to("runs/delete")] == [429, 202]

    wait_thread(world, root, "*Deletes sent:* ")  # the last edit
    message = progress(world, root)  # one progress message, edited
    assert shown not in message.render() and "*Deletes sent:*" in message.render()
    assert any(shown in version.text or "rate limit" in version.text for version in message.history)
    edits = [c for c in world.slack.calls("chat.update") if c.params.get("ts") == message.ts]
    assert 1 <= len(edits) <= 3


def test_short_waits_do_not_touch_the_progress_message(faulty: Faulty) -> None:
    world, fake = faulty.world, faulty.fake
    fake.inject("runs/delete", status=429, retry_after=0.5)
    fake.inject("runs/delete", status=503)

    _, _, root = approved(world, 3)

    wait_state(world, "submitted", timeout=15)
    wait_thread(world, root, "3 of 3 trace IDs accepted")
    message = progress(world, root)
    assert all("rate limit" not in v.text and "trying again" not in v.text for v in message.history)


# ---- the client's bounds -------------------------------------------------------------------------


@pytest.fixture
def stand_in() -> Iterator[tuple[FakeLangSmith, str, str]]:
    """A stand-in behind the faulty proxy, with one project and three traces; (fake, url, project)."""
    fake = FakeLangSmith(api_key=LANGSMITH_KEY, query_limit=LOOSE)
    project = fake.add_project("p")
    with serve(create_app(fake)) as url, proxying(url) as proxy:
        yield fake, proxy.url, project


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_n_attempts_make_exactly_n_calls_under_a_permanent_503(
    stand_in: tuple[FakeLangSmith, str, str], attempts: int
) -> None:
    fake, url, project = stand_in
    fake.inject("runs/delete", status=503, times=1000)
    notices: list[WaitNotice] = []
    policy = RetryPolicy(attempts=attempts, timeout=20.0, wait_initial=0.01, wait_max=0.1, wait_jitter=0.0)

    ids = fake.add_traces(project, 3)

    with (
        LangSmithClient(endpoint=url, api_key=LANGSMITH_KEY, retry=policy, on_wait=notices.append) as client,
        pytest.raises(LangSmithUnavailable) as raised,
    ):
        client.delete_traces(project, ids)

    assert raised.value.status == 503
    assert len(fake.calls_to("runs/delete")) == attempts
    assert [n.attempt for n in notices] == list(range(1, attempts))  # a wait between attempts, none after
    assert all(n.status == 503 and n.path == "/api/v1/runs/delete" for n in notices)
    assert [n.seconds for n in notices] == [min(0.1, 0.01 * 2**k) for k in range(attempts - 1)]


def test_no_wait_is_started_that_would_end_after_the_policys_timeout(
    stand_in: tuple[FakeLangSmith, str, str],
) -> None:
    fake, url, project = stand_in
    fake.inject("runs/delete", status=429, retry_after=1, times=1000)
    policy = RetryPolicy(attempts=50, timeout=2.5, wait_initial=0.01, wait_max=0.1, wait_jitter=0.0)
    notices: list[WaitNotice] = []

    ids = fake.add_traces(project, 1)

    started = time.monotonic()
    with (
        LangSmithClient(endpoint=url, api_key=LANGSMITH_KEY, retry=policy, on_wait=notices.append) as client,
        pytest.raises(LangSmithUnavailable) as raised,
    ):
        client.delete_traces(project, ids)
    took = time.monotonic() - started

    assert raised.value.status == 429 and raised.value.retry_after == 1.0  # the caller pauses with it
    assert len(fake.calls_to("runs/delete")) == 3  # waits of 1 s at 0 s and 1 s; a third would end past 2.5 s
    assert [n.seconds for n in notices] == [1.0, 1.0] and all(n.rate_limited for n in notices)
    assert took < policy.timeout


def test_resets_and_timeouts_reach_the_client_as_transport_errors(stand_in: tuple[FakeLangSmith, str, str]) -> None:
    fake, url, project = stand_in
    ids = fake.add_traces(project, 2)
    fake.inject("runs/delete", reset="before")
    fake.inject("runs/delete", reset="after")
    fake.inject("runs/delete", delay=0.6)
    notices: list[WaitNotice] = []

    with (
        LangSmithClient(endpoint=url, api_key=LANGSMITH_KEY, retry=POLICY, timeout=0.3) as client,
        client.reporting_waits(notices.append),
    ):
        receipt = client.delete_traces(project, ids)

    assert receipt.status == 202
    assert [n.status for n in notices] == [None, None, None]
    assert [n.reason.split(":")[0] for n in notices] == ["ReadError", "ReadError", "ReadTimeout"]
    deadline = time.monotonic() + 5
    while fake.calls_to("runs/delete")[2].status is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling: the stand-in notices the timed-out client hang up
    calls = fake.calls_to("runs/delete")
    assert [(c.status, c.fault) for c in calls] == [
        (None, "reset-before"),
        (202, "reset-after"),  # queued, though the client never heard
        (499, "delay=0.6"),
        (202, None),
    ]
    assert fake.pending_deletes() >= 2


def test_a_wait_hook_is_per_context_not_per_client(stand_in: tuple[FakeLangSmith, str, str]) -> None:
    """The executor's hook hears its own calls only, though the client is shared with other threads."""
    fake, url, project = stand_in
    ids = fake.add_traces(project, 1)
    mine: list[WaitNotice] = []
    fake.inject("runs/delete", status=503, times=2)

    with LangSmithClient(endpoint=url, api_key=LANGSMITH_KEY, retry=POLICY) as client:
        other = threading.Thread(target=client.delete_traces, args=(project, ids))
        other.start()
        other.join()  # its two 503s were retried silently: no hook in that thread
        fake.inject("runs/delete", status=502)
        with client.reporting_waits(mine.append):
            client.delete_traces(project, ids)
        fake.inject("runs/delete", status=500)
        client.delete_traces(project, ids)  # outside the block: silent again

    assert [n.status for n in mine] == [502]


def test_faults_can_be_injected_over_http(stand_in: tuple[FakeLangSmith, str, str]) -> None:
    fake, url, project = stand_in
    ids = fake.add_traces(project, 1)
    faults = [{"status": 503}, {"reset": "before"}, {"status": 429, "retry_after": 0.1}]
    with httpx.Client(base_url=url) as http:
        assert http.post("/_sandbox/inject_random", json={"path": "runs/delete", "rate": 1.0, "faults": faults}).json()
        assert http.post("/_sandbox/inject_random", json={"path": "x", "rate": 2, "faults": faults}).status_code == 400
    with LangSmithClient(endpoint=url, api_key=LANGSMITH_KEY, retry=POLICY) as client:
        with pytest.raises(LangSmithUnavailable):
            client.delete_traces(project, ids)  # every attempt meets a fault
        with httpx.Client(base_url=url) as http:
            http.post("/_sandbox/clear_faults")
        assert client.delete_traces(project, ids).status == 202
    labels = {c.fault for c in fake.calls_to("runs/delete")}
    assert labels == {"503", "reset-before", "429 retry-after=0.1", None}
