"""What the Slack stand-in records and hands out: messages, ephemerals, views, files, calls, Socket Mode.

Split from :mod:`bot.sandbox.slack_server` (which re-exports these names): the records a test or the
demo reads back from :class:`bot.sandbox.slack_server.FakeSlack`, each a frozen snapshot or a plain
value, none holding the stand-in's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.sandbox.slack_blocks import readable, render_blocks

JSON = dict[str, Any]


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as the stand-in received and answered it."""

    method: str
    params: JSON  # query string, form and JSON body merged; the token is not included
    auth_ok: bool
    at: float  # time.time() when received
    status: int
    response: JSON

    @property
    def ok(self) -> bool:
        return self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass(frozen=True)
class MessageVersion:
    """What a message looked like before an edit replaced it (``chat.update`` keeps history)."""

    text: str
    blocks: list[JSON]
    metadata: JSON | None
    replaced_at: str  # ts of the edit that replaced this version


@dataclass
class Message:
    """A message visible in a channel: posted by the bot, by ``response_url``, or by a person."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None  # set on replies, and on a parent once it has replies (as Slack does)
    bot_id: str | None = None
    metadata: JSON | None = None
    files: list[JSON] = field(default_factory=list)
    reply_broadcast: bool = False
    edited_ts: str | None = None
    history: list[MessageVersion] = field(default_factory=list)

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def render(self) -> str:
        """The message as a person would read it: blocks if any (else the fallback text), files."""
        rendered = render_blocks(self.blocks) if self.blocks else readable(self.text)
        names = [f"[file: {f.get('title') or f.get('name')}]" for f in self.files]
        return "\n".join(part for part in [rendered, *names] if part)


@dataclass(frozen=True)
class Ephemeral:
    """A message only ``user`` saw: from ``chat.postEphemeral`` or an ephemeral ``response_url`` post."""

    channel: str | None
    user: str | None
    text: str
    blocks: list[JSON]
    thread_ts: str | None
    message_ts: str
    via: Literal["chat.postEphemeral", "response_url"]

    def render(self) -> str:
        return render_blocks(self.blocks) if self.blocks else readable(self.text)


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a ``response_url``, with whom Slack would have shown it to and how it answered."""

    response_id: str
    user: str | None
    channel: str | None
    payload: JSON
    status: int
    at: float

    @property
    def accepted(self) -> bool:
        return self.status == 200

    @property
    def ephemeral(self) -> bool:
        return self.payload.get("response_type") != "in_channel"


@dataclass(frozen=True)
class View:
    """A modal (``views.open``/``views.update``) or an App Home tab (``views.publish``)."""

    id: str
    user: str | None
    view: JSON  # the full view object as Slack returns it (id, hash, state, callback_id, ...)
    trigger_id: str | None = None

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata") or "")


@dataclass(frozen=True)
class UploadedFile:
    """A file announced with ``files.getUploadURLExternal``, its bytes, and where it was shared."""

    id: str
    filename: str
    length: int
    content: bytes | None  # None until the bytes are POSTed to the upload URL
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    message_ts: str | None = None  # the message that shared it, once completed

    @property
    def completed(self) -> bool:
        return self.message_ts is not None


@dataclass(frozen=True)
class SocketConnection:
    """One Socket Mode WebSocket as the stand-in saw it (a snapshot)."""

    id: str
    opened_at: float  # time.time()
    closed_at: float | None
    close_code: int | None
    unmatched: tuple[str, ...]  # messages from the app that acked no envelope waiting for one

    @property
    def active(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class SocketAck:
    """An envelope sent over Socket Mode and the app's acknowledgement of it."""

    envelope: JSON  # exactly what was sent
    ack: JSON  # exactly what came back: ``{"envelope_id": ..., "payload": {...}?}``
    elapsed: float  # seconds from sending the envelope to receiving the ack (Slack waits 3)
    connection_id: str

    @property
    def envelope_id(self) -> str:
        return str(self.envelope["envelope_id"])

    @property
    def payload(self) -> JSON | None:
        """The ack's ``payload`` (the answer Slack shows or acts on), None when it carried none."""
        payload = self.ack.get("payload")
        return payload if isinstance(payload, dict) else None


class SocketModeError(RuntimeError):
    """A Socket Mode delivery did not get its ack."""


class NoSocketConnection(SocketModeError):
    """No app holds an open Socket Mode connection."""


class SocketClosed(SocketModeError):
    """The connection closed before the app acked the envelope."""


class SocketAckTimeout(SocketModeError, TimeoutError):
    """The app did not ack the envelope in time."""


EventKind = Literal[
    "message_posted",
    "message_updated",
    "message_deleted",
    "ephemeral",
    "view_opened",
    "view_updated",
    "view_published",
]


@dataclass(frozen=True)
class Event:
    """A change a person in the workspace could see; the demo prints the conversation from these."""

    kind: EventKind
    channel: str | None = None
    user: str | None = None
    message: Message | None = None
    ephemeral: Ephemeral | None = None
    view: View | None = None


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    deleted: bool = False
    is_bot: bool = False


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    members: frozenset[str] = frozenset()
    bot_member: bool = True
    archived: bool = False
    private: bool = False
