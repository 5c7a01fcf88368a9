"""One crash-loop trial: kill -9 a real ``purgebot serve`` at random points of a large purge.

DESIGN.md ("Nothing lost"): a request, each batch and each scheduled check is a row before anything
is sent; a crash re-sends at most the calls that were in flight; a check that came due while the
bot was down runs when it comes back. A trial checks exactly that, with nothing simulated on the
purgebot side — the installed console script runs as a child process (:class:`ServeProcess`) and is
killed with SIGKILL, so no ``finally`` and no shutdown hook runs:

1. fresh stand-ins and a fresh SQLite file; the LangSmith stand-in holds ``traces`` traces of one
   data subject (``user_id=…``) spread over a few projects, plus unrelated traces that must survive;
2. Alice files ``/purge metadata user_id=…`` over signed HTTP, the preview's streaming search finds
   the subject's traces, Bob approves, the executor sends the deletes;
3. meanwhile the server is killed 1…``max_kills`` times at seeded random points — during the
   preview's search (after n ``runs/query`` calls), during the deletes (after n ``runs/delete``
   calls: between batches or with calls in flight) or just after ``submitted`` (while the outbox is
   still posting) — and started again on the same file each time;
4. once the request is submitted, the invariants are read from the SQLite file and from the
   stand-ins' call logs (see ``_Trial._check_purge``) — among them that only batches whose call a
   killed process made but never recorded as answered are sent again;
5. the downtime check: the server is stopped, LangSmith's weekend job runs, the scheduled check's
   due time is moved into the past while no server runs, the server starts → the check runs at once
   and the request is ``verified``.

Why a metadata request rather than 20,000 trace IDs in the slash command: Slack's real limit is about
80 IDs a command, so a 20,000-ID command would test a path Slack never delivers, while a subject
purge of 20,000 traces is how a purge that large really arrives — and it also puts the preview's
streaming search (about ``traces / 100`` queries) in the way of the kills.

Why the due time is moved in SQLite rather than set with ``PURGEBOT_VERIFY_AT=+2s``: the server
reads the real clock, and a 2-second interval would fall due while the server is still up (the check
would then run before the weekend, find everything and re-send it), or not, depending on timing. A
due time in the past while nobody runs is exactly the state a long downtime leaves behind; the
server's own code then has to find the overdue row at start. The row is asserted to be pending and
due in the future before it is moved, so the check cannot have run earlier.

From the approval on, the LangSmith stand-in answers every call after ``latency`` seconds, so kills
land with delete calls in flight. The preview's search runs at the stand-in's own speed
(``search_latency``, default 0): its ~200 queries go one after another, a kill there is placed by
counting them, and 20 ms more each would only make the loop slower. For the same reason the
stand-in's ``runs/query`` limit, and the bot's matching pace, are raised (the rate limit has its
own tests).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import parse_utc, utc_iso
from bot.sandbox.crash_invariants import Invariants, batch_key, call_key
from bot.sandbox.crash_plan import (
    DELETES,
    LISTENER,
    SEARCH,
    WORKER,
    Kill,
    TrialConfig,
    TrialResult,
    plan_kills,
    trial_seed,
)
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess, ServeProcessError
from bot.sandbox.slack_records import Message
from bot.sandbox.world import (
    LANGSMITH_KEY,
    NOTIFY_CHANNEL,
    REQUESTS_CHANNEL,
    World,
    running_world,
)
from storage import batches, checks, claims, events, items, outbox, requests
from storage.db import Store

FAST_QUERIES = "100000/1s"  # the bot's runs/query pace, matching the stand-in's raised limit
TAKEOVER = "took over work of stopped processes"


class TrialFailed(AssertionError):
    """A trial could not go on (a wait ran out, the server did not come up)."""


def run_trial(trial: int, seed: int, config: TrialConfig, workdir: Path) -> TrialResult:
    """Run one trial in ``workdir`` (a fresh directory); invariant failures are returned, not raised."""
    result = TrialResult(trial=trial, seed=trial_seed(seed, trial))
    rng = random.Random(result.seed)
    kills = plan_kills(rng, config)
    started = time.monotonic()
    # v1 queries (ClickHouse): a search of 100 runs a query is long enough for kills to land inside it
    langsmith = FakeLangSmith(
        api_key=LANGSMITH_KEY, latency=config.search_latency, query_limit=(100_000, 1.0), backend="clickhouse"
    )
    with running_world(workdir / "purgebot.db", start=False, langsmith=langsmith) as world:
        servers = [
            ServeProcess(
                db_path=world.db_path,
                slack_url=world.slack_url,
                langsmith_url=world.langsmith_url,
                log_path=workdir / f"serve-{n}.log",
                extra_env={
                    "PURGEBOT_DELETE_CONCURRENCY": str(config.concurrency),
                    "PURGEBOT_LANGSMITH_QUERY_RATE": FAST_QUERIES,
                },
            )
            for n in range(config.servers)
        ]
        try:
            _Trial(world, servers, config, rng, result).run(kills)
        except (TrialFailed, ServeProcessError) as error:
            tails = "\n".join(f"--- serve-{n} log tail:\n{server.log_tail(30)}" for n, server in enumerate(servers))
            result.failures.append(f"{error}\n{tails}")
        finally:
            for server in servers:
                server.kill()
    result.seconds = time.monotonic() - started
    return result


class _Trial:
    def __init__(
        self, world: World, servers: list[ServeProcess], config: TrialConfig, rng: random.Random, result: TrialResult
    ) -> None:
        self.world = world
        self.servers = servers
        self.server = servers[0]  # the one people reach (a restart keeps its port)
        self.config = config
        self.rng = rng
        self.result = result
        self.subject = f"subject-{rng.randrange(10**6)}"
        self.expected_takeovers = 0
        self.deletes_seen = 0  # delete calls made by processes killed before
        self.unanswered: Counter[tuple[str, str]] = Counter()  # calls made whose batch the file does not hold sent
        self.invariants = Invariants(world, result, self.unanswered)

    # -- the story ------------------------------------------------------------------------------

    def run(self, kills: list[Kill]) -> None:
        subject, others = self._seed()
        self.result.bound = len(kills) * self.config.concurrency
        for server in self.servers:
            server.start()
        with self.world.people_at(self.server.url) as (alice, _):
            filed = alice.slash(f'metadata user_id={self.subject} --reason "DSR-crash"', channel_id=REQUESTS_CHANNEL)
        if filed.status != 200 or "Filing a subject purge" not in filed.body:
            raise TrialFailed(f"filing was refused: {filed.status} {filed.body}")
        pending = list(kills)
        while pending and pending[0].phase == SEARCH:
            self._kill_at(pending.pop(0))
        root = self._wait_for_preview()
        self.world.langsmith.latency = self.config.latency  # the deletes take a while: kills land mid-call
        with self.world.people_at(self.server.url) as (_, bob):
            clicked = bob.click(root, "Approve")
        if clicked.status != 200:
            raise TrialFailed(f"the approval was refused: {clicked.status} {clicked.body}")
        # The click is stored before its ack and decided after it, by the worker; a kill in between
        # leaves it stored, and the next worker decides it. The purge starts once the approval is
        # recorded, so that is where the kills in the purge are counted from.
        self._wait("Bob's approval is recorded", lambda: self._state() != "awaiting_approval")
        for kill in pending:
            self._kill_at(kill)
        self._wait("PURGE-1 is submitted and the outbox drained", self._settled)
        self.result.takeovers = sum(server.log_text().count(TAKEOVER) for server in self.servers)
        self.invariants.expect(
            self.result.takeovers == self.expected_takeovers,
            f"{self.result.takeovers} restarts took over claims at once; "
            f"{self.expected_takeovers} killed processes held one",
        )
        with _store(self.world.db_path) as store:
            self.invariants.purge(store, subject, others)
        self._downtime_check(subject, others)

    def _seed(self) -> tuple[set[str], set[str]]:
        """The subject's traces over a few projects (a day old, so the search at execution finds none
        anew), and unrelated traces in the same projects."""
        langsmith = self.world.langsmith
        day_ago = datetime.now(UTC) - timedelta(days=1)
        subject: set[str] = set()
        others: set[str] = set()
        projects = max(1, self.config.projects)
        for n in range(projects):
            project = langsmith.add_project(f"prod-{n}")
            share = self.config.traces // projects + (1 if n < self.config.traces % projects else 0)
            metadata = {"user_id": self.subject}
            subject.update(langsmith.add_traces(project, share, metadata=metadata, start_time=day_ago))
            others.update(langsmith.add_traces(project, self.config.others, metadata={"user_id": "someone-else"}))
        return subject, others

    # -- killing --------------------------------------------------------------------------------

    def _kill_at(self, kill: Kill) -> None:
        langsmith = self.world.langsmith
        if kill.phase == SEARCH:
            base = len(langsmith.calls_to("runs/query"))
            self._wait(
                "the preview's search is under way",
                lambda: len(langsmith.calls_to("runs/query")) - base >= kill.after or self._preview_stored(),
            )
        elif kill.phase == DELETES:
            base = len(langsmith.calls_to("runs/delete"))
            self._wait(
                "delete calls arrive",
                lambda: len(langsmith.calls_to("runs/delete")) - base >= kill.after or self._state() == "submitted",
            )
        else:
            self._wait("PURGE-1 is submitted", lambda: self._state() == "submitted")
            time.sleep(kill.after / 1000)
        victim = self.rng.choice(self.servers) if len(self.servers) > 1 else self.server
        dead = victim.worker_pid  # the worker process holds the claims
        listener = victim.pid
        if kill.target == WORKER and listener is not None:
            os.kill(listener, signal.SIGSTOP)  # no new worker until the file the dead one left is read
            victim.kill_worker()
        elif kill.target == LISTENER:
            victim.kill_listener()
        else:
            victim.kill()
        try:
            time.sleep(0.2)  # a request body already in the socket buffer still reaches the stand-in
            self._wait(
                "the killed process's calls are cut off", lambda: all(c.status is not None for c in langsmith.calls)
            )
            where, held = self._where(kill, dead)
        finally:
            if kill.target == WORKER and listener is not None:
                os.kill(listener, signal.SIGCONT)
        self.result.kills.append(where)
        self.expected_takeovers += held
        if kill.target == WORKER and dead is not None:
            victim.wait_for_new_worker(dead, timeout=60.0)
        else:
            victim.start(timeout=60.0)

    def _where(self, kill: Kill, dead: int | None) -> tuple[str, bool]:
        """Where the kill landed, read from the file the dead process left; and whether it left a claim.

        "unanswered" counts the delete calls the dead process made whose batch its file does not
        record as sent: exactly what the restart has to send again. With two servers only the holder
        of the request makes calls (leases are fenced); a kill of the other one leaves them to the
        holder's own kill, or to none.
        """
        with _store(self.world.db_path) as store:
            held = any(f":{dead}:" in owner for owner in claims.owners(store.db))
            sending = len(self.servers) == 1 or f":{dead}:" in (requests.get(store.db, 1).claim_owner or "")
        deletes = self.world.langsmith.calls_to("runs/delete")
        made = {call_key(call) for call in deletes[self.deletes_seen :]} if sending else set()
        if sending:
            self.deletes_seen = len(deletes)
        with _store(self.world.db_path) as store:
            request = requests.get(store.db, 1)
            rows = batches.for_request(store.db, 1)
            recorded = {batch_key(b, items.in_batch(store.db, b)) for b in rows if b.state == batches.SENT}
            found = items.count(store.db, 1, kind=items.TRACE)
            unsent = outbox.pending_count(store.db)
        unanswered = made - recorded
        self.unanswered.update(unanswered)
        self.result.unanswered += len(unanswered)
        if request.state == "awaiting_approval":
            what = "preview ready" if request.preview else f"search, {found:,} found"
        elif request.state == "submitted":
            what = f"submitted, {unsent} posts unsent"
        else:
            sent = sum(1 for b in rows if b.state == batches.SENT)
            what = f"{request.state}, {sent}/{len(rows)} sent" if rows else f"{request.state}, no batches yet"
        if unanswered:
            what += f", {len(unanswered)} unanswered"
        return f"{kill.target} {kill.phase}@{kill.after}: {what}", held

    # -- waiting --------------------------------------------------------------------------------

    def _wait(self, what: str, condition: Callable[[], bool], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.config.wait)
        while not condition():
            if time.monotonic() > deadline:
                raise TrialFailed(f"{what}: still not so after {timeout or self.config.wait:g}s")
            time.sleep(0.003)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """One value from the file, read on a short-lived connection (the server writes beside it)."""
        if not self.world.db_path.exists():
            return None
        conn = sqlite3.connect(self.world.db_path, timeout=30.0)
        try:
            row = conn.execute(sql, params).fetchone()
        except sqlite3.OperationalError:  # no such table: the server has not migrated the file yet
            return None
        finally:
            conn.close()
        return row[0] if row else None

    def _state(self) -> str | None:
        value = self._query("SELECT state FROM requests WHERE id = 1")
        return str(value) if value is not None else None

    def _preview_stored(self) -> bool:
        return bool(self._query("SELECT preview IS NOT NULL FROM requests WHERE id = 1"))

    def _settled(self) -> bool:
        return self._state() == "submitted" and self._outbox_drained()

    def _outbox_drained(self) -> bool:
        return bool(self._query("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0)

    def _wait_for_preview(self) -> Message:
        def root() -> Message | None:
            for message in self.world.slack.messages(REQUESTS_CHANNEL):
                text = message.render()
                if not message.is_reply and "PURGE-1*" in text and "[Approve]" in text:
                    return message
            return None

        self._wait("the preview of PURGE-1 is posted", lambda: root() is not None)
        found = root()
        assert found is not None
        return found

    def _downtime_check(self, subject: set[str], others: set[str]) -> None:
        """Stop; the weekend job runs and the check falls due while nothing runs; start → it runs."""
        for server in self.servers:
            code = server.stop()
            self.invariants.expect(code == 0, f"a graceful stop exited with {code}")
        with _store(self.world.db_path) as store:
            upcoming = checks.next_pending(store.db, 1)
            if upcoming is None:
                raise TrialFailed("no scheduled check is pending before the downtime")
            if parse_utc(upcoming.due_at) <= datetime.now(UTC):
                raise TrialFailed(f"the scheduled check was already due ({upcoming.due_at}) before the downtime")
            deleted = self.world.langsmith.run_weekend()
            self.invariants.expect(deleted >= len(subject), f"the weekend job deleted {deleted:,} traces")
            overdue = utc_iso(datetime.now(UTC) - timedelta(hours=1))
            with store.write() as db:
                db.execute("UPDATE checks SET due_at = ? WHERE id = ?", [overdue, upcoming.id])
        for server in self.servers:
            server.start(timeout=60.0)
        self._wait(
            "PURGE-1 is verified and the outbox drained", lambda: self._state() == "verified" and self._outbox_drained()
        )
        with _store(self.world.db_path) as store:
            done = checks.get(store.db, upcoming.id)
            self.invariants.expect(
                (done.state, done.remaining, done.outcome) == (checks.DONE, 0, "clear"),
                f"the overdue check: {done.state}, {done.remaining} remaining, {done.outcome}",
            )
            self.result.downtime = f"{done.outcome}: {done.checked:,} checked, {done.remaining} remain"
            kinds = [e.kind for e in events.for_request(store.db, 1)]
            self.invariants.expect(kinds.count("verified") == 1, f"{kinds.count('verified')} 'verified' events")
            self.invariants.file(store)
        notified = [m.render() for m in self.world.slack.messages(NOTIFY_CHANNEL) if "PURGE-1 verified" in m.render()]
        self.invariants.expect(
            len(notified) == 1, f"the compliance channel heard 'PURGE-1 verified' {len(notified)} times"
        )
        self.invariants.slack(submitted_posts=1)
        survivors = sum(self.world.langsmith.trace_exists(t) for t in others)
        self.invariants.expect(survivors == len(others), f"{len(others) - survivors} unrelated traces were deleted")
        self.invariants.expect(
            not any(self.world.langsmith.trace_exists(t) for t in subject), "a subject trace survived the weekend"
        )


@contextlib.contextmanager
def _store(path: Path) -> Iterator[Store]:
    store = Store(path)
    try:
        yield store
    finally:
        store.close()
