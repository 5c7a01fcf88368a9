"""Who may see a request's details: its requester, the approvers, and the members of its channel.

A request's reason, ticket and subject summary are posted in the channel where it was filed, which
may be private. ``/purge status``, ``/purge list`` and the Home tab answer anyone in the workspace,
so they must not show more than that channel does: the details go to the requester, to eligible
approvers, and to members of that channel; everyone else is told it is not theirs to see.

Membership comes from Slack (``conversations.members``) and is cached for a minute. A lookup that
fails counts as "not a member": the answer errs towards saying less.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.approvers import ApproverLookupFailed, Approvers
from storage.requests import Request

__all__ = ["Visibility", "not_yours"]

log = logging.getLogger(__name__)

TTL = 60.0


def not_yours(request: Request) -> str:
    """The one line everyone else gets; it starts with ``PURGE-n: <state>`` as a status answer must."""
    return (
        f"{request.label}: {request.state} — its details are not yours to see: they go to its requester, the "
        "approvers and the members of the channel where it was filed."
    )


class Visibility:
    """Decides, per person and request, whether the details may be shown."""

    def __init__(
        self, slack: WebClient, approvers: Approvers, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._slack = slack
        self._approvers = approvers
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def may_see(self, user: str, request: Request) -> bool:
        if user == request.requester or self._approver(user):
            return True
        return user in self._channel_members(request.channel)

    def _approver(self, user: str) -> bool:
        try:
            return self._approvers.is_eligible(user)
        except ApproverLookupFailed:
            return False

    def _channel_members(self, channel: str) -> frozenset[str]:
        now = self._monotonic()
        with self._lock:
            cached = self._members.get(channel)
            if cached and now - cached[0] < TTL:
                return cached[1]
        members: set[str] = set()
        cursor = ""
        try:
            while True:
                answer = self._slack.conversations_members(channel=channel, limit=1000, cursor=cursor or None)
                members.update(str(m) for m in answer.get("members") or [])
                cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    break
        except (SlackApiError, OSError) as error:  # unreadable: say less, not more
            log.warning("channel members unreadable", extra={"channel": channel, "error": type(error).__name__})
            return frozenset()
        found = frozenset(members)
        with self._lock:
            self._members[channel] = (now, found)
        return found
