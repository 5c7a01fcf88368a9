"""Button listeners: Approve, Reject and Show values on a request's message."""

from __future__ import annotations

from slack_bolt import App

from bot.deferred import DeferredWork
from handlers.actions import approve, reject, show_values


def register(app: App, *, deferred: DeferredWork) -> None:
    approve.register(app, deferred=deferred)
    reject.register(app, deferred=deferred)
    show_values.register(app, deferred=deferred)
