"""What ``/purge status`` and ``/purge list`` answer: read-only views of requests, for those who may see them.

Nothing here writes: it reads one snapshot of the database and words it. Who may see a request's
details is :mod:`bot.visibility`'s to say; a bystander learns a request's state and no more.
"""

from __future__ import annotations

from bot import messages
from bot.clock import Clock, parse_utc
from bot.deadlines import days_left, days_left_text
from bot.settings import Settings
from bot.states import FINAL, State
from bot.visibility import Visibility, not_yours
from bot.workflow import Reply
from storage import batches, checks, intake, outbox, requests
from storage.db import Store
from storage.requests import DEFAULT_WORKSPACE, Request


class StatusBoard:
    """Answers ``/purge status PURGE-n`` and ``/purge list [state]``."""

    def __init__(self, *, store: Store, visibility: Visibility, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._visibility = visibility
        self._clock = clock
        self._settings = settings

    def status(self, request_id: int, user: str) -> Reply:
        """Where a request stands; the first line is ``PURGE-n: <state>`` (a contract). The details only
        for those who may see them (:mod:`bot.visibility`)."""
        with self._store.read_snapshot() as db:
            request = requests.find(db, request_id)
        if request is None:
            return Reply(f"PURGE-{request_id} does not exist.")
        if not self._visibility.may_see(user, request):
            return Reply(not_yours(request))
        with self._store.read_snapshot() as db:
            progress = [
                (noun, batches.counts(db, request_id, kind))
                for noun, kind in (("trace ID", batches.TRACES), ("example", batches.EXAMPLES))
            ]
            request_checks = checks.for_request(db, request_id)
            upcoming = checks.next_pending(db, request_id)
            failed_posts = outbox.failures(db, request_id)
            undelivered = intake.undelivered(db, request_id)
            traces, examples = request.included_traces, request.included_examples
        tz = self._settings.purgebot_timezone
        lines = [
            f"{request.label}: {request.state}",  # DESIGN.md: the first line is `PURGE-n: <state>`, the state's name
            f"{messages.summary_text(request)} · filed by {messages.person(request.requester)} · "
            f"reason: {messages.escape(request.reason)}"
            + (f" · ticket {messages.escape(request.ticket)}" if request.ticket else "")
            + self._due(request),
        ]
        if request.preview_digest:
            covered = [messages.plural(traces, "trace", "traces")]
            if request.kind != "traces":
                covered.append(messages.plural(examples, "example", "examples"))
            approving = request.state == State.AWAITING_APPROVAL
            lines.append(("Approving deletes: " if approving else "Approved set: ") + ", ".join(covered))
        if request.workspace_names != [DEFAULT_WORKSPACE]:
            lines.append("Workspaces: " + ", ".join(request.workspace_names))
        if request.decided_by:
            lines.append(f"Decided by <@{request.decided_by}>")
        for noun, (total, sent, size, size_sent) in progress:
            if total:
                lines.append(f"Batches of {noun}s: {sent:,} of {total:,} accepted ({size_sent:,} of {size:,})")
        if request.paused_until:
            lines.append(f"Paused until {messages.when(parse_utc(request.paused_until), tz)}")
        if request.failure:
            lines.append(f"Failure: {request.failure}")
        for check in sorted(request_checks, key=lambda c: c.finished_at or ""):
            if check.state == checks.DONE and check.finished_at:
                # A scheduled check runs at its first chance after it fell due: say both, each as what it is.
                due = f", due {messages.when(parse_utc(check.due_at), tz)}" if check.kind == checks.SCHEDULED else ""
                found = check.found()
                counts = (
                    ", ".join(
                        f"{left:,} of {messages.plural(checked, target.removesuffix('s'), target)}"
                        for target, (checked, left) in found.items()
                    )
                    if len(found) > 1
                    else f"{check.remaining:,} of {check.checked:,}"
                )
                lines.append(
                    f"{check.kind.capitalize()} check of {messages.CHECK_TARGETS.get(check.target, check.target)}"
                    f"{due}, ran {messages.when(parse_utc(check.finished_at), tz)}: {counts} remained"
                )
        if upcoming:
            lines.append(f"Next check due {messages.when(parse_utc(upcoming.due_at), tz)}")
        for row in failed_posts:
            lines.append(f"A Slack post could not be delivered: {row.error}")
        for status, error in undelivered:
            lines.append(f"A `{status}` status for the privacy platform is not delivered: {error}")
        return Reply("\n".join(lines))

    def _due(self, request: Request) -> str:
        """`` · due 2026-12-28 (30 days left)`` — days left only while the request is still open."""
        if not request.due_date:
            return ""
        if request.state in FINAL:
            return f" · due {request.due_date}"
        today = self._clock.now().astimezone(self._settings.purgebot_timezone).date()
        return f" · due {request.due_date} ({days_left_text(days_left(request, today))})"

    def list_requests(self, state: str | None, user: str) -> Reply:
        """The latest requests the user may see (:mod:`bot.visibility`), up to 20."""
        with self._store.read_snapshot() as db:
            latest = requests.list_requests(db, states=[state] if state else None, limit=200)
        found = [r for r in latest if self._visibility.may_see(user, r)][:20]
        if not found:
            hidden = " you may see" if latest else ""
            return Reply(f"No requests{hidden}{' in state ' + state if state else ''}.")
        lines = [
            f"*{r.label}* · {messages.summary_text(r)} · filed by {messages.person(r.requester)}" + self._due(r)
            for r in found
        ]
        return Reply("\n".join(lines))
