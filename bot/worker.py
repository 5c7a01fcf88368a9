"""A background thread that repeats one step until stopped, sleeping when there is nothing to do.

The executor and the notifier each run on one; ``wake()`` cuts the sleep short when new work was
stored, so a click is acted on in milliseconds while an idle bot polls only now and then (which is
also how work left by a crashed process, or paused until a time, is picked up again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs ``step`` (which returns whether it did something) on its own daemon thread."""

    def __init__(
        self,
        name: str,
        step: Callable[[], bool],
        *,
        idle: float = 1.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._idle = idle
        self._on_error = on_error
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        """Whether the thread runs: a step's ``Exception`` is survived, anything else ends it (health says so)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self._step()
            except Exception as error:  # a worker must outlive one bad step; the error is logged with its type
                log.exception("%s step failed", self.name)
                if self._on_error:
                    self._on_error(error)
                busy = False
            if not busy:
                self._wake.wait(self._idle)
