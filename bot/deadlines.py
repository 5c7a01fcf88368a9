"""Deadlines: reminders, warnings and expiry, run by the scheduler's tick.

- A request awaiting approval for 24 hours gets one reminder in its thread, naming the approvers.
- A request within 5 days of its due date and not yet verified is announced once in the notify
  channel (GDPR: one month; CCPA: 45 days — the due date is the requester's to set from the ticket).
- A request still awaiting approval after ``PURGEBOT_APPROVAL_TTL_DAYS`` expires, with a message in
  its thread.

Each fires once: the event it records is what the next tick looks for.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot import messages
from bot.approvers import Approvers
from bot.clock import parse_utc, utc_iso
from bot.states import FINAL, Actor, State, sources
from bot.tasks import ACTOR, TaskContext
from storage import events, requests
from storage.requests import Request

REMIND_AFTER = timedelta(hours=24)
WARN_DAYS = 5
REMINDED = "approval_reminded"
WARNED = "deadline_warned"


def days_left(request: Request, today: date) -> int | None:
    """Whole days until the due date (negative when overdue), or None without a due date."""
    return (date.fromisoformat(request.due_date) - today).days if request.due_date else None


def days_left_text(days: int | None) -> str:
    if days is None:
        return "no due date"
    if days < 0:
        return f"*overdue by {-days} day{'s' if days != -1 else ''}*"
    return "due today" if days == 0 else f"{days} day{'s' if days != 1 else ''} left"


class Deadlines:
    """One pass over open requests: expire, remind, warn."""

    def __init__(self, context: TaskContext, *, approvers: Approvers) -> None:
        self._context = context
        self._approvers = approvers

    def run(self) -> int:
        """Act on every request whose time has come; returns how many things were done."""
        now = self._context.clock.now()
        open_states = [state.value for state in State if state not in FINAL]
        with self._context.store.read_snapshot() as db:
            candidates = requests.list_requests(db, states=open_states, limit=10_000)
        done = 0
        for request in candidates:
            if request.state == State.AWAITING_APPROVAL:
                done += self._expire(request, now) or self._remind(request, now)
            done += self._warn(request, now)
        if done:
            self._context.on_change()
        return done

    def _expire(self, request: Request, now: datetime) -> int:
        ttl = timedelta(days=self._context.settings.purgebot_approval_ttl_days)
        if now - parse_utc(request.created_at) < ttl:
            return 0
        with self._context.store.write() as db:
            moved = requests.transition(
                db, request.id, from_states=sources(State.EXPIRED, Actor.TIMER), to=State.EXPIRED.value, at=utc_iso(now)
            )
            if not moved:
                return 0
            journal = self._context.journal(db, now)
            journal.event(request.id, ACTOR, "expired", ttl_days=ttl.days)
            journal.refresh_request_message(request.id)
            journal.in_thread(
                request.id,
                f":hourglass: {request.label} *expired*: nobody approved it within "
                f"{ttl.days} days. File it again if it is still needed.",
            )
        return 1

    def _remind(self, request: Request, now: datetime) -> int:
        if now - parse_utc(request.created_at) < REMIND_AFTER or request.preview_digest is None:
            return 0
        with self._context.store.write() as db:
            if events.recorded(db, request.id, REMINDED):
                return 0
            journal = self._context.journal(db, now)
            journal.event(request.id, ACTOR, REMINDED)
            journal.in_thread(
                request.id,
                f":bell: {request.label} has waited 24 hours for approval. Approvers: {self._approvers.mentions()}.",
            )
        return 1

    def _warn(self, request: Request, now: datetime) -> int:
        today = now.astimezone(self._context.settings.purgebot_timezone).date()
        left = days_left(request, today)
        if left is None or left > WARN_DAYS:
            return 0
        with self._context.store.write() as db:
            if events.recorded(db, request.id, WARNED):
                return 0
            journal = self._context.journal(db, now)
            journal.event(request.id, ACTOR, WARNED, days_left=left)
            when = (
                f"in {left} days"
                if left > 1
                else ("tomorrow" if left == 1 else ("today" if left == 0 else f"{-left} days ago"))
            )
            ticket = f" (ticket {messages.escape(request.ticket)})" if request.ticket else ""
            journal.in_notify_channel(
                request.id,
                f":alarm_clock: {request.label}{ticket} is due {when} "
                f"({request.due_date}) and is {request.state.replace('_', ' ')}.",
            )
        return 1
