"""Injected faults: the ways a call to the stand-in goes wrong on purpose.

:meth:`FaultBook.inject` makes the next calls to a path fail one way; :meth:`FaultBook.inject_random`
makes a seeded fraction of them fail in ways drawn from a list of :class:`Fault`.  A fault is an
answer (429 with or without ``Retry-After``, 5xx, any 4xx), a delay (longer than the client's
timeout: a read timeout), or a reset connection.  Faults apply before auth, backend mode and rate
limits, as a load balancer's would.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Sequence
from typing import Any, Literal


def retry_after_text(value: float) -> str:
    """``Retry-After`` as sent: whole seconds without a decimal point."""
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclasses.dataclass(frozen=True)
class Fault:
    """One way a call goes wrong.

    * ``status``: answer this (with ``body``, by default an error in the shape of the path's API
      family, and ``Retry-After: retry_after`` when given) instead of serving the call;
    * ``delay``: wait this long first (the call is dropped if the client hangs up meanwhile); with
      no ``status`` and no ``reset`` the call is then served normally, so a delay longer than the
      client's timeout is a read timeout;
    * ``reset``: the connection is reset — ``"before"`` the stand-in acts on the call, or
      ``"after"`` it acted (the delete is queued, the answer lost).
    """

    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    reset: Literal["before", "after"] | None = None

    def __post_init__(self) -> None:
        if self.reset not in (None, "before", "after"):
            raise ValueError("reset must be 'before' or 'after'")
        if self.reset is not None and self.status is not None:
            raise ValueError("a reset connection answers no status")
        if self.delay < 0:
            raise ValueError("delay must not be negative")

    @property
    def label(self) -> str:
        if self.reset is not None:
            return f"reset-{self.reset}"
        if self.status is not None:
            hint = f" retry-after={retry_after_text(self.retry_after)}" if self.retry_after is not None else ""
            return f"{self.status}{hint}"
        return f"delay={self.delay:g}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


@dataclasses.dataclass
class _Injected:
    """``times`` more calls to paths containing ``path`` fail with ``fault``."""

    path: str
    fault: Fault
    times: int


@dataclasses.dataclass
class _RandomFaults:
    """Each call to a path containing ``path`` fails with probability ``rate``, the way drawn from
    ``faults``; ``times`` (None: no limit) caps how many fail."""

    path: str
    rate: float
    faults: tuple[Fault, ...]
    rng: random.Random
    times: int | None


class FaultBook:
    """The faults waiting for calls; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted: list[_Injected] = []
        self._random: list[_RandomFaults] = []

    def inject(self, path: str, fault: Fault, times: int) -> None:
        """The next ``times`` calls whose path contains ``path`` meet ``fault``; these come before
        any :meth:`inject_random` rule."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._counted.append(_Injected(path, fault, times))

    def inject_random(
        self, path: str, *, rate: float, faults: Sequence[Fault], seed: int = 0, times: int | None = None
    ) -> None:
        """A fraction ``rate`` of the calls whose path contains ``path`` fail, each in a way drawn
        from ``faults`` (repeat one to weight it), until :meth:`clear` or ``times`` faults.

        The draws come from ``random.Random(seed)`` in the order calls arrive, so the same calls
        in the same order meet the same faults (concurrent callers may arrive in another order).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not faults:
            raise ValueError("at least one fault to choose from")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._random.append(_RandomFaults(path, rate, tuple(faults), random.Random(seed), times))

    def clear(self) -> None:
        """Forget every injected fault, counted and random."""
        with self._lock:
            self._counted.clear()
            self._random.clear()

    def take(self, path: str) -> Fault | None:
        """The fault this call to ``path`` meets, if any (using it up)."""
        with self._lock:
            for injected in self._counted:
                if injected.path in path:
                    injected.times -= 1
                    if injected.times <= 0:
                        self._counted.remove(injected)
                    return injected.fault
            for rule in self._random:
                if rule.path in path:
                    if rule.rng.random() >= rule.rate:
                        return None
                    fault = rule.rng.choice(rule.faults)
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._random.remove(rule)
                    return fault
        return None
