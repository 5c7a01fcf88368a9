"""The verifier: runs due checks, and records, announces and acts on what they find.

Checks are rows (``storage.checks``) claimed when due, so a check that fell due while the bot was
down runs when it comes back, and one interrupted by a crash runs again.  What a check asks
LangSmith, and why its answer can be trusted, is :mod:`bot.findings`.

A check that cannot get an answer (LangSmith down, a refused query, a project no longer visible, a
window that falls short) is never a verdict: it is tried again with back-off (15 minutes, doubling,
at most 4 hours), said once in the thread, and escalated in the notify channel once it has failed
for a day.  Re-checks are scheduled from when a check actually ran, so a bot that was down for
weeks does not run the rest of a request's checks within a second of coming back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot import messages
from bot.approvers import Approvers
from bot.clock import parse_utc, utc_iso
from bot.findings import CannotVerify, Findings, Looker, by_target
from bot.journal import Journal
from bot.langsmith import LangSmithError, ProjectNotVisible
from bot.schedule import MAX_RECHECKS, next_check_at
from bot.states import CHECKABLE, Actor, State, in_words, sources
from bot.tasks import ACTOR, TaskContext
from bot.workflow import items_digest
from storage import batches, checks, items, requests
from storage.checks import Check
from storage.items import Found
from storage.requests import Request

log = logging.getLogger(__name__)

RETRY_DELAY = timedelta(minutes=15)  # the first wait after a check got no answer; doubles each time
MAX_RETRY_DELAY = timedelta(hours=4)
ESCALATE_AFTER = timedelta(days=1)  # a check failing this long is escalated in the notify channel
BATCH_SIZE = 1000


class NothingToCheck(Exception):
    """The request has not sent any delete yet, so there is nothing a check could prove."""


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try of a check: 15 minutes, doubling, at most 4 hours."""
    doubled: timedelta = RETRY_DELAY * 2 ** min(max(attempts - 1, 0), 16)
    return min(doubled, MAX_RETRY_DELAY)


@dataclass(frozen=True)
class CheckResult:
    """What one check found, summed over what it looked at."""

    request: str
    checked: int
    remaining: int
    state: str


