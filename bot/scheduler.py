"""Drives the verifier with APScheduler: a short interval job that runs every due check.

Due times live in SQLite (``storage.checks``), not in APScheduler's job store: a one-shot
APScheduler job is deleted when dispatched and dropped when it misfires, while a row is claimed,
finished and auditable, and simply runs late when the bot was down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

JOB_ID = "run-due-checks"


class CheckScheduler:
    """Calls ``tick`` every ``interval`` seconds and at once on ``wake()``; never two at a time."""

    def __init__(
        self,
        tick: Callable[[], object],
        *,
        interval: float = 5.0,
        stall_grace: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``stall_grace``: how long past its interval a run may take, or the next one may be late,
        before :meth:`stalled` says so (a check at LangSmith's v1 query limit can take minutes)."""
        self._tick = tick
        self._interval = interval
        self._stall_grace = stall_grace
        self._monotonic = monotonic
        self._progress = monotonic()  # when a run last started or finished
        self._scheduler = BackgroundScheduler(
            # Two instances: a wake may fire while the previous run is still winding down in APScheduler's
            # books (it would refuse a second and log a warning, and the wake would be lost); ``_run``
            # itself lets only one tick at a time (see there).
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None},
        )
        self._lock = threading.Lock()
        self._busy = False
        self._again = False

    def start(self) -> None:
        self._progress = self._monotonic()
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

    def stalled(self) -> str | None:
        """Why the scheduler is not doing its job (None while it is): not running, or no run has started
        or finished for longer than its interval plus the grace."""
        if not self._scheduler.running:
            return "the check scheduler is not running"
        with self._lock:
            quiet, busy = self._monotonic() - self._progress, self._busy
        if quiet <= self._interval + self._stall_grace:
            return None
        if busy:
            return f"the check scheduler has been in one run for {quiet:.0f} s (its interval is {self._interval:g} s)"
        return f"the check scheduler has not run for {quiet:.0f} s (its interval is {self._interval:g} s)"

    def _run(self) -> None:
        with self._lock:
            if self._busy:  # a run is under way: it goes round once more instead of a second tick beside it
                self._again = True
                return
            self._busy = True
        while True:
            with self._lock:
                self._again = False
                self._progress = self._monotonic()
            try:
                self._tick()
            except Exception:  # the job must keep its schedule; the failure is logged and the rows stay due
                log.exception("checking due verifications failed")
            with self._lock:
                self._progress = self._monotonic()
                if not self._again:
                    self._busy = False
                    return
