"""What the background jobs share: claiming requests, recording, and pausing on an unreachable LangSmith.

The previewer and the executor each claim one request at a time with an owner and an expiry
(``storage.requests.claim``), record facts through a ``Journal`` in the same transaction as the
change they describe, and pause a request — saying so in its thread — when LangSmith stays
unavailable after the client's retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages
from bot.clock import Clock, utc_iso
from bot.journal import Journal
from bot.langsmith import LangSmithClient, LangSmithUnavailable
from bot.settings import Settings
from storage import requests
from storage.db import Store
from storage.requests import Request

ACTOR = "purgebot"
MIN_PAUSE = timedelta(seconds=60)


@dataclass(frozen=True)
class TaskContext:
    """The parts every background job of one process works with."""

    store: Store
    langsmith: LangSmithClient
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

    def renew(self, db: Database, request_id: int, now: datetime) -> None:
        requests.update(db, request_id, claim_expires=utc_iso(now + self.lease))

    def release(self, db: Database, request_id: int) -> None:
        requests.release(db, request_id, self.owner)

    def journal(self, db: Database, now: datetime | None = None) -> Journal:
        return Journal(
            db, now or self.clock.now(), self.settings.purgebot_timezone, self.settings.purgebot_notify_channel
        )

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
            journal.event(request.id, ACTOR, "paused", until=utc_iso(until), reason=str(error))
            journal.in_thread(
                request.id,
                f":pause_button: LangSmith is not answering {what} of {request.label} ({messages.escape(str(error))}). "
                f"Pausing until {self.when(until)}, then resuming where it stopped.",
            )
            self.release(db, request.id)
        self.on_change()
