"""Writes that belong together: an event in the chain and the Slack messages it causes.

Workflow, executor and verifier all record facts the same way — inside the caller's write
transaction, so a state change, its event and its outbox rows commit together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot import messages, report
from bot.clock import utc_iso
from bot.settings import Settings
from bot.states import RESTING
from storage import events, outbox, pairs, requests, texts
from storage.requests import Request


@dataclass(frozen=True)
class Journal:
    """Records into one open transaction at one moment."""

    db: Database
    at: datetime
    tz: ZoneInfo
    notify_channel: str | None
    show_values: bool = False  # PURGEBOT_SHOW_VALUES=full: subject values unmasked in the request message

    @classmethod
    def of(cls, db: Database, at: datetime, settings: Settings) -> Journal:
        """A journal as the settings configure it: their zone, notify channel and how values show."""
        return cls(
            db,
            at,
            settings.purgebot_timezone,
            settings.purgebot_notify_channel,
            show_values=settings.shows_values,
        )

    @property
    def stamp(self) -> str:
        return utc_iso(self.at)

    def event(self, request_id: int | None, actor: str, kind: str, /, **data: Any) -> events.Event:
        return events.append(self.db, request_id=request_id, actor=actor, kind=kind, data=data, at=self.stamp)

    def text(self, request_id: int | None, words: str) -> str:
        """Keep free text beside the chain (``storage.texts``) and return the digest an event carries."""
        return texts.keep(self.db, request_id, words)

    def refresh_request_message(self, request_id: int, *, searching: str | None = None) -> Request:
        """Queue an edit of the root message so it shows the request as it now stands."""
        request = requests.get(self.db, request_id)
        payload = messages.request_message(
            request, self.tz, pairs=pairs.of(self.db, request_id), searching=searching, show_values=self.show_values
        )
        if request.state in RESTING and request.redacted_at is None:  # the edit that leaves only counts
            requests.update(self.db, request_id, redacted_at=self.stamp)
            self.event(request_id, "purgebot", "message_redacted", state=request.state)
        outbox.enqueue(self.db, request_id=request_id, slot="root", payload=payload, at=self.stamp)
        return request

    def in_thread(
        self, request_id: int, text: str, *, slot: str | None = None, payload: messages.Payload | None = None
    ) -> None:
        outbox.enqueue(
            self.db,
            request_id=request_id,
            slot=slot,
            in_thread=True,
            payload=payload or messages.thread_note(text),
            at=self.stamp,
        )

    def evidence_in_thread(self, request_id: int, comment: str) -> None:
        """Queue the evidence report (JSON and Markdown) as one message in the request's thread, both files on it."""
        found = report.build(self.db, request_id, now=self.at)
        label = found["request"]["id"]
        files = (
            (f"{label}-evidence.json", json.dumps(found, indent=2, ensure_ascii=False) + "\n"),
            (f"{label}-evidence.md", report.markdown(found, self.tz)),
        )
        outbox.enqueue(
            self.db,
            request_id=request_id,
            kind="file",
            in_thread=True,
            at=self.stamp,
            payload={
                "files": [{"filename": name, "title": name, "content": content} for name, content in files],
                "comment": comment,
            },
        )

    def in_notify_channel(self, request_id: int, text: str) -> None:
        """Announce in PURGEBOT_NOTIFY_CHANNEL with a link to the thread (no raw subject values)."""
        if self.notify_channel:
            outbox.enqueue(
                self.db,
                request_id=request_id,
                channel=self.notify_channel,
                payload=messages.linked_note(text),
                at=self.stamp,
            )
