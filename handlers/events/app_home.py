"""``app_home_opened``: publish the person's home tab (their requests, what awaits their approval)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.home import HomeTab
from handlers.replies import publish_home


def register(app: App, *, home: HomeTab) -> None:
    def app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(client, home, str(event.get("user", "")))

    app.event("app_home_opened")(app_home_opened)
