"""The Slack user simulator against a tiny bolt App served over real HTTP (reference/slack.md §4.4)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.serving import serve
from bot.sandbox.slack_records import View
from bot.sandbox.slack_server import FakeSlack, create_app
from bot.sandbox.slack_user import SlackDelivery, SlackUser

SECRET = "s3cret"
CHANNEL = "CREQ"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the default writes every request to stderr
        pass


@dataclass
class Harness:
    slack: FakeSlack
    delivery: SlackDelivery
    seen: list[dict[str, Any]] = field(default_factory=list)

    def wait_seen(self, n: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.seen) < n:
            assert time.monotonic() < deadline, f"app saw {self.seen}"
            time.sleep(0.01)


def _build_app(client: WebClient, seen: list[dict[str, Any]]) -> App:
    app = App(signing_secret=SECRET, client=client, token_verification_enabled=True)

    @app.command("/purge")
    def purge(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        if command["text"] == "form":
            ack()
            try:
                open_form(client, command)
            except SlackApiError as error:
                # Caught, not raised: bolt 1.30 loses an ack() followed within ~10 ms by an exception
                # (thread_runner resets ack.response), and the request then hangs 3 s and answers 404.
                seen.append({"kind": "views_open_failed", "error": error.response["error"]})
            return
        ack(f"got: {command['text']}")
        seen.append({"kind": "command", **command})
        respond(f"working on {command['text']}")

    def open_form(client: WebClient, command: dict[str, Any]) -> None:
        client.views_open(
            trigger_id=command["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "purge_form",
                "title": {"type": "plain_text", "text": "New purge"},
                "private_metadata": command["channel_id"],
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "reason",
                        "label": {"type": "plain_text", "text": "Reason"},
                        "element": {"type": "plain_text_input", "action_id": "value"},
                    },
                    {
                        "type": "input",
                        "block_id": "ticket",
                        "optional": True,
                        "label": {"type": "plain_text", "text": "Ticket"},
                        "element": {"type": "plain_text_input", "action_id": "value"},
                    },
                ],
                "submit": {"type": "plain_text", "text": "File"},
            },
        )

    @app.action("purge_approve")
    def approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        seen.append({"kind": "action", "body": body, "action": action})
        respond(text="Approved", replace_original=True)

    @app.view("purge_form")
    def form(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["value"]["value"]
        if not reason:
            ack(response_action="errors", errors={"reason": "A reason is required"})
            return
        ack()
        seen.append({"kind": "view", "body": body, "view": view})

    return app


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    slack = FakeSlack()
    slack.add_user("UALICE", "alice")
    slack.add_user("UBOB", "bob")
    slack.add_channel(CHANNEL, "privacy-requests", members=["UALICE", "UBOB"])
    seen: list[dict[str, Any]] = []
    with serve(create_app(slack)) as slack_url:
        # App() calls auth.test at construction, so the stand-in must already be up.
        app = _build_app(WebClient(token=slack.bot_token, base_url=slack_url + "/api/"), seen)
        server = make_server(
            "127.0.0.1",
            0,
            SlackRequestHandler(app),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            delivery = SlackDelivery(
                app_url=f"http://127.0.0.1:{server.server_address[1]}",
                signing_secret=SECRET,
                slack=slack,
                slack_url=slack_url,
            )
            yield Harness(slack, delivery, seen)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


def test_app_construction_called_auth_test(harness: Harness) -> None:
    assert [c.method for c in harness.slack.calls()] == ["auth.test"]


def test_slash_command_is_acked_and_respond_lands_in_the_stand_in(harness: Harness) -> None:
    delivered = harness.delivery.slash(user_id="UALICE", channel_id=CHANNEL, text="status PURGE-1")
    assert (delivered.status, delivered.body) == (200, "got: status PURGE-1")
    assert delivered.content_type.startswith("text/plain")
    assert delivered.elapsed < 3
    harness.wait_seen(1)
    command = harness.seen[0]
    assert (command["user_id"], command["user_name"], command["channel_name"]) == (
        "UALICE",
        "alice",
        "privacy-requests",
    )
    assert command["response_url"] == delivered.response_url
    assert command["trigger_id"] == delivered.trigger_id
    harness.slack.wait_for(lambda s: bool(s.ephemerals("UALICE")))
    [response] = harness.slack.responses()
    assert (response.user, response.channel, response.payload["text"]) == (
        "UALICE",
        CHANNEL,
        "working on status PURGE-1",
    )
    assert [e.text for e in SlackUser(harness.delivery, "UALICE").ephemerals()] == ["working on status PURGE-1"]


def test_slash_body_has_the_fields_slack_sends(harness: Harness) -> None:
    delivered = harness.delivery.slash(user_id="UBOB", channel_id=CHANNEL, text="list")
    fields = {k: v[0] for k, v in parse_qs(delivered.request_body, keep_blank_values=True).items()}
    assert set(fields) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert fields["command"] == "/purge" and fields["team_id"] == "T0SANDBOX"
    assert delivered.trigger_id is not None
    assert [len(part) > 0 for part in delivered.trigger_id.split(".")] == [True, True, True]
    assert delivered.trigger_id.split(".")[0].isdigit() and delivered.trigger_id.split(".")[1].isdigit()
    int(delivered.trigger_id.split(".")[2], 16)
    again = harness.delivery.slash(user_id="UBOB", channel_id=CHANNEL, text="list")
    assert again.trigger_id != delivered.trigger_id and again.response_url != delivered.response_url


def test_click_reaches_the_action_listener_and_replaces_the_message(harness: Harness) -> None:
    client = WebClient(token=harness.slack.bot_token, base_url=harness.delivery.slack_url + "/api/")
    root = client.chat_postMessage(channel=CHANNEL, text="PURGE-1 filed")["ts"]
    buttons = client.chat_postMessage(
        channel=CHANNEL,
        thread_ts=root,
        text="Approve PURGE-1?",
        blocks=[
            {
                "type": "actions",
                "block_id": "decide_v1",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "purge_approve",
                        "value": "PURGE-1",
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        ],
    )["ts"]
    message = harness.slack.message(CHANNEL, buttons)
    delivered = SlackUser(harness.delivery, "UBOB").click(message, "Approve")
    assert (delivered.status, delivered.body) == (200, "")
    harness.wait_seen(1)
    body, action = harness.seen[0]["body"], harness.seen[0]["action"]
    assert body["user"]["id"] == "UBOB" and body["user"]["name"] == "bob"
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "purge_approve",
        "PURGE-1",
        "decide_v1",
    )
    assert body["container"] == {
        "type": "message",
        "message_ts": buttons,
        "channel_id": CHANNEL,
        "is_ephemeral": False,
        "thread_ts": root,
    }
    assert body["message"]["ts"] == buttons and body["message"]["thread_ts"] == root
    assert body["message"]["blocks"][0]["block_id"] == "decide_v1"
    assert body["channel"] == {"id": CHANNEL, "name": "privacy-requests"}
    harness.slack.wait_for(lambda s: s.message(CHANNEL, buttons).text == "Approved")


def test_click_with_forged_value_and_explicit_action_ts(harness: Harness) -> None:
    posted = harness.slack.add_message(CHANNEL, user="UALICE", text="no buttons here")
    harness.delivery.click(
        user_id="UALICE",
        channel_id=CHANNEL,
        message_ts=posted.ts,
        action_id="purge_approve",
        value="PURGE-999",
        action_ts="1700000000.000001",
    )
    harness.wait_seen(1)
    assert harness.seen[0]["action"]["value"] == "PURGE-999"
    assert harness.seen[0]["action"]["action_ts"] == "1700000000.000001"
    with pytest.raises(LookupError):
        harness.delivery.click(user_id="UALICE", channel_id=CHANNEL, message_ts="1.000001", action_id="a", value="v")
    with pytest.raises(LookupError, match=r"has no button 'Approve'; it has \[\]"):
        SlackUser(harness.delivery, "UBOB").click(harness.slack.message(CHANNEL, posted.ts), "Approve")


def test_modal_round_trip_and_trigger_replay(harness: Harness) -> None:
    alice = SlackUser(harness.delivery, "UALICE")
    opened = alice.slash("form", channel_id=CHANNEL)
    assert (opened.status, opened.body) == (200, "")
    harness.slack.wait_for(lambda s: bool(s.views("UALICE")))
    [view] = harness.slack.views("UALICE")
    assert view.trigger_id == opened.trigger_id

    refused = alice.submit(view, {"reason": {"value": ""}})
    assert refused.json() == {"response_action": "errors", "errors": {"reason": "A reason is required"}}
    accepted = alice.submit(view, {"reason": {"value": "DSR-1042"}})
    assert (accepted.status, accepted.body) == (200, "")
    harness.wait_seen(1)
    submitted = harness.seen[0]
    assert submitted["body"]["user"]["id"] == "UALICE"
    assert submitted["view"]["private_metadata"] == CHANNEL
    assert submitted["view"]["id"] == view.id
    assert submitted["view"]["state"]["values"] == {
        "reason": {"value": {"type": "plain_text_input", "value": "DSR-1042"}},
        "ticket": {"value": {"type": "plain_text_input", "value": None}},
    }
    with pytest.raises(ValueError, match="no input block 'reasn'"):
        alice.submit(view, {"reasn": {"value": "typo"}})

    # Slack never re-delivers a trigger; a replayed payload carries a spent one.
    replayed = harness.delivery.replay(opened)
    assert (replayed.status, replayed.trigger_id) == (200, opened.trigger_id)
    harness.wait_seen(2)
    assert harness.seen[1] == {"kind": "views_open_failed", "error": "exchanged_trigger_id"}
    assert len(harness.slack.views()) == 1


def test_submit_view_accepts_what_views_open_received(harness: Harness) -> None:
    SlackUser(harness.delivery, "UBOB").slash("form", channel_id=CHANNEL)
    harness.slack.wait_for(lambda s: bool(s.calls("views.open")))
    raw = harness.slack.calls("views.open")[0].params["view"]
    delivered = harness.delivery.submit_view(user_id="UBOB", view=raw, values={"reason": {"value": "why"}})
    assert delivered.status == 200
    harness.wait_seen(1)
    assert harness.seen[0]["view"]["id"] == harness.slack.views("UBOB")[0].id


def test_forged_and_stale_signatures_are_refused(harness: Harness) -> None:
    body = harness.delivery.slash(user_id="UALICE", channel_id=CHANNEL, text="help").request_body
    harness.wait_seen(1)
    forged = harness.delivery.signed_headers(body) | {"X-Slack-Signature": "v0=" + "0" * 64}
    refused = harness.delivery.post_raw(body, headers=forged)
    assert (refused.status, json.loads(refused.body)) == (401, {"error": "invalid request"})
    stale = harness.delivery.post_raw(
        body, headers=harness.delivery.signed_headers(body, timestamp=int(time.time()) - 301)
    )
    assert stale.status == 401
    tampered = harness.delivery.post_raw(
        body.replace("text=help", "text=cancel"), headers=harness.delivery.signed_headers(body)
    )
    assert tampered.status == 401
    assert len(harness.seen) == 1
    fresh = harness.delivery.post_raw(body, headers=harness.delivery.signed_headers(body))
    assert (fresh.status, fresh.body) == (200, "got: help")


def test_a_choice_is_delivered_only_where_slack_would_send_one(harness: Harness) -> None:
    """Slack sends block_actions from an input block only with dispatch_action, and only for an offered option."""
    radio = {
        "type": "radio_buttons",
        "action_id": "kind",
        "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}],
    }
    blocks = [
        {"type": "input", "block_id": "quiet", "label": {"type": "plain_text", "text": "Q"}, "element": radio},
        {
            "type": "input",
            "block_id": "kind",
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "K"},
            "element": radio,
        },
    ]
    view = View("V1", "UALICE", {"id": "V1", "type": "modal", "blocks": blocks, "hash": "1.a"})
    alice = SlackUser(harness.delivery, "UALICE")

    with pytest.raises(LookupError, match="does not dispatch"):
        alice.choose(view, "quiet", "a")
    with pytest.raises(LookupError, match="no option 'b'"):
        alice.choose(view, "kind", "b")
    with pytest.raises(LookupError, match="no input block 'missing'"):
        alice.choose(view, "missing", "a")
    assert harness.seen == []
