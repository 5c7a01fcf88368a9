"""The record of every call the stand-in received, so a test can assert what a client sent."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any


@dataclasses.dataclass(frozen=True)
class Call:
    """One request as the stand-in received it (the API key is never recorded).

    ``status`` is the answer the stand-in gave (None while in flight, and for a connection reset
    before any answer); ``fault`` names an injected fault (``Fault.label``), None for a normal call.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int | None
    at: float
    headers: dict[str, str]
    fault: str | None = None
    answered: float | None = None  # time.monotonic() when the answer (or reset) was given


class CallLog:
    """Calls in arrival order; a call is recorded on arrival and completed when answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, call: Call) -> int:
        with self._lock:
            self._calls.append(call)
            return len(self._calls) - 1

    def finish(self, index: int, status: int | None, fault_label: str | None) -> None:
        with self._lock:
            if index < len(self._calls):  # the log may have been cleared meanwhile
                self._calls[index] = dataclasses.replace(
                    self._calls[index], status=status, fault=fault_label, answered=time.monotonic()
                )

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
