"""What a privacy platform hears: the event chain of its requests turned into dsr/v1 status events.

Each event that means a new status for the platform becomes a row in the ``callbacks`` outbox (one
per callback endpoint) in one transaction with the cursor that says the event was seen. A crash
between a state change and its status loses nothing: the event is already stored, and the next
``feed`` turns it into the status row. Delivering the rows is :mod:`bot.callbacks`'s work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.clock import Clock, parse_utc, utc_iso
from bot.schedule import first_check_at
from bot.settings import Settings
from storage import checks, intake
from storage.db import Store

DSR_V1 = "dsr/v1"

# event kind -> (status, final, reason). Reasons are dsr/v1's enum (DSRRequestStatusReason), never free
# text: ``executed`` for a verified purge; a rejection, cancellation or expiry has no reason of its own
# there, so ``unknown`` (its "unknown/other").
_STATUS_OF: dict[str, tuple[str, bool, str | None]] = {
    "approved": ("in_progress", False, None),
    "checked": ("in_progress", False, None),
    "verified": ("completed", True, "executed"),
    "rejected": ("denied", True, "unknown"),
    "cancelled": ("denied", True, "unknown"),
    "expired": ("denied", True, "unknown"),
}


def expected_completion(now: datetime, settings: Settings) -> datetime:
    """The first check after the coming weekend, plus a day for approval and execution."""
    return first_check_at(now, settings.purgebot_verify_at, settings.purgebot_timezone) + timedelta(days=1)


class StatusFeed:
    """Queues the status events that platform requests' new events call for."""

    def __init__(self, *, store: Store, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings

    def feed(self) -> int:
        """Turn new events of platform requests into status rows (one per callback); returns how many."""
        queued = 0
        now = self._clock.now()
        with self._store.read_snapshot() as db:
            if not intake.has_news(db):
                return 0  # the usual case: no write lock taken every second for nothing
        with self._store.write() as db:
            for link in intake.open_links(db):
                targets = intake.callback_ids(db, link.request_id)
                last, closed = link.reported_seq, False
                for seq, kind in intake.events_since(db, link.request_id, link.reported_seq):
                    last = seq
                    if kind not in _STATUS_OF:
                        continue
                    status, closed, reason = _STATUS_OF[kind]
                    payload = self._status_event(db, link, status, reason)
                    for callback_id in targets:
                        intake.enqueue(
                            db,
                            request_id=link.request_id,
                            callback_id=callback_id,
                            status=status,
                            payload=payload,
                            at=utc_iso(now),
                        )
                        queued += 1
                    if closed:
                        break
                if last != link.reported_seq or closed:
                    intake.advance(db, link.request_id, seq=last, closed=closed)
        return queued

    def _status_event(self, db: Database, link: intake.Intake, status: str, reason: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {"status": status}
        upcoming = checks.next_pending(db, link.request_id)
        if status == "in_progress":
            expected = (
                parse_utc(upcoming.due_at) + timedelta(days=1)
                if upcoming
                else expected_completion(self._clock.now(), self._settings)
            )
            event["expectedCompletionTimestamp"] = int(expected.timestamp())
        if reason:
            event["reason"] = reason
        return {
            "apiVersion": DSR_V1,
            "kind": "DeleteStatusEvent",
            "metadata": {"uid": link.uid or "", "tenant": link.tenant or ""},
            "event": event,
        }