class Verifier:
    """Runs due checks and records, announces and acts on what they find."""

    def __init__(self, context: TaskContext, *, approvers: Approvers, lease: timedelta = timedelta(minutes=10)) -> None:
        self._context = context
        self._approvers = approvers
        self._lease = lease
        self._looker = Looker(context)

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
        context = self._context
        now = context.clock.now()
        with context.store.write() as db:
            request = requests.get(db, request_id)
            if request.state not in CHECKABLE:
                raise NothingToCheck(
                    f"{request.label} is {in_words(request.state)}: "
                    "there is nothing to check until its deletes were sent"
                )
            minimised = messages.minimised_refusal(request)
            if minimised is not None:
                raise NothingToCheck(minimised)
            check_id = checks.schedule(
                db,
                request_id=request_id,
                seq=0,
                kind=checks.MANUAL,
                due_at=utc_iso(now),
                target=checks.manual_target(request),
                requested_by=requested_by,
            )
            context.journal(db, now).event(request_id, requested_by, "check_requested")
            check = checks.claim(db, check_id, owner=context.owner, expires=utc_iso(now + self._lease))
        return self.run(check)

    def _claim(self) -> Check | None:
        now = self._context.clock.now()
        with self._context.store.write() as db:
            return checks.claim_due(db, now=utc_iso(now), owner=self._context.owner, expires=utc_iso(now + self._lease))

    def run(self, check: Check) -> CheckResult | None:
        """Look at every target of the check; None when LangSmith could not answer (retried later)."""
        request = requests.get(self._context.store.db, check.request_id)
        if request.minimised_at is not None:  # its IDs are hashes now: no query could find them
            self._drop_minimised(check, request)
            return None
        names = request.workspace_names
        findings: list[Findings] = []
        for workspace in names:
            try:
                findings += [self._looker.look(request, target, workspace) for target in self._targets(request, check)]
            except (LangSmithError, CannotVerify) as error:
                # every workspace must answer before there is a verdict; the thread says which did not
                self._retry_later(check, request, _in_workspace(error, workspace) if len(names) > 1 else error)
                return None
            except Exception as error:  # a check's own fault is no verdict either, and must not stop the others
                log.error(
                    "unexpected error in a check", extra={"request": request.label, "error": type(error).__name__}
                )
                self._retry_later(
                    check, request, CannotVerify(f"an unexpected error ({type(error).__name__}) stopped it")
                )
                return None
        return self._record(check, request, findings)

    def _drop_minimised(self, check: Check, request: Request) -> None:
        with self._context.store.write() as db:
            checks.drop(db, check.id)
            self._context.journal(db).event(request.id, ACTOR, "check_dropped", check=check.id, reason="minimised")

    def _targets(self, request: Request, check: Check) -> list[str]:
        return [check.target] if check.target != checks.BOTH else checks.targets_of(request)

    # -- recording ------------------------------------------------------------------------------

    def _retry_later(self, check: Check, request: Request, error: LangSmithError | CannotVerify) -> None:
        """No verdict: try again with back-off, say so once in the thread, and escalate after a day."""
        context = self._context
        now = context.clock.now()
        failing_since = parse_utc(check.failing_since) if check.failing_since else now
        due = now + retry_delay(check.attempts)
        with context.store.write() as db:
            checks.retry_later(
                db, check.id, due_at=utc_iso(due), error=str(error), failing_since=utc_iso(failing_since)
            )
            journal = context.journal(db, now)
            journal.event(
                request.id, ACTOR, "check_postponed", check=check.id, reason_digest=journal.text(request.id, str(error))
            )
            cannot = isinstance(error, ProjectNotVisible | CannotVerify)
            why = (
                f"{request.label} cannot be verified yet: {messages.escape(str(error))}"
                if cannot
                else f"The check of {request.label} got no answer from LangSmith ({messages.escape(str(error))})"
            )
            if check.attempts == 1:
                journal.in_thread(request.id, f":warning: {why}; trying again at {context.when(due)}.")
            if check.escalated_at is None and now - failing_since >= ESCALATE_AFTER:
                checks.mark_escalated(db, check.id, at=utc_iso(now))
                journal.event(
                    request.id, ACTOR, "check_escalated", check=check.id, failing_since=utc_iso(failing_since)
                )
                journal.in_thread(
                    request.id, f":rotating_light: {why}, for over a day. Escalated in the compliance channel."
                )
                journal.in_notify_channel(
                    request.id,
                    f":rotating_light: {why}; its check has failed since {context.when(failing_since)} and is "
                    f"retried until it gets an answer.{_ticket(request)} Approvers {self._approvers.mentions()}: "
                    "please look into it.",
                )
        context.on_change()

    def _record(self, check: Check, request: Request, findings: list[Findings]) -> CheckResult:
        context = self._context
        now = context.clock.now()
        scheduled = check.kind == checks.SCHEDULED
        checked = sum(f.checked for f in findings)
        remaining = [item for f in findings for item in f.remaining]
        traces = next((f for f in findings if f.window is not None), None)
        named = len(request.workspace_names) > 1
        apis = sorted({api for f in findings if f.api for api in f.api.split("+")})
        with context.store.write() as db:
            journal = context.journal(db, now)
            request = requests.get(db, request.id)
            checks.finish(
                db,
                check.id,
                at=utc_iso(now),
                checked=checked,
                remaining=len(remaining),
                outcome="clear" if not remaining else "remaining",
                api="+".join(apis) or None,
                window=(utc_iso(traces.window.start), utc_iso(traces.window.end)) if traces and traces.window else None,
                by_target=by_target(findings),
            )
            journal.event(
                request.id,
                ACTOR,
                "checked",
                check=check.id,
                kind=check.kind,
                seq=check.seq,
                targets={
                    (f"{f.workspace}/{f.target}" if named else f.target): {
                        "checked": f.checked,
                        "remaining": len(f.remaining),
                        "remaining_digest": items_digest([i.value for i in f.remaining]),
                        "new_since": f.new_since,
                        "ingested_late": len(f.unseen),
                        **({"api": f.api} if f.api else {}),
                        **(
                            {"window": [utc_iso(f.window.start), utc_iso(f.window.end)]} if f.window is not None else {}
                        ),
                    }
                    for f in findings
                },
            )
            # a workspace that sent nothing of a kind has nothing to say about it
            told = [f for f in findings if f.checked or not named] or findings
            report = "; ".join(f.sentence(named=named) for f in told) or "nothing was sent"
            if not remaining and self._all_clear(request):
                state = self._verified(journal, request, report, scheduled=scheduled)
            elif not remaining:
                state = request.state
                self._say(
                    journal,
                    request,
                    f":white_check_mark: {request.label}: {report}. {self._still_to_come(request)}",
                    notify=scheduled,
                )
            elif not scheduled:
                state = request.state
                self._say(
                    journal,
                    request,
                    f":mag: Manual check of {request.label}: {report}. {self._still_to_come(request)}",
                    notify=False,
                )
            elif self._another_check_follows(check):
                state = self._send_again(journal, request, check, findings, report)
            else:
                state = self._unverified(journal, request, report)
        context.on_change()
        return CheckResult(request.label, checked, len(remaining), state)

    def _all_clear(self, request: Request) -> bool:
        """A request is verified only when the latest check of each thing it sent found nothing."""
        db = self._context.store.db
        latest = [(target, checks.latest_done(db, request.id, target)) for target in checks.targets_of(request)]
        return all(check is not None and check.remaining_of(target) == 0 for target, check in latest)

    def _still_to_come(self, request: Request) -> str:
        upcoming = checks.next_pending(self._context.store.db, request.id)
        return f"Next scheduled check: {self._context.when(parse_utc(upcoming.due_at))}." if upcoming else ""

    @staticmethod
    def _another_check_follows(check: Check) -> bool:
        if check.target == checks.EXAMPLES:
            return check.seq == 0  # the 7-day check was scheduled with the first
        return check.seq < MAX_RECHECKS

    def _say(self, journal: Journal, request: Request, text: str, *, notify: bool) -> None:
        journal.in_thread(request.id, text.strip())
        if notify:
            journal.in_notify_channel(request.id, f"{text.strip()}{_ticket(request)}")

    def _verified(self, journal: Journal, request: Request, report: str, *, scheduled: bool) -> str:
        db = journal.db
        moved = requests.transition(
            db,
            request.id,
            from_states=sources(State.VERIFIED, Actor.VERIFIER),
            to=State.VERIFIED.value,
            at=journal.stamp,
        )
        text = f":white_check_mark: *{request.label} verified*: {report}."
        if request.included_examples:
            text += (
                " Hard-deleted examples read back empty; LangSmith removes their attachment files within 7 "
                "days, which it promises and the bot cannot observe."
            )
        if moved:
            dropped = checks.drop_pending(db, request.id)
            journal.event(request.id, ACTOR, "verified", checks_dropped=dropped)
            journal.refresh_request_message(request.id)
            self._say(journal, request, text, notify=True)
            journal.evidence_in_thread(request.id, f"Evidence report of {request.label}, for the ticket.")
            return State.VERIFIED.value
        if request.state == State.FAILED:
            text = f":white_check_mark: {request.label} (failed): of what was accepted before the failure, {report}."
        self._say(journal, request, text, notify=scheduled and request.state == State.FAILED)
        return request.state

    def _send_again(
        self, journal: Journal, request: Request, check: Check, findings: list[Findings], report: str
    ) -> str:
        """Items remain: send their deletes again under the same approval; the next check follows."""
        db = journal.db
        round_ = check.seq + 1
        # This round carries everything that remains, in every workspace: an earlier round's batch not yet
        # sent would otherwise be left empty by the reassignment below.
        superseded = sum(
            batches.supersede_pending_resends(db, request.id, _BATCH_KINDS[target])
            for target in {found.target for found in findings}
        )
        for found in findings:
            kind, batch_kind = (
                (items.TRACE if found.target == checks.TRACES else items.EXAMPLE),
                _BATCH_KINDS[found.target],
            )
            if found.unseen:  # older traces of the subject LangSmith ingested late: the approval covers them
                items.add(
                    db,
                    request.id,
                    found.unseen,
                    kind=items.TRACE,
                    origin=items.CHECK,
                    status=items.INCLUDED,
                    workspace=found.workspace,
                )
                requests.update(db, request.id, included_traces=items.included_counts(db, request.id)[0])
            for container, group in _batches_of(found.remaining, by_container=found.target == checks.TRACES):
                values = [item.value for item in group]
                batch_id = batches.create(
                    db,
                    request_id=request.id,
                    round_=round_,
                    kind=batch_kind,
                    session_id=container,
                    size=len(values),
                    digest=items_digest(values),
                    at=journal.stamp,
                    workspace=found.workspace,
                )
                items.reassign(db, request.id, kind, values, batch_id)
        if check.target == checks.TRACES:
            settings = self._context.settings
            # From when this check ran, not when it was due: after a long downtime the re-sent deletes
            # still get their weekend before the next look.
            due = next_check_at(parse_utc(journal.stamp), settings.purgebot_verify_at, settings.purgebot_timezone)
            checks.schedule(
                db, request_id=request.id, seq=round_, kind=checks.SCHEDULED, due_at=utc_iso(due), target=checks.TRACES
            )
        journal.event(
            request.id,
            ACTOR,
            "resend_scheduled",
            round=round_,
            target=check.target,
            items=sum(len(f.remaining) for f in findings),
            superseded=superseded,
        )
        self._say(
            journal,
            request,
            f":hourglass: {request.label}: {report}. Their deletes are sent again. {self._still_to_come(request)}",
            notify=True,
        )
        return request.state

    def _unverified(self, journal: Journal, request: Request, report: str) -> str:
        moved = requests.transition(
            journal.db,
            request.id,
            from_states=sources(State.UNVERIFIED, Actor.VERIFIER),
            to=State.UNVERIFIED.value,
            at=journal.stamp,
        )
        text = f":rotating_light: *{request.label} unverified*: {report} after the last scheduled re-check."
        journal.in_thread(request.id, text + " Escalated in the compliance channel.")
        journal.in_notify_channel(
            request.id,
            f"{text}{_ticket(request)} Approvers {self._approvers.mentions()}: "
            "please follow up with LangSmith support.",
        )
        if moved:
            journal.event(request.id, ACTOR, "unverified", report=report)
            journal.refresh_request_message(request.id)
        return State.UNVERIFIED.value if moved else request.state


_BATCH_KINDS = {checks.TRACES: batches.TRACES, checks.EXAMPLES: batches.EXAMPLES}


def _in_workspace(error: LangSmithError | CannotVerify, workspace: str) -> CannotVerify:
    """The error, naming the workspace that gave it: the others may have answered."""
    return CannotVerify(f"in workspace {workspace}, {error}")


def _batches_of(found: list[Found], *, by_container: bool) -> Iterable[tuple[str | None, list[Found]]]:
    """Re-send batches: ≤1000 per project for traces, ≤1000 across datasets for examples."""
    if not by_container:
        for start in range(0, len(found), BATCH_SIZE):
            yield None, found[start : start + BATCH_SIZE]
        return
    grouped: dict[str, list[Found]] = defaultdict(list)
    for item in found:
        grouped[item.container].append(item)
    for container, group in grouped.items():
        for start in range(0, len(group), BATCH_SIZE):
            yield container, group[start : start + BATCH_SIZE]


def _ticket(request: Request) -> str:
    return f" (ticket {messages.escape(request.ticket)})" if request.ticket else ""
