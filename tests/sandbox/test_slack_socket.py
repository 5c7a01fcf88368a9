"""The stand-in's Socket Mode: ``apps.connections.open`` and the ``/link/`` WebSocket, driven by slack_sdk.

The client is slack_sdk's builtin ``SocketModeClient`` — the one ``SocketModeHandler`` (and so
``purgebot serve --socket-mode``) uses — with a ``WebClient`` pointed at the stand-in.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.sandbox.serving import serve
from bot.sandbox.slack_records import NoSocketConnection, SocketAckTimeout, SocketClosed
from bot.sandbox.slack_server import APP_TOKEN, FakeSlack, create_app
from bot.sandbox.slack_user import SocketDelivery, SocketUser

BOT_TOKEN = "xoxb-sandbox"
CHANNEL = "CREQ"

Listener = Callable[[SocketModeClient, SocketModeRequest], None]


@pytest.fixture
def slack() -> FakeSlack:
    state = FakeSlack(bot_token=BOT_TOKEN)
    state.add_user("UALICE", "alice")
    state.add_channel(CHANNEL, "privacy-requests", members=["UALICE"])
    return state


@pytest.fixture
def url(slack: FakeSlack) -> Iterator[str]:
    with serve(create_app(slack)) as base_url:
        yield base_url


Connect = Callable[..., SocketModeClient]


@pytest.fixture
def connect(slack: FakeSlack, url: str) -> Iterator[Connect]:
    """Connect a SocketModeClient whose requests go to ``listener``; closed after the test."""
    clients: list[SocketModeClient] = []

    def connect(listener: Listener, *, raw: list[str] | None = None, **options: Any) -> SocketModeClient:
        client = SocketModeClient(
            app_token=APP_TOKEN,
            web_client=WebClient(base_url=url + "/api/"),
            on_message_listeners=[raw.append] if raw is not None else None,
            **options,
        )
        client.socket_mode_request_listeners.append(listener)
        clients.append(client)
        client.connect()
        return client

    yield connect
    for client in clients:
        client.auto_reconnect_enabled = False
    slack.drop_sockets()  # else close() waits out the client's 3 s receive timeout
    for client in clients:
        client.close()


def ack_with(payload: dict[str, Any] | None) -> Listener:
    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    return listener


def handshake(url: str) -> str:
    """Open a WebSocket by hand and return the status line of the answer."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


# --------------------------------------------------------------------------- apps.connections.open


def test_connections_open_wants_the_app_level_token(slack: FakeSlack, url: str) -> None:
    web = WebClient(base_url=url + "/api/")
    errors = {}
    for name, token in (("bot", BOT_TOKEN), ("unknown", "xapp-1-forged"), ("none", "")):
        with pytest.raises(SlackApiError) as refused:
            web.apps_connections_open(app_token=token)
        errors[name] = refused.value.response["error"]
    opened = web.apps_connections_open(app_token=APP_TOKEN)

    assert errors == {"bot": "not_allowed_token_type", "unknown": "invalid_auth", "none": "not_authed"}
    link = urlsplit(str(opened["url"]))
    assert (link.scheme, link.netloc, link.path) == ("ws", urlsplit(url).netloc, "/link/")
    query = parse_qs(link.query)
    assert query["app_id"] == [slack.app_id] and len(query["ticket"][0]) >= 32
    assert [c.auth_ok for c in slack.calls("apps.connections.open")] == [False, False, False, True]


def test_the_app_level_token_does_not_call_web_api_methods(url: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=APP_TOKEN, base_url=url + "/api/").chat_postMessage(channel=CHANNEL, text="hi")

    assert refused.value.response["error"] == "not_allowed_token_type"


def test_a_ticket_opens_one_connection(url: str) -> None:
    link = str(WebClient(base_url=url + "/api/").apps_connections_open(app_token=APP_TOKEN)["url"])

    assert handshake(link) == "HTTP/1.1 101 Switching Protocols"
    assert handshake(link).startswith("HTTP/1.1 403")  # used
    assert handshake(link.replace("ticket=", "ticket=0")).startswith("HTTP/1.1 403")  # made up


# --------------------------------------------------------------------------- envelopes


def test_the_sdk_client_is_greeted_and_its_ack_reaches_deliver_socket(slack: FakeSlack, connect: Connect) -> None:
    raw: list[str] = []
    received: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        ack_with({"text": f"Filing {request.payload['text']}…"})(client, request)

    client = connect(listener, raw=raw)
    connection = slack.wait_for_socket()
    acked = slack.deliver_socket(
        "slash_commands", {"command": "/purge", "text": "traces x"}, accepts_response_payload=True
    )

    assert json.loads(raw[0]) == {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": slack.app_id},
    }
    assert json.loads(raw[1]) == acked.envelope
    assert acked.envelope["type"] == "slash_commands" and acked.envelope["accepts_response_payload"] is True
    assert acked.ack == {"envelope_id": acked.envelope_id, "payload": {"text": "Filing traces x…"}}
    assert acked.payload == {"text": "Filing traces x…"}
    assert acked.connection_id == connection.id and 0 < acked.elapsed < 3
    [request] = received
    assert (request.envelope_id, request.type, request.payload) == (
        acked.envelope_id,
        "slash_commands",
        {"command": "/purge", "text": "traces x"},
    )
    # The client pings as soon as it connects and marks the connection stale without pongs.
    session = client.current_session
    slack.wait_for(lambda _: session is not None and session.last_ping_pong_time is not None)


