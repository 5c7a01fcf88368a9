"""Drives the verifier with APScheduler: a short interval job that runs every due check.

Due times live in SQLite (``storage.checks``), not in APScheduler's job store: a one-shot
APScheduler job is deleted when dispatched and dropped when it misfires, while a row is claimed,
finished and auditable, and simply runs late when the bot was down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

JOB_ID = "run-due-checks"


class CheckScheduler:
    """Calls ``tick`` every ``interval`` seconds and at once on ``wake()``; never two at a time."""

    def __init__(self, tick: Callable[[], object], *, interval: float = 5.0) -> None:
        self._tick = tick
        self._interval = interval
        self._scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._lock = threading.Lock()
        self._busy = False
        self._again = False

    def start(self) -> None:
        self._scheduler.add_job(
            self._run, "interval", seconds=self._interval, id=JOB_ID, next_run_time=datetime.now(UTC)
        )
        self._scheduler.start()

    def wake(self) -> None:
        """Run the job now rather than at its next interval (a manual check was requested).

        While a run is under way the wake is remembered and that run goes round once more, instead
        of asking APScheduler for a second instance it would only refuse.
        """
        with self._lock:
            if self._busy:
                self._again = True
                return
        if self._scheduler.running:
            self._scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._busy, self._again = True, False
            try:
                self._tick()
            except Exception:  # the job must keep its schedule; the failure is logged and the rows stay due
                log.exception("checking due verifications failed")
            with self._lock:
                if not self._again:
                    self._busy = False
                    return
