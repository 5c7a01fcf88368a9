"""Ack latency under load: signed slash commands and clicks at concurrency 16 while a large purge executes.

    python bench/ack_load.py [--traces 200000] [--count 500] [--concurrency 16] [--cores N]

The real ``purgebot serve`` runs as a child process (:class:`~bot.sandbox.process.ServeProcess`)
against the sandbox stand-ins on loopback. The LangSmith stand-in holds ``--traces`` traces of one
data subject over 10 projects (a day old, so the search at execution finds none anew); Alice files
``/purge metadata user_id=…``, the preview's search runs with the stand-in's query limit lifted and
no latency (``bench/scenario.py``), then LangSmith takes 20 ms a call under its default
limit of 1000 calls per 10 s, and Bob approves. As soon as the approval is recorded, ``--count``
slash commands (``help``, ``status PURGE-1``, ``list``) and ``--count`` button clicks on PURGE-1's
message (Approve or Reject by people whose click is refused: a bystander, the requester, a second
approver, Bob again), shuffled together, are sent signed as Slack signs them by ``--concurrency``
threads, each with its own keep-alive HTTP client. The time of each is from sending the request to
reading the whole answer.

PURGE-1's state is polled from the SQLite file while this runs, and the table says how many of the
requests were sent while it was ``executing``: a load that outlasts the purge is not a load during a
purge, and the output says so rather than hiding it.

In the same run, a minimal Bolt app — the same ``slack_bolt.App`` settings and the same serving
stack (``bot.server.create_web_app`` under ``uvicorn.run``), with listeners that only call
``ack()`` — gets exactly the same request bodies at the same concurrency, after purgebot has stopped.
The goal (from the issue): p99 under 100 ms, and within 1.5x of the minimal app.

``--cores N`` pins the bench and every process it starts to the first N cores (``sched_setaffinity``,
what ``taskset -c 0-(N-1)`` does), to show how the ratio moves with cores. The CPU seconds each
process used during each round (from ``/proc``) are printed under the table: ``purgebot serve`` is a
listener and its worker process, and on few cores they, the stand-ins and the load share the CPU.

The request threads run in a process of their own, so the stand-ins' work in this process (the
deletes, the replies to ``response_url``) does not hold the GIL against the clock that times the
requests. An answer other than 200 (Bolt answers 404 when a listener has not acked within 3 s) is
counted in the table and fails the goal. Exits 1 only if the run says nothing about the goal:
PURGE-1 did not end submitted, or no request was sent while it executed; a missed goal is a
result, printed, not an error.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx
import scenario
import uvicorn
from cpu_time import CpuMeter, cpu_line, load_average
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.messages import APPROVE_ACTION, REJECT_ACTION
from bot.sandbox.process import free_port
from bot.sandbox.slack_records import Message
from bot.sandbox.slack_user import Delivered, SlackDelivery, SlackUser
from bot.sandbox.world import (
    ALICE,
    BOB,
    BOT_TOKEN,
    CAROL,
    DAVE,
    REQUESTS_CHANNEL,
    SIGNING_SECRET,
    World,
)
from bot.server import create_web_app

PROJECTS = 10
LATENCY = 0.02  # seconds the LangSmith stand-in takes per call from the approval on
SEED = 7  # the order of the requests
WAIT = 900.0  # the longest any one step may take (the preview of 200,000 traces takes well under that)
POLL = 0.01  # seconds between reads of PURGE-1's state
FORM = "application/x-www-form-urlencoded"
SLASH_TEXTS = ("help", "status PURGE-1", "list")
SLASH_USERS = (ALICE, BOB, CAROL, DAVE)
# Clicks every state past awaiting_approval refuses, so none of them changes the purge under way:
# a bystander, the requester, the approver again, a second approver.
CLICKS = ((CAROL, "Approve"), (CAROL, "Reject"), (ALICE, "Approve"), (BOB, "Approve"), (DAVE, "Approve"))
SLASH, CLICK = "slash", "click"


@dataclass(frozen=True)
class Job:
    """One request to send: its kind (``slash``/``click``) and its form body, signed when sent."""

    kind: str
    body: str


@dataclass(frozen=True)
class Sample:
    """One request as sent: when (wall clock, to compare with the state polls), how long, the answer."""

    kind: str
    sent: float
    elapsed: float
    status: int


@dataclass(frozen=True)
class Round:
    """One app's answers to the whole load, and how long the load took from first send to last answer."""

    samples: list[Sample]
    started: float
    ended: float


