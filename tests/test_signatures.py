"""Request signatures over real HTTP: anything Slack did not sign, or signed too long ago, is a 401 and does nothing."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest
from e2e import request_message

from bot.sandbox.slack_user import SlackDelivery
from bot.sandbox.world import ALICE, REQUESTS_CHANNEL, SIGNING_SECRET, World

Headers = dict[str, str]
STALE = 6 * 60  # Slack's window is five minutes either way


def slash_body(text: str, trigger_id: str) -> str:
    """A `/purge` slash command as Slack form-encodes it."""
    return urlencode(
        {
            "token": "sandbox-verification-token",
            "team_id": "T0SANDBOX",
            "team_domain": "sandbox",
            "channel_id": REQUESTS_CHANNEL,
            "channel_name": "privacy-requests",
            "user_id": ALICE,
            "user_name": "alice",
            "command": "/purge",
            "text": text,
            "api_app_id": "A0PURGEBOT",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0SANDBOX/1/forged",
            "trigger_id": trigger_id,
        }
    )


def sign(raw: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's scheme over raw bytes: v0= HMAC-SHA256(secret, b"v0:" + ts + b":" + body)."""
    base = b"v0:" + timestamp.encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def form_headers(timestamp: str | None, signature: str | None) -> Headers:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return headers


def now() -> int:
    return int(time.time())


# Each case turns (body, delivery) into (raw bytes to send, headers).
Case = Callable[[str, SlackDelivery], tuple[bytes, Headers]]


def forged_signature(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    headers = delivery.signed_headers(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    return body.encode(), headers


def wrong_secret(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    ts = str(now())
    return body.encode(), form_headers(ts, sign(body.encode(), ts, secret="not-the-signing-secret"))


def other_body(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    """Signed for one body, sent with another (the text changed in transit)."""
    headers = delivery.signed_headers(body)
    return body.replace("DSR-1042", "DSR-9999").encode(), headers


def other_scheme(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    headers = delivery.signed_headers(body)
    headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=")
    return body.encode(), headers


def stale(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    return body.encode(), delivery.signed_headers(body, timestamp=now() - STALE)


def future(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    return body.encode(), delivery.signed_headers(body, timestamp=now() + STALE)


def far_future(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    ts = "9" * 30
    return body.encode(), form_headers(ts, sign(body.encode(), ts))


def no_signature(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    headers = delivery.signed_headers(body)
    del headers["X-Slack-Signature"]
    return body.encode(), headers


def empty_signature(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    headers = delivery.signed_headers(body)
    headers["X-Slack-Signature"] = ""
    return body.encode(), headers


def no_timestamp(body: str, delivery: SlackDelivery) -> tuple[bytes, Headers]:
    headers = delivery.signed_headers(body)
    del headers["X-Slack-Request-Timestamp"]
    return body.encode(), headers


def empty_timestamp(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    return body.encode(), form_headers("", sign(body.encode(), ""))


def text_timestamp(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    return body.encode(), form_headers("yesterday", sign(body.encode(), "yesterday"))


def negative_timestamp(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    ts = str(-now())
    return body.encode(), form_headers(ts, sign(body.encode(), ts))


def fractional_timestamp(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    ts = f"{now()}.5"
    return body.encode(), form_headers(ts, sign(body.encode(), ts))


def not_utf8(body: str, _: SlackDelivery) -> tuple[bytes, Headers]:
    """Correctly signed, but the bytes are Latin-1: Slack never sends that."""
    raw = body.replace("DSR-1042", "DSR-1042 caf\xe9").encode("latin-1")
    ts = str(now())
    return raw, form_headers(ts, sign(raw, ts))


CASES: list[Case] = [
    forged_signature,
    wrong_secret,
    other_body,
    other_scheme,
    stale,
    future,
    far_future,
    no_signature,
    empty_signature,
    no_timestamp,
    empty_timestamp,
    text_timestamp,
    negative_timestamp,
    fractional_timestamp,
    not_utf8,
]


def count(world: World, table: str) -> int:
    assert world.bot is not None
    return int(world.bot.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_an_unsigned_or_stale_request_is_401_and_does_nothing(world: World, case: Case) -> None:
    project = world.langsmith.add_project("prod-chat")
    forged_ids = world.langsmith.add_traces(project, 2)
    control_ids = world.langsmith.add_traces(project, 2)
    body = slash_body(f'traces prod-chat {" ".join(forged_ids)} --reason "DSR-1042"', trigger_id="111.222.forged")
    raw, headers = case(body, world.delivery)
    slack_before = len(world.slack.calls())
    langsmith_before = len(world.langsmith.calls)

    answer = world.delivery.post_raw(raw, headers=headers)

    assert answer.status == 401, (answer.status, answer.body)
    assert count(world, "requests") == 0
    assert count(world, "interactions") == 0
    assert count(world, "events") == 0
    assert len(world.slack.calls()) == slack_before
    assert len(world.langsmith.calls) == langsmith_before

    # The control: the same kind of command, properly signed, does file a request. Once its preview
    # is posted, anything the forged one had set off would have shown too.
    control = slash_body(f'traces prod-chat {" ".join(control_ids)} --reason "DSR-1042"', trigger_id="333.444.real")
    assert world.delivery.post_raw(control, headers=world.delivery.signed_headers(control)).status == 200
    request_message(world, 1)
    assert count(world, "requests") == 1
    assert count(world, "interactions") == 1
    seen = repr([c.body for c in world.langsmith.calls]) + repr([c.params for c in world.slack.calls()])
    assert control_ids[0] in seen
    assert not any(trace in seen for trace in forged_ids)


def test_a_correct_signature_at_the_edge_of_the_window_is_accepted(world: World) -> None:
    """The control for ``stale`` and ``future``: four minutes either way is still inside Slack's window."""
    for offset in (-4 * 60, 4 * 60):
        body = slash_body("help", trigger_id=f"555.{offset}.edge")
        answer = world.delivery.post_raw(body, headers=world.delivery.signed_headers(body, timestamp=now() + offset))
        assert answer.status == 200, answer.body


def test_healthz_answers_200(world: World) -> None:
    response = httpx.get(world.app_url.rstrip("/") + "/healthz", timeout=5)

    assert response.status_code == 200


def test_get_on_the_events_url_is_not_a_server_error(world: World) -> None:
    response = httpx.get(world.delivery.events_url, timeout=5)

    assert response.status_code == 405


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_a_mebibyte_is_413_before_it_is_read_and_does_nothing(world: World, declared: bool) -> None:
    calls_before = len(world.slack.calls())
    langsmith_before = [c for c in world.langsmith.calls if "/info" not in c.path]
    filler = "x" * (1024 * 1024)
    body = slash_body(f"traces prod-chat {filler} --reason x", trigger_id="555.big")
    headers = world.delivery.signed_headers(body, timestamp=now())  # even a valid signature does not help
    if declared:
        response = httpx.post(world.delivery.events_url, content=body.encode(), headers=headers, timeout=10)
    else:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        response = httpx.post(world.delivery.events_url, content=iter([body.encode()]), headers=headers, timeout=10)
    assert response.status_code == 413
    assert len(world.slack.calls()) == calls_before
    assert [c for c in world.langsmith.calls if "/info" not in c.path] == langsmith_before
    small = slash_body("help", trigger_id="555.small")
    assert world.delivery.post_raw(small, headers=world.delivery.signed_headers(small, timestamp=now())).status == 200
