"""Modal listeners: the request form's kind selector and its Submit."""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.deferred import DeferredWork
from handlers.views import form_kind, request_form


def register(app: App, *, deferred: DeferredWork, clock: Clock) -> None:
    form_kind.register(app)
    request_form.register(app, deferred=deferred, clock=clock)
