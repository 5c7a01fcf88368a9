"""What the background jobs share: claiming requests, recording, and pausing on an unreachable LangSmith.

The previewer and the executor each claim one request at a time with an owner and an expiry
(``storage.requests.claim``), record facts through a ``Journal`` in the same transaction as the
change they describe, and pause a request — saying so in its thread — when LangSmith stays
unavailable after the client's retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages
from bot.clock import Clock, parse_utc, utc_iso
from bot.journal import Journal
from bot.langsmith import LangSmithUnavailable, Window, window_for
from bot.lease import Lease, LeaseLost, holding
from bot.settings import Settings
from bot.workspaces import WorkspaceClients
from storage import events, items, requests
from storage.db import Store
from storage.requests import Request

ACTOR = "purgebot"
MIN_PAUSE = timedelta(seconds=60)
STUMBLE_PAUSE = timedelta(minutes=1)  # after an unexpected error: 1 min, doubling, at most an hour
MAX_STUMBLE_PAUSE = timedelta(hours=1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskContext:
    """The parts every background job of one process works with."""

    store: Store
    workspaces: WorkspaceClients
    clock: Clock
    settings: Settings
    owner: str
    on_change: Callable[[], None]
    lease: timedelta = timedelta(seconds=60)

    def claim(self, where: str, params: list[object]) -> Request | None:
        """Claim the oldest request matching ``where`` that nobody (alive) holds."""
        now = self.clock.now()
        with self.store.write() as db:
            return requests.claim(
                db, where=where, params=params, owner=self.owner, now=utc_iso(now), expires=utc_iso(now + self.lease)
            )

    def release(self, db: Database, request_id: int) -> None:
        requests.release(db, request_id, self.owner)

    def journal(self, db: Database, now: datetime | None = None) -> Journal:
        return Journal.of(db, now or self.clock.now(), self.settings)

    def window(self, starts: Iterable[datetime | None] = ()) -> Window:
        """The window a run query must state to see runs that started at ``starts``; with none known,
        all of LangSmith's retention (``PURGEBOT_LANGSMITH_LOOKBACK_DAYS``)."""
        lookback = timedelta(days=self.settings.purgebot_langsmith_lookback_days)
        return window_for(starts, now=self.clock.now(), lookback=lookback)

    def approved_window(self, db: Database, request_id: int) -> Window:
        """The window that covers the request's approved traces: from a day before the earliest start to
        the latest, or all of the retention when any of them has no known start."""
        span = items.start_span(db, request_id)
        if span.unknown or span.earliest is None or span.latest is None:
            return self.window([None])
        return self.window([parse_utc(span.earliest), parse_utc(span.latest)])

    def when(self, moment: datetime) -> str:
        return messages.when(moment, self.settings.purgebot_timezone)

    def pause(self, request: Request, error: LangSmithUnavailable, what: str) -> None:
        """Hold the request until LangSmith can be asked again, say so in its thread, and let go of it."""
        now = self.clock.now()
        hint = timedelta(seconds=error.retry_after) if error.retry_after else MIN_PAUSE
        until = now + max(hint, MIN_PAUSE)
        with self.store.write() as db:
            requests.update(db, request.id, paused_until=utc_iso(until))
            journal = self.journal(db, now)
            journal.event(
                request.id, ACTOR, "paused", until=utc_iso(until), reason_digest=journal.text(request.id, str(error))
            )
            journal.in_thread(
                request.id,
                f":pause_button: LangSmith is not answering {what} of {request.label} ({messages.escape(str(error))}). "
                f"Pausing until {self.when(until)}, then resuming where it stopped.",
            )
            self.release(db, request.id)
        self.on_change()

    def guarded(self, request: Request, what: str, work: Callable[[Lease], bool]) -> bool:
        """Do one claimed request's work while holding its lease (:mod:`bot.lease`); an error nobody
        planned for pauses that request, not the worker.

        A worker serves requests oldest first, so a request whose work keeps failing would be
        claimed again at once, forever, and no later request would ever be served.  Instead it is
        paused with back-off (1 minute, doubling, at most an hour) and its thread says so; only the
        error's type is shown or logged, since its text may carry a subject's value.  A lost lease
        is no error: another process holds the request now, so this one stops and touches nothing.
        """
        try:
            with holding(
                store=self.store, request_id=request.id, owner=self.owner, length=self.lease, clock=self.clock
            ) as lease:
                return work(lease)
        except LeaseLost:
            log.warning("stopped: another process holds the request", extra={"request": request.label, "during": what})
            return True
        except Exception as error:  # the boundary where one request's fault must stop
            self._stumbled(request, error, what)
            return True

    def _stumbled(self, request: Request, error: Exception, what: str) -> None:
        now = self.clock.now()
        kind = type(error).__name__
        log.error("unexpected error", extra={"request": request.label, "during": what, "error": kind})
        with self.store.write() as db:
            times = events.count_kind(db, request.id, "stumbled")
            doubled: timedelta = STUMBLE_PAUSE * 2 ** min(times, 16)
            until = now + min(doubled, MAX_STUMBLE_PAUSE)
            requests.update(db, request.id, paused_until=utc_iso(until))
            journal = self.journal(db, now)
            journal.event(request.id, ACTOR, "stumbled", during=what, error=kind, until=utc_iso(until))
            journal.in_thread(
                request.id,
                f":warning: purgebot met an unexpected error ({kind}) during {what} of {request.label}. "
                f"Other requests go on; this one is tried again at {self.when(until)}. "
                "If it keeps happening, the operator's logs have the details.",
            )
            self.release(db, request.id)
        self.on_change()
