"""``app_home_opened``: publish the person's home tab (their requests, what awaits their approval).

Publishing reads the database and asks Slack who approves, so it is done away from the listener
(:mod:`bot.deferred`); it changes nothing, so nothing is stored. Bolt acks an event before its
listener runs.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.deferred import DeferredWork
from bot.jobs import HomeOpened


def register(app: App, *, deferred: DeferredWork) -> None:
    def app_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        deferred.answer_after_ack(HomeOpened(user=str(event.get("user", ""))))

    app.event("app_home_opened")(app_home_opened)
