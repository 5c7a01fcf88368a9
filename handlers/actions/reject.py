"""The Reject button on a request's message."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.deferred import DeferredWork
from bot.messages import REJECT_ACTION
from handlers.actions.decision import decide


def register(app: App, *, deferred: DeferredWork) -> None:
    def reject_button(ack: Ack, body: dict[str, Any]) -> None:
        decide(ack, body, deferred=deferred, approve=False)

    app.action(REJECT_ACTION)(reject_button)
