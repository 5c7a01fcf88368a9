"""What people do with requests: file, decide, cancel, ask, check now.

Handlers hand parsed input here and render the ``Reply``; every rule that matters — who may
approve, the two-person rule, which moves are allowed, replays — is enforced here, in the code
that changes state, never only in a handler.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import audit, messages
from bot.approvers import ApproverLookupFailed, Approvers
from bot.clock import Clock, utc_iso
from bot.jobs import Job, encode
from bot.journal import Journal
from bot.settings import Settings
from bot.states import CHECKABLE, RESTING, Actor, State, in_words, sources
from bot.visibility import Visibility
from storage import checks, interactions, pairs, requests
from storage.db import StorageError, Store
from storage.requests import Request

log = logging.getLogger(__name__)

RecordingFailed = StorageError
"""The database could not record an action (read-only file, full disk, locked too long); nothing changed."""

REPLAY_WINDOW = timedelta(minutes=5)
_APPROVED_SINCE = frozenset(
    {State.APPROVED, State.EXECUTING, State.SUBMITTED, State.VERIFIED, State.UNVERIFIED, State.FAILED}
)
"""States a request can only have reached through an approval."""


@dataclass(frozen=True)
class Reply:
    """What the person who acted is told (ephemerally)."""

    text: str


def named_actor(name: str | None) -> dict[str, str]:
    """The ``actor_name`` an event of a person's action carries when Slack sent their name."""
    return {"actor_name": name} if name else {}


def items_digest(values: list[str]) -> str:
    """SHA-256 of the sorted IDs: names the exact set in events without naming its members."""
    return hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()


