"""What Approve and Reject share: ack at once, then hand (request, preview, clicker) to the workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.home import HomeTab
from bot.messages import escape, parse_decision_value
from bot.workflow import RecordingFailed, Workflow
from handlers.replies import publish_home


def decide(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    *,
    workflow: Workflow,
    home: HomeTab,
    approve: bool,
) -> None:
    """Ack, decide, and tell the clicker: ephemerally under a message, or on the home tab they clicked in
    (which has no ``response_url``) by publishing it again with a notice."""
    ack()
    user = str((body.get("user") or {}).get("id", ""))
    from_home = (body.get("container") or {}).get("type") == "view"

    def tell(text: str) -> None:
        if from_home:
            publish_home(client, home, user, notice=text or None)
        elif text:
            respond(text=text, response_type="ephemeral", replace_original=False)

    try:
        _decide(body, tell, workflow=workflow, approve=approve)
    except RecordingFailed as error:
        tell(f"purgebot could not record your click ({escape(str(error))}). Nothing changed.")


def _decide(body: dict[str, Any], tell: Callable[[str], None], *, workflow: Workflow, approve: bool) -> None:
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id", ""))
    key = f"click:{action.get('action_ts')}:{user}"
    earlier = workflow.claim_interaction(key, "")
    if earlier is not None:
        tell(earlier)
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
    tell(answer)
