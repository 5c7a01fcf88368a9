"""Slash-command listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.filing import Filing
from bot.status import StatusBoard
from bot.workflow import Workflow
from handlers.commands import purge


def register(app: App, *, workflow: Workflow, filing: Filing, board: StatusBoard, clock: Clock) -> None:
    purge.register(app, workflow=workflow, filing=filing, board=board, clock=clock)