class Workflow:
    """The request lifecycle as seen from Slack."""

    def __init__(
        self,
        *,
        store: Store,
        approvers: Approvers,
        visibility: Visibility,
        clock: Clock,
        settings: Settings,
        on_change: Callable[[], None],
    ) -> None:
        self._store = store
        self._approvers = approvers
        self._visibility = visibility
        self._clock = clock
        self._settings = settings
        self._on_change = on_change

    @property
    def shows_values(self) -> bool:
        """``PURGEBOT_SHOW_VALUES=full``: subject values appear unmasked in what the bot says in Slack."""
        return self._settings.shows_values

    def claim_interaction(self, key: str, provisional: str, *, job: Job | None, taken: bool) -> str | None:
        """Claim a slash command (trigger_id), click (action_ts + user), form or event before acting on it.

        Returns None when this delivery is the first within the replay window — go ahead — and the
        answer given to the first one otherwise, so a replay gets that answer and does nothing new.
        The ``job`` is stored with the claim, before the ack, so a crash between the ack and the work
        does not lose it (:mod:`bot.deferred` does it; None: the listener's own work, which has no
        job); ``taken``: this process does it itself, at once, so nobody else takes it while this
        process is alive to.
        """
        now = self._clock.now()
        answer: dict[str, object] = {"text": provisional}
        if job is not None:
            answer["pending"] = encode(job)
        if job is not None and taken:
            answer["taken_at"] = utc_iso(now)
        with self._store.write(urgent=True) as db:  # the ack waits for this write
            earlier = interactions.recall(db, key, since=utc_iso(now - REPLAY_WINDOW))
            if earlier is not None:
                return str(earlier["text"])
            interactions.remember(db, key, answer, utc_iso(now))
        return None

    def forget_old_interactions(self) -> int:
        """Drop replay answers older than the window; Slack rejects such old requests anyway."""
        cutoff = utc_iso(self._clock.now() - REPLAY_WINDOW * 2)
        with self._store.write() as db:
            return interactions.forget_before(db, cutoff)

    # -- decisions ------------------------------------------------------------------------------

    def decide(
        self,
        *,
        request_id: int,
        preview_digest: str,
        user: str,
        approve: bool,
        name: str | None = None,
        answering: str | None = None,
    ) -> Reply | None:
        """Approve or reject; None when the decision was recorded, else the refusal (``name``: as in ``file``).

        The two-person rule holds in the compare-and-set itself (``requester != user``), so no
        path around this method can approve its own request. ``answering`` (here and in the other
        actions): the claimed interaction this answers, finished in the same transaction as the change,
        so a crash can neither lose the action nor let it be done twice.
        """
        now = self._clock.now()
        with self._store.read_snapshot() as db:
            request = requests.find(db, request_id)
        refusal = self._decision_refusal(request, preview_digest, user, approve)
        if refusal is None:
            try:
                if not self._approvers.is_eligible(user):
                    refusal = (
                        f"Only approvers can {'approve' if approve else 'reject'} purge requests "
                        f"(approvers: {self._approvers.mentions()})."
                    )
            except ApproverLookupFailed as error:
                refusal = f"{error}. Nothing changed; try again in a minute."
        target = State.APPROVED if approve else State.REJECTED
        with self._store.write() as db:
            journal = self._journal_for(db, now)
            if refusal is None:
                moved = requests.transition(
                    db,
                    request_id,
                    from_states=sources(target, Actor.APPROVER),
                    to=target.value,
                    at=utc_iso(now),
                    where=f"requester != ? AND preview_digest = ? AND {requests.PREVIEW_SUCCEEDED}",
                    params=[user, preview_digest],
                    decided_by=user,
                    decided_at=utc_iso(now),
                )
                if moved:
                    journal.event(request_id, user, target.value, preview_digest=preview_digest, **named_actor(name))
                    journal.refresh_request_message(request_id)
                    if approve:
                        journal.in_thread(request_id, f"Approved by <@{user}>. Sending the deletes to LangSmith now.")
                else:
                    current = requests.get(db, request_id)
                    refusal = (
                        self._decision_refusal(current, preview_digest, user, approve)
                        or f"{current.label} changed while you clicked; nothing was done."
                    )
            if refusal is not None:
                journal.event(
                    request_id if request else None,
                    user,
                    "decision_refused",
                    decision="approve" if approve else "reject",
                    reason_digest=journal.text(request_id if request else None, refusal),
                )
            if answering is not None:
                interactions.finish(db, answering, refusal or "")
        if refusal is not None:
            return Reply(refusal)
        self._on_change()
        return None

    @staticmethod
    def _decision_refusal(request: Request | None, preview_digest: str, user: str, approve: bool) -> str | None:
        if request is None:
            return "That request does not exist."
        if request.state != State.AWAITING_APPROVAL:
            by = f" by <@{request.decided_by}>" if request.decided_by else ""
            if request.state in _APPROVED_SINCE:
                # Name the decision, not the executor's later state: "already submitted by <@bob>"
                # would credit the approver with what the bot did after the approval.
                now = "" if request.state == State.APPROVED else f" (now {in_words(request.state)})"
                return f"{request.label} is already approved{by}{now}; nothing changed."
            return f"{request.label} is already {in_words(request.state)}{by}; nothing changed."
        if request.preview_digest is None:
            return f"The preview of {request.label} is not ready yet; decide once it is posted."
        if preview_digest != request.preview_digest:
            return f"That button belongs to an older preview of {request.label}; use the buttons on its message."
        if not request.preview_succeeded:
            return (
                f"The preview of {request.label} failed, so nobody can approve or reject it: it is cancelled by "
                "its requester or expires. Nothing changed."
            )
        if user == request.requester:
            if approve:
                return f"You filed {request.label}, so you can't approve it: a second person must (two-person rule)."
            return f"You filed {request.label}; to withdraw it use `/purge cancel {request.label}`."
        return None

    def cancel(self, *, request_id: int, user: str, name: str | None = None, answering: str | None = None) -> Reply:
        return self._act(answering, lambda db, now: self._cancel(db, now, request_id=request_id, user=user, name=name))

    def _cancel(
        self, db: Database, now: datetime, *, request_id: int, user: str, name: str | None
    ) -> tuple[Reply, bool]:
        request = requests.find(db, request_id)
        if request is None:
            return Reply(f"PURGE-{request_id} does not exist."), False
        if user != request.requester:
            return Reply(
                f"Only the requester ({messages.person(request.requester)}) can cancel {request.label}; "
                "an approver can reject it instead."
            ), False
        moved = requests.transition(
            db,
            request_id,
            from_states=sources(State.CANCELLED, Actor.REQUESTER),
            to=State.CANCELLED.value,
            at=utc_iso(now),
            decided_by=user,
            decided_at=utc_iso(now),
        )
        if not moved:
            return Reply(
                f"{request.label} is {in_words(request.state)}; only a request awaiting approval can be cancelled."
            ), False
        journal = self._journal_for(db, now)
        journal.event(request_id, user, "cancelled", **named_actor(name))
        journal.refresh_request_message(request_id)
        return Reply(f"{request.label} is cancelled."), True

    def _act(self, answering: str | None, act: Callable[[Database, datetime], tuple[Reply, bool]]) -> Reply:
        """Run ``act`` (its reply, and whether it changed anything) in one write transaction with the finish
        of the interaction it answers; wake the workers when it changed something."""
        now = self._clock.now()
        with self._store.write() as db:
            reply, changed = act(db, now)
            if answering is not None:
                interactions.finish(db, answering, reply.text)
        if changed:
            self._on_change()
        return reply

    # -- questions ------------------------------------------------------------------------------

    def redact_rested(self) -> int:
        """Edit down to counts the messages of requests that came to rest before this version did that
        (the upgrade path): the same edit a request gets when it ends. Returns how many."""
        now = self._clock.now()
        with self._store.write() as db:
            waiting = requests.unredacted(db, sorted(state.value for state in RESTING))
            journal = self._journal_for(db, now)
            for request_id in waiting:
                journal.refresh_request_message(request_id)
        if waiting:
            log.info("request messages redacted after the upgrade", extra={"requests": len(waiting)})
            self._on_change()
        return len(waiting)

    def show_values(self, *, request_id: int, user: str) -> Reply:
        """The subject's values and the sample IDs a masked request message leaves out — for the requester
        and eligible approvers only, and only ephemerally (the caller answers the clicker alone)."""
        with self._store.read_snapshot() as db:
            request = requests.find(db, request_id)
            searched = pairs.of(db, request_id)
        if request is None:
            return Reply(f"PURGE-{request_id} does not exist.")
        if user != request.requester and not self._eligible_quietly(user):
            return Reply(f"Only the requester of {request.label} and the approvers may see its values.")
        minimised = messages.minimised_refusal(request)
        if minimised is not None:
            return Reply(minimised)
        return Reply(messages.values_text(request, searched))

    def upload_report(self, *, request_id: int, user: str, answering: str | None = None) -> Reply:
        """Queue the evidence report into the request's thread (requester or approver)."""
        return self._act(answering, lambda db, now: self._report(db, now, request_id=request_id, user=user))

    def _report(self, db: Database, now: datetime, *, request_id: int, user: str) -> tuple[Reply, bool]:
        request = self._for_requester_or_approver(db, request_id, user, "ask for the report of")
        if isinstance(request, Reply):
            return request, False
        journal = self._journal_for(db, now)
        journal.event(request_id, user, "report_requested")
        journal.evidence_in_thread(request_id, f"Evidence report of {request.label}, asked for by <@{user}>.")
        return Reply(f"Uploading the evidence report of {request.label} to its thread."), True

    def verify_now(self, *, request_id: int, user: str, answering: str | None = None) -> Reply:
        """Queue a manual check that runs at once; it neither uses up nor moves the scheduled ones."""
        return self._act(answering, lambda db, now: self._check_now(db, now, request_id=request_id, user=user))

    def _check_now(self, db: Database, now: datetime, *, request_id: int, user: str) -> tuple[Reply, bool]:
        request = self._for_requester_or_approver(db, request_id, user, "check")
        if isinstance(request, Reply):
            return request, False
        if request.state not in CHECKABLE:
            return Reply(
                f"{request.label} is {in_words(request.state)}: there is nothing to check until its deletes were sent."
            ), False
        minimised = messages.minimised_refusal(request)
        if minimised is not None:
            return Reply(minimised), False
        checks.schedule(
            db,
            request_id=request_id,
            seq=0,
            kind=checks.MANUAL,
            due_at=utc_iso(now),
            requested_by=user,
            target=checks.manual_target(request),
        )
        self._journal_for(db, now).event(request_id, user, "check_requested")
        return Reply(f"Checking {request.label} now; the result goes to its thread."), True

    def audit(self, user: str) -> Reply:
        """``/purge audit``: the event chain's head and whether it is intact, for approvers only."""
        if not self._eligible_quietly(user):
            return Reply("Only approvers can check the event chain.")
        with self._store.read_snapshot() as db:
            return Reply(audit.chain_report(db))

    def _for_requester_or_approver(self, db: Database, request_id: int, user: str, what: str) -> Request | Reply:
        request = requests.find(db, request_id)
        if request is None:
            return Reply(f"PURGE-{request_id} does not exist.")
        if user != request.requester and not self._eligible_quietly(user):
            return Reply(f"Only the requester or an approver can {what} {request.label}.")
        return request

    def _eligible_quietly(self, user: str) -> bool:
        try:
            return self._approvers.is_eligible(user)
        except ApproverLookupFailed:
            return False

    def _journal_for(self, db: Database, now: datetime) -> Journal:
        return Journal.of(db, now, self._settings)
