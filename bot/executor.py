"""The executor: sends the deletes of approved requests, outside any Slack request.

Every batch is a row before it is sent and is marked with LangSmith's answer after; work is
claimed with an owner and an expiry. A crash at any point therefore resumes on restart and re-sends
at most the batches that were in flight. Three kinds of call go out: trace deletes (≤1000 IDs of
one project), example hard deletes (≤1000 IDs), and — for subject purges, when enabled —
LangSmith's workspace-wide delete by metadata, any refusal of which is noted, not fatal.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot import messages
from bot.clock import utc_iso
from bot.journal import Journal
from bot.langsmith import (
    DeleteReceipt,
    LangSmithClient,
    LangSmithRejected,
    LangSmithUnavailable,
    MetadataDeleteRefused,
    WaitNotice,
    Window,
)
from bot.lease import Lease, LeaseLost
from bot.preview import search_again_since
from bot.resolver import Resolver
from bot.schedule import first_check_at
from bot.states import Actor, State, sources
from bot.tasks import ACTOR, TaskContext
from bot.workflow import items_digest
from storage import batches, checks, items, pairs, requests
from storage.requests import Request

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # LangSmith's documented maximum per delete call
WAIT_NOTICE = 3.0  # a wait on LangSmith at least this long (seconds) shows in the progress message
ATTACHMENT_DELAY = timedelta(days=7)  # LangSmith removes example attachments within 7 days


@dataclass
class _Sending:
    """What one pass over a request's pending batches came to."""

    rejected: LangSmithRejected | None = None
    unavailable: dict[str, LangSmithUnavailable] = field(default_factory=dict)  # workspace -> why it is down
    halted: bool = False  # the process is stopping: batches were left pending for the next one
    lost: bool = False  # another process took the request over: this one stops before its next call
    last_progress: float = 0.0
    waits: dict[int, WaitNotice] = field(default_factory=dict)  # batch id -> the wait its call is in
    wait_shown: bool = False  # the progress message currently shows a wait
    plan: Future[dict[str, tuple[int, int]]] | None = None  # batch kind -> (batches, items) in all

    def current_wait(self) -> WaitNotice | None:
        """The wait to show: a rate limit before any other kind, then the longest."""
        waits = list(self.waits.values())
        return max(waits, key=lambda w: (w.rate_limited, w.seconds)) if waits else None


