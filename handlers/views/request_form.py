"""The request form's Submit: check every field at once, then file the request as ``/purge`` does.

Bad input keeps the modal open with a message under each bad field (``response_action: errors``)
and stores nothing. Otherwise the submission is stored with its claim, the ack closes the modal, and
the request is filed after the ack (:mod:`bot.deferred`); a refusal (an unknown project, a channel
the bot is not in) goes ephemerally to the requester in the channel the form was opened from, and a
replayed submission of the same view files nothing new.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import form
from bot.clock import Clock, utc_iso
from bot.deferred import DeferredWork
from bot.jobs import FormSubmission
from handlers.replies import actor_name, store_then_ack


def register(app: App, *, deferred: DeferredWork, clock: Clock) -> None:
    def request_form_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        now = clock.now()
        try:
            form.read_submission(view, now=now)
        except form.FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        job = FormSubmission(
            private_metadata=str(view.get("private_metadata") or ""),
            values=(view.get("state") or {}).get("values") or {},
            user=str((body.get("user") or {}).get("id", "")),
            trigger_id=str(body.get("trigger_id") or ""),
            received_at=utc_iso(now),
            name=actor_name(body),
        )
        store_then_ack(
            ack,
            deferred,
            f"view:{view.get('id')}:{view.get('hash')}",
            job,
            unrecorded="purgebot could not record your request ({error}). Nothing was filed.",
        )

    app.view_submission(form.CALLBACK_ID)(request_form_submitted)
