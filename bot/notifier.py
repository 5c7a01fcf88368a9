"""The one way out to Slack for everything after the ack: drains the outbox.

Rows are sent in order per request; a retryable failure (rate limit, timeout, 5xx) is retried
later, a permanent one (``not_in_channel``, ``channel_not_found``, ``is_archived`` …) is recorded
and shown in status. Each post carries its outbox id in message metadata, so after a timeout the
notifier looks for the message before posting again and nothing appears twice.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock, utc_iso
from storage import claims, outbox, requests
from storage.db import Store
from storage.outbox import OutboxRow

log = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "cant_update_message",
        "message_not_found",
        "user_not_in_channel",
        "restricted_action",
        "restricted_action_thread_locked",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
    }
)
# Slack's answers that mean "not now": retried for as long as they last, with back-off.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "internal_error", "fatal_error", "request_timeout", "team_added_to_org"}
)
UNKNOWN_ERROR_ATTEMPTS = 5  # an error code in neither list is tried this often, then a dead end shown in status
METADATA_EVENT = "purgebot_outbox"
ATTEMPT_LEASE = timedelta(seconds=60)  # one attempt's claim on its row: several Slack timeouts long


class _Deferred(Exception):
    """The row cannot go yet (its thread's root message is not posted); try again shortly."""


class _Orphaned(Exception):
    """The row belongs in a thread whose root message could never be posted; it cannot go at all."""


class Notifier:
    """Sends due outbox rows; one instance per process, driven by a ``Worker``."""

    def __init__(
        self,
        *,
        store: Store,
        slack: WebClient,
        clock: Clock,
        owner: str,
        max_backoff: float = 300.0,
        channel_pace: float = 1.0,
    ) -> None:
        """``channel_pace``: seconds between two posts in one channel (Slack allows about one per second);
        ``owner`` names this process in the claim each attempt takes on its row."""
        self._store = store
        self._owner = owner
        self._slack = slack
        self._clock = clock
        self._max_backoff = max_backoff
        self._channel_pace = channel_pace
        self._last_post: dict[str, float] = {}

    def step(self) -> bool:
        """Send the next due row of every request in turn (each request's messages stay in order);
        True when anything was attempted."""
        rows = outbox.due(self._store.db, utc_iso(self._clock.now()))
        for row in rows:
            self._send(row)
        return bool(rows)

    def _send(self, row: OutboxRow) -> bool:
        """Try one row; True when it is settled (sent or permanently failed)."""
        now = self._clock.now()
        with self._store.write() as db:
            if not claims.begin_attempt(
                db, "outbox", row.id, owner=self._owner, now=utc_iso(now), expires=utc_iso(now + ATTEMPT_LEASE)
            ):
                return True
        try:
            ts = self._deliver(row)
        except _Deferred:
            self._retry(row, "waiting for the request message", delay=1.0)
            return False
        except _Orphaned as error:
            with self._store.write() as db:
                outbox.fail(db, row.id, error=str(error))
            return True
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            status = error.response.status_code
            if status == 429:
                retry_after = float(error.response.headers.get("Retry-After", "1") or 1)
                self._retry(row, f"rate limited by Slack (retry after {retry_after:g}s)", delay=retry_after)
                return False
            tries = row.attempts + 1  # ``row`` was read before this attempt was counted
            unknown = status < 500 and code not in TRANSIENT_ERRORS
            if code in PERMANENT_ERRORS or (unknown and tries >= UNKNOWN_ERROR_ATTEMPTS):
                gave_up = "" if code in PERMANENT_ERRORS else f" {tries} times, an answer purgebot does not know"
                with self._store.write() as db:
                    outbox.fail(db, row.id, error=f"Slack said {code or status}{gave_up}")
                log.warning("outbox row failed permanently", extra={"outbox": row.id, "slack_error": code})
                return True
            self._retry(row, f"Slack said {code or status}")
            return False
        except (URLError, TimeoutError, ConnectionError, OSError) as error:
            self._retry(row, f"Slack unreachable ({type(error).__name__})")
            return False
        with self._store.write() as db:
            outbox.mark_sent(db, row.id, ts=ts, at=utc_iso(self._clock.now()))
        return True

    def _retry(self, row: OutboxRow, reason: str, *, delay: float | None = None) -> None:
        wait = delay if delay is not None else min(self._max_backoff, 2.0 ** min(row.attempts, 8))
        with self._store.write() as db:
            outbox.retry_at(db, row.id, at=utc_iso(self._clock.now() + timedelta(seconds=wait)), error=reason)

    def _deliver(self, row: OutboxRow) -> str | None:
        request = requests.get(self._store.db, row.request_id) if row.request_id is not None else None
        channel = row.channel or (request.channel if request else None)
        if channel is None:
            raise _Deferred
        payload = dict(row.payload)
        link = payload.pop("link_thread", False)
        thread_ts = None
        root = outbox.slot_ts(self._store.db, row.request_id, "root") if row.request_id is not None else None
        if row.in_thread:
            if root is None and row.request_id is not None:
                failure = outbox.slot_failed(self._store.db, row.request_id, "root")
                if failure:
                    raise _Orphaned(f"the request message was never posted ({failure})")
            if root is None:
                raise _Deferred
            thread_ts = root[1]
        if link and root is not None:
            permalink = self._slack.chat_getPermalink(channel=root[0], message_ts=root[1]).get("permalink")
            payload = _with_link(payload, str(permalink))
        if row.kind == "ephemeral":
            self._slack.chat_postEphemeral(channel=channel, user=row.user or "", thread_ts=thread_ts, **payload)
            return None
        if row.kind == "file":
            # files_upload_v2: files.getUploadURLExternal and the upload per file, then one
            # files.completeUploadExternal that shares them all in one message
            files = payload.get("files") or [payload]  # rows queued by earlier versions: one file each
            self._slack.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file_uploads=[{key: f[key] for key in ("content", "filename", "title")} for f in files],
                initial_comment=payload.get("comment"),
            )
            return None
        existing = outbox.slot_ts(self._store.db, row.request_id, row.slot) if row.slot and row.request_id else None
        if existing is not None:
            # An edit carries its outbox id too, so a retry after a timeout can tell it already landed.
            if not (row.attempts and self._edit_landed(row, *existing)):
                self._slack.chat_update(channel=existing[0], ts=existing[1], metadata=_metadata(row), **payload)
            return existing[1]
        ts = self._find_posted(row, channel, thread_ts) if row.attempts else None
        if ts is None:
            self._pace(channel)
            answer = self._slack.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata=_metadata(row),
                **payload,
            )
            ts = str(answer["ts"])
        if row.slot and row.request_id is not None:
            with self._store.write() as db:
                outbox.remember_slot(db, row.request_id, row.slot, channel, ts)
        return ts

    def _find_posted(self, row: OutboxRow, channel: str, thread_ts: str | None) -> str | None:
        """After a failed attempt, look for the message: Slack may have posted it before the timeout."""
        try:
            if thread_ts:
                found = self._slack.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                found = self._slack.conversations_history(channel=channel, include_all_metadata=True, limit=50)
        except SlackApiError:
            return None
        for message in found.get("messages") or []:
            if _carries(message, row):
                return str(message["ts"])
        return None

    def _edit_landed(self, row: OutboxRow, channel: str, ts: str) -> bool:
        """After a failed attempt at an edit, whether Slack applied it anyway (the message carries its id)."""
        try:
            found = self._slack.conversations_replies(channel=channel, ts=ts, include_all_metadata=True, limit=200)
        except SlackApiError:
            return False
        return any(m.get("ts") == ts and _carries(m, row) for m in found.get("messages") or [])

    def _pace(self, channel: str) -> None:
        wait = self._last_post.get(channel, 0.0) + self._channel_pace - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_post[channel] = time.monotonic()


def _metadata(row: OutboxRow) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id}}


def _carries(message: dict[str, Any], row: OutboxRow) -> bool:
    meta = message.get("metadata") or {}
    return meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("outbox_id") == row.id


def _with_link(payload: dict[str, Any], permalink: str) -> dict[str, Any]:
    blocks = [
        *payload.get("blocks", []),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{permalink}|Open the request's thread>"}]},
    ]
    return {**payload, "blocks": blocks, "text": f"{payload.get('text', '')} {permalink}"}
