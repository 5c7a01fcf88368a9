"""The App Home tab: a person's own requests, what awaits their approval, what is in flight, and
what was verified in the last 30 days — each with days left and a link to its thread.

Pure: data in, a Block Kit ``home`` view out. Approve and Reject here carry the same values as on
the request message, so one decision path serves both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.approvers import ApproverLookupFailed, Approvers
from bot.clock import Clock, parse_utc
from bot.deadlines import days_left, days_left_text
from bot.settings import Settings
from bot.visibility import Visibility
from storage import outbox, requests
from storage.db import Store
from storage.requests import Request

log = logging.getLogger(__name__)

LIMIT = 10  # requests shown per section; Slack allows 100 blocks in a view
RECENT = timedelta(days=30)
IN_FLIGHT = ("approved", "executing", "submitted", "unverified")


@dataclass(frozen=True)
class Shown:
    """A request as the home tab shows it."""

    request: Request
    link: str | None
    days_left: int | None


@dataclass(frozen=True)
class Home:
    """The four lists of one person's home tab."""

    mine: Sequence[Shown]
    to_approve: Sequence[Shown]
    in_flight: Sequence[Shown]
    verified: Sequence[Shown]


def view(home: Home, *, notice: str | None = None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [_header("Purge requests")]
    if notice:
        blocks.append(_context(f":information_source: {notice}"))
    blocks += _section("Awaiting your approval", home.to_approve, buttons=True, empty="Nothing awaits your approval.")
    blocks += _section("Your requests", home.mine, empty="You have not filed any request. Try `/purge help`.")
    blocks += _section("In flight", home.in_flight, empty="No purge is in flight.")
    blocks += _section("Verified in the last 30 days", home.verified, empty="None yet.")
    return {"type": "home", "blocks": blocks}


def _section(title: str, shown: Sequence[Shown], *, empty: str, buttons: bool = False) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "divider"}, _header(title)]
    if not shown:
        return [*blocks, _context(empty)]
    for item in shown[:LIMIT]:
        request = item.request
        link = f" · <{item.link}|thread>" if item.link else ""
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"*{request.label}* · {messages.summary_text(request)}\n"
                        f"filed by {messages.person(request.requester)} · {days_left_text(item.days_left)}{link}"
                    )[:3000],
                },
            }
        )
        if buttons:
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"home:{request.id}:{(request.preview_digest or '')[:12]}",
                    "elements": [
                        messages.decision_button("Approve", messages.APPROVE_ACTION, "primary", request),
                        messages.decision_button("Reject", messages.REJECT_ACTION, "danger", request),
                    ],
                }
            )
    if len(shown) > LIMIT:
        blocks.append(_context(f"and {len(shown) - LIMIT} more: `/purge list`"))
    return blocks


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


class HomeTab:
    """Assembles one person's home tab from the database (and Slack, for thread links)."""

    def __init__(
        self,
        *,
        store: Store,
        slack: WebClient,
        approvers: Approvers,
        visibility: Visibility,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._store = store
        self._slack = slack
        self._approvers = approvers
        self._clock = clock
        self._settings = settings
        self._visibility = visibility

    def publish(self, user: str, *, notice: str | None = None) -> None:
        """Publish (or refresh) ``user``'s home tab; a Slack refusal is logged, there is nobody to tell."""
        try:
            self._slack.views_publish(user_id=user, view=self.view_for(user, notice=notice))
        except SlackApiError as error:
            refused = error.response.get("error")
            log.warning("could not publish the home tab", extra={"user": user, "slack_error": refused})

    def view_for(self, user: str, *, notice: str | None = None) -> dict[str, Any]:
        now = self._clock.now()
        today = now.astimezone(self._settings.purgebot_timezone).date()
        with self._store.read_snapshot() as db:
            recent = requests.list_requests(db, limit=500)
            roots = {r.id: outbox.slot_ts(db, r.id, "root") for r in recent}
        try:
            approver = self._approvers.is_eligible(user)
        except ApproverLookupFailed:
            approver = False
        links: dict[int, str | None] = {}

        def shown(found: list[Request]) -> list[Shown]:
            return [Shown(r, self._link(r.id, roots.get(r.id), links), days_left(r, today)) for r in found[:LIMIT]]

        cutoff = now - RECENT
        return view(
            Home(
                mine=shown([r for r in recent if r.requester == user]),
                to_approve=shown(
                    [
                        r
                        for r in recent
                        if approver and r.state == "awaiting_approval" and r.requester != user and r.preview_succeeded
                    ]
                ),
                in_flight=shown([r for r in recent if r.state in IN_FLIGHT and self._visibility.may_see(user, r)]),
                verified=shown(
                    [
                        r
                        for r in recent
                        if r.state == "verified"
                        and parse_utc(r.updated_at) >= cutoff
                        and self._visibility.may_see(user, r)
                    ]
                ),
            ),
            notice=notice,
        )

    def _link(self, request_id: int, root: tuple[str, str] | None, cache: dict[int, str | None]) -> str | None:
        if root is None:
            return None
        if request_id not in cache:
            try:
                cache[request_id] = str(self._slack.chat_getPermalink(channel=root[0], message_ts=root[1])["permalink"])
            except SlackApiError:
                cache[request_id] = None
        return cache[request_id]
