"""Events API listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.home import HomeTab
from handlers.events import app_home


def register(app: App, *, home: HomeTab) -> None:
    app_home.register(app, home=home)
