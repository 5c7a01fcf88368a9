"""The verifier: re-queries LangSmith for what was sent and says whether it is gone.

A 202 from LangSmith only means "queued"; the only proof is a later query that finds nothing.
Checks are rows (``storage.checks``) claimed when due, so a check that fell due while the bot was
down runs when it comes back, and one interrupted by a crash runs again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot import messages
from bot.approvers import Approvers
from bot.clock import Clock, parse_utc, utc_iso
from bot.journal import Journal
from bot.langsmith import LangSmithClient, LangSmithError
from bot.schedule import MAX_RECHECKS, next_check_at
from bot.settings import Settings
from bot.states import CHECKABLE, Actor, State, sources
from bot.workflow import items_digest
from storage import batches, checks, items, requests
from storage.checks import Check
from storage.db import Store
from storage.requests import Request

log = logging.getLogger(__name__)

ACTOR = "purgebot"
RETRY_DELAY = timedelta(minutes=15)
BATCH_SIZE = 1000


class NothingToCheck(Exception):
    """The request has not sent any delete yet, so there is nothing a check could prove."""


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    request: str
    checked: int
    remaining: int
    state: str


class Verifier:
    """Runs due checks and records, announces and acts on what they find."""

    def __init__(
        self,
        *,
        store: Store,
        langsmith: LangSmithClient,
        clock: Clock,
        settings: Settings,
        approvers: Approvers,
        owner: str,
        on_change: Callable[[], None],
        lease: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._langsmith = langsmith
        self._clock = clock
        self._settings = settings
        self._approvers = approvers
        self._owner = owner
        self._on_change = on_change
        self._lease = lease

    def run_due(self) -> list[CheckResult]:
        """Run every check that is due now (including those that fell due while the bot was down)."""
        results = []
        while (check := self._claim()) is not None:
            result = self.run(check)
            if result is not None:
                results.append(result)
        return results

    def check_now(self, request_id: int, *, requested_by: str) -> CheckResult | None:
        """Store a manual check of ``request_id`` and run it at once (``purgebot verify``).

        Raises ``NothingToCheck`` when the request has sent nothing yet; returns None when
        LangSmith could not answer (the check stays queued and the scheduler retries it).
        """
        now = self._clock.now()
        with self._store.write() as db:
            request = requests.get(db, request_id)
            if request.state not in CHECKABLE:
                raise NothingToCheck(
                    f"{request.label} is {request.state}: there is nothing to check until its deletes were sent"
                )
            check_id = checks.schedule(
                db, request_id=request_id, seq=0, kind=checks.MANUAL, due_at=utc_iso(now), requested_by=requested_by
            )
            self._journal(db, now).event(request_id, requested_by, "check_requested")
            check = checks.claim(db, check_id, owner=self._owner, expires=utc_iso(now + self._lease))
        return self.run(check)

    def _claim(self) -> Check | None:
        now = self._clock.now()
        with self._store.write() as db:
            return checks.claim_due(db, now=utc_iso(now), owner=self._owner, expires=utc_iso(now + self._lease))

    def run(self, check: Check) -> CheckResult | None:
        """Query LangSmith for every sent trace of the request; None when LangSmith could not answer."""
        request = requests.get(self._store.db, check.request_id)
        sent = items.sent(self._store.db, request.id)
        by_session: dict[str, list[str]] = defaultdict(list)
        for session_id, value in sent:
            by_session[session_id].append(value)
        try:
            remaining = sorted(
                value
                for session_id, values in by_session.items()
                for value in self._langsmith.existing_traces(session_id, values)
            )
        except LangSmithError as error:
            self._retry_later(check, request, error)
            return None
        return self._record(
            check, request, checked=len(sent), remaining=remaining, sessions={value: session for session, value in sent}
        )

    def _retry_later(self, check: Check, request: Request, error: LangSmithError) -> None:
        now = self._clock.now()
        with self._store.write() as db:
            checks.retry_later(db, check.id, due_at=utc_iso(now + RETRY_DELAY), error=str(error))
            journal = self._journal(db, now)
            journal.event(request.id, ACTOR, "check_postponed", check=check.id, reason=str(error))
            if check.attempts == 1:
                journal.in_thread(
                    request.id,
                    f"The check of {request.label} could not reach LangSmith ({error}); "
                    f"trying again at {messages.when(now + RETRY_DELAY, self._tz)}.",
                )
        self._on_change()

    def _record(
        self, check: Check, request: Request, *, checked: int, remaining: list[str], sessions: dict[str, str]
    ) -> CheckResult:
        now = self._clock.now()
        scheduled = check.kind == checks.SCHEDULED
        with self._store.write() as db:
            journal = self._journal(db, now)
            request = requests.get(db, request.id)
            outcome = "verified" if not remaining else "remaining"
            checks.finish(db, check.id, at=utc_iso(now), checked=checked, remaining=len(remaining), outcome=outcome)
            journal.event(
                request.id,
                ACTOR,
                "checked",
                check=check.id,
                kind=check.kind,
                seq=check.seq,
                checked=checked,
                remaining=len(remaining),
                remaining_digest=items_digest(remaining),
            )
            if not remaining:
                state = self._verified(journal, request, checked, scheduled=scheduled)
            elif scheduled and check.seq < MAX_RECHECKS:
                state = self._recheck(journal, request, check, remaining, sessions, checked)
            elif scheduled:
                state = self._unverified(journal, request, checked, len(remaining))
            else:
                state = request.state
                upcoming = checks.next_pending(db, request.id)
                later = (
                    f" Next scheduled check: {messages.when(parse_utc(upcoming.due_at), self._tz)}." if upcoming else ""
                )
                journal.in_thread(
                    request.id,
                    f":mag: Manual check of {request.label}: "
                    f"{len(remaining):,} of {checked:,} traces still present.{later}",
                )
        self._on_change()
        return CheckResult(request.label, checked, len(remaining), state)

    def _verified(self, journal: Journal, request: Request, checked: int, *, scheduled: bool) -> str:
        db = journal.db
        target = sources(State.VERIFIED, Actor.VERIFIER)
        moved = requests.transition(db, request.id, from_states=target, to=State.VERIFIED.value, at=journal.stamp)
        text = (
            f":white_check_mark: *{request.label} verified*: 0 of {messages.plural(checked, 'trace', 'traces')} remain."
        )
        if moved:
            dropped = checks.drop_pending(db, request.id)
            journal.event(request.id, ACTOR, "verified", checked=checked, checks_dropped=dropped)
            journal.refresh_request_message(request.id)
            state = State.VERIFIED.value
        else:
            state = request.state
            if request.state == State.FAILED:
                text = (
                    f":white_check_mark: {request.label} (failed): 0 of the "
                    f"{messages.plural(checked, 'trace', 'traces')} accepted before the failure remain."
                )
        journal.in_thread(request.id, text)
        if moved or (scheduled and request.state == State.FAILED):
            journal.in_notify_channel(request.id, f"{text}{_ticket(request)}")
        return state

    def _recheck(
        self,
        journal: Journal,
        request: Request,
        check: Check,
        remaining: list[str],
        sessions: dict[str, str],
        checked: int,
    ) -> str:
        """Items remain: send their deletes again under the same approval and schedule the next check."""
        db = journal.db
        due = next_check_at(parse_utc(check.due_at), self._settings.purgebot_verify_at, self._tz)
        checks.schedule(db, request_id=request.id, seq=check.seq + 1, kind=checks.SCHEDULED, due_at=utc_iso(due))
        round_ = check.seq + 1
        for start in range(0, len(remaining), BATCH_SIZE):
            chunk = remaining[start : start + BATCH_SIZE]
            by_session: dict[str, list[str]] = defaultdict(list)
            for value in chunk:
                by_session[sessions[value]].append(value)
            for session_id, values in by_session.items():
                batch_id = batches.create(
                    db,
                    request_id=request.id,
                    round_=round_,
                    session_id=session_id,
                    size=len(values),
                    digest=items_digest(values),
                    at=journal.stamp,
                )
                items.reassign(db, request.id, values, batch_id)
        journal.event(
            request.id, ACTOR, "resend_scheduled", round=round_, items=len(remaining), next_check=utc_iso(due)
        )
        text = (
            f":hourglass: {request.label}: {len(remaining):,} of {messages.plural(checked, 'trace', 'traces')} "
            f"still present. Their deletes are sent again; next check "
            f"{messages.when(due, self._tz)}."
        )
        journal.in_thread(request.id, text)
        journal.in_notify_channel(request.id, f"{text}{_ticket(request)}")
        return request.state

    def _unverified(self, journal: Journal, request: Request, checked: int, remaining: int) -> str:
        moved = requests.transition(
            journal.db,
            request.id,
            from_states=sources(State.UNVERIFIED, Actor.VERIFIER),
            to=State.UNVERIFIED.value,
            at=journal.stamp,
        )
        text = (
            f":rotating_light: *{request.label} unverified*: {remaining:,} of "
            f"{messages.plural(checked, 'trace', 'traces')} still present after the last scheduled re-check."
        )
        journal.in_thread(request.id, text + " Escalated in the compliance channel.")
        journal.in_notify_channel(
            request.id,
            f"{text}{_ticket(request)} Approvers {self._approvers.mentions()}: "
            "please follow up with LangSmith support.",
        )
        if moved:
            journal.event(request.id, ACTOR, "unverified", checked=checked, remaining=remaining)
            journal.refresh_request_message(request.id)
        return State.UNVERIFIED.value if moved else request.state

    @property
    def _tz(self) -> ZoneInfo:
        return self._settings.purgebot_timezone

    def _journal(self, db: Database, now: datetime) -> Journal:
        return Journal(db, now, self._tz, self._settings.purgebot_notify_channel)


def _ticket(request: Request) -> str:
    return f" (ticket {messages.escape(request.ticket)})" if request.ticket else ""
