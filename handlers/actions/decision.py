"""What Approve and Reject share: store the click, ack at once, then decide it here or leave it to the worker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.home import HomeTab
from bot.messages import escape, parse_decision_value
from bot.workflow import Click, RecordingFailed, Workflow
from handlers.replies import actor_name


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
    """Store the click, ack, decide, and tell the clicker: ephemerally under a message, or on the home tab
    they clicked in (which has no ``response_url``) by publishing it again with a notice.

    The click is stored before the ack, so a crash after the ack cannot lose it (``bot.clicks``); that
    costs one small SQLite write before the ack. In ``purgebot serve`` that write and the ack are all
    the listener does: its worker process decides the stored click and tells the clicker.
    """
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id", ""))
    from_home = (body.get("container") or {}).get("type") == "view"

    def tell(text: str) -> None:
        if from_home:
            home.publish(user, notice=text or None)
        elif text:
            respond(text=text, response_type="ephemeral", replace_original=False)

    target = parse_decision_value(str(action.get("value", "")))
    if target is None:
        ack()
        tell("That button does not name a purge request; nothing changed.")
        return
    click = Click(
        request_id=target[0],
        preview_digest=target[1],
        user=user,
        approve=approve,
        response_url=None if from_home else body.get("response_url"),
        name=actor_name(body),
    )
    key = f"click:{action.get('action_ts')}:{user}"
    try:
        earlier = workflow.claim_interaction(key, "", pending=click)
    except RecordingFailed as error:
        ack()
        tell(f"purgebot could not record your click ({escape(str(error))}). Nothing changed.")
        return
    ack()
    if earlier is not None:
        tell(earlier)
        return
    if not workflow.decides_clicks:
        return  # the worker process decides it (bot.clicks)
    try:
        tell(workflow.decide_click(key, click))
    except RecordingFailed as error:
        tell(f"purgebot could not record your click ({escape(str(error))}). Nothing changed.")
