"""The Reject button on a request's message."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.messages import REJECT_ACTION
from bot.workflow import Workflow
from handlers.actions.decision import decide


def register(app: App, *, workflow: Workflow) -> None:
    def reject_button(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        decide(ack, body, respond, workflow=workflow, approve=False)

    app.action(REJECT_ACTION)(reject_button)
