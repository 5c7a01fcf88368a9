"""The executor: claims approved requests and re-sends, and carries them out, outside any Slack request.

Its parts each have one job: :mod:`bot.search_again` finds the subject's traces that appeared since
the preview, :mod:`bot.cutting` cuts the approved set into batches (each a row before it is sent)
while that search runs, and :mod:`bot.sending` sends them and records LangSmith's answers. This
module moves the request through its states. Work is claimed with an owner and an expiry, so a crash
at any point resumes on restart and re-sends at most the batches that were in flight.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages, search_again
from bot.clock import utc_iso
from bot.cutting import FirstRound
from bot.langsmith import LangSmithRejected, LangSmithUnavailable
from bot.lease import Lease
from bot.schedule import first_check_at
from bot.sending import Sender
from bot.states import Actor, State, sources
from bot.tasks import ACTOR, TaskContext
from storage import batches, checks, requests
from storage.requests import Request

WAIT_NOTICE = 3.0  # a wait on LangSmith at least this long (seconds) shows in the progress message
ATTACHMENT_DELAY = timedelta(days=7)  # LangSmith removes example attachments within 7 days
SEARCH_AGAIN = "the search for traces that appeared since the preview"


class Executor:
    """Claims approved requests and re-sends, one at a time, and carries them out."""

    def __init__(
        self, context: TaskContext, *, progress_interval: float = 3.0, wait_notice: float = WAIT_NOTICE
    ) -> None:
        self._context = context
        self._halting = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=context.settings.purgebot_delete_concurrency, thread_name_prefix="delete"
        )
        self._searching = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-again")
        self._sender = Sender(
            context, self._pool, self._halting, progress_interval=progress_interval, wait_notice=wait_notice
        )

    def halt(self) -> None:
        """Stop starting delete calls (for good): the process is stopping. Calls in flight finish and are
        recorded; the request is released with its other batches pending, so the next process (on any
        host) takes it over at once instead of after the lease."""
        self._halting.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._searching.shutdown(wait=True)

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
        stop = threading.Event()
        search: Future[None] | None = None
        if search_again.needed(request):  # beside the first deletes, not before them

            def halted() -> bool:
                return self._halting.is_set() or stop.is_set()

            search = self._searching.submit(search_again.search_again, context, request, lease, halted=halted)
        first_round = FirstRound(context, request, lease, search, stop=stop)
        try:
            outcome = self._sender.send(request, lease, first_round=first_round)
        finally:
            first_round.close()
        refused = outcome.rejected or (
            first_round.search_error if isinstance(first_round.search_error, LangSmithRejected) else None
        )
        if outcome.halted or first_round.halted:
            with context.store.write() as db:
                context.release(db, request.id)
            return True
        complete = refused is None and not outcome.unavailable and first_round.search_error is None
        self._sender.progress(request, outcome, final=complete, force=True)
        if refused is not None:
            self._fail(request, refused)
        elif outcome.unavailable:
            context.pause(request, *_waiting_on(request, outcome.unavailable))
        elif isinstance(first_round.search_error, LangSmithUnavailable):
            context.pause(request, first_round.search_error, SEARCH_AGAIN)
        else:
            self._submit(request)
        return True

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
        outcome = self._sender.send(request, lease)
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
