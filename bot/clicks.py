"""Deciding stored clicks away from the ack: Approve and Reject clicks that were stored and acknowledged.

In ``purgebot serve`` the listener stores a click with its claim, acks, and nudges the worker process;
the worker decides it here and tells the clicker — through the click's ``response_url``, or, for a
click on the home tab (which has none), by publishing the tab again with the answer. The listener
thus spends on a click only the claim write and the ack. In one process (tests, the demo) the handler
decides the click itself right after the ack and stores it taken; this then only finishes clicks whose
taker died before deciding them (taken longer ago than ``TAKEN_FOR``).

A click is taken (``storage.interactions.take``) in a write transaction before it is decided, so two
processes on one file never both decide and answer it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk.webhook import WebhookClient

from bot.clock import Clock, utc_iso
from bot.home import HomeTab
from bot.workflow import Click, Workflow
from storage import interactions
from storage.db import Store

log = logging.getLogger(__name__)

TAKEN_FOR = timedelta(seconds=30)
"""How long a taker may take to decide a click before another process may decide it instead."""


class ClickDecider:
    """Driven by a ``Worker``: decide the clicks nobody is deciding, and tell each clicker."""

    def __init__(self, *, store: Store, workflow: Workflow, home: HomeTab, clock: Clock) -> None:
        self._store = store
        self._workflow = workflow
        self._home = home
        self._clock = clock

    def step(self) -> bool:
        """True when any click was waiting."""
        stale_before = utc_iso(self._clock.now() - TAKEN_FOR)
        with self._store.read_snapshot() as db:
            waiting = interactions.undecided(db, stale_before=stale_before)
        for key in waiting:
            with self._store.write() as db:
                answer = interactions.take(db, key, at=utc_iso(self._clock.now()), stale_before=stale_before)
            if answer is not None:
                click = Click(**answer["pending"])
                self._tell(click, self._workflow.decide_click(key, click))
        return bool(waiting)

    def _tell(self, click: Click, text: str) -> None:
        if click.response_url is None:  # clicked on the home tab
            self._home.publish(click.user, notice=text or None)
        elif text:
            try:
                WebhookClient(click.response_url).send(text=text, response_type="ephemeral", replace_original=False)
            except OSError as error:  # the decision stands; only the note to the clicker is lost
                request = f"PURGE-{click.request_id}"
                log.warning("could not answer a click", extra={"request": request, "error": str(error)})
