"""Refuse to start a second record where one already existed: a lost volume must not pass for a first start.

When ``PURGEBOT_DB`` names an empty database (no request, no event) but the notify channel holds
messages this bot posted — each carries purgebot's message metadata — the record of those requests
is somewhere else: a volume that did not mount, a node's disk that was lost, a path that changed.
Starting anyway would begin a new, disconnected record and quietly drop the evidence of the old one,
so ``serve`` stops with one line. ``serve --new-database`` begins a new record on purpose; that choice
is the first event of the new chain, so the record itself says it was begun anew.

Only the notify channel is read: it is the one channel every deployment names, and every check's
outcome is posted there. A bot that never announced anything there has left nothing to lose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock, utc_iso
from bot.notifier import METADATA_EVENT
from storage import events
from storage.db import Store

log = logging.getLogger(__name__)

HISTORY_PAGE = 200
HISTORY_PAGES = 10  # the newest 2,000 messages of the notify channel
ACTOR = "purgebot serve --new-database"


@dataclass(frozen=True)
class Record:
    """How much the database holds."""

    requests: int
    events: int

    @property
    def empty(self) -> bool:
        return self.requests == 0 and self.events == 0


class CannotTell(Exception):
    """Slack did not answer whether the bot posted before (the message says why)."""


def record_of(store: Store) -> Record:
    db = store.db
    return Record(
        requests=int(db.execute("SELECT count(*) FROM requests").fetchone()[0]),
        events=int(db.execute("SELECT count(*) FROM events").fetchone()[0]),
    )


def last_post(client: WebClient, channel: str) -> datetime | None:
    """When this bot last posted in ``channel`` (newest first, up to 2,000 messages back), or None.

    A post counts when it is this bot's (its ``bot_id``) and carries purgebot's metadata, so another
    purgebot installation posting in the same channel (a staging app) is not mistaken for this one.
    """
    try:
        bot_id = client.auth_test().get("bot_id")
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = client.conversations_history(
                channel=channel, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor
            )
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if message.get("bot_id") == bot_id and metadata.get("event_type") == METADATA_EVENT:
                    return datetime.fromtimestamp(float(message["ts"]), UTC)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
    except SlackApiError as error:
        raise CannotTell(_slack_error(error)) from None
    return None


def check_start(store: Store, client: WebClient, channel: str, *, new_database: bool, clock: Clock) -> str | None:
    """Why ``serve`` must not start on this database (one line), or None when it may.

    With ``new_database`` an empty database is started deliberately (and says so in its chain); a
    database that already holds a record refuses the flag, so it cannot be left in a start command
    where it would wave through the next lost volume.
    """
    record = record_of(store)
    path = store.path
    if new_database:
        if not record.empty:
            return (
                f"--new-database is for an empty database, but {path} holds {record.requests:,} requests "
                f"and {record.events:,} events: start without it"
            )
        try:
            seen = last_post(client, channel)
        except CannotTell:
            seen = None
        with store.write() as db:
            data = {"earlier_post_in_notify_channel": utc_iso(seen) if seen else None}
            events.append(db, request_id=None, actor=ACTOR, kind="record_started", data=data, at=utc_iso(clock.now()))
        log.warning("started a new record on purpose", extra={"database": str(path), **data})
        return None
    if not record.empty:
        return None
    try:
        seen = last_post(client, channel)
    except CannotTell as error:
        return (
            f"{path} is a new, empty database and Slack would not show whether purgebot posted in the notify "
            f"channel {channel} before ({error}); fix that, or start once with --new-database if this is "
            "the first start"
        )
    if seen is not None:
        return (
            f"{path} is a new, empty database, but purgebot posted in the notify channel {channel} before "
            f"(last on {seen:%Y-%m-%d %H:%M} UTC): the record of those requests is not here. Point PURGEBOT_DB "
            "at it (is the volume mounted?) or restore the latest backup; start with --new-database only to "
            "begin a new record on purpose"
        )
    log.info("a new database; purgebot has not posted in the notify channel before", extra={"database": str(path)})
    return None


def _slack_error(error: SlackApiError) -> str:
    code = str(error.response.get("error") or "unknown_error")
    if code == "not_in_channel":
        return "not_in_channel: invite @purgebot to it"
    if code == "missing_scope":
        return f"missing_scope: the app needs {error.response.get('needed')} (reinstall it from manifest.yml)"
    return code
