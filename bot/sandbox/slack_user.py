"""People in the sandbox workspace: Slack delivering their commands, clicks and form submissions.

The app under test must see exactly what Slack would send it — the same form fields and JSON
payloads (reference/slack.md §3) — so the payload parsing and the 3-second ack are exercised as in
production. :class:`Delivery` builds those payloads once; how they travel is up to its two kinds:

- :class:`SlackDelivery` POSTs them to the app's ``/slack/events``, signed with the signing
  secret, so the signature check runs too (HTTP mode);
- :class:`SocketDelivery` hands them to the :class:`~bot.sandbox.slack_server.FakeSlack` to send
  as envelopes over the app's Socket Mode connection, and waits for the ack (§3.5).

Each delivery also tells the stand-in about the ``trigger_id`` and ``response_url`` it carries, so
``views.open`` and ``respond()`` behave as they would on Slack and their output is attributed to the
right person and channel. :class:`Person` (``SlackUser``/``SocketUser``) is one person acting
through either.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack_records import Ephemeral, Message, SocketAck, View
from bot.sandbox.slack_server import SOCKET_ACK_TIMEOUT_SECONDS, FakeSlack

JSON = dict[str, Any]

# Slack still sends its deprecated verification token; bolt ignores it unless configured to check it.
LEGACY_VERIFICATION_TOKEN = "sandbox-verification-token"
DELIVERY_TIMEOUT_SECONDS = 10.0
# Interactive payloads whose ack may carry an answer Slack acts on (response_action, options).
_ANSWERABLE_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


@dataclass(frozen=True)
class Delivered:
    """Our app's answer to one delivery, and what the delivery carried.

    Over HTTP ``status``, ``body`` and ``content_type`` are the response's. Over Socket Mode there
    is no response, only the ack: ``status`` is 200 once it arrived, ``body`` is its ``payload`` as
    JSON ("" when it had none) and ``request_body`` the envelope. :attr:`text` reads both alike.
    """

    status: int
    body: str
    content_type: str
    elapsed: float  # seconds from sending to the full answer (Slack gives up after 3)
    trigger_id: str | None
    response_url: str | None = None
    request_body: str = ""  # what was sent, so a test can replay it (see Delivery.replay)
    transport: Literal["http", "socket"] = "http"
    envelope_id: str | None = None  # Socket Mode only

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """What the person is shown from the ack: a JSON answer's ``text``, else the body itself."""
        if self.content_type.startswith("application/json"):
            answer = self.json()
            text = answer.get("text") if isinstance(answer, dict) else None
            if isinstance(text, str):
                return text
        return self.body


def _iter_buttons(blocks: list[JSON]) -> Iterator[tuple[str | None, JSON]]:
    """(block_id, button) for every button in actions blocks and section accessories."""
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                yield block.get("block_id"), element


def _button_label(button: JSON) -> str:
    text = button.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


