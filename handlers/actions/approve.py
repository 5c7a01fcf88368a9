"""The Approve button on a request's message."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.home import HomeTab
from bot.messages import APPROVE_ACTION
from bot.workflow import Workflow
from handlers.actions.decision import decide


def register(app: App, *, workflow: Workflow, home: HomeTab) -> None:
    def approve_button(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        decide(ack, body, respond, client, workflow=workflow, home=home, approve=True)

    app.action(APPROVE_ACTION)(approve_button)
