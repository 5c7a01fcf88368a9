"""Holding a claimed request: a heartbeat that renews the claim while its work runs, and a fence.

A claim is an owner and an expiry (``storage.requests.claim``), so a restarted process takes over
only what a dead one left.  Work on one request can outlast the lease — a single LangSmith call may
retry for minutes — so while the work runs a heartbeat renews the claim every third of the lease.
A renewal succeeds only for the owner.  If it finds the claim taken (another process judged this
one dead, say during a rolling deploy), the lease is *lost*, and the holder must stop before its
next call: two live processes sending one request would cut the same items into different batches.

Two fences: :meth:`Lease.ensure` (a read, before each call to LangSmith) and :meth:`Lease.fence`
(inside a write transaction, so a batch is never cut by a process that no longer holds the claim:
SQLite serialises that transaction with the other process's claim).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlite_utils import Database

from bot.clock import Clock, utc_iso
from storage import requests
from storage.db import StorageError, Store

__all__ = ["Lease", "LeaseLost", "holding"]

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another process holds the request now: stop, record nothing more, release nothing."""


class Lease:
    """This process's hold on one request, renewed by a heartbeat while work on it runs."""

    def __init__(self, *, store: Store, request_id: int, owner: str, length: timedelta, clock: Clock) -> None:
        self.request_id = request_id
        self.owner = owner
        self.lost = threading.Event()
        self._store = store
        self._length = length
        self._clock = clock
        self._stopped = threading.Event()
        self._heart = threading.Thread(target=self._beat, name=f"lease-{request_id}", daemon=True)

    def ensure(self) -> None:
        """Raise LeaseLost unless the claim is still this process's (a read: before each call out)."""
        if self.lost.is_set() or not requests.holds(self._store.db, self.request_id, self.owner):
            self.lost.set()
            raise LeaseLost(f"PURGE-{self.request_id} is held by another process")

    def fence(self, db: Database) -> None:
        """The same, inside a write transaction: what follows in it happens only while this process holds it."""
        if self.lost.is_set() or not requests.holds(db, self.request_id, self.owner):
            self.lost.set()
            raise LeaseLost(f"PURGE-{self.request_id} is held by another process")

    def renew(self, db: Database) -> None:
        """Extend the claim from now, inside the caller's write transaction; LeaseLost if it was taken."""
        expires = utc_iso(self._clock.now() + self._length)
        if self.lost.is_set() or not requests.renew(db, self.request_id, owner=self.owner, expires=expires):
            self.lost.set()
            raise LeaseLost(f"PURGE-{self.request_id} is held by another process")

    def _beat(self) -> None:
        interval = self._length.total_seconds() / 3
        while not self._stopped.wait(interval):
            try:
                with self._store.write() as db:
                    self.renew(db)
            except LeaseLost:
                log.warning("lease lost", extra={"request": f"PURGE-{self.request_id}"})
                return
            except StorageError as error:  # the next beat tries again; the lease still has two thirds left
                log.warning("lease renewal failed", extra={"request": f"PURGE-{self.request_id}", "error": str(error)})

    def _start(self) -> None:
        self._heart.start()

    def _stop(self) -> None:
        self._stopped.set()
        self._heart.join()


@contextmanager
def holding(*, store: Store, request_id: int, owner: str, length: timedelta, clock: Clock) -> Iterator[Lease]:
    """Hold the claimed request while the block runs: renewed in the background, fenced on demand."""
    lease = Lease(store=store, request_id=request_id, owner=owner, length=length, clock=clock)
    lease._start()
    try:
        yield lease
    finally:
        lease._stop()
