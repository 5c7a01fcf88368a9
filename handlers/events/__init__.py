"""Events API listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.deferred import DeferredWork
from handlers.events import app_home


def register(app: App, *, deferred: DeferredWork) -> None:
    app_home.register(app, deferred=deferred)
