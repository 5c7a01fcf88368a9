"""The Show values button on a request's message: the masked values, ephemerally, to those allowed."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.messages import SHOW_VALUES_ACTION, parse_decision_value
from bot.workflow import Workflow


def register(app: App, *, workflow: Workflow) -> None:
    def show_values(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id", ""))
        target = parse_decision_value(str(action.get("value", "")))
        if target is None:
            text = "That button does not name a purge request."
        else:
            text = workflow.show_values(request_id=target[0], user=user).text
        respond(text=text, response_type="ephemeral", replace_original=False)

    app.action(SHOW_VALUES_ACTION)(show_values)