class Executor:
    """Claims approved requests and re-sends, one at a time, and carries them out."""

    def __init__(
        self, context: TaskContext, *, progress_interval: float = 3.0, wait_notice: float = WAIT_NOTICE
    ) -> None:
        self._context = context
        self._progress_interval = progress_interval
        self._wait_notice = wait_notice
        self._progress_lock = threading.Lock()
        self._halting = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=context.settings.purgebot_delete_concurrency, thread_name_prefix="delete"
        )

    def halt(self) -> None:
        """Stop starting delete calls (for good): the process is stopping. Calls in flight finish and are
        recorded; the request is released with its other batches pending, so the next process (on any
        host) takes it over at once instead of after the lease."""
        self._halting.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def step(self) -> bool:
        """Do one unit of work; False when there was none."""
        return self._execute_one() or self._resend_one()

    # -- execution ------------------------------------------------------------------------------

    def _execute_one(self) -> bool:
        context = self._context
        now = utc_iso(context.clock.now())
        request = context.claim(
            "state IN ('approved', 'executing') AND (paused_until IS NULL OR paused_until <= ?)", [now]
        )
        if request is None:
            return False
        return self._context.guarded(request, "the deletes", lambda lease: self._execute(request, now, lease))

    def _execute(self, request: Request, now: str, lease: Lease) -> bool:
        context = self._context
        if request.state == State.APPROVED:
            with context.store.write() as db:
                requests.transition(
                    db,
                    request.id,
                    from_states=sources(State.EXECUTING, Actor.EXECUTOR),
                    to=State.EXECUTING.value,
                    at=now,
                )
                context.journal(db).event(request.id, ACTOR, "executing")
        try:
            self._search_again(request)
        except LangSmithUnavailable as error:
            context.pause(request, error, "the search for traces that appeared since the preview")
            return True
        except LangSmithRejected as error:
            self._fail(request, error)
            return True
        outcome = self._send_pending(request, lease, initial=True)
        if outcome.rejected is not None:
            self._fail(request, outcome.rejected)
        elif outcome.unavailable:
            context.pause(request, *_waiting_on(request, outcome.unavailable))
        elif outcome.halted:
            with context.store.write() as db:
                context.release(db, request.id)
        else:
            self._submit(request)
        return True

    def _search_again(self, request: Request) -> None:
        """A subject purge also takes the subject's traces that appeared since the preview (the approval
        says so); they are found once, before the first batch is written, and reported separately."""
        since = search_again_since(request)
        if request.kind != "metadata" or since is None:
            return
        with self._context.store.read_snapshot() as db:
            if batches.for_request(db, request.id):
                return  # batches were written before a restart: the search already ran
            searched = pairs.of(db, request.id)
        window = Window(start=since, end=max(since, self._context.clock.now()))
        for workspace in request.workspace_names:
            resolver = Resolver(
                store=self._context.store, langsmith=self._context.workspaces[workspace], workspace=workspace
            )
            resolver.traces(request.id, searched, window=window, origin=items.EXECUTION, status=items.INCLUDED)
        with self._context.store.write() as db:
            # Counted from the file, not from the search's return: a search cut short by a crash and run
            # again finds its first traces already stored. They sit past the preview's items.
            new = items.count_from(db, request.id, request.item_count, origin=items.EXECUTION)
            previewed = (request.preview_data or {}).get("traces", 0)
            requests.update(db, request.id, included_traces=previewed + new)
            self._context.journal(db).event(request.id, ACTOR, "searched_again", new_traces=new, since=utc_iso(since))
            if new:
                self._context.journal(db).in_thread(
                    request.id,
                    f"Found {messages.plural(new, 'trace', 'traces')} of this subject that appeared "
                    "after the preview; they are deleted too, as the approval covers.",
                )

    def _write_batches(self, request: Request, lease: Lease) -> Iterator[batches.Batch]:
        """Cut the approved set into calls — ≤1000 trace IDs per project, ≤1000 examples, and the metadata
        delete — yielding each once its row is stored, so the first deletes go out while the rest of a
        million items is still being cut. Nothing is sent that is not a row first."""
        context = self._context
        now = utc_iso(context.clock.now())
        for kind, batch_kind in ((items.TRACE, batches.TRACES), (items.EXAMPLE, batches.EXAMPLES)):
            after = batches.last_cut(context.store.db, request.id, batch_kind)
            while True:
                # Read and digest outside the write lock (this claim's holder is the only one cutting
                # batches of the request), so the senders recording answers wait only for the insert.
                chunk = items.next_chunk(context.store.db, request.id, kind, BATCH_SIZE, after=after)
                if not chunk:
                    break
                container, workspace = chunk[0][2], chunk[0][3]
                after = (container, chunk[-1][0])
                digest = items_digest([row[1] for row in chunk])
                with context.store.write() as db:
                    lease.fence(db)  # only the holder cuts: two cutters would batch the same items twice
                    batch_id = batches.create(
                        db,
                        request_id=request.id,
                        round_=0,
                        kind=batch_kind,
                        size=len(chunk),
                        session_id=container if kind == items.TRACE else None,
                        digest=digest,
                        at=now,
                        workspace=workspace,
                    )
                    items.assign(db, request.id, [row[0] for row in chunk], batch_id)
                    batch = batches.get(db, batch_id)
                yield batch
        if request.kind == "metadata" and context.settings.purgebot_metadata_delete:
            with context.store.write() as db:
                written = []
                if not batches.for_request(db, request.id, kind=batches.METADATA):
                    groups = _distinct_key_groups(pairs.of(db, request.id))
                    for workspace, group in itertools.product(request.workspace_names, groups):
                        batch_id = batches.create(
                            db,
                            request_id=request.id,
                            round_=0,
                            kind=batches.METADATA,
                            session_id=None,
                            size=len(group),
                            digest=items_digest([f"{k}={v}" for k, v in group]),
                            at=now,
                            workspace=workspace,
                        )
                        written.append(batches.get(db, batch_id))
            yield from written

    def _plan(self, request: Request) -> dict[str, tuple[int, int]]:
        """(batches, items) of the first round per kind of batch, for the progress message: known from
        the approved set before every batch is written."""
        db = self._context.store.db
        return {
            batches.TRACES: items.batch_plan(db, request.id, items.TRACE, BATCH_SIZE, per_container=True),
            batches.EXAMPLES: items.batch_plan(db, request.id, items.EXAMPLE, BATCH_SIZE, per_container=False),
        }

    def _send_pending(self, request: Request, lease: Lease, *, initial: bool) -> _Sending:
        """Send the pending batches — the first round (with progress) or re-sends — with up to
        PURGEBOT_DELETE_CONCURRENCY calls in flight."""
        context = self._context
        outcome = _Sending()
        stop = threading.Event()
        pending = [
            batch
            for batch in batches.for_request(context.store.db, request.id, batches.PENDING)
            if (batch.round == 0) == initial
        ]

        def send(batch: batches.Batch) -> None:
            if stop.is_set() or batch.workspace in outcome.unavailable:  # a workspace down holds only its own
                return
            if self._halting.is_set():
                outcome.halted = True
                return

            def waiting(notice: WaitNotice) -> None:
                self._waiting(request, outcome, batch.id, notice)

            # The client is shared by every thread; the hook lives in this thread's context only.
            reporting = LangSmithClient.reporting_waits(waiting) if initial else nullcontext()
            try:
                lease.ensure()
            except LeaseLost:
                outcome.lost = True
                stop.set()
                return
            try:
                with reporting:
                    receipt = self._call(request, batch)
                if receipt is None:  # a later round took its items: nothing to send, nothing to wait for
                    with context.store.write() as db:
                        batches.supersede(db, batch.id)
                    return
            except MetadataDeleteRefused as error:
                self._record_refusal(request, batch, error, fatal=False)
                return
            except LangSmithRejected as error:
                outcome.rejected = outcome.rejected or error
                stop.set()
                self._record_refusal(request, batch, error, fatal=True)
                return
            except LangSmithUnavailable as error:
                if self._halting.is_set():  # stopping: the batch stays pending for the next process
                    outcome.halted = True
                    return
                outcome.unavailable.setdefault(batch.workspace, error)
                return
            finally:
                cleared = initial and self._done_waiting(outcome, batch.id)
            now = context.clock.now()
            answer = _without_ids(receipt.body)
            with context.store.write() as db:
                if batches.mark_sent(db, batch.id, status_code=receipt.status, response=answer, at=utc_iso(now)):
                    _batch_event(
                        context.journal(db, now), request, batch, "batch_sent", status=receipt.status, response=answer
                    )
                try:
                    lease.renew(db)
                except LeaseLost:  # the call happened and is recorded; the next one is not ours to make
                    outcome.lost = True
                    stop.set()
            if initial and not outcome.lost:
                self._progress(request, outcome, force=cleared)

        # Batches written before (a restart) go first, then each new one as soon as it is stored. The
        # writer keeps only a few batches ahead of the calls, so it does not hold the database while
        # the senders wait to record LangSmith's answers.
        queued = itertools.chain(pending, self._write_batches(request, lease)) if initial else iter(pending)
        if initial:  # counted beside the first calls: a million items take a while to count
            outcome.plan = self._pool.submit(self._plan, request)
        ahead = threading.BoundedSemaphore(2 * context.settings.purgebot_delete_concurrency)
        calls = []
        try:
            while ahead.acquire() and (batch := next(queued, None)) is not None:
                if stop.is_set():
                    break
                if self._halting.is_set():
                    outcome.halted = True
                    break
                call = self._pool.submit(send, batch)
                call.add_done_callback(lambda _: ahead.release())
                calls.append(call)
        except LeaseLost:
            outcome.lost = True
            stop.set()
        for call in calls:
            call.result()
        if outcome.lost:
            raise LeaseLost(f"{request.label} is held by another process")
        if initial and not outcome.halted:
            self._progress(request, outcome, final=True)
        return outcome

    def _call(self, request: Request, batch: batches.Batch) -> DeleteReceipt | None:
        """Send one batch; None when it holds no items any more (never an empty delete call)."""
        langsmith = self._context.workspaces[batch.workspace]
        if batch.kind == batches.METADATA:
            group = _distinct_key_groups(pairs.of(self._context.store.db, request.id))
            chosen = next(g for g in group if items_digest([f"{k}={v}" for k, v in g]) == batch.digest)
            # From a day before the earliest trace the search saw (or all of the retention): the newest
            # spec asks for ``start_time`` with ``metadata``.
            start = self._context.approved_window(self._context.store.db, request.id).start
            return langsmith.delete_by_metadata(dict(chosen), start_time=start)
        values = items.in_batch(self._context.store.db, batch.id)
        if not values:
            return None
        if batch.kind == batches.EXAMPLES:
            return langsmith.hard_delete_examples(values)
        assert batch.session_id is not None
        return langsmith.delete_traces(batch.session_id, values)

    def _record_refusal(self, request: Request, batch: batches.Batch, error: LangSmithRejected, *, fatal: bool) -> None:
        context = self._context
        with context.store.write() as db:
            batches.mark_refused(
                db, batch.id, status_code=error.status, message=error.message, at=utc_iso(context.clock.now())
            )
            journal = context.journal(db)
            _batch_event(
                journal,
                request,
                batch,
                "batch_refused",
                status=error.status,
                message_digest=journal.text(request.id, error.message),
            )
            if not fatal:
                journal.in_thread(
                    request.id,
                    (
                        f"LangSmith refused the optional workspace-wide delete by metadata "
                        f"({error.status}: {messages.escape(error.message)}). Nothing is lost: every trace found is "
                        "deleted by its ID."
                    ),
                )

    def _waiting(self, request: Request, outcome: _Sending, batch_id: int, notice: WaitNotice) -> None:
        """The client is about to wait before re-sending a batch: a long enough wait shows in the progress
        message (at once when the message shows no wait yet, else at the usual pace)."""
        if notice.seconds < self._wait_notice:
            with self._progress_lock:
                outcome.waits.pop(batch_id, None)  # an earlier, longer wait of this call is over
            return
        with self._progress_lock:
            outcome.waits[batch_id] = notice
            news = not outcome.wait_shown
        self._progress(request, outcome, force=news)

    def _done_waiting(self, outcome: _Sending, batch_id: int) -> bool:
        """A batch's call came back; True when that ended the last wait the progress message shows, so the
        next update (after the batch is recorded, or the final one) is made at once and drops it."""
        with self._progress_lock:
            outcome.waits.pop(batch_id, None)
            return not outcome.waits and outcome.wait_shown

    def _progress(self, request: Request, outcome: _Sending, *, final: bool = False, force: bool = False) -> None:
        """Keep one progress message current, edited at most every few seconds and once at the end."""
        context = self._context
        if outcome.plan is None or not (final or outcome.plan.done()):
            return  # the totals are still being counted; the next update shows them
        with self._progress_lock:
            if not (final or force) and time.monotonic() - outcome.last_progress < self._progress_interval:
                return
            outcome.last_progress = time.monotonic()
            wait = None if final else outcome.current_wait()
            outcome.wait_shown = wait is not None
            shown = messages.ProgressWait(wait.status, wait.seconds, wait.retry_after, wait.reason) if wait else None
            with context.store.write() as db:
                lines = []
                for noun, kind in (("trace ID", batches.TRACES), ("example", batches.EXAMPLES)):
                    planned, size = outcome.plan.result()[kind]
                    _, sent, _, size_sent = batches.counts(db, request.id, kind)
                    lines.append(messages.ProgressLine(noun, planned, sent, size, size_sent))
                payload = messages.progress_message(
                    request, [line for line in lines if line.batches], final=final, waiting=shown
                )
                context.journal(db).in_thread(request.id, "", slot="progress", payload=payload)
        context.on_change()

    def _submit(self, request: Request) -> None:
        context = self._context
        now = context.clock.now()
        with context.store.write() as db:
            moved = requests.transition(
                db,
                request.id,
                from_states=sources(State.SUBMITTED, Actor.EXECUTOR),
                to=State.SUBMITTED.value,
                at=utc_iso(now),
                submitted_at=utc_iso(now),
                paused_until=None,
            )
            if moved:
                traces_total, _, traces, _ = batches.counts(db, request.id, batches.TRACES)
                _, _, examples, _ = batches.counts(db, request.id, batches.EXAMPLES)
                parts, plans = [], []
                if traces_total or request.kind == "metadata":
                    due = self._schedule_trace_check(db, request, now)
                    parts.append(
                        f"deletes for {messages.plural(traces, 'trace', 'traces')} in "
                        f"{messages.plural(traces_total, 'batch', 'batches')}"
                    )
                    plans.append(f"the traces on {context.when(due)}, after LangSmith's weekend delete job")
                if examples:
                    checks.schedule(
                        db,
                        request_id=request.id,
                        seq=0,
                        kind=checks.SCHEDULED,
                        due_at=utc_iso(now),
                        target=checks.EXAMPLES,
                    )
                    checks.schedule(
                        db,
                        request_id=request.id,
                        seq=1,
                        kind=checks.SCHEDULED,
                        due_at=utc_iso(now + ATTACHMENT_DELAY),
                        target=checks.EXAMPLES,
                    )
                    parts.append(f"hard deletes of {messages.plural(examples, 'dataset example', 'dataset examples')}")
                    plans.append("the examples now and again in 7 days (attachments)")
                journal = context.journal(db, now)
                journal.event(
                    request.id, ACTOR, "submitted", traces=traces, trace_batches=traces_total, examples=examples
                )
                accepted = " and ".join(parts) or "nothing to delete"
                journal.in_thread(
                    request.id,
                    (
                        f"{request.label} is *submitted*: LangSmith accepted {accepted}. "
                        "LangSmith confirms nothing, so I query it again — "
                        f"{' and '.join(plans) or 'no check is needed'} — "
                        "and report here and in the compliance channel."
                    ),
                )
                journal.refresh_request_message(request.id)
            context.release(db, request.id)
        context.on_change()

    def _schedule_trace_check(self, db: Database, request: Request, now: datetime) -> datetime:
        """Store the first scheduled trace check: ``PURGEBOT_VERIFY_AT`` after the coming weekend."""
        settings = self._context.settings
        due = first_check_at(now, settings.purgebot_verify_at, settings.purgebot_timezone)
        checks.schedule(
            db, request_id=request.id, seq=0, kind=checks.SCHEDULED, due_at=utc_iso(due), target=checks.TRACES
        )
        return due

    def _fail(self, request: Request, error: LangSmithRejected) -> None:
        context = self._context
        now = context.clock.now()
        reason = f"LangSmith refused a call ({error.status}: {messages.escape(error.message)})"
        with context.store.write() as db:
            requests.transition(
                db,
                request.id,
                from_states=sources(State.FAILED, Actor.EXECUTOR),
                to=State.FAILED.value,
                at=utc_iso(now),
                failure=reason,
            )
            _, sent, _, size_sent = batches.counts(db, request.id, batches.TRACES)
            journal = context.journal(db, now)
            journal.event(
                request.id,
                ACTOR,
                "failed",
                status=error.status,
                message_digest=journal.text(request.id, error.message),
                batches_accepted=sent,
            )
            text = f":x: {request.label} *failed*: {reason}. Nothing more is sent for it."
            if sent:
                due = self._schedule_trace_check(db, request, now)
                text += (
                    f" The {messages.plural(size_sent, 'trace', 'traces')} accepted before are still checked on "
                    f"{context.when(due)}."
                )
            journal.in_thread(request.id, text)
            journal.in_notify_channel(
                request.id, f":x: {request.label} failed: LangSmith refused a call ({error.status})."
            )
            journal.refresh_request_message(request.id)
            context.release(db, request.id)
        context.on_change()

    # -- re-sends after a check -----------------------------------------------------------------

    def _resend_one(self) -> bool:
        context = self._context
        now = utc_iso(context.clock.now())
        request = context.claim(
            "state IN ('submitted', 'unverified', 'failed') AND (paused_until IS NULL OR paused_until <= ?) "
            "AND EXISTS (SELECT 1 FROM batches WHERE batches.request_id = requests.id AND batches.state = 'pending' "
            "AND batches.round > 0)",
            [now],
        )
        if request is None:
            return False
        return self._context.guarded(request, "the re-sent deletes", lambda lease: self._resend(request, lease))

    def _resend(self, request: Request, lease: Lease) -> bool:
        context = self._context
        outcome = self._send_pending(request, lease, initial=False)
        if outcome.unavailable:
            error, what = _waiting_on(request, outcome.unavailable)
            context.pause(request, error, what.replace("deletes", "re-sent deletes"))
            return True
        with context.store.write() as db:
            if outcome.rejected is not None:
                context.journal(db).in_thread(
                    request.id,
                    f"LangSmith refused a re-sent delete of {request.label} "
                    f"({outcome.rejected.status}: {messages.escape(outcome.rejected.message)}).",
                )
            requests.update(db, request.id, paused_until=None)
            context.release(db, request.id)
        context.on_change()
        return True


