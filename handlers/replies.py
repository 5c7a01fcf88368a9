"""Answering the person who acted: in the ack or through ``response_url`` (their home tab: ``HomeTab.publish``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, Respond


def actor_name(payload: Mapping[str, Any]) -> str | None:
    """The name Slack sent with the person's action: ``user_name`` of a slash command, ``user.name`` (or
    ``user.username``) of a click or a form. It arrives in the signed request, so it is recorded with the
    action for the evidence report, which must not need Slack to say who acted."""
    user = payload.get("user")
    named = payload.get("user_name") or (user.get("name") or user.get("username") if isinstance(user, dict) else None)
    return str(named) if named else None


def answer(ack: Ack, respond: Respond, text: str) -> None:
    """Put ``text`` in the ack if it has not been sent, else send it ephemerally through ``response_url``."""
    if ack.response is None:
        ack(text=text)
    else:
        respond(text=text, response_type="ephemeral", replace_original=False)
