"""Button listeners: Approve, Reject and Show values on a request's message."""

from __future__ import annotations

from slack_bolt import App

from bot.home import HomeTab
from bot.workflow import Workflow
from handlers.actions import approve, reject, show_values


def register(app: App, *, workflow: Workflow, home: HomeTab) -> None:
    approve.register(app, workflow=workflow, home=home)
    reject.register(app, workflow=workflow, home=home)
    show_values.register(app, workflow=workflow)
