"""The request form's kind selector: re-build the open form with the fields of the chosen kind."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import form

log = logging.getLogger(__name__)


def register(app: App) -> None:
    def kind_chosen(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        action = (body.get("actions") or [{}])[0]
        updated = form.form_for_kind(view, form.chosen_kind(action))
        if updated is None:
            log.warning("a kind was chosen on a view that is not the request form", extra={"view": view.get("id")})
            return
        try:
            # the hash makes Slack refuse an update built from a stale view (a quicker second choice wins)
            client.views_update(view_id=str(view.get("id", "")), hash=str(view.get("hash", "")), view=updated)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "unknown_error"
            log.info("the form was not re-built for the chosen kind", extra={"error": code})

    app.action({"type": "block_actions", "block_id": form.KIND, "action_id": form.KIND})(kind_chosen)