def _waiting_on(request: Request, down: dict[str, LangSmithUnavailable]) -> tuple[LangSmithUnavailable, str]:
    """The error to pause on, and what waits for it: the deletes, or the part of them in the workspaces
    that did not answer when the request covers several (the others' deletes went out)."""
    error = next(iter(down.values()))
    if len(request.workspace_names) == 1:
        return error, "the deletes"
    return error, f"the {' and '.join(down)} part of the deletes"


def _batch_event(journal: Journal, request: Request, batch: batches.Batch, kind: str, **answer: object) -> None:
    journal.event(
        request.id,
        ACTOR,
        kind,
        batch=batch.id,
        kind=batch.kind,
        round=batch.round,
        size=batch.size,
        digest=batch.digest,
        **answer,
    )


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    """LangSmith's answer as evidence: lists of IDs (the hard delete names its examples) become a
    count and a digest, since events and batch rows never hold raw values."""
    return {
        key: (
            {"count": len(value), "digest": items_digest([str(v) for v in value])} if isinstance(value, list) else value
        )
        for key, value in body.items()
    }


def _distinct_key_groups(searched: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split pairs into groups with distinct keys: LangSmith's metadata delete takes a JSON object,
    which cannot say ``user_id=1`` and ``user_id=2`` at once, so each group is one call."""
    groups: list[list[tuple[str, str]]] = []
    for key, value in searched:
        target = next((group for group in groups if all(k != key for k, _ in group)), None)
        if target is None:
            groups.append([(key, value)])
        else:
            target.append((key, value))
    return groups
