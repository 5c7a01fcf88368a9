"""Delivers status events to privacy platforms' callback endpoints: drains the ``callbacks`` outbox.

Like the Slack notifier: each attempt claims its row and is counted before it is made; a request's
events go out in order (only its oldest pending row is offered); an endpoint that is down or answers
429, 408 or 5xx is tried again later with back-off, for as long as it takes, and ``/purge status``
says so meanwhile; any other 4xx is a dead end, recorded and shown. A status is never sent again
once it is marked sent, and after a request's final status nothing more is queued for it.
Errors name the HTTP status or the kind of failure, never the URL or headers (they may hold tokens).
A target is opened (:mod:`bot.vault`) only for its attempt; one that no key opens stays pending,
retried, with the reason shown, so setting the right ``PURGEBOT_INTAKE_KEY`` delivers it late, not never.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from bot.clock import Clock, utc_iso
from bot.status_feed import StatusFeed
from bot.vault import CallbackTarget, Unopenable, Vault
from storage import claims, intake
from storage.db import Store

log = logging.getLogger(__name__)

ATTEMPT_LEASE = timedelta(seconds=60)
RETRYABLE = frozenset({408, 429})


class CallbackSender:
    """One per process, driven by a ``Worker``: queue new statuses (``StatusFeed.feed``), then send what is due."""

    def __init__(
        self,
        *,
        store: Store,
        feed: StatusFeed,
        vault: Vault,
        clock: Clock,
        owner: str,
        timeout: float = 10.0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``backoff``: the first retry's delay in seconds, doubled per attempt up to ``max_backoff``."""
        self._store = store
        self._feed = feed
        self._vault = vault
        self._clock = clock
        self._owner = owner
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def step(self) -> bool:
        """True when anything was queued or attempted."""
        queued = self._feed.feed()
        rows = intake.due(self._store.db, utc_iso(self._clock.now()))
        for row in rows:
            self._send(row)
        return bool(queued or rows)

    def close(self) -> None:
        self._http.close()

    def seal_clear_targets(self) -> int:
        """Seal callback targets that a version before sealing stored in the clear (at start: a migration
        has no key). Without ``PURGEBOT_INTAKE_KEY`` they stay as they are, said in the log, and are not sent."""
        with self._store.read_snapshot() as db:
            clear = intake.unsealed(db)
        if clear and not self._vault.ready:
            log.warning("callback targets stored in the clear wait for PURGEBOT_INTAKE_KEY", extra={"rows": len(clear)})
            return 0
        with self._store.write() as db:
            for callback_id, request_id, url, headers in clear:
                target = CallbackTarget(url=url, headers=headers)
                intake.seal(db, callback_id, origin=target.origin, sealed=self._vault.seal(target))
                intake.forget_targets_when_done(db, request_id)
        return len(clear)

    def _send(self, row: intake.Callback) -> None:
        now = self._clock.now()
        with self._store.write() as db:
            if not claims.begin_attempt(
                db, "callbacks", row.id, owner=self._owner, now=utc_iso(now), expires=utc_iso(now + ATTEMPT_LEASE)
            ):
                return
        try:
            target = self._vault.open(row.sealed or "")
        except Unopenable as error:
            self._retry(row, f"its callback target cannot be opened: {error}")
            return
        try:
            answer = self._http.post(target.url, json=row.payload, headers=target.headers)
        except httpx.HTTPError as error:
            self._retry(row, f"unreachable ({type(error).__name__})")
            return
        if answer.is_success:
            with self._store.write() as db:
                intake.mark_sent(db, row.id, at=utc_iso(self._clock.now()))
                intake.forget_targets_when_done(db, row.request_id)
            return
        if answer.status_code in RETRYABLE or answer.status_code >= 500:
            self._retry(row, f"the endpoint answered HTTP {answer.status_code}")
            return
        with self._store.write() as db:
            intake.fail(db, row.id, error=f"the endpoint answered HTTP {answer.status_code}; not retried")
            intake.forget_targets_when_done(db, row.request_id)
        log.warning(
            "status event refused by the callback endpoint",
            extra={"request": f"PURGE-{row.request_id}", "status": answer.status_code},
        )

    def _retry(self, row: intake.Callback, reason: str) -> None:
        wait = min(self._max_backoff, self._backoff * 2.0 ** min(row.attempts, 16))
        with self._store.write() as db:
            intake.retry_at(db, row.id, at=utc_iso(self._clock.now() + timedelta(seconds=wait)), error=reason)