# -- the requests ------------------------------------------------------------------------------


class _Recorder(SlackDelivery):
    """A delivery that builds Slack's signed-HTTP bodies but sends nothing: it keeps them instead.

    The bodies come from the same code that delivers them in the tests (``SlackDelivery``), and each
    trigger_id and response_url is registered with the Slack stand-in as a real delivery registers it,
    so the replies purgebot sends to a ``response_url`` land. They are built before the load starts,
    so building them is not timed, and the same bodies then go to both apps.
    """

    def _deliver(self, body: str, *, trigger_id: str | None, response_url: str | None) -> Delivered:
        return Delivered(
            status=0,
            body="",
            content_type="",
            elapsed=0.0,
            trigger_id=trigger_id,
            response_url=response_url,
            request_body=body,
        )


def build_jobs(world: World, root: Message, count: int) -> tuple[list[Job], list[Job]]:
    """``count`` slash commands and ``count`` clicks on ``root``, in a seeded shuffled order; and the
    warm-up each thread sends first (a ``help``, answered the same before and during the purge)."""
    recorder = _Recorder(
        app_url="http://unused", signing_secret=SIGNING_SECRET, slack=world.slack, slack_url=world.slack_url
    )
    recorder.close()  # the HTTP client it opened is never used
    warmup = [Job(SLASH, SlackUser(recorder, CAROL).slash("help", channel_id=REQUESTS_CHANNEL).request_body)]
    jobs = []
    for n in range(count):
        person = SlackUser(recorder, SLASH_USERS[n % len(SLASH_USERS)])
        jobs.append(
            Job(SLASH, person.slash(SLASH_TEXTS[n % len(SLASH_TEXTS)], channel_id=REQUESTS_CHANNEL).request_body)
        )
        user, label = CLICKS[n % len(CLICKS)]
        jobs.append(Job(CLICK, SlackUser(recorder, user).click(root, label).request_body))
    random.Random(SEED).shuffle(jobs)
    return jobs, warmup


# -- the load (runs in a process of its own) ---------------------------------------------------


def load_ready() -> int:
    """Called once to start the load process before the approval, so its start-up is not in the window;
    returns its process id (its CPU time is read from /proc)."""
    return os.getpid()


