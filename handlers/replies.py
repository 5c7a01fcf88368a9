"""What listeners share: reading who acted, and storing a job before the ack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack

from bot.deferred import DeferredWork
from bot.jobs import Job
from bot.messages import escape
from bot.workflow import RecordingFailed


def actor_name(payload: Mapping[str, Any]) -> str | None:
    """The name Slack sent with the person's action: ``user_name`` of a slash command, ``user.name`` (or
    ``user.username``) of a click or a form. It arrives in the signed request, so it is recorded with the
    action for the evidence report, which must not need Slack to say who acted."""
    user = payload.get("user")
    named = payload.get("user_name") or (user.get("name") or user.get("username") if isinstance(user, dict) else None)
    return str(named) if named else None


def store_then_ack(ack: Ack, deferred: DeferredWork, key: str, job: Job, *, unrecorded: str) -> None:
    """Store ``job`` with the claim of ``key``, then ack (so a crash after the ack cannot lose it) and have
    it done; a replay is told the first answer instead. ``unrecorded`` is what the person is told when the
    claim cannot be written, with ``{error}`` for why."""
    try:
        earlier = deferred.accept(key, "", job)
    except RecordingFailed as error:
        ack()
        deferred.tell(job, unrecorded.format(error=escape(str(error))))
        return
    ack()
    if earlier is None:
        deferred.after_ack(key, job)
    elif earlier:
        deferred.tell(job, earlier)
