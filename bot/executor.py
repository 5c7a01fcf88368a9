"""The executor: previews filed requests and sends the deletes of approved ones, outside any request.

Every batch is a row before it is sent and is marked with LangSmith's answer after; work is
claimed with an owner and an expiry. A crash at any point therefore resumes on restart and re-sends
at most the batches that were in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages
from bot.clock import Clock, utc_iso
from bot.journal import Journal
from bot.langsmith import LangSmithClient, LangSmithRejected, LangSmithUnavailable
from bot.schedule import first_check_at
from bot.settings import Settings
from bot.states import Actor, State, sources
from bot.workflow import items_digest
from storage import batches, checks, items, requests
from storage.db import Store
from storage.requests import Request

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # LangSmith's documented maximum per delete call
PREVIEW_SAMPLE = 1000  # at most 10 queries of 100 IDs
MIN_PAUSE = timedelta(seconds=60)
ACTOR = "purgebot"


@dataclass
class _Sending:
    """What one pass over a request's pending batches came to."""

    rejected: LangSmithRejected | None = None
    unavailable: LangSmithUnavailable | None = None
    halted: bool = False  # the process is stopping: batches were left pending for the next one
    last_progress: float = 0.0


class Executor:
    """Claims previews, approved requests and re-sends, one at a time, and carries them out."""

    def __init__(
        self,
        *,
        store: Store,
        langsmith: LangSmithClient,
        clock: Clock,
        settings: Settings,
        owner: str,
        on_change: Callable[[], None],
        lease: timedelta = timedelta(seconds=60),
        progress_interval: float = 3.0,
    ) -> None:
        self._store = store
        self._langsmith = langsmith
        self._clock = clock
        self._settings = settings
        self._owner = owner
        self._on_change = on_change
        self._lease = lease
        self._progress_interval = progress_interval
        self._progress_lock = threading.Lock()
        self._halting = threading.Event()

    def halt(self) -> None:
        """Stop starting delete calls (for good): the process is stopping. Calls in flight finish and are
        recorded; the request is released with its other batches pending, so the next process (on any
        host) takes it over at once instead of after the lease."""
        self._halting.set()

    def step(self) -> bool:
        """Do one unit of work; False when there was none."""
        return self._preview_one() or self._execute_one() or self._resend_one()

    # -- claiming -------------------------------------------------------------------------------

    def _claim(self, where: str, params: list[object]) -> Request | None:
        now = self._clock.now()
        with self._store.write() as db:
            return requests.claim(
                db, where=where, params=params, owner=self._owner, now=utc_iso(now), expires=utc_iso(now + self._lease)
            )

    def _journal(self, db: Database, now: datetime | None = None) -> Journal:
        return Journal(
            db, now or self._clock.now(), self._settings.purgebot_timezone, self._settings.purgebot_notify_channel
        )

    # -- preview --------------------------------------------------------------------------------

    def _preview_one(self) -> bool:
        now = utc_iso(self._clock.now())
        request = self._claim(
            "state = 'awaiting_approval' AND preview IS NULL AND (paused_until IS NULL OR paused_until <= ?)", [now]
        )
        if request is None:
            return False
        assert request.session_id is not None
        values = items.values(self._store.db, request.id)
        sample = values if len(values) <= PREVIEW_SAMPLE else random.sample(values, PREVIEW_SAMPLE)
        try:
            known = self._langsmith.existing_traces(request.session_id, sample)
        except LangSmithUnavailable as error:
            self._pause(request, error, "the preview")
            return True
        except LangSmithRejected as error:
            self._store_preview(
                request,
                {"error": f"LangSmith refused the lookup ({error.status}: {messages.escape(error.message)})"},
                [],
            )
            return True
        unknown = [value for value in sample if value not in known]
        preview = {
            "total": len(values),
            "checked": len(sample),
            "known": len(known),
            "sampled": len(sample) < len(values),
            "unknown_ids": unknown,
            "included": len(values) - len(unknown),
        }
        self._store_preview(request, preview, unknown)
        return True

    def _store_preview(self, request: Request, preview: dict[str, object], unknown: list[str]) -> None:
        now = self._clock.now()
        with self._store.write() as db:
            items.mark(db, request.id, unknown, items.UNKNOWN)
            items.set_all(db, request.id, from_status=items.REQUESTED, to_status=items.INCLUDED)
            included = items.values(db, request.id, items.INCLUDED)
            digest = hashlib.sha256((items_digest(included) + json.dumps(preview, sort_keys=True)).encode()).hexdigest()
            requests.update(db, request.id, preview=json.dumps(preview), preview_digest=digest, paused_until=None)
            counts = {key: value for key, value in preview.items() if key != "unknown_ids"}
            self._journal(db, now).event(
                request.id,
                ACTOR,
                "previewed",
                preview_digest=digest,
                unknown=len(unknown),
                included_digest=items_digest(included),
                **counts,
            )
            self._journal(db, now).refresh_request_message(request.id)
            requests.release(db, request.id, self._owner)
        self._on_change()

    # -- execution ------------------------------------------------------------------------------

    def _execute_one(self) -> bool:
        now = utc_iso(self._clock.now())
        request = self._claim(
            "state IN ('approved', 'executing') AND (paused_until IS NULL OR paused_until <= ?)", [now]
        )
        if request is None:
            return False
        if request.state == State.APPROVED:
            with self._store.write() as db:
                requests.transition(
                    db,
                    request.id,
                    from_states=sources(State.EXECUTING, Actor.EXECUTOR),
                    to=State.EXECUTING.value,
                    at=now,
                )
                self._journal(db).event(request.id, ACTOR, "executing")
        self._write_batches(request)
        outcome = self._send_pending(request, initial=True)
        if outcome.rejected is not None:
            self._fail(request, outcome.rejected)
        elif outcome.unavailable is not None:
            self._pause(request, outcome.unavailable, "the deletes")
        elif outcome.halted:
            with self._store.write() as db:
                requests.release(db, request.id, self._owner)
        else:
            self._submit(request)
        return True

    def _write_batches(self, request: Request) -> None:
        """Cut the approved set into batches of ≤1000 per project and store them before any is sent."""
        now = utc_iso(self._clock.now())
        while True:
            with self._store.write() as db:
                chunk = items.unbatched(db, request.id, BATCH_SIZE)
                if not chunk:
                    return
                session = chunk[0][2]
                chunk = [row for row in chunk if row[2] == session]
                batch_id = batches.create(
                    db,
                    request_id=request.id,
                    round_=0,
                    session_id=session,
                    size=len(chunk),
                    digest=items_digest([row[1] for row in chunk]),
                    at=now,
                )
                items.assign(db, request.id, [row[0] for row in chunk], batch_id)

    def _send_pending(self, request: Request, *, initial: bool) -> _Sending:
        """Send the pending batches — the first round (with progress) or re-sends — with up to
        PURGEBOT_DELETE_CONCURRENCY calls in flight."""
        outcome = _Sending()
        stop = threading.Event()
        pending = [
            batch
            for batch in batches.for_request(self._store.db, request.id, batches.PENDING)
            if (batch.round == 0) == initial
        ]

        def send(batch: batches.Batch) -> None:
            if stop.is_set():
                return
            if self._halting.is_set():
                outcome.halted = True
                return
            values = items.in_batch(self._store.db, batch.id)
            try:
                receipt = self._langsmith.delete_traces(batch.session_id, values)
            except LangSmithRejected as error:
                outcome.rejected = outcome.rejected or error
                stop.set()
                with self._store.write() as db:
                    batches.mark_refused(
                        db, batch.id, status_code=error.status, message=error.message, at=utc_iso(self._clock.now())
                    )
                    self._journal(db).event(
                        request.id,
                        ACTOR,
                        "batch_refused",
                        batch=batch.id,
                        round=batch.round,
                        size=batch.size,
                        digest=batch.digest,
                        status=error.status,
                        message=error.message,
                    )
                return
            except LangSmithUnavailable as error:
                outcome.unavailable = outcome.unavailable or error
                stop.set()
                return
            now = self._clock.now()
            with self._store.write() as db:
                if batches.mark_sent(db, batch.id, status_code=receipt.status, response=receipt.body, at=utc_iso(now)):
                    self._journal(db, now).event(
                        request.id,
                        ACTOR,
                        "batch_sent",
                        batch=batch.id,
                        round=batch.round,
                        size=batch.size,
                        digest=batch.digest,
                        status=receipt.status,
                        response=receipt.body,
                    )
                requests.update(db, request.id, claim_expires=utc_iso(now + self._lease))
            if initial:
                self._progress(request, outcome)

        with ThreadPoolExecutor(
            max_workers=self._settings.purgebot_delete_concurrency, thread_name_prefix=f"purge-{request.id}"
        ) as pool:
            list(pool.map(send, pending))
        if initial and not outcome.halted:
            self._progress(request, outcome, final=True)
        return outcome

    def _progress(self, request: Request, outcome: _Sending, *, final: bool = False) -> None:
        """Keep one progress message current, edited at most every few seconds and once at the end."""
        with self._progress_lock:
            if not final and time.monotonic() - outcome.last_progress < self._progress_interval:
                return
            outcome.last_progress = time.monotonic()
            with self._store.write() as db:
                total, sent, size, size_sent = batches.counts(db, request.id)
                payload = messages.progress_message(
                    request, batches=total, sent=sent, items=size, items_sent=size_sent, final=final and sent == total
                )
                self._journal(db).in_thread(request.id, "", slot="progress", payload=payload)
        self._on_change()

    def _submit(self, request: Request) -> None:
        now = self._clock.now()
        due = first_check_at(now, self._settings.purgebot_verify_at, self._settings.purgebot_timezone)
        with self._store.write() as db:
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
                total, _, size, _ = batches.counts(db, request.id)
                checks.schedule(db, request_id=request.id, seq=0, kind=checks.SCHEDULED, due_at=utc_iso(due))
                journal = self._journal(db, now)
                journal.event(request.id, ACTOR, "submitted", batches=total, items=size, first_check=utc_iso(due))
                journal.in_thread(
                    request.id,
                    (
                        f"{request.label} is *submitted*: LangSmith accepted deletes for "
                        f"{messages.plural(size, 'trace', 'traces')} in {messages.plural(total, 'batch', 'batches')}. "
                        "LangSmith runs deletes on the weekend and confirms nothing, so I will query it again on "
                        f"{messages.when(due, self._settings.purgebot_timezone)} and report here and in the "
                        "compliance channel."
                    ),
                )
            requests.release(db, request.id, self._owner)
        self._on_change()

    def _fail(self, request: Request, error: LangSmithRejected) -> None:
        now = self._clock.now()
        reason = f"LangSmith refused a delete ({error.status}: {messages.escape(error.message)})"
        with self._store.write() as db:
            requests.transition(
                db,
                request.id,
                from_states=sources(State.FAILED, Actor.EXECUTOR),
                to=State.FAILED.value,
                at=utc_iso(now),
                failure=reason,
            )
            _, sent, _, size_sent = batches.counts(db, request.id)
            journal = self._journal(db, now)
            journal.event(
                request.id, ACTOR, "failed", status=error.status, message=error.message, batches_accepted=sent
            )
            text = f":x: {request.label} *failed*: {reason}. Nothing more is sent for it."
            if sent:
                due = first_check_at(now, self._settings.purgebot_verify_at, self._settings.purgebot_timezone)
                checks.schedule(db, request_id=request.id, seq=0, kind=checks.SCHEDULED, due_at=utc_iso(due))
                text += (
                    f" The {messages.plural(size_sent, 'trace', 'traces')} accepted before are still checked on "
                    f"{messages.when(due, self._settings.purgebot_timezone)}."
                )
            journal.in_thread(request.id, text)
            journal.in_notify_channel(
                request.id, f":x: {request.label} failed: LangSmith refused a delete ({error.status})."
            )
            requests.release(db, request.id, self._owner)
        self._on_change()

    def _pause(self, request: Request, error: LangSmithUnavailable, what: str) -> None:
        now = self._clock.now()
        hint = timedelta(seconds=error.retry_after) if error.retry_after else MIN_PAUSE
        until = now + max(hint, MIN_PAUSE)
        with self._store.write() as db:
            requests.update(db, request.id, paused_until=utc_iso(until))
            journal = self._journal(db, now)
            journal.event(request.id, ACTOR, "paused", until=utc_iso(until), reason=str(error))
            journal.in_thread(
                request.id,
                f":pause_button: LangSmith is not answering {what} of {request.label} "
                f"({error}). Pausing until "
                f"{messages.when(until, self._settings.purgebot_timezone)}, then resuming "
                "where it stopped.",
            )
            requests.release(db, request.id, self._owner)
        self._on_change()

    # -- re-sends after a check -----------------------------------------------------------------

    def _resend_one(self) -> bool:
        now = utc_iso(self._clock.now())
        request = self._claim(
            "state IN ('submitted', 'unverified', 'failed') AND (paused_until IS NULL OR paused_until <= ?) "
            "AND EXISTS (SELECT 1 FROM batches WHERE batches.request_id = requests.id AND batches.state = 'pending' "
            "AND batches.round > 0)",
            [now],
        )
        if request is None:
            return False
        outcome = self._send_pending(request, initial=False)
        if outcome.unavailable is not None:
            self._pause(request, outcome.unavailable, "the re-sent deletes")
            return True
        with self._store.write() as db:
            if outcome.rejected is not None:
                self._journal(db).in_thread(
                    request.id,
                    f"LangSmith refused a re-sent delete of {request.label} "
                    f"({outcome.rejected.status}: {messages.escape(outcome.rejected.message)}).",
                )
            requests.update(db, request.id, paused_until=None)
            requests.release(db, request.id, self._owner)
        self._on_change()
        return True
