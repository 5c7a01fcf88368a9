"""What Approve and Reject share: ack at once, then hand (request, preview, clicker) to the workflow."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.messages import escape, parse_decision_value
from bot.workflow import RecordingFailed, Workflow
from handlers.replies import answer


def decide(ack: Ack, body: dict[str, Any], respond: Respond, *, workflow: Workflow, approve: bool) -> None:
    ack()
    try:
        _decide(body, respond, workflow=workflow, approve=approve)
    except RecordingFailed as error:
        answer(ack, respond, f"purgebot could not record your click ({escape(str(error))}). Nothing changed.")


def _decide(body: dict[str, Any], respond: Respond, *, workflow: Workflow, approve: bool) -> None:
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id", ""))
    key = f"click:{action.get('action_ts')}:{user}"
    earlier = workflow.claim_interaction(key, "")
    if earlier is not None:
        if earlier:
            respond(text=earlier, response_type="ephemeral", replace_original=False)
        return
    target = parse_decision_value(str(action.get("value", "")))
    if target is None:
        answer = "That button does not name a purge request; nothing changed."
    else:
        request_id, preview_digest = target
        reply = workflow.decide(request_id=request_id, preview_digest=preview_digest, user=user, approve=approve)
        answer = reply.text if reply else ""
    if answer:
        workflow.settle_interaction(key, answer)
        respond(text=answer, response_type="ephemeral", replace_original=False)
