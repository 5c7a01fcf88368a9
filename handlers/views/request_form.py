"""The request form's Submit: check every field at once, then file the request as ``/purge`` does.

Bad input keeps the modal open with a message under each bad field (``response_action: errors``)
and stores nothing. Otherwise the ack closes the modal at once and the request is filed after it;
a refusal (an unknown project, a channel the bot is not in) goes ephemerally to the requester in
the channel the form was opened from, and a replayed submission of the same view files nothing new.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from bot import form, grammar
from bot.clock import Clock
from bot.filing import Filing
from bot.messages import escape
from bot.workflow import RecordingFailed, Workflow
from handlers.replies import actor_name

log = logging.getLogger(__name__)

RESPONSE_URL_TIMEOUT = 10


def register(app: App, *, workflow: Workflow, filing: Filing, clock: Clock) -> None:
    def request_form_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        handle(ack, body, view, client, workflow=workflow, filing=filing, clock=clock)

    app.view_submission(form.CALLBACK_ID)(request_form_submitted)


def handle(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    *,
    workflow: Workflow,
    filing: Filing,
    clock: Clock,
) -> None:
    try:
        request, channel = form.read_submission(view, now=clock.now())
    except form.FormErrors as problems:
        ack(response_action="errors", errors=problems.errors)
        return
    ack()
    user = str((body.get("user") or {}).get("id", ""))
    try:
        _file(request, body, view, client, workflow=workflow, filing=filing, channel=channel, user=user)
    except RecordingFailed as error:
        text = f"purgebot could not record your request ({escape(str(error))}). Nothing was filed; try again."
        tell(client, view, channel=channel, user=user, text=text)


def _file(
    request: grammar.Request,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    *,
    workflow: Workflow,
    filing: Filing,
    channel: str,
    user: str,
) -> None:
    key = f"view:{view.get('id')}:{view.get('hash')}"
    earlier = workflow.claim_interaction(key, "")
    if earlier is not None:
        if earlier:
            tell(client, view, channel=channel, user=user, text=earlier)
        return
    refusal = filing.file(
        request,
        requester=user,
        channel=channel,
        trigger_id=str(body.get("trigger_id") or ""),
        requester_name=actor_name(body),
    )
    if refusal is not None:
        workflow.settle_interaction(key, refusal.text)
        tell(client, view, channel=channel, user=user, text=refusal.text)


def tell(client: WebClient, view: dict[str, Any], *, channel: str, user: str, text: str) -> None:
    """Show ``text`` to ``user`` alone in ``channel``.

    ``chat.postEphemeral`` fails where the bot is not a member (the very case of "invite
    @purgebot") and in DMs between people; there the ``response_url`` of the ``/purge`` that opened
    the form still reaches the requester, if it has not expired (30 minutes).
    """
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
        return
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown_error"
    url = form.response_url(view)
    if url is not None:
        try:
            sent = WebhookClient(url, timeout=RESPONSE_URL_TIMEOUT).send(text=text, response_type="ephemeral")
            if sent.status_code == 200:
                return
            code = f"{code}; response_url answered {sent.status_code}"
        except (OSError, SlackRequestError) as error:
            code = f"{code}; response_url failed: {error}"
    log.warning("could not tell the requester", extra={"channel": channel, "user": user, "error": code})
