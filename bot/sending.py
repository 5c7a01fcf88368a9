"""Sending batches: each delete call goes out with up to PURGEBOT_DELETE_CONCURRENCY in flight, and
LangSmith's answer — accepted, refused, or not reachable — is recorded against its batch row.

Three kinds of call go out: trace deletes (≤1000 IDs of one project), example hard deletes (≤1000
IDs), and — for subject purges, when enabled — LangSmith's workspace-wide delete by metadata, any
refusal of which is noted, not fatal. A batch is marked once: a crash re-sends at most the calls that
were in flight. The first round keeps one progress message current, including any wait on LangSmith.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from bot import cutting, messages
from bot.clock import utc_iso
from bot.journal import Journal
from bot.langsmith import (
    DeleteReceipt,
    LangSmithClient,
    LangSmithRejected,
    LangSmithUnavailable,
    MetadataDeleteRefused,
    WaitNotice,
)
from bot.lease import Lease, LeaseLost
from bot.tasks import ACTOR, TaskContext
from bot.workflow import items_digest
from storage import batches, items, pairs
from storage.requests import Request


@dataclass
class Sending:
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


class Sender:
    """Sends one request's pending batches at a time and records each answer."""

    def __init__(
        self,
        context: TaskContext,
        pool: ThreadPoolExecutor,
        halting: threading.Event,
        *,
        progress_interval: float,
        wait_notice: float,
    ) -> None:
        self._context = context
        self._pool = pool
        self._halting = halting
        self._progress_interval = progress_interval
        self._wait_notice = wait_notice
        self._progress_lock = threading.Lock()

    def send(self, request: Request, lease: Lease, *, first_round: Iterable[batches.Batch] | None = None) -> Sending:
        """Send the pending batches — the first round (with progress; ``first_round`` yields the batches
        still to cut as they are stored) or, without it, the re-sends — with up to
        PURGEBOT_DELETE_CONCURRENCY calls in flight. The caller posts the final progress."""
        context = self._context
        initial = first_round is not None
        outcome = Sending()
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
                self.progress(request, outcome, force=cleared)

        # Batches written before (a restart) go first, then each new one as soon as it is stored. The
        # writer keeps only a few batches ahead of the calls, so it does not hold the database while
        # the senders wait to record LangSmith's answers.
        queued = itertools.chain(pending, first_round or ())
        if initial:  # counted beside the first calls: a million items take a while to count
            outcome.plan = self._pool.submit(cutting.plan, context, request)
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
        return outcome

    def _call(self, request: Request, batch: batches.Batch) -> DeleteReceipt | None:
        """Send one batch; None when it holds no items any more (never an empty delete call)."""
        langsmith = self._context.workspaces[batch.workspace]
        if batch.kind == batches.METADATA:
            group = cutting.distinct_key_groups(pairs.of(self._context.store.db, request.id))
            chosen = next(g for g in group if items_digest([f"{k}={v}" for k, v in g]) == batch.digest)
            # From a day before the earliest trace the search saw (or all of the retention): the newest
            # spec asks for ``start_time`` with ``metadata``.
            start = self._context.approved_window(self._context.store.db, request.id).start
            return langsmith.delete_by_metadata(dict(chosen), start_time=start)
        values = items.in_batch(self._context.store.db, batch)
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

    def _waiting(self, request: Request, outcome: Sending, batch_id: int, notice: WaitNotice) -> None:
        """The client is about to wait before re-sending a batch: a long enough wait shows in the progress
        message (at once when the message shows no wait yet, else at the usual pace)."""
        if notice.seconds < self._wait_notice:
            with self._progress_lock:
                outcome.waits.pop(batch_id, None)  # an earlier, longer wait of this call is over
            return
        with self._progress_lock:
            outcome.waits[batch_id] = notice
            news = not outcome.wait_shown
        self.progress(request, outcome, force=news)

    def _done_waiting(self, outcome: Sending, batch_id: int) -> bool:
        """A batch's call came back; True when that ended the last wait the progress message shows, so the
        next update (after the batch is recorded, or the final one) is made at once and drops it."""
        with self._progress_lock:
            outcome.waits.pop(batch_id, None)
            return not outcome.waits and outcome.wait_shown

    def progress(self, request: Request, outcome: Sending, *, final: bool = False, force: bool = False) -> None:
        """Keep one progress message current, edited at most every few seconds and once at the end.

        The totals are the plan, counted when sending began; at the end, the batches cut when more were
        (the search at execution added traces after the plan was counted)."""
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
                    cut, sent, size_cut, size_sent = batches.counts(db, request.id, kind)
                    if final:
                        planned, size = max(planned, cut), max(size, size_cut)
                    lines.append(messages.ProgressLine(noun, planned, sent, size, size_sent))
                payload = messages.progress_message(
                    request, [line for line in lines if line.batches], final=final, waiting=shown
                )
                context.journal(db).in_thread(request.id, "", slot="progress", payload=payload)
        context.on_change()


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
