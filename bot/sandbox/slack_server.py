"""Local stand-in for the Slack Web API, ``response_url`` and file uploads.

``purgebot demo`` and every test run the real app against this instead of slack.com, so it
answers with the shapes, errors and limits of the real API (reference/slack.md §7) rather than a
blanket ``{"ok": true}``: a handler that forgets to invite the bot, posts a block Slack would
refuse, or reuses a ``trigger_id`` fails here the way it would fail in production.

It also speaks Socket Mode (reference/slack.md §3.5, §5): ``apps.connections.open``, called with
the app-level token, hands out a one-time ``ws://…/link/?ticket=…`` URL; a client that opens it is
greeted with ``hello``, and :meth:`FakeSlack.deliver_socket` sends it envelopes and waits for their
acks.

All state lives in one :class:`FakeSlack` guarded by a lock; :func:`create_app` wraps it in a
Starlette app (serve it with ``bot.sandbox.serving.serve``). Tests and the demo read the state
through snapshot accessors and :meth:`FakeSlack.subscribe`, as the records of
:mod:`bot.sandbox.slack_records`; :mod:`bot.sandbox.slack_blocks` checks and renders Block Kit.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.sandbox.slack_blocks import blocks_errors
from bot.sandbox.slack_records import (
    ApiCall,
    Channel,
    Ephemeral,
    Event,
    EventKind,
    Message,
    MessageVersion,
    NoSocketConnection,
    ResponsePost,
    SocketAck,
    SocketAckTimeout,
    SocketClosed,
    SocketConnection,
    UploadedFile,
    User,
    View,
)
from bot.slack_scopes import NEEDED_SCOPES, SCOPES_OF_METHOD

JSON = dict[str, Any]
_Item = TypeVar("_Item")

log = logging.getLogger(__name__)

MAX_MESSAGE_TEXT = 40_000
MAX_PRIVATE_METADATA = 3000
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
APP_TOKEN = "xapp-1-A0PURGEBOT-1-sandbox"
SOCKET_ACK_TIMEOUT_SECONDS = 10.0
SocketEnvelopeType = Literal["slash_commands", "interactive", "events_api"]
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


# --------------------------------------------------------------------------- internals


class _ApiError(Exception):
    """An ``{"ok": false, "error": ...}`` answer raised from inside a method implementation."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Fault:
    error: str | None
    status: int | None
    retry_after: int | None
    delay: float


@dataclass
class _Trigger:
    user: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    user: str | None
    channel: str | None
    message_ts: str | None
    created: float
    uses: int = 0


@dataclass
class _File:
    id: str
    filename: str
    length: int
    title: str | None = None
    content: bytes | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    message_ts: str | None = None


class _Reply(NamedTuple):
    status: int
    body: JSON
    headers: dict[str, str]
    delay: float


class _Socket:
    """One open Socket Mode WebSocket; everything but the constructor runs on the server's event loop."""

    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.websocket = websocket
        self.loop = loop
        self.opened_at = time.time()
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.unmatched: list[str] = []
        self._waiting: dict[str, asyncio.Future[tuple[JSON, float]]] = {}

    def snapshot(self) -> SocketConnection:
        return SocketConnection(self.id, self.opened_at, self.closed_at, self.close_code, tuple(self.unmatched))

    async def send(self, message: JSON) -> None:
        await self.websocket.send_text(json.dumps(message, separators=(",", ":")))

    async def tell(self, message: JSON | None = None, *, close_code: int | None = None) -> bool:
        """Send ``message`` and/or close; False if the connection was already going away."""
        try:
            if message is not None:
                await self.send(message)
            if close_code is not None:
                await self.websocket.close(close_code)
        except (WebSocketDisconnect, OSError, RuntimeError):  # RuntimeError: Starlette, after a close
            return False
        return True

    async def exchange(self, envelope: JSON, timeout: float) -> tuple[JSON, float]:
        """Send ``envelope`` and wait for the ack with its id: (the ack, seconds it took)."""
        envelope_id = str(envelope["envelope_id"])
        waiting: asyncio.Future[tuple[JSON, float]] = self.loop.create_future()
        self._waiting[envelope_id] = waiting
        started = time.perf_counter()
        try:
            if self.closed_at is not None:
                raise SocketClosed(f"connection {self.id} is closed")
            await self.send(envelope)
            ack, received = await asyncio.wait_for(waiting, timeout)
        except TimeoutError:  # an OSError too, but no sign of a closed connection
            raise
        except (WebSocketDisconnect, OSError) as error:
            raise SocketClosed(f"connection {self.id} closed while sending {envelope_id}: {error!r}") from None
        finally:
            self._waiting.pop(envelope_id, None)
        return ack, received - started

    def received(self, text: str) -> None:
        try:
            message: Any = json.loads(text)
        except json.JSONDecodeError:
            message = None
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        waiting = self._waiting.get(str(envelope_id)) if envelope_id is not None else None
        if waiting is None or waiting.done():
            self.unmatched.append(text)
        else:
            waiting.set_result((message, time.perf_counter()))

    def closed(self, code: int | None) -> None:
        self.closed_at, self.close_code = time.time(), code
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(SocketClosed(f"connection {self.id} closed (code {code}) before the ack"))


