"""``app_home_opened``: publish the person's home tab (their requests, what awaits their approval)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.home import HomeTab


def register(app: App, *, home: HomeTab) -> None:
    def app_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        home.publish(str(event.get("user", "")))

    app.event("app_home_opened")(app_home_opened)