def run_load(url: str, jobs: Sequence[Job], warmup: Sequence[Job], concurrency: int) -> Round:
    """Send ``jobs`` from ``concurrency`` threads, each with its own keep-alive client.

    Each thread first sends ``warmup`` (not counted: it opens the connection, and the server's
    first use of a listener thread is not what is measured), then all start together and take the
    next job as they finish one.
    """
    events_url = url.rstrip("/") + "/slack/events"
    verifier = SignatureVerifier(SIGNING_SECRET)
    samples: list[Sample | None] = [None] * len(jobs)
    queue = iter(range(len(jobs)))
    lock = threading.Lock()
    start = threading.Barrier(concurrency)
    window: list[float] = []

    def worker() -> None:
        with httpx.Client(timeout=10.0) as client:
            for job in warmup:
                send(client, verifier, events_url, job)
            if start.wait() == 0:
                window.append(time.time())
            while True:
                with lock:
                    index = next(queue, None)
                if index is None:
                    return
                samples[index] = send(client, verifier, events_url, jobs[index])

    threads = [threading.Thread(target=worker, name=f"load-{n}") for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [sample for sample in samples if sample is not None]
    return Round(samples=done, started=window[0], ended=max(s.sent + s.elapsed for s in done))


def send(client: httpx.Client, verifier: SignatureVerifier, url: str, job: Job) -> Sample:
    """POST one body, freshly signed (signing is Slack's work, so it is not timed)."""
    timestamp = str(int(time.time()))
    signature = verifier.generate_signature(timestamp=timestamp, body=job.body)
    if signature is None:
        raise RuntimeError("SignatureVerifier produced no signature")
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    sent = time.time()
    started = time.perf_counter()
    try:
        status = client.post(url, content=job.body.encode(), headers=headers).status_code
    except httpx.HTTPError:
        status = 0
    return Sample(job.kind, sent, time.perf_counter() - started, status)


# -- the minimal app (runs in a process of its own) --------------------------------------------


def serve_minimal(port: int, slack_api_url: str) -> None:
    """A Bolt app built like ``PurgeBot.bolt`` whose listeners only ack, served like ``purgebot serve``.

    Same client (a token, so Bolt calls auth.test on the Slack stand-in and authorizes each request
    as purgebot's does), same listener executor, ``process_before_response=False``, same Starlette
    app and uvicorn settings: what differs from purgebot is only what the listeners do.
    """
    bolt = App(
        client=WebClient(token=BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
        process_before_response=False,
    )

    def only_ack(ack: Ack) -> None:
        ack()

    bolt.command("/purge")(only_ack)
    bolt.action(APPROVE_ACTION)(only_ack)
    bolt.action(REJECT_ACTION)(only_ack)
    uvicorn.run(create_web_app(bolt), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_healthy(url: str, alive: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline and alive():
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise scenario.BenchFailed(f"the minimal Bolt app at {url} did not answer /healthz")


# -- PURGE-1's state, polled from the file -----------------------------------------------------


class StateWatch:
    """When PURGE-1 was first seen in each state (wall clock), read every ``POLL`` seconds on a
    short-lived connection (the server writes beside it). The times are late by up to ``POLL``."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.first_seen: dict[str, float] = {}
        self.state: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="state-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def wait_for(self, what: str, condition: Callable[[str | None], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not condition(self.state):
            if time.monotonic() > deadline:
                raise scenario.BenchFailed(f"{what}: not so after {WAIT:g}s (PURGE-1 is {self.state})")
            time.sleep(POLL / 2)

    def _poll(self) -> None:
        while not self._stop.is_set():
            state = self._read()
            if state is not None:
                self.first_seen.setdefault(state, time.time())
                self.state = state
            time.sleep(POLL)

    def _read(self) -> str | None:
        return scenario.state(self.db_path) if self.db_path.exists() else None


# -- the story ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgebotRun:
    jobs: list[Job]  # what was sent, so the minimal app gets the very same bodies
    warmup: list[Job]
    round: Round
    watch: StateWatch
    seeded: float  # seconds
    preview: float  # seconds from filing to the preview's message
    batches: int
    cpu: dict[str, float]  # CPU seconds each process used during the load


def run_purgebot(
    world: World,
    workdir: Path,
    loader: tuple[ProcessPoolExecutor, int],
    *,
    traces: int,
    count: int,
    concurrency: int,
) -> PurgebotRun:
    """Seed, file, preview, approve; fire the load the moment the approval is recorded."""
    started = time.monotonic()
    scenario.seed(world.langsmith, traces=traces, projects=PROJECTS, others_per_project=0)
    seeded = time.monotonic() - started
    server = scenario.server(
        world,
        workdir,
        PURGEBOT_LANGSMITH_QUERY_RATE=scenario.LIFTED_RATE,
        PURGEBOT_LANGSMITH_V2_QUERY_RATE=scenario.LIFTED_RATE,
    )
    watch = StateWatch(world.db_path)
    try:
        server.start()
        watch.start()
        filed_at = time.monotonic()
        root = scenario.file_and_preview(world, server, timeout=WAIT)
        preview = time.monotonic() - filed_at
        jobs, warmup = build_jobs(world, root, count)
        world.langsmith.latency = LATENCY
        world.langsmith.default_limit = (1000, 10.0)
        scenario.approve(world, server, root)
        watch.wait_for("Bob's approval is recorded", lambda state: state not in (None, "awaiting_approval"))
        pool, loader_pid = loader
        meter = CpuMeter(
            {
                "listener": server.pid,
                "worker": server.worker_pid,
                "stand-ins (bench)": os.getpid(),
                "load generator": loader_pid,
            }
        )
        result = pool.submit(run_load, server.url, jobs, warmup, concurrency).result()
        meter.stop()
        watch.wait_for("PURGE-1 is submitted", lambda state: state in ("submitted", "failed"))
        batches = count_batches(world.db_path)
    except Exception:
        print(f"--- serve log tail:\n{server.log_tail(30)}", file=sys.stderr)
        raise
    finally:
        watch.stop()
        server.stop()
    return PurgebotRun(
        jobs=jobs,
        warmup=warmup,
        round=result,
        watch=watch,
        seeded=seeded,
        preview=preview,
        batches=batches,
        cpu=meter.used,
    )


def count_batches(db_path: Path) -> int:
    return int(scenario.query(db_path, "SELECT count(*) FROM batches WHERE request_id = 1"))


def run_minimal(
    world: World,
    loader: tuple[ProcessPoolExecutor, int],
    jobs: Sequence[Job],
    warmup: Sequence[Job],
    concurrency: int,
) -> tuple[Round, dict[str, float]]:
    """The same bodies, at the same concurrency, to the minimal app (purgebot has stopped by now);
    with the CPU seconds each process used meanwhile."""
    port = free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=serve_minimal, args=(port, world.slack_url + "/api/"), name="minimal-bolt")
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process.is_alive)
        pool, loader_pid = loader
        meter = CpuMeter({"minimal app": process.pid, "stand-ins (bench)": os.getpid(), "load generator": loader_pid})
        result = pool.submit(run_load, url, jobs, warmup, concurrency).result()
        return result, meter.stop()
    finally:
        process.terminate()
        process.join(15)
        if process.is_alive():
            process.kill()
            process.join()


# -- the report --------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p99: float
    worst: float
    failed: int  # answers other than 200

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Stats:
        ms = [s.elapsed * 1000 for s in samples]
        failed = sum(s.status != 200 for s in samples)
        return cls(len(ms), statistics.median(ms), percentile(ms, 0.99), max(ms), failed)

    def row(self) -> str:
        return f"{self.n:>6}{self.p50:>9.1f}{self.p99:>9.1f}{self.worst:>9.1f}{self.failed:>6}"


def table(ours: Round, minimal: Round) -> list[str]:
    cols = f"{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'worst':>9}{'!200':>6}"
    lines = [
        f"{'':<8}{'purgebot':^39}  {'minimal Bolt app':^39}  {'purgebot / minimal':^18}",
        f"{'':<8}{cols}  {cols}  {'p50':>9}{'p99':>9}",
    ]
    for name, kinds in (("slash", {SLASH}), ("clicks", {CLICK}), ("all", {SLASH, CLICK})):
        a = Stats.of([s for s in ours.samples if s.kind in kinds])
        b = Stats.of([s for s in minimal.samples if s.kind in kinds])
        lines.append(f"{name:<8}{a.row()}  {b.row()}  {a.p50 / b.p50:>8.2f}x{a.p99 / b.p99:>8.2f}x")
    return lines


def overlap_lines(run: PurgebotRun) -> tuple[list[str], list[Sample]]:
    """What the load overlapped: the execution window, and the requests sent inside it."""
    seen, load = run.watch.first_seen, run.round
    approved = min((seen[s] for s in ("approved", "executing", "submitted") if s in seen), default=load.started)
    executing = seen.get("executing", approved)
    submitted = seen.get("submitted", seen.get("failed", math.inf))
    inside = [s for s in load.samples if executing <= s.sent <= submitted]
    lines = [
        f"execution window: approval recorded → executing +{(executing - approved) * 1000:.0f} ms → "
        f"submitted +{submitted - approved:.2f} s ({run.batches} delete batches; states polled every "
        f"{POLL * 1000:g} ms)",
        f"load: from +{load.started - approved:.2f} s to +{load.ended - approved:.2f} s "
        f"({load.ended - load.started:.2f} s, {len(load.samples) / (load.ended - load.started):.0f} requests/s); "
        f"{len(inside)} of {len(load.samples)} requests ({100 * len(inside) / len(load.samples):.0f}%) "
        f"were sent while PURGE-1 was executing",
    ]
    if len(inside) < len(load.samples):
        lines.append(
            f"NOTE: {len(load.samples) - len(inside)} requests were sent outside the execution window; "
            "the 'during execution only' line below counts just the others"
        )
    return lines, inside


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, default=200_000, help="traces of the subject, over 10 projects")
    parser.add_argument("--count", type=int, default=500, help="slash commands, and as many clicks")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--cores", type=int, help="pin the bench and every process it starts to this many cores (as taskset does)"
    )
    args = parser.parse_args(argv)
    if args.cores:
        available = sorted(os.sched_getaffinity(0))
        if not 1 <= args.cores <= len(available):
            parser.error(f"--cores takes 1 to {len(available)} here")
        os.sched_setaffinity(0, available[: args.cores])  # inherited by every process started from here on
    began = time.monotonic()
    print(
        f"ack load: {args.count} slash commands + {args.count} clicks at concurrency {args.concurrency}, "
        f"during a purge of {args.traces:,} traces in {PROJECTS} projects; LangSmith stand-in "
        f"{LATENCY * 1000:g} ms a call, 1000 calls / 10 s",
        flush=True,
    )
    print(
        f"environment: {len(os.sched_getaffinity(0))} of {os.cpu_count()} cores"
        f"{' (pinned, --cores)' if args.cores else ''}, load average {load_average()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"slack_bolt {version('slack_bolt')}, uvicorn {version('uvicorn')}, "
        f"starlette {version('starlette')}",
        flush=True,
    )
    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="purgebot-ack-load-") as folder,
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as loader,
        scenario.workspace(Path(folder)) as world,
    ):
        load = (loader, loader.submit(load_ready).result())
        ours = run_purgebot(
            world, Path(folder), load, traces=args.traces, count=args.count, concurrency=args.concurrency
        )
        print(f"seeded in {ours.seeded:.1f} s; preview posted {ours.preview:.1f} s after filing", flush=True)
        minimal, minimal_cpu = run_minimal(world, load, ours.jobs, ours.warmup, args.concurrency)
        final = ours.watch.state
    return report(ours, (minimal, minimal_cpu), final, began)


def report(ours: PurgebotRun, minimal_run: tuple[Round, dict[str, float]], final: str | None, began: float) -> int:
    """Print the table, what the load overlapped and the verdict; 1 if the run says nothing about the goal."""
    minimal, minimal_cpu = minimal_run
    print()
    for line in table(ours.round, minimal):
        print(line)
    lines, inside = overlap_lines(ours)
    if inside and len(inside) < len(ours.round.samples):
        during = Stats.of(inside)
        lines.append(
            f"during execution only: n {during.n}, p50 {during.p50:.1f} ms, p99 {during.p99:.1f} ms, "
            f"worst {during.worst:.1f} ms, {during.failed} not 200"
        )
    lines.append(cpu_line("purgebot's round", ours.cpu, ours.round.ended - ours.round.started))
    lines.append(cpu_line("the minimal app's round", minimal_cpu, minimal.ended - minimal.started))
    print()
    for line in lines:
        print(line)
    ours_all, minimal_all = Stats.of(ours.round.samples), Stats.of(minimal.samples)
    ratio = ours_all.p99 / minimal_all.p99
    verdicts = [
        f"p99 < 100 ms: {'met' if ours_all.p99 < 100 else 'NOT met'} ({ours_all.p99:.1f} ms)",
        f"p99 within 1.5x of the minimal app: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)",
        f"every ack a 200: {'met' if not ours_all.failed else 'NOT met'} ({ours_all.failed} not 200)",
    ]
    partial = f" (over all {ours_all.n} requests: see NOTE)" if len(inside) < ours_all.n else ""
    print("goal: " + "; ".join(verdicts) + partial)
    problems = ([f"PURGE-1 ended {final}, not submitted"] if final != "submitted" else []) + (
        ["no request was sent while PURGE-1 executed"] if not inside else []
    )
    print(
        f"run time {time.monotonic() - began:.0f} s, load average at the end {load_average()}"
        + "".join(f"; INVALID RUN: {p}" for p in problems)
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
