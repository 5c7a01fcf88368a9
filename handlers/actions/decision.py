"""What Approve and Reject share: store the click with its claim and ack at once; it is decided after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.deferred import DeferredWork
from bot.jobs import Click
from bot.messages import parse_decision_value
from handlers.replies import actor_name, store_then_ack


def decide(ack: Ack, body: dict[str, Any], *, deferred: DeferredWork, approve: bool) -> None:
    """Store the click, ack, and have it decided (:mod:`bot.deferred`), which tells the clicker: ephemerally
    under a message, or on the home tab they clicked in (which has no ``response_url``) by publishing it
    again with a notice. The click is stored before the ack, so a crash after the ack cannot lose it."""
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id", ""))
    from_home = (body.get("container") or {}).get("type") == "view"
    target = parse_decision_value(str(action.get("value", "")))
    click = Click(
        request_id=target[0] if target else 0,
        preview_digest=target[1] if target else "",
        user=user,
        approve=approve,
        response_url=None if from_home else body.get("response_url"),
        name=actor_name(body),
    )
    if target is None:
        ack()
        deferred.tell(click, "That button does not name a purge request; nothing changed.")
        return
    store_then_ack(
        ack,
        deferred,
        f"click:{action.get('action_ts')}:{user}",
        click,
        unrecorded="purgebot could not record your click ({error}). Nothing changed.",
    )
