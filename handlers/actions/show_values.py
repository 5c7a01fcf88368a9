"""The Show values button on a request's message: the masked values, ephemerally, to those allowed.

The answer is worked out after the ack (:mod:`bot.deferred`): it needs the approver and channel
lookups in Slack. The values are sent through the click's ``response_url``; nothing is stored.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.deferred import DeferredWork
from bot.jobs import ShowValues
from bot.messages import SHOW_VALUES_ACTION, parse_decision_value


def register(app: App, *, deferred: DeferredWork) -> None:
    def show_values(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id", ""))
        target = parse_decision_value(str(action.get("value", "")))
        if target is None:
            ack()
            respond(
                text="That button does not name a purge request.", response_type="ephemeral", replace_original=False
            )
            return
        ack()
        deferred.answer_after_ack(ShowValues(request_id=target[0], user=user, response_url=body.get("response_url")))

    app.action(SHOW_VALUES_ACTION)(show_values)
