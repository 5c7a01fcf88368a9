"""Slack-facing listeners, thin by design: parse what Slack sent, store it with its claim, ack.

Each listener kind has a ``register(app, ...)``; the composition root (``bot.app``) is the only
importer of this package. What a listener acknowledged is done by :mod:`bot.deferred`.
"""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.deferred import DeferredWork
from bot.filing import Filing
from bot.workflow import Workflow
from handlers import actions, commands, events, views


def register(app: App, *, deferred: DeferredWork, workflow: Workflow, filing: Filing, clock: Clock) -> None:
    commands.register(app, deferred=deferred, workflow=workflow, filing=filing, clock=clock)
    actions.register(app, deferred=deferred)
    views.register(app, deferred=deferred, clock=clock)
    events.register(app, deferred=deferred)
