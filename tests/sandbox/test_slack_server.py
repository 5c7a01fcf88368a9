"""The Slack Web API stand-in, driven through the real slack_sdk WebClient over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.sandbox.serving import serve
from bot.sandbox.slack_blocks import render_blocks
from bot.sandbox.slack_records import Event
from bot.sandbox.slack_server import FakeSlack, create_app
from bot.slack_scopes import NEEDED_SCOPES

REQUESTS = "CREQ"
NOTIFY = "CNOTIFY"


def _buttons(*labels: str, block_id: str = "decide_v1") -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": f"purge_{label.lower()}",
                "value": "PURGE-1",
                "text": _plain(label),
            }
            for label in labels
        ],
    }


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.fixture
def slack() -> FakeSlack:
    state = FakeSlack()
    state.add_user("UALICE", "alice", real_name="Alice Requester")
    state.add_user("UBOB", "bob")
    state.add_user("UGONE", "gone", deleted=True)
    state.add_channel(REQUESTS, "privacy-requests", members=["UALICE", "UBOB"])
    state.add_channel(NOTIFY, "compliance", members=["UBOB"])
    state.add_channel("COUTSIDE", "random", members=["UALICE"], bot_member=False)
    state.add_channel("COLD", "old-requests", archived=True)
    state.add_channel("GSECRET", "secret", private=True, bot_member=False)
    state.add_usergroup("SAPPROVERS", "purge-approvers", ["UBOB", "UCAROL"])
    return state


@pytest.fixture
def url(slack: FakeSlack) -> Iterator[str]:
    with serve(create_app(slack)) as base:
        yield base


@pytest.fixture
def client(url: str, slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=url + "/api/")


def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_auth_test_names_the_bot(client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "U0PURGEBOT"
    assert answer["bot_id"] == "B0PURGEBOT"
    assert answer["team_id"] == "T0SANDBOX"
    assert answer["url"] == "https://sandbox.slack.com/"


def test_every_answer_to_the_bot_token_names_its_scopes(client: WebClient, slack: FakeSlack) -> None:
    """Real Slack sends the token's scopes in ``x-oauth-scopes``; ``purgebot doctor`` reads them there."""
    granted = client.auth_test().headers["x-oauth-scopes"]
    assert set(granted.split(",")) == NEEDED_SCOPES

    slack.scopes = NEEDED_SCOPES - {"usergroups:read", "groups:read"}
    assert "usergroups:read" not in client.auth_test().headers["x-oauth-scopes"].split(",")
    with pytest.raises(SlackApiError) as refused:
        client.usergroups_users_list(usergroup="SAPPROVERS")
    assert (refused.value.response["error"], refused.value.response["needed"]) == ("missing_scope", "usergroups:read")
    assert client.conversations_info(channel=NOTIFY)["ok"]  # a public channel needs channels:read only
    slack.add_channel("GPRIVATE", "private", private=True)
    assert _error(lambda: client.conversations_info(channel="GPRIVATE")) == "missing_scope"


