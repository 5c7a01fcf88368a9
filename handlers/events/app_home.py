"""``app_home_opened``: publish the person's home tab (their requests, what awaits their approval).

Publishing reads the database and asks Slack who approves, so it is done away from the listener
(:mod:`bot.deferred`). Bolt acks an event before its listener runs; a tab that could not be stored
(the database refused the write) is published the next time its owner opens it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.deferred import DeferredWork
from bot.jobs import HomeOpened
from bot.workflow import RecordingFailed

log = logging.getLogger(__name__)


def register(app: App, *, deferred: DeferredWork) -> None:
    def app_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        job = HomeOpened(user=str(event.get("user", "")))
        key = f"home:{body.get('event_id') or event.get('event_ts')}:{job.user}"
        try:
            first = deferred.accept(key, "", job) is None
        except RecordingFailed as error:
            log.warning("could not store a home tab to publish", extra={"error": str(error)})
            return
        if first:
            deferred.after_ack(key, job)

    app.event("app_home_opened")(app_home_opened)
