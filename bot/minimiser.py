"""Data minimisation: purgebot's own database holds personal data (subject values, trace IDs).

``PURGEBOT_EVIDENCE_RETENTION_DAYS`` after a request ended (verified, rejected, cancelled,
expired, failed, unverified), its raw values are replaced with HMAC-SHA256 keyed by ``PURGEBOT_HMAC_KEY``: the same
value always maps to the same hash, so an auditor holding the key can still confirm "was user 123
in PURGE-7?", while the file alone no longer says. Without the key, minimisation refuses to run
and says so in the log, once per process.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from bot.clock import utc_iso
from bot.states import RESTING
from bot.tasks import ACTOR, TaskContext
from storage import minimise

log = logging.getLogger(__name__)

CHUNK = 1000  # items hashed per write transaction

ENDED = sorted(state.value for state in RESTING)


def keyed_hash(key: bytes, value: str) -> str:
    return minimise.HASHED + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class Minimiser:
    """Minimises every request whose retention ran out."""

    def __init__(self, context: TaskContext) -> None:
        self._context = context
        self._warned = False

    def run(self) -> int:
        settings = self._context.settings
        now = self._context.clock.now()
        cutoff = utc_iso(now - timedelta(days=settings.purgebot_evidence_retention_days))
        with self._context.store.read_snapshot() as db:
            due = minimise.due(db, ended_states=ENDED, ended_before=cutoff)
        if not due:
            return 0
        if settings.purgebot_hmac_key is None or not settings.purgebot_hmac_key.get_secret_value():
            if not self._warned:
                log.warning(
                    "not minimising %d requests past retention: PURGEBOT_HMAC_KEY is not set",
                    len(due),
                    extra={"requests": [f"PURGE-{n}" for n in due]},
                )
                self._warned = True
            return 0
        key = settings.purgebot_hmac_key.get_secret_value().encode()

        def hasher(value: str) -> str:
            return keyed_hash(key, value)

        for request_id in due:
            # The items a thousand at a time, each its own short transaction, so acks never wait behind
            # a long one; a crash between them resumes where it stopped (hashed values are skipped).
            count_items = 0
            while True:
                with self._context.store.write() as db:
                    done = minimise.items_chunk(db, request_id, hasher, size=CHUNK)
                count_items += done
                if done < CHUNK:
                    break
            with self._context.store.write() as db:
                count_pairs = minimise.finish(db, request_id, hasher, at=utc_iso(now))
                self._context.journal(db, now).event(
                    request_id,
                    ACTOR,
                    "minimised",
                    items=count_items,
                    pairs=count_pairs,
                    retention_days=settings.purgebot_evidence_retention_days,
                )
        self._context.store.checkpoint()
        log.info("minimised requests past retention", extra={"requests": len(due)})
        return len(due)
