"""``purgebot serve --socket-mode`` end to end: the real console script, connected over a WebSocket.

The Slack and LangSmith stand-ins run in this process; purgebot runs as a child process with only
``SLACK_APP_TOKEN`` (no signing secret). It opens its connection through the stand-in's
``apps.connections.open``, and the same people as in the HTTP tests act through envelopes on that
connection: the ack carries the reply, ``respond()`` goes through ``response_url`` as in HTTP mode,
and a refresh Slack asks for moves purgebot to a new connection.
(Starting without ``SLACK_APP_TOKEN`` is covered in test_cli.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from e2e import request_message, wait_ephemeral, wait_thread

from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_records import NoSocketConnection
from bot.sandbox.slack_user import SocketDelivery, SocketUser
from bot.sandbox.world import ALICE, BOB, REQUESTS_CHANNEL, World, running_world
from storage import events, requests
from storage.db import Store

ACK_LIMIT = 3.0  # Slack shows the person an error when the ack takes longer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as a child process."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        yield running


@pytest.fixture
def server(world: World, start_serve: Callable[..., ServeProcess]) -> ServeProcess:
    return start_serve(world, socket_mode=True, slack=world.slack)


def test_a_purge_is_filed_and_approved_over_socket_mode(world: World, server: ServeProcess) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    assert "SLACK_SIGNING_SECRET" not in server.env and server.env["SLACK_APP_TOKEN"].startswith("xapp-")

    server.start()
    opened = world.slack.calls("apps.connections.open")
    assert [(call.ok, call.auth_ok) for call in opened] == [(True, True)]
    delivery = SocketDelivery(slack=world.slack, slack_url=world.slack_url)
    alice, bob = SocketUser(delivery, ALICE), SocketUser(delivery, BOB)

    filed = alice.slash(f"traces prod-chat {' '.join(ids)} --reason x", channel_id=REQUESTS_CHANNEL)
    assert filed.transport == "socket" and filed.status == 200
    assert filed.text.startswith("Filing a purge of 3 trace IDs"), filed.body
    assert filed.elapsed < ACK_LIMIT

    root = request_message(world)
    assert "Approving deletes 3 traces" in root.render()

    refused = alice.click(root, "Approve")
    assert refused.body == ""  # a button's ack carries nothing; the answer comes through response_url
    wait_ephemeral(world, ALICE, "two-person rule")
    told = [e for e in world.slack.ephemerals(ALICE) if "two-person rule" in e.text]
    assert [(e.via, e.channel) for e in told] == [("response_url", REQUESTS_CHANNEL)]

    approved = bob.click(root, "Approve")
    assert approved.elapsed < ACK_LIMIT
    wait_thread(world, root, "is *submitted*")

    # Slack recycles connections: purgebot opens a new one, drops the old one and keeps answering.
    assert world.slack.request_socket_refresh() == 1
    world.slack.wait_for(lambda s: [c.active for c in s.socket_connections()] == [False, True], timeout=15)
    status = alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert status.splitlines()[0] == "PURGE-1: submitted"
    assert len(world.slack.calls("apps.connections.open")) == 2

    deletes = world.langsmith.calls_to("runs/delete")
    assert len(deletes) == 1 and sorted(deletes[0].body["trace_ids"]) == sorted(ids)
    store = Store(world.db_path)
    try:
        assert requests.get(store.db, 1).state == "submitted"
        kinds = [event.kind for event in events.for_request(store.db, 1)]
        assert kinds[:3] == ["filed", "previewed", "decision_refused"] and "submitted" in kinds
        assert events.verify_chain(store.db).intact
    finally:
        store.close()

    assert server.stop() == 0  # SIGTERM ends Socket Mode cleanly too
    assert not world.slack.socket_connections(active=True)
    with pytest.raises(NoSocketConnection):
        alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert all(not connection.unmatched for connection in world.slack.socket_connections())


def test_socket_mode_serves_healthz_on_port_and_nothing_else(world: World, server: ServeProcess) -> None:
    """A platform's probe reaches a Socket Mode bot too: ``/healthz`` on $PORT; Slack's events come over the socket."""
    server.start()

    health = httpx.get(f"{server.url}/healthz", timeout=10)
    events_url = httpx.post(f"{server.url}/slack/events", content=b"{}", timeout=10)

    assert (health.status_code, health.json()) == (200, {"ok": True})
    assert events_url.status_code == 404
    assert '"serving /healthz"' in server.log_text()