class Delivery(ABC):
    """What people do, as the payloads Slack would send for it; subclasses carry them to the app."""

    def __init__(
        self,
        *,
        slack: FakeSlack,
        slack_url: str,
        team_id: str = "T0SANDBOX",
        api_app_id: str = "A0PURGEBOT",
    ) -> None:
        """``slack_url`` is where the stand-in is served (its ``response_url``s live there)."""
        self.slack = slack
        self.slack_url = slack_url.rstrip("/")
        self.team_id = team_id
        self.api_app_id = api_app_id
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._last_action_micros = 0

    # ----------------------------------------------------------------- what people do

    def slash(
        self,
        *,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/purge",
        trigger_id: str | None = None,
    ) -> Delivered:
        """A slash command typed in ``channel_id``; pass ``trigger_id`` to replay an earlier one."""
        trigger = trigger_id or self._new_trigger_id()
        response_url = self._new_response_url(user_id=user_id, channel_id=channel_id)
        self.slack.register_trigger(trigger, user_id=user_id)
        channel = self.slack.channel(channel_id)
        fields = {
            "token": LEGACY_VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.slack.team_domain,
            "channel_id": channel_id,
            "channel_name": channel.name if channel else "privategroup",
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger,
        }
        return self._send_command(fields, trigger_id=trigger, response_url=response_url)

    def click(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str,
        block_id: str | None = None,
        thread_ts: str | None = None,
        action_ts: str | None = None,
    ) -> Delivered:
        """A button click on a stored message (``LookupError`` if the message does not exist).

        The payload carries the message as the stand-in holds it now. ``value`` is sent as given,
        even if the button says otherwise, so tests can forge one; a click on a button the message
        no longer has is delivered too, as a person looking at a stale copy could do.
        """
        message = self.slack.message(channel_id, message_ts)
        found = next(((b, e) for b, e in _iter_buttons(message.blocks) if e.get("action_id") == action_id), None)
        button_block, button = found if found else (None, {})
        trigger = self._new_trigger_id()
        response_url = self._new_response_url(user_id=user_id, channel_id=channel_id, message_ts=message_ts)
        self.slack.register_trigger(trigger, user_id=user_id)
        root = thread_ts or (message.thread_ts if message.is_reply else None)
        container: JSON = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        message_json = self._message_payload(message)
        if root:
            container["thread_ts"] = root
            message_json["thread_ts"] = root
        action: JSON = {
            "action_id": action_id,
            "block_id": block_id or button_block or "actions",
            "text": button.get("text") or {"type": "plain_text", "text": action_id},
            "value": value,
            "type": "button",
            "action_ts": action_ts or self._new_action_ts(),
        }
        if button.get("style"):
            action["style"] = button["style"]
        channel = self.slack.channel(channel_id)
        payload: JSON = {
            "type": "block_actions",
            "user": self._user_json(user_id),
            "api_app_id": self.api_app_id,
            "token": LEGACY_VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": trigger,
            "team": {"id": self.team_id, "domain": self.slack.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel.name if channel else "privategroup"},
            "message": message_json,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        return self._send_interactive(payload, trigger_id=trigger, response_url=response_url)

    def submit_view(self, *, user_id: str, view: Mapping[str, Any], values: Mapping[str, Any]) -> Delivered:
        """A modal's Submit button: a view_submission payload (§3.4).

        ``view`` is the view as ``views.open`` received it or as the stand-in stored it; the stored
        copy (with Slack's id, hash and block ids) is used when it can be found. ``values`` maps
        ``block_id -> action_id -> value``; a plain string becomes the element's ``value``, a dict
        is sent as given (for selects). Input blocks not mentioned are sent empty, as Slack does.
        """
        full = self._stored_view(user_id, view)
        state = self._state_values(full, values)
        full["state"] = {"values": state}
        trigger = self._new_trigger_id()
        self.slack.register_trigger(trigger, user_id=user_id)
        payload: JSON = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.slack.team_domain},
            "user": self._user_json(user_id),
            "api_app_id": self.api_app_id,
            "token": LEGACY_VERIFICATION_TOKEN,
            "trigger_id": trigger,
            "view": full,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._send_interactive(payload, trigger_id=trigger, response_url=None)

    def open_home(self, *, user_id: str) -> Delivered:
        """The person opens the app's Home tab: an Events API ``app_home_opened`` event."""
        payload: JSON = {
            "token": LEGACY_VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user_id,
                "channel": f"D{user_id[1:]}",
                "tab": "home",
                "event_ts": self._new_action_ts(),
            },
        }
        return self._send_event(payload)

    def click_in_view(self, *, user_id: str, view: View, label: str) -> Delivered:
        """Click the button labelled ``label`` in a view (the Home tab or a modal): no channel, no
        message and no ``response_url`` come with it, as with Slack."""
        found = next(((b, e) for b, e in _iter_buttons(view.view.get("blocks", [])) if _button_label(e) == label), None)
        if found is None:
            raise LookupError(f"view {view.id} has no button {label!r}")
        block_id, button = found
        action: JSON = {
            "action_id": button.get("action_id"),
            "block_id": block_id or "actions",
            "text": button.get("text"),
            "value": button.get("value"),
            "type": "button",
        }
        return self._view_action(user_id, view.id, view.view, action)

    def choose_in_view(self, *, user_id: str, view: View, block_id: str, value: str) -> Delivered:
        """Pick option ``value`` of the radio buttons in the modal's input block ``block_id``.

        Slack sends a ``block_actions`` payload for an input block only when it sets
        ``dispatch_action``; without it nothing is sent until Submit, so this raises instead of
        delivering something Slack never would. An option the element does not offer raises too.
        """
        block = next((b for b in view.view.get("blocks", []) if b.get("block_id") == block_id), None)
        if block is None or block.get("type") != "input":
            raise LookupError(f"view {view.id} has no input block {block_id!r}")
        if not block.get("dispatch_action"):
            raise LookupError(f"input block {block_id!r} does not dispatch its actions: Slack would send nothing")
        element = block["element"]
        option = next((o for o in element.get("options", []) if o.get("value") == value), None)
        if option is None:
            raise LookupError(f"block {block_id!r} offers no option {value!r}")
        selected: JSON = {"type": element["type"], "selected_option": option}
        state = copy.deepcopy(view.view.get("state") or {"values": {}})
        state.setdefault("values", {})[block_id] = {element["action_id"]: selected}
        action: JSON = {
            "type": element["type"],
            "action_id": element["action_id"],
            "block_id": block_id,
            "selected_option": option,
        }
        return self._view_action(user_id, view.id, view.view | {"state": state}, action)

    def _view_action(self, user_id: str, view_id: str, view: JSON, action: JSON) -> Delivered:
        """A ``block_actions`` payload from a view: no channel, no message and no ``response_url``, as with Slack."""
        trigger = self._new_trigger_id()
        self.slack.register_trigger(trigger, user_id=user_id)
        payload: JSON = {
            "type": "block_actions",
            "user": self._user_json(user_id),
            "api_app_id": self.api_app_id,
            "token": LEGACY_VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": trigger,
            "team": {"id": self.team_id, "domain": self.slack.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [action | {"action_ts": self._new_action_ts()}],
        }
        return self._send_interactive(payload, trigger_id=trigger, response_url=None)

    @abstractmethod
    def replay(self, delivered: Delivered) -> Delivered:
        """Send an earlier delivery's payload again: a retried or replayed request."""

    # ----------------------------------------------------------------- transport

    @abstractmethod
    def _send_command(self, fields: dict[str, str], *, trigger_id: str, response_url: str) -> Delivered:
        """Deliver a slash command's fields."""

    @abstractmethod
    def _send_interactive(self, payload: JSON, *, trigger_id: str, response_url: str | None) -> Delivered:
        """Deliver an interactivity payload (block_actions, view_submission, ...)."""

    @abstractmethod
    def _send_event(self, payload: JSON) -> Delivered:
        """Deliver an Events API callback."""

    # ----------------------------------------------------------------- payload helpers

    def _new_trigger_id(self) -> str:
        """``<digits>.<digits>.<hex>``, unique, like Slack's."""
        with self._lock:
            n = next(self._sequence)
        return f"{int(time.time() * 1000)}{n:04d}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}"

    def _new_response_url(self, *, user_id: str, channel_id: str, message_ts: str | None = None) -> str:
        with self._lock:
            n = next(self._sequence)
        response_id = f"{n}{secrets.token_hex(8)}"
        self.slack.register_response_url(response_id, user_id=user_id, channel_id=channel_id, message_ts=message_ts)
        return f"{self.slack_url}/response/{response_id}"

    def _new_action_ts(self) -> str:
        """Unique per click, as Slack's ``action_ts`` is (the app dedupes replays on it)."""
        with self._lock:
            self._last_action_micros = max(self._last_action_micros + 1, int(time.time() * 1_000_000))
            seconds, micros = divmod(self._last_action_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _user_name(self, user_id: str) -> str:
        user = self.slack.user(user_id)
        return user.name if user else user_id.lower()

    def _user_json(self, user_id: str) -> JSON:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _message_payload(self, message: Message) -> JSON:
        """The message object of a block_actions payload (metadata is not part of it)."""
        out: JSON = {"type": "message", "user": message.user, "ts": message.ts, "text": message.text}
        if message.bot_id:
            out |= {"bot_id": message.bot_id, "app_id": self.api_app_id}
        out["team"] = self.team_id
        if message.blocks:
            out["blocks"] = copy.deepcopy(message.blocks)
        if message.thread_ts:
            out["thread_ts"] = message.thread_ts
        if message.edited_ts:
            out["edited"] = {"user": message.user, "ts": message.edited_ts}
        return out

    def _stored_view(self, user_id: str, view: Mapping[str, Any]) -> JSON:
        views = self.slack.views()
        stored = next((v for v in views if view.get("id") and v.id == view.get("id")), None)
        if stored is None:
            callback_id = view.get("callback_id")
            stored = next((v for v in reversed(views) if v.user == user_id and v.callback_id == callback_id), None)
        if stored is not None:
            return copy.deepcopy(stored.view)
        full: JSON = copy.deepcopy(dict(view))
        view_id = str(full.get("id") or f"V0SBXUNSTORED{secrets.token_hex(3).upper()}")
        defaults: JSON = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.slack.bot_id,
        }
        return defaults | full

    @staticmethod
    def _state_values(view: JSON, values: Mapping[str, Any]) -> JSON:
        inputs: dict[str, tuple[str, str]] = {}
        state: JSON = {}
        for block in view.get("blocks") or []:
            element = block.get("element") if block.get("type") == "input" else None
            if isinstance(element, dict) and block.get("block_id"):
                kind, action_id = str(element.get("type")), str(element.get("action_id") or "")
                inputs[block["block_id"]] = (kind, action_id)
                empty: JSON = {"type": kind, "value": None} if kind == "plain_text_input" else {"type": kind}
                state[block["block_id"]] = {action_id: empty}
        for block_id, actions in values.items():
            if inputs and block_id not in inputs:
                raise ValueError(f"the view has no input block {block_id!r}; it has {sorted(inputs)}")
            kind = inputs.get(block_id, ("plain_text_input", ""))[0]
            state[block_id] = {
                action_id: {"type": kind, "value": value} if isinstance(value, str) else dict(value)
                for action_id, value in actions.items()
            }
        return state


class SlackDelivery(Delivery):
    """Delivers Slack payloads to our app's /slack/events over HTTP, signed like Slack signs them."""

    def __init__(
        self,
        *,
        app_url: str,
        signing_secret: str,
        slack: FakeSlack,
        slack_url: str,
        team_id: str = "T0SANDBOX",
        api_app_id: str = "A0PURGEBOT",
    ) -> None:
        """``app_url`` is the app's request URL; a bare ``http://host:port`` gets ``/slack/events``."""
        super().__init__(slack=slack, slack_url=slack_url, team_id=team_id, api_app_id=api_app_id)
        path = urlsplit(app_url).path
        self.events_url = app_url if path not in ("", "/") else app_url.rstrip("/") + "/slack/events"
        self._verifier = SignatureVerifier(signing_secret)
        # One pooled client: a fresh httpx.post per delivery builds a TLS context each time (~40 ms),
        # which would swamp the ack latency being measured.
        self._http = httpx.Client(timeout=DELIVERY_TIMEOUT_SECONDS)

    def replay(self, delivered: Delivered) -> Delivered:
        """Send an earlier delivery's body again, freshly signed: a retried or replayed request."""
        return self._deliver(
            delivered.request_body, trigger_id=delivered.trigger_id, response_url=delivered.response_url
        )

    def post_raw(self, body: bytes | str, *, headers: Mapping[str, str]) -> Delivered:
        """POST exactly ``body`` with exactly ``headers``: for forged and stale signatures."""
        raw = body.encode() if isinstance(body, str) else body
        started = time.perf_counter()
        response = self._http.post(self.events_url, content=raw, headers=dict(headers))
        return Delivered(
            status=response.status_code,
            body=response.text,
            content_type=response.headers.get("content-type", ""),
            elapsed=time.perf_counter() - started,
            trigger_id=None,
            request_body=raw.decode("utf-8", "replace"),
        )

    def close(self) -> None:
        self._http.close()

    def signed_headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        """Slack's request headers for ``body``: ``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        if signature is None:  # slack_sdk returns None only without a secret, which __init__ refuses
            raise RuntimeError("SignatureVerifier produced no signature")
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }

    # ----------------------------------------------------------------- transport

    def _send_command(self, fields: dict[str, str], *, trigger_id: str, response_url: str) -> Delivered:
        return self._deliver(urlencode(fields), trigger_id=trigger_id, response_url=response_url)

    def _send_interactive(self, payload: JSON, *, trigger_id: str, response_url: str | None) -> Delivered:
        return self._deliver(self._interactive_body(payload), trigger_id=trigger_id, response_url=response_url)

    def _send_event(self, payload: JSON) -> Delivered:
        body = json.dumps(payload, separators=(",", ":"))
        headers = {**self.signed_headers(body), "Content-Type": "application/json"}
        return self.post_raw(body, headers=headers)

    def _deliver(self, body: str, *, trigger_id: str | None, response_url: str | None) -> Delivered:
        delivered = self.post_raw(body, headers=self.signed_headers(body))
        return Delivered(
            status=delivered.status,
            body=delivered.body,
            content_type=delivered.content_type,
            elapsed=delivered.elapsed,
            trigger_id=trigger_id,
            response_url=response_url,
            request_body=body,
        )

    @staticmethod
    def _interactive_body(payload: JSON) -> str:
        """Interactivity arrives as one form field, ``payload``, holding URL-encoded JSON."""
        return "payload=" + quote(json.dumps(payload, separators=(",", ":")))


class SocketDelivery(Delivery):
    """Delivers the same payloads as envelopes over the app's Socket Mode connection to ``slack``.

    The app must be connected (see :meth:`FakeSlack.wait_for_socket`); each call waits for the ack
    and raises :class:`~bot.sandbox.slack_server.SocketModeError` if none comes.
    """

    def __init__(
        self,
        *,
        slack: FakeSlack,
        slack_url: str,
        team_id: str = "T0SANDBOX",
        api_app_id: str = "A0PURGEBOT",
        ack_timeout: float = SOCKET_ACK_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(slack=slack, slack_url=slack_url, team_id=team_id, api_app_id=api_app_id)
        self.ack_timeout = ack_timeout

    def replay(self, delivered: Delivered) -> Delivered:
        """Send an earlier delivery's payload again in a new envelope."""
        envelope = json.loads(delivered.request_body)
        return self._envelope(
            envelope["type"],
            envelope["payload"],
            accepts_response_payload=bool(envelope["accepts_response_payload"]),
            trigger_id=delivered.trigger_id,
            response_url=delivered.response_url,
        )

    def _send_command(self, fields: dict[str, str], *, trigger_id: str, response_url: str) -> Delivered:
        return self._envelope(
            "slash_commands", fields, accepts_response_payload=True, trigger_id=trigger_id, response_url=response_url
        )

    def _send_interactive(self, payload: JSON, *, trigger_id: str, response_url: str | None) -> Delivered:
        return self._envelope(
            "interactive",
            payload,
            accepts_response_payload=payload.get("type") in _ANSWERABLE_INTERACTIONS,
            trigger_id=trigger_id,
            response_url=response_url,
        )

    def _send_event(self, payload: JSON) -> Delivered:
        return self._envelope("events_api", payload, accepts_response_payload=False, trigger_id=None, response_url=None)

    def _envelope(
        self,
        type_: Literal["slash_commands", "interactive", "events_api"],
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        trigger_id: str | None,
        response_url: str | None,
    ) -> Delivered:
        acked: SocketAck = self.slack.deliver_socket(
            type_, payload, accepts_response_payload=accepts_response_payload, timeout=self.ack_timeout
        )
        answer = acked.payload
        return Delivered(
            status=200,
            body="" if answer is None else json.dumps(answer, ensure_ascii=False),
            content_type="" if answer is None else "application/json",
            elapsed=acked.elapsed,
            trigger_id=trigger_id,
            response_url=response_url,
            request_body=json.dumps(acked.envelope, ensure_ascii=False),
            transport="socket",
            envelope_id=acked.envelope_id,
        )


D = TypeVar("D", bound=Delivery)


class Person(Generic[D]):
    """One person in the sandbox workspace, doing what a person does: type, click a label, submit.

    A thin layer over a :class:`Delivery` for the demo and end-to-end tests, which read better
    as "alice files, bob clicks Approve" than as payload fields. The same person can act over HTTP
    (``SlackUser(slack_delivery, ...)``) or Socket Mode (``SocketUser(socket_delivery, ...)``).
    """

    def __init__(self, delivery: D, user_id: str) -> None:
        self.delivery = delivery
        self.user_id = user_id

    def slash(self, text: str, *, channel_id: str, command: str = "/purge") -> Delivered:
        return self.delivery.slash(user_id=self.user_id, channel_id=channel_id, text=text, command=command)

    def ask(self, text: str, *, channel_id: str) -> str:
        """Type a ``/purge`` that is answered after its ack (``status``, ``cancel``, ``verify``…): that answer."""
        delivered = self.slash(text, channel_id=channel_id)
        if delivered.response_url is None or delivered.status != 200:
            raise RuntimeError(f"/purge {text} was not acknowledged: {delivered}")
        return self.delivery.slack.answer_to(delivered.response_url)

    def click(self, message: Message, label: str) -> Delivered:
        """Click the button labelled ``label`` on ``message`` (``LookupError`` naming the buttons it has)."""
        buttons = list(_iter_buttons(message.blocks))
        match = next(((b, e) for b, e in buttons if _button_label(e) == label), None)
        if match is None:
            labels = [_button_label(e) for _, e in buttons]
            raise LookupError(f"message {message.ts} has no button {label!r}; it has {labels}")
        block_id, button = match
        return self.delivery.click(
            user_id=self.user_id,
            channel_id=message.channel,
            message_ts=message.ts,
            action_id=str(button.get("action_id") or ""),
            value=str(button.get("value") or ""),
            block_id=block_id,
        )

    def submit(self, view: View | Mapping[str, Any], values: Mapping[str, Any]) -> Delivered:
        return self.delivery.submit_view(
            user_id=self.user_id, view=view.view if isinstance(view, View) else view, values=values
        )

    def choose(self, view: View, block_id: str, value: str) -> Delivered:
        """Pick ``value`` in the modal's radio buttons ``block_id`` (a dispatched choice, see ``choose_in_view``)."""
        return self.delivery.choose_in_view(user_id=self.user_id, view=view, block_id=block_id, value=value)

    def ephemerals(self) -> list[Ephemeral]:
        """What only this person was shown (``chat.postEphemeral`` and ephemeral ``respond()``)."""
        return self.delivery.slack.ephemerals(self.user_id)


# The person reached over signed HTTP (what World and the demo use), and over Socket Mode.
SlackUser = Person[SlackDelivery]
SocketUser = Person[SocketDelivery]
