"""Who may approve: the users and user groups of PURGEBOT_APPROVERS.

Group membership comes from Slack (``usergroups.users.list``, Tier 2) and is cached briefly; a miss
on a cached group re-fetches once, so someone just added to the group is not turned away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


class ApproverLookupFailed(Exception):
    """Slack did not tell us who is in an approver group; nobody is approved on a guess."""


class Approvers:
    """Answers "may this person approve?" from the configured IDs."""

    def __init__(
        self,
        ids: tuple[str, ...],
        slack: WebClient,
        *,
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ids = ids
        self._users = {i for i in ids if i[0] in "UW"}
        self._groups = [i for i in ids if i[0] == "S"]
        self._slack = slack
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def is_eligible(self, user: str) -> bool:
        """True when ``user`` is named directly or belongs to an approver group."""
        if user in self._users:
            return True
        return any(user in self._members(group) or user in self._members(group, fresh=True) for group in self._groups)

    def mentions(self) -> str:
        """The approvers as Slack mentions, for escalations and refusals."""
        return (
            ", ".join(f"<!subteam^{i}>" if i[0] == "S" else f"<@{i}>" for i in self.ids)
            or "nobody (configure PURGEBOT_APPROVERS)"
        )

    def _members(self, group: str, *, fresh: bool = False) -> frozenset[str]:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(group)
            if cached and not fresh and now - cached[0] < self._ttl:
                return cached[1]
            if cached and fresh and now - cached[0] < 1.0:
                return cached[1]
        try:
            users = self._slack.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as error:
            raise ApproverLookupFailed(
                f"Slack did not list approver group {group}: {error.response.get('error')}"
            ) from None
        members = frozenset(str(user) for user in users)
        with self._lock:
            self._cache[group] = (now, members)
        return members