def test_post_reply_update_and_read_back_with_metadata(client: WebClient, slack: FakeSlack) -> None:
    root = client.chat_postMessage(
        channel=REQUESTS,
        text="PURGE-1 filed",
        blocks=[_section("*PURGE-1* filed by <@UALICE>")],
        metadata={"event_type": "purge_outbox", "event_payload": {"outbox_id": 7}},
    )
    assert root["channel"] == REQUESTS
    assert root["message"]["metadata"]["event_payload"] == {"outbox_id": 7}
    reply = client.chat_postMessage(
        channel=REQUESTS, thread_ts=root["ts"], text="Approve?", blocks=[_buttons("Approve", "Reject")]
    )
    assert float(reply["ts"]) > float(root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"]

    updated = client.chat_update(channel=REQUESTS, ts=reply["ts"], text="Approved by bob", blocks=[])
    assert updated["text"] == "Approved by bob"
    [_, stored] = slack.thread(REQUESTS, root["ts"])
    assert stored.text == "Approved by bob" and stored.blocks == []
    assert [v.text for v in stored.history] == ["Approve?"]
    assert stored.history[0].blocks[0]["block_id"] == "decide_v1"

    with_metadata = client.conversations_replies(channel=REQUESTS, ts=root["ts"], include_all_metadata=True)
    parent, child = with_metadata["messages"]
    assert parent["metadata"] == {"event_type": "purge_outbox", "event_payload": {"outbox_id": 7}}
    assert parent["reply_count"] == 1 and parent["thread_ts"] == root["ts"]
    assert child["edited"]["user"] == "U0PURGEBOT"
    plain = client.conversations_replies(channel=REQUESTS, ts=reply["ts"])
    assert [m["ts"] for m in plain["messages"]] == [root["ts"], reply["ts"]]
    assert "metadata" not in plain["messages"][0]

    permalink = client.chat_getPermalink(channel=REQUESTS, message_ts=reply["ts"])["permalink"]
    assert permalink == (
        f"https://sandbox.slack.com/archives/{REQUESTS}/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={root['ts']}&cid={REQUESTS}"
    )


def test_update_keeps_what_it_is_not_given(client: WebClient, slack: FakeSlack) -> None:
    posted = client.chat_postMessage(
        channel=REQUESTS,
        text="t",
        blocks=[_section("s")],
        metadata={"event_type": "e", "event_payload": {"k": 1}},
    )
    client.chat_update(channel=REQUESTS, ts=posted["ts"], text="t2")
    message = slack.message(REQUESTS, posted["ts"])
    assert (message.text, render_blocks(message.blocks), message.metadata) == (
        "t2",
        "s",
        {"event_type": "e", "event_payload": {"k": 1}},
    )


def test_update_errors(client: WebClient, slack: FakeSlack) -> None:
    human = slack.add_message(REQUESTS, user="UALICE", text="hi")
    assert _error(lambda: client.chat_update(channel=REQUESTS, ts=human.ts, text="x")) == "cant_update_message"
    assert _error(lambda: client.chat_update(channel=REQUESTS, ts="1.000001", text="x")) == "message_not_found"
    assert _error(lambda: client.chat_update(channel="CNOPE", ts=human.ts, text="x")) == "channel_not_found"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "CNOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "GSECRET", "text": "x"}, "channel_not_found"),
        ({"channel": "COUTSIDE", "text": "x"}, "not_in_channel"),
        ({"channel": "COLD", "text": "x"}, "is_archived"),
        ({"channel": REQUESTS, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": REQUESTS}, "no_text"),
        ({"channel": REQUESTS, "blocks": [_section("x" * 3001)]}, "invalid_blocks"),
        ({"channel": REQUESTS, "blocks": [_buttons("A" * 76)]}, "invalid_blocks"),
        ({"channel": REQUESTS, "blocks": [_section("x")] * 51}, "invalid_blocks"),
        ({"channel": REQUESTS, "blocks": [_buttons(*(f"B{i}" for i in range(26)))]}, "invalid_blocks"),
        ({"channel": REQUESTS, "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        ({"channel": REQUESTS, "text": "x", "metadata": {"event_type": "e"}}, "invalid_metadata_format"),
    ],
)
def test_post_message_errors(client: WebClient, slack: FakeSlack, kwargs: dict[str, Any], error: str) -> None:
    # api_call, not chat_postMessage: slack_sdk warns (an error under pytest) when text is missing.
    assert _error(lambda: client.api_call("chat.postMessage", json=kwargs)) == error
    assert all(not slack.messages(c) for c in (REQUESTS, "COUTSIDE", "COLD"))


@pytest.mark.parametrize(
    ("field", "size"),
    [("action_id", 256), ("value", 2001)],
)
def test_button_field_limits(client: WebClient, field: str, size: int) -> None:
    button = {"type": "button", "text": _plain("Go"), "action_id": "go", "value": "v", field: "x" * size}
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=REQUESTS, text="x", blocks=[{"type": "actions", "elements": [button]}])
    assert raised.value.response["error"] == "invalid_blocks"
    assert raised.value.response["errors"] == [
        f"must be less than {size} characters [json-pointer:/blocks/0/elements/0/{field}]"
    ]


def test_unknown_thread_ts_is_accepted(client: WebClient, slack: FakeSlack) -> None:
    posted = client.chat_postMessage(channel=REQUESTS, text="orphan", thread_ts="1600000000.000001")
    assert slack.message(REQUESTS, posted["ts"]).thread_ts == "1600000000.000001"
    assert _error(lambda: client.conversations_replies(channel=REQUESTS, ts="1600000000.000001")) == (
        "thread_not_found"
    )


def test_ephemerals(client: WebClient, slack: FakeSlack) -> None:
    answer = client.chat_postEphemeral(channel=REQUESTS, user="UALICE", text="only you", thread_ts="1.2")
    [shown] = slack.ephemerals("UALICE")
    assert (shown.text, shown.thread_ts, shown.message_ts, shown.via) == (
        "only you",
        "1.2",
        answer["message_ts"],
        "chat.postEphemeral",
    )
    assert not slack.messages(REQUESTS)
    assert _error(lambda: client.chat_postEphemeral(channel=NOTIFY, user="UALICE", text="x")) == ("user_not_in_channel")
    assert _error(lambda: client.chat_postEphemeral(channel="CNOPE", user="UALICE", text="x")) == ("channel_not_found")
    assert _error(lambda: client.chat_postEphemeral(channel="COUTSIDE", user="UALICE", text="x")) == ("not_in_channel")
    assert _error(lambda: client.chat_update(channel=REQUESTS, ts=answer["message_ts"], text="x")) == (
        "message_not_found"
    )


def test_permalink_of_a_missing_message(client: WebClient) -> None:
    assert _error(lambda: client.chat_getPermalink(channel=REQUESTS, message_ts="1.000001")) == "message_not_found"


def test_auth_and_unknown_methods(url: str, slack: FakeSlack) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=url + "/api/")
    assert _error(wrong.auth_test) == "invalid_auth"
    assert _error(lambda: WebClient(token=slack.bot_token, base_url=url + "/api/").api_call("chat.nope")) == (
        "unknown_method"
    )
    missing = httpx.post(url + "/api/auth.test")
    assert (missing.status_code, missing.json()) == (200, {"ok": False, "error": "not_authed"})
    [*_, last] = slack.calls()
    assert last.method == "auth.test" and not last.auth_ok and last.error == "not_authed"


def test_query_string_and_form_token_are_accepted(url: str) -> None:
    by_query = httpx.get(url + "/api/users.info", params={"user": "UALICE", "token": "xoxb-sandbox"})
    assert by_query.json()["user"]["name"] == "alice"
    by_form = httpx.post(url + "/api/users.info", data={"user": "UBOB", "token": "xoxb-sandbox"})
    assert by_form.json()["user"]["name"] == "bob"


def test_injected_rate_limit_raises_429_with_retry_after(client: WebClient, slack: FakeSlack) -> None:
    slack.inject("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=REQUESTS, text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "7"
    assert not slack.messages(REQUESTS)
    assert client.chat_postMessage(channel=REQUESTS, text="x")["ok"]


def test_rate_limit_retry_handler_gets_through(url: str, slack: FakeSlack) -> None:
    client = WebClient(
        token=slack.bot_token,
        base_url=url + "/api/",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.inject("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel=REQUESTS, text="x")["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]
    assert len(slack.messages(REQUESTS)) == 1


def test_injected_error_and_server_error(client: WebClient, slack: FakeSlack) -> None:
    slack.inject("users.info", error="fatal_error", times=2)
    assert _error(lambda: client.users_info(user="UBOB")) == "fatal_error"
    assert _error(lambda: client.users_info(user="UBOB")) == "fatal_error"
    assert client.users_info(user="UBOB")["ok"]
    slack.inject("users.info", status=503)
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="UBOB")
    assert raised.value.response.status_code == 503


def test_slow_answer_still_posts(url: str, slack: FakeSlack) -> None:
    """A client that times out cannot tell whether Slack posted: the stand-in did (the outbox case)."""
    impatient = WebClient(token=slack.bot_token, base_url=url + "/api/", timeout=0.2, retry_handlers=[])  # type: ignore[arg-type]
    slack.inject("chat.postMessage", delay=0.6)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=REQUESTS, text="did it post?")
    assert [m.text for m in slack.messages(REQUESTS)] == ["did it post?"]


def test_enforced_post_rate_is_per_channel(url: str) -> None:
    strict = FakeSlack(enforce_post_rate=True)
    strict.add_channel("C1", "one")
    strict.add_channel("C2", "two")
    with serve(create_app(strict)) as base:
        client = WebClient(token=strict.bot_token, base_url=base + "/api/")
        client.chat_postMessage(channel="C1", text="a")
        client.chat_postMessage(channel="C2", text="b")
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C1", text="c")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"


def test_directory_lookups(client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup="SAPPROVERS")["users"] == ["UBOB", "UCAROL"]
    assert _error(lambda: client.usergroups_users_list(usergroup="SNOPE")) == "no_such_subteam"
    alice = client.users_info(user="UALICE")["user"]
    assert alice["real_name"] == "Alice Requester" and alice["profile"]["display_name"] == "alice"
    assert (alice["deleted"], alice["is_bot"], alice["is_restricted"]) == (False, False, False)
    assert client.users_info(user="UGONE")["user"]["deleted"] is True
    assert client.users_info(user="U0PURGEBOT")["user"]["is_bot"] is True
    assert _error(lambda: client.users_info(user="UNOPE")) == "user_not_found"
    channel = client.conversations_info(channel="COUTSIDE")["channel"]
    assert (channel["name"], channel["is_member"], channel["is_private"], channel["is_archived"]) == (
        "random",
        False,
        False,
        False,
    )
    assert client.conversations_info(channel="COLD")["channel"]["is_archived"] is True
    assert _error(lambda: client.conversations_info(channel="CNOPE")) == "channel_not_found"
    assert _error(lambda: client.conversations_info(channel="GSECRET")) == "channel_not_found"


def test_history_is_newest_first_and_pages(client: WebClient) -> None:
    first = client.chat_postMessage(channel=REQUESTS, text="one")["ts"]
    client.chat_postMessage(channel=REQUESTS, text="hidden reply", thread_ts=first)
    client.chat_postMessage(channel=REQUESTS, text="broadcast", thread_ts=first, reply_broadcast=True)
    client.chat_postMessage(
        channel=REQUESTS, text="two", metadata={"event_type": "purge_outbox", "event_payload": {"id": 2}}
    )
    page = client.conversations_history(channel=REQUESTS, limit=2, include_all_metadata=True)
    assert [m["text"] for m in page["messages"]] == ["two", "broadcast"]
    assert page["messages"][0]["metadata"]["event_payload"] == {"id": 2}
    assert page["messages"][1]["subtype"] == "thread_broadcast"
    assert page["has_more"] is True
    rest = client.conversations_history(channel=REQUESTS, limit=2, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["one"]
    assert rest["has_more"] is False
    assert _error(lambda: client.conversations_history(channel="COUTSIDE")) == "not_in_channel"


def test_history_needs_the_history_scope_of_the_channels_kind_and_metadata_needs_asking(
    client: WebClient, slack: FakeSlack
) -> None:
    client.chat_postMessage(channel=NOTIFY, text="verified", metadata={"event_type": "e", "event_payload": {"n": 1}})
    slack.add_channel("GPRIVATE", "private", private=True)

    plain = client.conversations_history(channel=NOTIFY)
    assert "metadata" not in plain["messages"][0]  # as Slack: only with include_all_metadata

    slack.scopes = slack.scopes - {"channels:history"}
    with pytest.raises(SlackApiError) as caught:
        client.conversations_history(channel=NOTIFY, include_all_metadata=True)
    assert caught.value.response["error"] == "missing_scope"
    assert caught.value.response["needed"] == "channels:history"
    assert "channels:history" not in caught.value.response["provided"].split(",")
    assert _error(lambda: client.conversations_replies(channel=NOTIFY, ts=plain["messages"][0]["ts"])) == (
        "missing_scope"
    )
    assert client.conversations_history(channel="GPRIVATE")["ok"]  # groups:history still covers private ones

    slack.scopes = slack.scopes - {"groups:history"}
    assert _error(lambda: client.conversations_history(channel="GPRIVATE")) == "missing_scope"


def test_views_open_trigger_rules_update_and_publish(client: WebClient, slack: FakeSlack) -> None:
    modal = {
        "type": "modal",
        "callback_id": "purge_form",
        "title": _plain("New purge"),
        "private_metadata": json.dumps({"channel": REQUESTS}),
        "blocks": [{"type": "input", "label": _plain("Reason"), "element": {"type": "plain_text_input"}}],
    }
    assert _error(lambda: client.views_open(trigger_id="1.2.unknown", view=modal)) == "expired_trigger_id"
    slack.register_trigger("1.2.abc", user_id="UALICE")
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["callback_id"] == "purge_form"
    assert opened["state"] == {"values": {}}
    assert opened["blocks"][0]["block_id"]
    assert _error(lambda: client.views_open(trigger_id="1.2.abc", view=modal)) == "exchanged_trigger_id"
    [view] = slack.views("UALICE")
    assert (view.id, view.private_metadata) == (opened["id"], json.dumps({"channel": REQUESTS}))

    assert _error(lambda: client.views_update(view_id=opened["id"], hash="stale", view=modal)) == "hash_conflict"
    changed = client.views_update(view_id=opened["id"], hash=opened["hash"], view={**modal, "title": _plain("Edit")})
    assert changed["view"]["title"]["text"] == "Edit"
    assert _error(lambda: client.views_update(view_id="VNOPE", view=modal)) == "not_found"

    home = client.views_publish(user_id="UBOB", view={"type": "home", "blocks": [_section("Pending: 0")]})
    assert slack.home("UBOB") is not None and home["view"]["type"] == "home"
    assert _error(lambda: client.views_publish(user_id="UNOPE", view={"type": "home", "blocks": []})) == (
        "user_not_found"
    )


def test_file_upload_round_trip(client: WebClient, slack: FakeSlack) -> None:
    root = client.chat_postMessage(channel=REQUESTS, text="PURGE-1")["ts"]
    answer = client.files_upload_v2(
        channel=REQUESTS,
        thread_ts=root,
        filename="PURGE-1-evidence.json",
        content=b'{"request": "PURGE-1"}',
        title="Evidence PURGE-1",
        initial_comment="Evidence report",
    )
    assert answer["file"]["title"] == "Evidence PURGE-1"
    [uploaded] = slack.uploaded_files()
    assert uploaded.id == answer["file"]["id"]
    assert uploaded.content == b'{"request": "PURGE-1"}'
    assert (uploaded.channel, uploaded.thread_ts, uploaded.initial_comment) == (
        REQUESTS,
        root,
        "Evidence report",
    )
    [_, shared] = slack.thread(REQUESTS, root)
    assert shared.text == "Evidence report" and shared.files[0]["name"] == "PURGE-1-evidence.json"
    assert shared.render() == "Evidence report\n[file: Evidence PURGE-1]"
    assert _error(lambda: client.files_completeUploadExternal(files=[{"id": "FNOPE"}], channel_id=REQUESTS)) == (
        "file_not_found"
    )


def test_response_url_semantics(url: str, slack: FakeSlack) -> None:
    posted = slack.add_message(REQUESTS, user="UALICE", text="placeholder")
    slack.register_response_url("r1", user_id="UALICE", channel_id=REQUESTS)
    slack.register_response_url("r2", user_id="UBOB", channel_id=REQUESTS, message_ts=posted.ts)

    def post(rid: str, payload: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{url}/response/{rid}", json=payload)

    assert post("r1", {"text": "just you"}).status_code == 200
    assert post("r1", {"text": "everyone", "response_type": "in_channel"}).status_code == 200
    assert [e.text for e in slack.ephemerals("UALICE")] == ["just you"]
    assert slack.ephemerals("UALICE")[0].via == "response_url"
    assert [m.text for m in slack.messages(REQUESTS)] == ["placeholder", "everyone"]
    for _ in range(3):
        assert post("r1", {"text": "again"}).status_code == 200
    sixth = post("r1", {"text": "too many"})
    assert (sixth.status_code, sixth.text) == (404, "used_url")
    assert [r.accepted for r in slack.responses()] == [True] * 5 + [False]
    assert post("unknown", {"text": "x"}).status_code == 404

    assert post("r2", {"text": "Approved", "replace_original": True}).status_code == 200
    assert slack.message(REQUESTS, posted.ts).text == "Approved"
    assert post("r2", {"delete_original": True}).status_code == 200
    assert posted.ts not in [m.ts for m in slack.messages(REQUESTS)]


def test_subscribers_see_every_visible_change(client: WebClient, slack: FakeSlack) -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a faulty listener must not break the API")

    slack.subscribe(broken)
    slack.subscribe(seen.append)
    ts = client.chat_postMessage(channel=REQUESTS, text="hello")["ts"]
    client.chat_update(channel=REQUESTS, ts=ts, text="hello again")
    client.chat_postEphemeral(channel=REQUESTS, user="UBOB", text="psst")
    slack.register_trigger("9.9.9", user_id="UBOB")
    client.views_open(trigger_id="9.9.9", view={"type": "modal", "title": _plain("T"), "blocks": []})
    assert [e.kind for e in seen] == ["message_posted", "message_updated", "ephemeral", "view_opened"]
    assert seen[0].message is not None and seen[0].message.text == "hello"
    assert seen[1].message is not None and seen[1].message.text == "hello again"
    assert seen[2].user == "UBOB" and seen[2].ephemeral is not None
    assert seen[3].view is not None and seen[3].user == "UBOB"


def test_wait_for_explains_a_timeout(client: WebClient, slack: FakeSlack) -> None:
    client.chat_postMessage(channel=REQUESTS, text="x")

    def two_messages(s: FakeSlack) -> bool:
        return len(s.messages(REQUESTS)) == 2

    with pytest.raises(
        TimeoutError, match=r"two_messages still false after 0.05s; 1 API calls \(last: chat.postMessage\)"
    ):
        slack.wait_for(two_messages, timeout=0.05)
    slack.wait_for(lambda s: len(s.messages(REQUESTS)) == 1)


def test_render_blocks() -> None:
    blocks = [
        {"type": "header", "text": _plain("PURGE-17")},
        _section("*Requested by* <@UALICE>"),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Traces:* 2,431"}, _plain("Due: 2026-08-01")],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "ticket DSR-1042"}, _plain("state: pending")],
        },
        _buttons("Approve", "Reject"),
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Approved by "},
                        {"type": "user", "user_id": "UBOB"},
                        {"type": "emoji", "name": "white_check_mark"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "bullet",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "a"}]},
                        {"type": "rich_text_section", "elements": [{"type": "link", "url": "https://x.y"}]},
                    ],
                },
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "id1\nid2"}]},
            ],
        },
    ]
    assert render_blocks(blocks) == "\n".join(
        [
            "# PURGE-17",
            "*Requested by* <@UALICE>",
            "*Traces:* 2,431",
            "Due: 2026-08-01",
            "---",
            "ticket DSR-1042 | state: pending",
            "[Approve] [Reject]",
            "Approved by <@UBOB>:white_check_mark:",
            "• a",
            "• https://x.y",
            "```",
            "id1",
            "id2",
            "```",
        ]
    )
