"""Modal listeners: the request form's kind selector and its Submit."""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.filing import Filing
from bot.workflow import Workflow
from handlers.views import form_kind, request_form


def register(app: App, *, workflow: Workflow, filing: Filing, clock: Clock) -> None:
    form_kind.register(app)
    request_form.register(app, workflow=workflow, filing=filing, clock=clock)
