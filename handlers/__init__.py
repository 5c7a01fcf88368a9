"""Slack-facing listeners, thin by design: parse what Slack sent, call the workflow, render the reply.

Each listener kind has a ``register(app, ...)``; the composition root (``bot.app``) is the only
importer of this package.
"""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.filing import Filing
from bot.home import HomeTab
from bot.status import StatusBoard
from bot.workflow import Workflow
from handlers import actions, commands, events, views


def register(app: App, *, workflow: Workflow, filing: Filing, board: StatusBoard, clock: Clock, home: HomeTab) -> None:
    commands.register(app, workflow=workflow, filing=filing, board=board, clock=clock)
    actions.register(app, workflow=workflow, home=home)
    views.register(app, workflow=workflow, filing=filing, clock=clock)
    events.register(app, home=home)
