"""Slash-command listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.clock import Clock
from bot.deferred import DeferredWork
from bot.filing import Filing
from bot.workflow import Workflow
from handlers.commands import purge


def register(app: App, *, deferred: DeferredWork, workflow: Workflow, filing: Filing, clock: Clock) -> None:
    purge.register(app, deferred=deferred, workflow=workflow, filing=filing, clock=clock)