class _Params:
    """Arguments of one call, whichever encoding they came in (form values are strings, JSON typed)."""

    def __init__(self, raw: Mapping[str, Any], base_url: str) -> None:
        self.raw = raw
        self.base_url = base_url

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def required(self, key: str, error: str = "invalid_arguments") -> str:
        value = self.text(key)
        if not value:
            raise _ApiError(error)
        return value

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1

    def number(self, key: str, default: int) -> int:
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _ApiError("invalid_arguments") from None

    def structured(self, key: str, error: str = "invalid_arguments") -> Any:
        """A JSON argument: sent as a JSON value in JSON bodies, as a JSON string in forms."""
        value = self.raw.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise _ApiError(error) from None
        return value


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


# --------------------------------------------------------------------------- the workspace


class FakeSlack:
    """An in-memory Slack workspace with one bot, answering Web API calls like Slack does.

    Thread-safe: the Starlette app calls in from its worker threads while tests and the demo read
    snapshots (deep copies, so they never change under the reader).
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox",
        team_id: str = "T0SANDBOX",
        bot_user_id: str = "U0PURGEBOT",
        bot_id: str = "B0PURGEBOT",
        app_id: str = "A0PURGEBOT",
        team_domain: str = "sandbox",
        enforce_post_rate: bool = False,
        app_token: str = APP_TOKEN,
        scopes: Iterable[str] = NEEDED_SCOPES,
    ) -> None:
        self.bot_token = bot_token
        # The bot token's scopes, as installed: sent in ``x-oauth-scopes`` on each answer to it, and a
        # method needing one it lacks answers ``missing_scope``. May be changed while it serves.
        self.scopes = frozenset(scopes)
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.enforce_post_rate = enforce_post_rate
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._usergroups: dict[str, tuple[str, list[str]]] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._responses: list[ResponsePost] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, View] = {}
        self._homes: dict[str, View] = {}
        self._files: dict[str, _File] = {}
        self._calls: list[ApiCall] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._last_post: dict[str, float] = {}
        self._socket_tickets: set[str] = set()
        self._sockets: list[_Socket] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._pending: list[Event] = []
        self._last_ts_micros = 0
        self._counter = 0
        self._methods: dict[str, Callable[[_Params], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "apps.connections.open": self._apps_connections_open,
        }
        self.add_user(bot_user_id, "purgebot", real_name="purgebot", is_bot=True)

    # ----------------------------------------------------------------- setting up the workspace

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> None:
        with self._lock:
            self._users[user_id] = User(user_id, name, real_name or name, deleted, is_bot)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        bot_member: bool = True,
        archived: bool = False,
        private: bool = False,
    ) -> None:
        """Create a channel, or replace its settings (e.g. to invite or remove the bot mid-test)."""
        with self._lock:
            self._channels[channel_id] = Channel(channel_id, name, frozenset(members), bot_member, archived, private)
            self._messages.setdefault(channel_id, [])

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = (handle, list(users))

    def add_message(self, channel: str, *, user: str, text: str, thread_ts: str | None = None) -> Message:
        """A person's message, for tests that need one the bot did not write (``cant_update_message``)."""
        with self._lock:
            message = self._store(
                Message(channel=channel, ts=self._next_ts(), user=user, text=text, thread_ts=thread_ts)
            )
            snapshot = copy.deepcopy(message)
            events = self._drain()
        self._emit(events)
        return snapshot

    def register_trigger(self, trigger_id: str, *, user_id: str | None = None) -> None:
        """Make ``trigger_id`` valid for one ``views.open``, as Slack does when it delivers a payload.

        Re-registering a known trigger changes nothing, so a replayed payload cannot reopen a modal.
        """
        with self._lock:
            self._triggers.setdefault(trigger_id, _Trigger(user_id))

    def register_response_url(
        self, response_id: str, *, user_id: str | None, channel_id: str | None, message_ts: str | None = None
    ) -> None:
        """Make ``/response/<response_id>`` usable; posts are shown to that user in that channel.

        ``message_ts`` is the message an interaction came from, which ``replace_original`` and
        ``delete_original`` act on.
        """
        with self._lock:
            self._response_urls.setdefault(
                response_id, _ResponseUrl(user_id, channel_id, message_ts, created=time.time())
            )

    def inject(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int | None = None,
        retry_after: int | None = 1,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail, or answer slowly.

        With ``status`` the answer is that HTTP status (429 carries ``Retry-After`` unless
        ``retry_after`` is None) and ``{"ok": false, "error": error or "ratelimited"/"fatal_error"}``;
        with only ``error`` it is HTTP 200 ``{"ok": false, "error": error}``. A failed call changes
        nothing. With neither, the call is carried out and its answer held back ``delay`` seconds —
        how a client times out on a post that Slack did make.
        """
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault(error, status, retry_after, delay) for _ in range(times))

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` after every visible change, outside the lock, in the thread that made it.

        Listeners run in the server's worker threads; one that raises is logged and skipped.
        """
        with self._lock:
            self._listeners.append(listener)

    # ----------------------------------------------------------------- observation

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[Message]:
        """Every message in ``channel``, top level and replies, in ts order."""
        with self._lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The parent (if it exists) and its replies, in ts order."""
        with self._lock:
            return copy.deepcopy(self._thread(channel, thread_ts))

    def message(self, channel: str, ts: str) -> Message:
        """One message by its ts; ``LookupError`` if there is none."""
        with self._lock:
            found = self._find(channel, ts)
            if found is None:
                raise LookupError(f"no message {ts} in {channel}")
            return copy.deepcopy(found)

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [e for e in self._ephemerals if user is None or e.user == user]

    def responses(self) -> list[ResponsePost]:
        """Every POST to a ``response_url``, refused ones included (see ``ResponsePost.accepted``)."""
        with self._lock:
            return list(self._responses)

    def answer_to(self, response_url: str, *, timeout: float = 10.0) -> str:
        """The text of the first accepted post to ``response_url``, waiting for it: what a slash command
        answers after its ack (``TimeoutError`` when nothing arrives)."""
        response_id = response_url.rpartition("/")[2]

        def answered(slack: FakeSlack) -> bool:
            return any(r.response_id == response_id and r.accepted for r in slack.responses())

        self.wait_for(answered, timeout)
        return next(str(r.payload.get("text") or "") for r in self.responses() if r.response_id == response_id)

    def views(self, user: str | None = None) -> list[View]:
        """Modals opened (in their latest state), oldest first."""
        with self._lock:
            return [v for v in self._views.values() if user is None or v.user == user]

    def home(self, user: str) -> View | None:
        with self._lock:
            return self._homes.get(user)

    def uploaded_files(self) -> list[UploadedFile]:
        with self._lock:
            return [UploadedFile(**vars(f)) for f in self._files.values()]

    def user(self, user_id: str) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def channel(self, channel_id: str) -> Channel | None:
        with self._lock:
            return self._channels.get(channel_id)

    def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 5.0) -> None:
        """Poll until ``predicate(self)`` holds: the app posts after it acks, on other threads."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                name = getattr(predicate, "__name__", repr(predicate))
                raise TimeoutError(f"{name} still false after {timeout:g}s; {self.describe()}")
            time.sleep(0.01)

    def describe(self) -> str:
        """A short account of the workspace, for failure messages."""
        with self._lock:
            recent = ", ".join(
                f"{c.method}{'' if c.ok else ' -> ' + (c.error or str(c.status))}" for c in self._calls[-8:]
            )
            counts = ", ".join(f"{cid}: {len(ms)}" for cid, ms in self._messages.items() if ms)
            return (
                f"{len(self._calls)} API calls (last: {recent or 'none'}); messages per channel: "
                f"{counts or 'none'}; {len(self._ephemerals)} ephemerals; "
                f"{len(self._responses)} response_url posts"
            )

    # ----------------------------------------------------------------- Socket Mode

    def socket_connections(self, *, active: bool = False) -> list[SocketConnection]:
        """Socket Mode connections in the order they opened (only open ones with ``active``)."""
        with self._lock:
            return [s.snapshot() for s in self._sockets if not active or s.closed_at is None]

    def wait_for_socket(self, timeout: float = 5.0) -> SocketConnection:
        """Wait until an app holds an open Socket Mode connection, and return the newest."""

        def socket_connected(_: FakeSlack) -> bool:
            return bool(self.socket_connections(active=True))

        self.wait_for(socket_connected, timeout)
        return self.socket_connections(active=True)[-1]

    def deliver_socket(
        self,
        type_: SocketEnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        timeout: float = SOCKET_ACK_TIMEOUT_SECONDS,
    ) -> SocketAck:
        """Send ``payload`` in an envelope over the newest open connection and wait for its ack.

        Raises :class:`NoSocketConnection` when no app is connected, :class:`SocketClosed` when the
        connection drops first and :class:`SocketAckTimeout` after ``timeout`` seconds without an ack
        (Slack itself gives up after 3; the measured ``elapsed`` shows how close the app came).
        Call it from any thread but the server's.
        """
        with self._lock:
            open_sockets = [s for s in self._sockets if s.closed_at is None]
        if not open_sockets:
            raise NoSocketConnection(f"no app is connected over Socket Mode; {self.describe()}")
        connection = open_sockets[-1]
        envelope: JSON = {
            "envelope_id": str(uuid.uuid4()),
            "payload": copy.deepcopy(dict(payload)),
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        exchange = asyncio.run_coroutine_threadsafe(connection.exchange(envelope, timeout), connection.loop)
        try:
            ack, elapsed = exchange.result(timeout + 5.0)
        except TimeoutError:
            exchange.cancel()
            raise SocketAckTimeout(
                f"no ack for {type_} envelope {envelope['envelope_id']} within {timeout:g}s"
            ) from None
        return SocketAck(envelope, ack, elapsed, connection.id)

    def request_socket_refresh(self, reason: str = "refresh_requested") -> int:
        """Send every open connection Slack's ``disconnect`` message; returns how many got it.

        A well-behaved client answers by opening a new connection (a fresh
        ``apps.connections.open``) and closing the old one; the stand-in closes nothing itself.
        """
        message: JSON = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-sandbox"}}
        return self._tell_open_sockets(message)

    def drop_sockets(self, code: int = 1001) -> int:
        """Close every open connection from Slack's side, as Slack does now and then; returns how many.

        slack_sdk's clients reconnect on their own (with a fresh ``apps.connections.open``).
        """
        return self._tell_open_sockets(None, close_code=code)

    def _tell_open_sockets(self, message: JSON | None, *, close_code: int | None = None) -> int:
        with self._lock:
            open_sockets = [s for s in self._sockets if s.closed_at is None]
        told = [
            asyncio.run_coroutine_threadsafe(s.tell(message, close_code=close_code), s.loop).result(5.0)
            for s in open_sockets
        ]
        return sum(told)

    def _claim_ticket(self, ticket: str) -> bool:
        """A ``/link/`` ticket opens one connection; an unknown or used one opens none."""
        with self._lock:
            if ticket not in self._socket_tickets:
                return False
            self._socket_tickets.discard(ticket)
            return True

    def _socket_hello(self) -> JSON:
        """What Slack greets a new connection with (counting it among the app's connections)."""
        with self._lock:
            count = 1 + sum(1 for s in self._sockets if s.closed_at is None)
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _socket_opened(self, connection: _Socket) -> None:
        """Greeted: from now on envelopes may be sent over it."""
        with self._lock:
            self._sockets.append(connection)

    def _socket_closed(self, connection: _Socket, code: int | None) -> None:
        with self._lock:
            connection.closed(code)

    # ----------------------------------------------------------------- HTTP entry points

    def _handle(self, method: str, raw: Mapping[str, Any], token: str | None, base_url: str) -> _Reply:
        """Answer one Web API call; the caller sleeps ``delay`` before sending the answer."""
        params = {k: v for k, v in raw.items() if k != "token"}
        auth_ok = token == (self.app_token if method in _APP_TOKEN_METHODS else self.bot_token)
        headers: dict[str, str] = {}
        with self._lock:
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
            delay = fault.delay if fault else 0.0
            if fault and (fault.error or fault.status):
                status = fault.status or 200
                default_error = "ratelimited" if status == 429 else "fatal_error"
                body: JSON = {"ok": False, "error": fault.error or default_error}
                if status == 429 and fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
            else:
                status, body = self._dispatch(method, _Params(params, base_url), token, headers)
            self._calls.append(ApiCall(method, params, auth_ok, time.time(), status, copy.deepcopy(body)))
            events = self._drain()
        self._emit(events)
        return _Reply(status, body, headers, delay)

    def _dispatch(self, method: str, params: _Params, token: str | None, headers: dict[str, str]) -> tuple[int, JSON]:
        implementation = self._methods.get(method)
        if implementation is None:
            return 200, {"ok": False, "error": "unknown_method"}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        wanted = self.app_token if method in _APP_TOKEN_METHODS else self.bot_token
        if token != wanted:
            # A real token of the wrong kind (bot for app-level or the reverse) is told so.
            known = token in (self.bot_token, self.app_token)
            return 200, {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}
        if method not in _APP_TOKEN_METHODS:
            headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))
            missing = self._missing_scopes(method, params)
            if missing:
                provided = ",".join(sorted(self.scopes))
                return 200, {"ok": False, "error": "missing_scope", "needed": missing, "provided": provided}
        if method == "chat.postMessage" and self.enforce_post_rate and self._post_too_soon(params.text("channel")):
            headers["Retry-After"] = "1"
            return 429, {"ok": False, "error": "ratelimited"}
        try:
            return 200, {"ok": True, **implementation(params)}
        except _ApiError as error:
            return 200, {"ok": False, "error": error.error, **error.extra}

    def _missing_scopes(self, method: str, params: _Params) -> str:
        """The scopes ``method`` needs here that the token lacks, comma-separated as Slack's ``needed``.

        A conversations method needs the scope of the channel's kind only (``channels:`` for a public
        channel, ``groups:`` for a private one), as Slack checks it.
        """
        needed = SCOPES_OF_METHOD.get(method, frozenset())
        if len(needed) > 1:
            channel = self._channels.get(params.text("channel") or "")
            kind = "groups:" if channel is not None and channel.private else "channels:"
            needed = frozenset(scope for scope in needed if scope.startswith(kind))
        return ",".join(sorted(needed - self.scopes))

    def _post_too_soon(self, channel: str | None) -> bool:
        """Slack's special tier: about one message per second per channel."""
        now = time.monotonic()
        key = channel or ""
        last = self._last_post.get(key)
        if last is not None and now - last < 1.0:
            return True
        self._last_post[key] = now
        return False

    def _respond(self, response_id: str, payload: Any) -> tuple[int, str]:
        """A POST to ``response_url``: at most 5 uses in 30 minutes, like Slack."""
        with self._lock:
            registration = self._response_urls.get(response_id)
            if registration is None:
                status, answer = 404, "no_service"
            elif time.time() - registration.created > RESPONSE_URL_TTL_SECONDS:
                status, answer = 404, "expired_url"
            elif registration.uses >= RESPONSE_URL_USES:
                status, answer = 404, "used_url"
            elif not isinstance(payload, dict):
                status, answer = 400, "invalid_payload"
            else:
                registration.uses += 1
                status, answer = self._apply_response(registration, payload)
            self._responses.append(
                ResponsePost(
                    response_id,
                    registration.user if registration else None,
                    registration.channel if registration else None,
                    copy.deepcopy(payload) if isinstance(payload, dict) else {"raw": payload},
                    status,
                    time.time(),
                )
            )
            events = self._drain()
        self._emit(events)
        return status, answer

    def _apply_response(self, registration: _ResponseUrl, payload: JSON) -> tuple[int, str]:
        text = str(payload.get("text") or "")
        blocks = payload.get("blocks") or []
        if not isinstance(blocks, list) or (not text and not blocks and not payload.get("delete_original")):
            return 400, "no_text"
        original = (
            self._find(registration.channel, registration.message_ts)
            if registration.channel and registration.message_ts
            else None
        )
        if payload.get("delete_original") and original is not None:
            self._messages[original.channel].remove(original)
            self._event("message_deleted", channel=original.channel, message=original)
        elif payload.get("replace_original") and original is not None:
            self._edit(original, text=text, blocks=self._with_block_ids(blocks), metadata=original.metadata)
        elif payload.get("response_type") == "in_channel" and registration.channel:
            thread_ts = payload.get("thread_ts")
            self._store(
                Message(
                    channel=registration.channel,
                    ts=self._next_ts(),
                    user=self.bot_user_id,
                    bot_id=self.bot_id,
                    text=text,
                    blocks=self._with_block_ids(blocks),
                    thread_ts=str(thread_ts) if thread_ts else None,
                )
            )
        else:
            self._show_ephemeral(
                Ephemeral(
                    registration.channel,
                    registration.user,
                    text,
                    copy.deepcopy(blocks),
                    str(payload["thread_ts"]) if payload.get("thread_ts") else None,
                    self._next_ts(),
                    "response_url",
                )
            )
        return 200, "ok"

    def _receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        with self._lock:
            pending = self._files.get(file_id)
            if pending is None or pending.message_ts is not None:
                return 404, "file_not_found"
            pending.content = content
            return 200, f"OK - {len(content)}"

    # ----------------------------------------------------------------- state helpers (lock held)

    def _next_ts(self) -> str:
        """A unique, increasing ts from the wall clock, like Slack's (it orders messages)."""
        self._last_ts_micros = max(self._last_ts_micros + 1, int(time.time() * 1_000_000))
        seconds, micros = divmod(self._last_ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}0SBX{self._counter:06d}"

    def _event(self, kind: EventKind, **fields: Any) -> None:
        self._pending.append(Event(kind, **{k: copy.deepcopy(v) for k, v in fields.items()}))

    def _drain(self) -> list[Event]:
        events, self._pending = self._pending, []
        return events

    def _emit(self, events: list[Event]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("FakeSlack listener failed on %s", event.kind)

    def _find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    def _thread(self, channel: str, thread_ts: str) -> list[Message]:
        return [m for m in self._messages.get(channel, []) if thread_ts in (m.ts, m.thread_ts)]

    def _store(self, message: Message) -> Message:
        messages = self._messages.setdefault(message.channel, [])
        messages.append(message)
        if message.thread_ts:
            parent = self._find(message.channel, message.thread_ts)
            if parent is not None and parent is not message:
                parent.thread_ts = parent.ts
        self._event("message_posted", channel=message.channel, user=message.user, message=message)
        return message

    def _edit(self, message: Message, *, text: str, blocks: list[JSON], metadata: JSON | None) -> None:
        edit_ts = self._next_ts()
        message.history.append(MessageVersion(message.text, message.blocks, message.metadata, edit_ts))
        message.text, message.blocks, message.metadata, message.edited_ts = text, blocks, metadata, edit_ts
        self._event("message_updated", channel=message.channel, user=message.user, message=message)

    def _show_ephemeral(self, ephemeral: Ephemeral) -> None:
        self._ephemerals.append(ephemeral)
        self._event("ephemeral", channel=ephemeral.channel, user=ephemeral.user, ephemeral=ephemeral)

    def _known_channel(self, params: _Params, key: str = "channel") -> Channel:
        """The channel as the bot sees it: private channels it is not in do not exist for it."""
        wanted = params.required(key, "channel_not_found")
        channel = self._channels.get(wanted)
        if channel is None and wanted.startswith("#"):
            channel = next((c for c in self._channels.values() if c.name == wanted[1:]), None)
        if channel is None or (channel.private and not channel.bot_member):
            raise _ApiError("channel_not_found")
        return channel

    def _member_channel(self, params: _Params, key: str = "channel") -> Channel:
        channel = self._known_channel(params, key)
        if not channel.bot_member:
            raise _ApiError("not_in_channel")
        return channel

    def _writable_channel(self, params: _Params, key: str = "channel") -> Channel:
        channel = self._member_channel(params, key)
        if channel.archived:
            raise _ApiError("is_archived")
        return channel

    def _with_block_ids(self, blocks: list[JSON]) -> list[JSON]:
        """Slack gives every block without a ``block_id`` a generated one; so does the stand-in."""
        result = copy.deepcopy(blocks)
        for block in result:
            if not block.get("block_id"):
                block["block_id"] = self._next_id("b")[-6:]
        return result

    def _blocks(self, params: _Params) -> list[JSON] | None:
        """Validated ``blocks`` argument, None when absent."""
        if not params.has("blocks"):
            return None
        blocks = params.structured("blocks", "invalid_blocks_format")
        if not isinstance(blocks, list):
            raise _ApiError("invalid_blocks_format")
        errors = blocks_errors(blocks)
        if errors:
            raise _ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
        return self._with_block_ids(blocks)

    @staticmethod
    def _metadata(params: _Params) -> JSON | None:
        if not params.has("metadata"):
            return None
        metadata = params.structured("metadata", "invalid_metadata_format")
        if metadata == {}:
            return {}
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}

    def _message_json(self, message: Message, *, include_metadata: bool) -> JSON:
        out: JSON = {"type": "message", "ts": message.ts, "user": message.user, "text": message.text}
        if message.bot_id:
            out |= {"bot_id": message.bot_id, "app_id": self.app_id}
        out["team"] = self.team_id
        if message.blocks:
            out["blocks"] = copy.deepcopy(message.blocks)
        if message.thread_ts:
            out["thread_ts"] = message.thread_ts
        if message.reply_broadcast:
            out["subtype"] = "thread_broadcast"
        if message.files:
            out["files"] = copy.deepcopy(message.files)
        if message.edited_ts:
            out["edited"] = {"user": message.user, "ts": message.edited_ts}
        if include_metadata and message.metadata:
            out["metadata"] = copy.deepcopy(message.metadata)
        if message.thread_ts == message.ts:
            replies = [m for m in self._thread(message.channel, message.ts) if m.is_reply]
            users = sorted({m.user for m in replies})
            out |= {
                "reply_count": len(replies),
                "reply_users_count": len(users),
                "reply_users": users,
                "latest_reply": replies[-1].ts if replies else message.ts,
            }
        return out

    def _page(self, items: list[_Item], params: _Params, default_limit: int) -> tuple[list[_Item], JSON]:
        """Cursor pagination as Slack does it: ``has_more`` plus ``response_metadata.next_cursor``."""
        limit = max(1, min(params.number("limit", default_limit), 1000))
        cursor = params.text("cursor")
        start = 0
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
            except ValueError:
                raise _ApiError("invalid_cursor") from None
        page = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = base64.urlsafe_b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return page, {"has_more": more, "response_metadata": {"next_cursor": next_cursor}}

    # ----------------------------------------------------------------- Web API methods (lock held)

    def _auth_test(self, params: _Params) -> JSON:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Sandbox Workspace",
            "user": self._users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: _Params) -> JSON:
        channel = self._writable_channel(params)
        text = params.text("text") or ""
        blocks = self._blocks(params) or []
        if not text and not blocks:
            raise _ApiError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        metadata = self._metadata(params)
        thread_ts = params.text("thread_ts") or None
        message = self._store(
            Message(
                channel=channel.id,
                ts=self._next_ts(),
                user=self.bot_user_id,
                bot_id=self.bot_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata or None,
                reply_broadcast=bool(thread_ts) and params.flag("reply_broadcast"),
            )
        )
        return {
            "channel": channel.id,
            "ts": message.ts,
            "message": self._message_json(message, include_metadata=True),
        }

    def _chat_update(self, params: _Params) -> JSON:
        channel = self._known_channel(params)
        message = self._find(channel.id, params.required("ts", "message_not_found"))
        if message is None:
            raise _ApiError("message_not_found")
        if message.user != self.bot_user_id:
            raise _ApiError("cant_update_message")
        text = params.text("text")
        blocks = self._blocks(params)
        if text is None and blocks is None:
            raise _ApiError("no_text")
        if text is not None and len(text) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        # Slack keeps omitted blocks and metadata; an empty array/object clears them.
        metadata = self._metadata(params)
        self._edit(
            message,
            text=message.text if text is None else text,
            blocks=message.blocks if blocks is None else blocks,
            metadata=message.metadata if metadata is None else metadata or None,
        )
        return {
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": self._message_json(message, include_metadata=True),
        }

    def _chat_post_ephemeral(self, params: _Params) -> JSON:
        channel = self._writable_channel(params)
        user = params.required("user", "user_not_in_channel")
        if user not in channel.members:
            raise _ApiError("user_not_in_channel")
        text = params.text("text") or ""
        blocks = self._blocks(params) or []
        if not text and not blocks:
            raise _ApiError("no_text")
        ephemeral = Ephemeral(
            channel.id,
            user,
            text,
            blocks,
            params.text("thread_ts") or None,
            self._next_ts(),
            "chat.postEphemeral",
        )
        self._show_ephemeral(ephemeral)
        return {"message_ts": ephemeral.message_ts}

    def _chat_get_permalink(self, params: _Params) -> JSON:
        channel = self._known_channel(params)
        message = self._find(channel.id, params.required("message_ts", "message_not_found"))
        if message is None:
            raise _ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _view_argument(self, params: _Params, kind: str) -> JSON:
        view = params.structured("view")
        if not isinstance(view, dict) or view.get("type") != kind:
            raise _ApiError("invalid_arguments")
        if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            raise _ApiError("invalid_arguments")
        if kind == "modal" and not isinstance(view.get("title"), dict):
            raise _ApiError("invalid_arguments")
        return view

    def _full_view(self, view_id: str, view: JSON) -> JSON:
        """The view object Slack returns and later echoes in view_submission payloads."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": self._with_block_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._next_id('h')[-8:]}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close")),
            "notify_on_close": bool(view.get("notify_on_close")),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _views_open(self, params: _Params) -> JSON:
        trigger_id = params.required("trigger_id", "expired_trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise _ApiError("expired_trigger_id")
        if trigger.used:
            raise _ApiError("exchanged_trigger_id")
        view = self._view_argument(params, "modal")
        trigger.used = True
        view_id = self._next_id("V")
        opened = View(view_id, trigger.user, self._full_view(view_id, view), trigger_id)
        self._views[opened.id] = opened
        self._event("view_opened", user=opened.user, view=opened)
        return {"view": copy.deepcopy(opened.view)}

    def _views_update(self, params: _Params) -> JSON:
        view_id, external_id = params.text("view_id"), params.text("external_id")
        current = self._views.get(view_id or "") or next(
            (v for v in self._views.values() if external_id and v.view.get("external_id") == external_id),
            None,
        )
        if current is None:
            raise _ApiError("not_found")
        expected_hash = params.text("hash")
        if expected_hash and expected_hash != current.view["hash"]:
            raise _ApiError("hash_conflict")
        full = self._full_view(current.id, self._view_argument(params, "modal"))
        updated = View(current.id, current.user, full, current.trigger_id)
        self._views[current.id] = updated
        self._event("view_updated", user=current.user, view=updated)
        return {"view": copy.deepcopy(full)}

    def _views_publish(self, params: _Params) -> JSON:
        user = params.required("user_id", "user_not_found")
        if user not in self._users:
            raise _ApiError("user_not_found")
        view = self._view_argument(params, "home")
        previous = self._homes.get(user)
        view_id = previous.id if previous else self._next_id("V")
        published = View(view_id, user, self._full_view(view_id, view))
        self._homes[user] = published
        self._event("view_published", user=user, view=published)
        return {"view": copy.deepcopy(published.view)}

    def _usergroups_users_list(self, params: _Params) -> JSON:
        group = self._usergroups.get(params.required("usergroup", "no_such_subteam"))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group[1])}

    def _users_info(self, params: _Params) -> JSON:
        user = self._users.get(params.required("user", "user_not_found"))
        if user is None:
            raise _ApiError("user_not_found")
        return {
            "user": {
                "id": user.id,
                "team_id": self.team_id,
                "name": user.name,
                "real_name": user.real_name,
                "deleted": user.deleted,
                "is_bot": user.is_bot,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "profile": {"real_name": user.real_name, "display_name": user.name},
            }
        }

    def _conversations_info(self, params: _Params) -> JSON:
        channel = self._known_channel(params)
        return {
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_channel": not channel.private,
                "is_group": channel.private,
                "is_im": False,
                "is_private": channel.private,
                "is_archived": channel.archived,
                "is_member": channel.bot_member,
            }
        }

    def _conversations_members(self, params: _Params) -> JSON:
        """Members of a channel, cursor-paged; a private channel only to a bot that is in it (as Slack)."""
        channel = self._known_channel(params)
        if channel.private and not channel.bot_member:
            raise _ApiError("channel_not_found")
        members = sorted(channel.members | ({self.bot_user_id} if channel.bot_member else set()))
        page, paging = self._page(members, params, 100)
        return {"members": page, **paging}

    def _conversations_replies(self, params: _Params) -> JSON:
        channel = self._member_channel(params)  # the history scope: _missing_scopes
        anchor = self._find(channel.id, params.required("ts", "thread_not_found"))
        if anchor is None:
            raise _ApiError("thread_not_found")
        thread = self._thread(channel.id, anchor.thread_ts or anchor.ts)
        page, paging = self._page(thread, params, 1000)
        with_metadata = params.flag("include_all_metadata")
        return {"messages": [self._message_json(m, include_metadata=with_metadata) for m in page], **paging}

    def _conversations_history(self, params: _Params) -> JSON:
        channel = self._member_channel(params)  # the history scope: _missing_scopes
        oldest, latest = params.text("oldest"), params.text("latest")
        inclusive = params.flag("inclusive")

        def in_window(message: Message) -> bool:
            key = _ts_key(message.ts)
            after = oldest is None or key > _ts_key(oldest) or (inclusive and key == _ts_key(oldest))
            before = latest is None or key < _ts_key(latest) or (inclusive and key == _ts_key(latest))
            return after and before

        visible = [m for m in self._messages[channel.id] if (not m.is_reply or m.reply_broadcast) and in_window(m)]
        page, paging = self._page(visible[::-1], params, 100)
        with_metadata = params.flag("include_all_metadata")
        return {"messages": [self._message_json(m, include_metadata=with_metadata) for m in page], **paging}

    def _files_get_upload_url(self, params: _Params) -> JSON:
        filename = params.required("filename")
        length = params.number("length", -1)
        if length < 0:
            raise _ApiError("invalid_arguments")
        file_id = self._next_id("F")
        self._files[file_id] = _File(file_id, filename, length)
        return {"upload_url": f"{params.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: _Params) -> JSON:
        entries = params.structured("files")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise _ApiError("invalid_arguments")
        pending = [self._files.get(str(e.get("id"))) for e in entries]
        ready = [f for f in pending if f is not None and f.content is not None and f.message_ts is None]
        if len(ready) != len(entries):
            raise _ApiError("file_not_found")
        channel = self._writable_channel(params, "channel_id") if params.has("channel_id") else None
        if channel is None and params.has("channels"):
            channel = self._writable_channel(_Params({"channel": params.required("channels").split(",")[0]}, ""))
        thread_ts = params.text("thread_ts") or None
        for entry, upload in zip(entries, ready, strict=True):
            upload.title = str(entry.get("title") or upload.filename)
            upload.channel, upload.thread_ts = (channel.id if channel else None), thread_ts
            upload.initial_comment = params.text("initial_comment")
        files = [self._file_json(f) for f in ready]
        if channel is not None:
            message = self._store(
                Message(
                    channel=channel.id,
                    ts=self._next_ts(),
                    user=self.bot_user_id,
                    bot_id=self.bot_id,
                    text=params.text("initial_comment") or "",
                    thread_ts=thread_ts,
                    files=files,
                )
            )
            for upload in ready:
                upload.message_ts = message.ts
        return {"files": files}

    def _apps_connections_open(self, params: _Params) -> JSON:
        ticket = str(uuid.uuid4())
        self._socket_tickets.add(ticket)
        scheme, _, rest = params.base_url.partition("://")
        ws_scheme = "wss" if scheme == "https" else "ws"
        return {"url": f"{ws_scheme}://{rest}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _file_json(self, upload: _File) -> JSON:
        size = len(upload.content or b"")
        return {
            "id": upload.id,
            "created": int(time.time()),
            "name": upload.filename,
            "title": upload.title or upload.filename,
            "filetype": upload.filename.rpartition(".")[2] if "." in upload.filename else "text",
            "user": self.bot_user_id,
            "size": size,
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{upload.id}/{upload.filename}",
            "channels": [upload.channel] if upload.channel else [],
        }


# --------------------------------------------------------------------------- HTTP app


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string, then the body (JSON or form) on top: slack_sdk uses both encodings."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            params.update(parsed)
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def create_app(state: FakeSlack) -> Starlette:
    """The HTTP face of ``state``: ``/api/<method>``, ``/response/<id>``, ``/upload/<file_id>``, and the
    Socket Mode WebSocket at ``/link/?ticket=…``."""

    async def api(request: Request) -> Response:
        params = await _read_params(request)
        authorization = request.headers.get("authorization", "")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else params.get("token")
        base_url = str(request.base_url).rstrip("/")
        reply = await run_in_threadpool(
            state._handle, request.path_params["method"], params, str(token) if token else None, base_url
        )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    async def response_url(request: Request) -> Response:
        raw = await request.body()
        try:
            payload: Any = json.loads(raw)
        except json.JSONDecodeError:
            payload = raw.decode("utf-8", "replace")
        status, answer = await run_in_threadpool(state._respond, request.path_params["response_id"], payload)
        return PlainTextResponse(answer, status_code=status)

    async def upload(request: Request) -> Response:
        content = await request.body()
        status, answer = await run_in_threadpool(state._receive_upload, request.path_params["file_id"], content)
        return PlainTextResponse(answer, status_code=status)

    async def link(websocket: WebSocket) -> None:
        if not state._claim_ticket(websocket.query_params.get("ticket", "")):
            await websocket.close(code=1008)  # before accepting: the handshake is answered 403
            return
        await websocket.accept()
        connection = _Socket(websocket, asyncio.get_running_loop())
        code: int | None = None
        try:
            await connection.send(state._socket_hello())
            state._socket_opened(connection)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    code = message.get("code")
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                if text is not None:
                    connection.received(text)
        except (WebSocketDisconnect, OSError) as error:
            code = getattr(error, "code", None)
        finally:
            state._socket_closed(connection, code)

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            Route("/response/{response_id}", response_url, methods=["POST"]),
            Route("/upload/{file_id}", upload, methods=["POST"]),
            WebSocketRoute("/link/", link),
        ]
    )