def test_an_ack_without_a_payload(slack: FakeSlack, connect: Connect) -> None:
    connect(ack_with(None))
    slack.wait_for_socket()

    acked = slack.deliver_socket("interactive", {"type": "block_actions"}, accepts_response_payload=False)

    assert acked.ack == {"envelope_id": acked.envelope_id} and acked.payload is None
    assert acked.envelope["accepts_response_payload"] is False


def test_a_late_ack_times_out_and_is_kept_as_unmatched(slack: FakeSlack, connect: Connect) -> None:
    def slow(client: SocketModeClient, request: SocketModeRequest) -> None:
        time.sleep(0.5)
        ack_with(None)(client, request)

    connect(slow)
    slack.wait_for_socket()
    started = time.monotonic()

    with pytest.raises(SocketAckTimeout, match="no ack for slash_commands envelope"):
        slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True, timeout=0.2)

    assert time.monotonic() - started < 0.45
    slack.wait_for(lambda s: bool(s.socket_connections()[0].unmatched))
    [late] = slack.socket_connections()[0].unmatched
    assert "envelope_id" in json.loads(late)


def test_nothing_is_delivered_without_a_connection_or_after_it_drops(slack: FakeSlack, connect: Connect) -> None:
    with pytest.raises(NoSocketConnection):
        slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True)
    client = connect(lambda c, r: None, auto_reconnect_enabled=False)  # never acks
    slack.wait_for_socket()
    threading.Timer(0.2, client.disconnect).start()

    with pytest.raises(SocketClosed):
        slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True)

    slack.wait_for(lambda s: not s.socket_connections(active=True))
    [closed] = slack.socket_connections()
    assert not closed.active and closed.closed_at is not None
    with pytest.raises(NoSocketConnection):
        slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True)


def test_a_refresh_request_moves_the_client_to_a_new_connection(slack: FakeSlack, connect: Connect) -> None:
    connect(ack_with({"text": "ok"}))
    first = slack.wait_for_socket()

    assert slack.request_socket_refresh() == 1
    slack.wait_for(lambda s: [c.active for c in s.socket_connections()] == [False, True])

    acked = slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True)
    assert acked.connection_id != first.id and acked.payload == {"text": "ok"}
    assert len(slack.calls("apps.connections.open")) == 2


def test_a_dropped_connection_is_replaced_by_the_client(slack: FakeSlack, connect: Connect) -> None:
    connect(ack_with({"text": "ok"}), ping_interval=0.2)  # the client notices a closed session when it pings
    first = slack.wait_for_socket()

    assert slack.drop_sockets() == 1
    slack.wait_for(lambda s: [c.active for c in s.socket_connections()] == [False, True])

    [dropped, _] = slack.socket_connections()
    assert dropped.id == first.id and dropped.close_code == 1001
    acked = slack.deliver_socket("slash_commands", {"text": ""}, accepts_response_payload=True)
    assert acked.connection_id != first.id and acked.payload == {"text": "ok"}


# --------------------------------------------------------------------------- the user simulator


def test_socket_users_send_the_payloads_slack_sends(slack: FakeSlack, url: str, connect: Connect) -> None:
    received: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        answer = {"text": "Filing…"} if request.type == "slash_commands" else None
        ack_with(answer)(client, request)

    connect(listener)
    slack.wait_for_socket()
    posted = WebClient(token=BOT_TOKEN, base_url=url + "/api/").chat_postMessage(
        channel=CHANNEL,
        text="PURGE-1",
        blocks=[
            {
                "type": "actions",
                "block_id": "decide",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "value": "1",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        ],
    )
    alice = SocketUser(SocketDelivery(slack=slack, slack_url=url), "UALICE")

    filed = alice.slash("traces x", channel_id=CHANNEL)
    clicked = alice.click(slack.message(CHANNEL, str(posted["ts"])), "Approve")

    assert (filed.transport, filed.status, filed.text, filed.json()) == ("socket", 200, "Filing…", {"text": "Filing…"})
    assert (clicked.body, clicked.text, clicked.content_type) == ("", "", "")
    command, action = received
    assert (command.type, command.accepts_response_payload) == ("slash_commands", True)
    assert (action.type, action.accepts_response_payload) == ("interactive", False)
    assert command.envelope_id == filed.envelope_id and action.envelope_id == clicked.envelope_id
    assert {k: command.payload[k] for k in ("command", "text", "user_id", "channel_id", "user_name")} == {
        "command": "/purge",
        "text": "traces x",
        "user_id": "UALICE",
        "channel_id": CHANNEL,
        "user_name": "alice",
    }
    assert command.payload["response_url"] == filed.response_url and command.payload["trigger_id"] == filed.trigger_id
    assert filed.response_url is not None and filed.response_url.startswith(url + "/response/")
    assert action.payload["type"] == "block_actions"
    assert action.payload["actions"][0]["action_id"] == "approve"
    assert action.payload["container"]["message_ts"] == posted["ts"]

    again = alice.delivery.replay(filed)
    assert again.envelope_id != filed.envelope_id and received[-1].payload == command.payload
