"""Answering the person who acted: in the ack, through ``response_url``, or on their home tab."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.home import HomeTab

log = logging.getLogger(__name__)


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


def publish_home(client: WebClient, home: HomeTab, user: str, *, notice: str | None = None) -> None:
    """Publish (or refresh) ``user``'s home tab; a Slack refusal is logged, there is nobody to tell."""
    try:
        client.views_publish(user_id=user, view=home.view_for(user, notice=notice))
    except SlackApiError as error:
        log.warning("could not publish the home tab", extra={"user": user, "slack_error": error.response.get("error")})
