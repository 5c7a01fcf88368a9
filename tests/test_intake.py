"""The intake API over real HTTP: Ketch's dsr/v1 forwarder and purgebot's own requests API, with the
status events flowing back to a local stand-in of Ketch's callback endpoint."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import FAST
from e2e import jump_to_next_check, request_message, wait_state

from bot import report
from bot.clock import SandboxClock
from bot.sandbox.ketch import FakeKetch
from bot.sandbox.ketch import create_app as ketch_app
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.serving import serve
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from bot.schedule import first_check_at
from storage import intake, requests

TOKEN = "intake-token-0123456789abcdef"
KEY = "B3rATxNY1Ly_SEcx-zeIfXi_PcOXBlcKe4cDR2uQODY="  # PURGEBOT_INTAKE_KEY: seals the callback targets
CALLBACK_AUTH = "Bearer ketch-callback-credential"
INTAKE: dict[str, Any] = {
    "purgebot_intake_token": TOKEN,
    "purgebot_intake_key": KEY,
    "purgebot_intake_channel": REQUESTS_CHANNEL,
    "purgebot_identity_map": "email=email,userId=user_id",
}
TUNING = dataclasses.replace(FAST, callback_backoff=0.02, callback_max_backoff=0.2)


@pytest.fixture
def ketch() -> Iterator[tuple[FakeKetch, str]]:
    fake = FakeKetch()
    with serve(ketch_app(fake)) as url:
        yield fake, url + "/callback"


@pytest.fixture
def intake_world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=TUNING, **INTAKE) as running:
        running.langsmith.add_traces(running.langsmith.add_project("prod-chat"), 5, metadata={"user_id": "123"})
        yield running


def delete_request(
    callback: str, *, uid: str | None = None, space: str = "userId", value: str = "123"
) -> dict[str, Any]:
    return {
        "apiVersion": "dsr/v1",
        "kind": "DeleteRequest",
        "metadata": {"uid": uid or str(uuid.uuid4()), "tenant": "axonic"},
        "request": {
            "property": "axonic.io",
            "environment": "production",
            "regulation": "gdpr",
            "jurisdiction": "eugdpr",
            "identities": [{"identitySpace": space, "identityFormat": "raw", "identityValue": value}],
            "callbacks": [{"url": callback, "headers": {"Authorization": CALLBACK_AUTH}}],
            "subject": {"email": "ada@example.com", "firstName": "Ada"},
            "submittedTimestamp": int(datetime.now(UTC).timestamp()),
            "dueTimestamp": int((datetime.now(UTC) + timedelta(days=30)).timestamp()),
        },
    }


def post(world: World, path: str, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(world.app_url + path, json=body, headers=headers, timeout=10.0)


def request_count(world: World) -> int:
    assert world.bot is not None
    return len(requests.list_requests(world.bot.store.db, states=None, limit=100))


def test_a_delete_request_is_filed_approved_purged_and_reported_completed(
    intake_world: World, ketch: tuple[FakeKetch, str], clock: SandboxClock
) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.people is not None and world.bot is not None
    body = delete_request(callback)

    answer = post(world, "/intake/ketch", body)

    assert answer.status_code == 200, answer.text
    reply = answer.json()
    assert reply["kind"] == "DeleteResponse" and reply["metadata"] == body["metadata"]
    assert reply["response"]["status"] == "pending"
    expected = first_check_at(clock.now(), world.settings.purgebot_verify_at, world.settings.purgebot_timezone)
    assert abs(reply["response"]["expectedCompletionTimestamp"] - (expected + timedelta(days=1)).timestamp()) < 5
    root = request_message(world)
    shown = root.render()
    assert "filed by Ketch (privacy platform)" in shown and "•••23" in shown
    assert "`123`" not in shown and "ada@example.com" not in shown
    stored = requests.get(world.bot.store.db, 1)
    assert stored.due_date == datetime.fromtimestamp(body["request"]["dueTimestamp"], UTC).date().isoformat()

    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    fake.wait_for(lambda k: "in_progress" in k.statuses())
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    fake.wait_for(lambda k: k.statuses()[-1:] == ["completed"])

    statuses = fake.statuses()
    assert statuses[0] == "in_progress" and statuses[-1] == "completed" and statuses.count("completed") == 1
    assert set(statuses[:-1]) == {"in_progress"} and len(statuses) >= 3  # approval, then at least the check
    assert fake.received[-1].body["event"]["reason"] == "executed"
    assert all(attempt.accepted for attempt in fake.attempts)  # each event followed dsr/v1 to the letter
    for delivery in fake.received:
        assert delivery.authorization == CALLBACK_AUTH
        assert delivery.body["kind"] == "DeleteStatusEvent" and delivery.body["metadata"] == body["metadata"]
        assert "123" not in str(delivery.body["event"])
    status = httpx.get(
        world.app_url + "/intake/requests/purge-1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10.0
    )
    assert status.status_code == 200 and status.json()["state"] == "verified" and "123" not in status.text
    assert world.bot.store.db.execute("SELECT headers, sealed FROM intake_callbacks").fetchall() == [("{}", "")]
    page = report.markdown(report.build(world.bot.store.db, 1, now=clock.now()), ZoneInfo("UTC"))
    assert "| Requested by | Ketch (privacy platform) (platform:ketch)," in page


def test_a_rejected_request_is_reported_denied_once(intake_world: World, ketch: tuple[FakeKetch, str]) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.people is not None and world.bot is not None
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    root = request_message(world)

    world.people.dave.click(root, "Reject")  # any approver may decide: the requester is the platform
    wait_state(world, "rejected")
    fake.wait_for(lambda k: k.statuses() == ["denied"])

    assert fake.received[0].body["event"]["reason"] == "unknown"  # dsr/v1 has no reason for a rejection
    world.bot.wake()
    world.settle(lambda db: intake.pending_count(db) == 0)
    assert fake.statuses() == ["denied"]


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef", TOKEN[:-1]])
def test_a_wrong_or_missing_token_is_401_and_records_nothing(
    intake_world: World, ketch: tuple[FakeKetch, str], token: str | None
) -> None:
    answer = post(intake_world, "/intake/ketch", delete_request(ketch[1]), token=token)
    assert answer.status_code == 401 and TOKEN not in answer.text
    assert post(intake_world, "/intake/requests", {"kind": "metadata"}, token=token).status_code == 401
    assert request_count(intake_world) == 0


def test_without_a_token_setting_the_intake_api_does_not_exist(tmp_path: Path, clock: SandboxClock) -> None:
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=TUNING) as world:
        assert post(world, "/intake/ketch", delete_request("http://127.0.0.1:9/cb")).status_code == 404
        assert httpx.get(world.app_url + "/intake/requests/PURGE-1", timeout=10.0).status_code == 404


def test_an_unmapped_identity_is_denied_and_files_nothing(intake_world: World, ketch: tuple[FakeKetch, str]) -> None:
    answer = post(intake_world, "/intake/ketch", delete_request(ketch[1], space="phone", value="+4930123"))

    assert answer.status_code == 200
    assert answer.json()["response"] == {"status": "denied", "reason": "no_match"}  # dsr/v1's enum, not prose
    assert "+4930123" not in answer.text
    assert request_count(intake_world) == 0
    assert not intake_world.slack.messages(REQUESTS_CHANNEL)


def test_a_replayed_uid_gets_the_first_answer_and_files_nothing_new(
    intake_world: World, ketch: tuple[FakeKetch, str]
) -> None:
    body = delete_request(ketch[1])
    first = post(intake_world, "/intake/ketch", body)
    again = post(intake_world, "/intake/ketch", body)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert request_count(intake_world) == 1


def test_a_body_over_one_mebibyte_is_413(intake_world: World) -> None:
    answer = httpx.post(
        intake_world.app_url + "/intake/ketch",
        content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=10.0,
    )
    assert answer.status_code == 413
    assert request_count(intake_world) == 0


def test_statuses_wait_out_an_outage_and_arrive_in_order_once_each(
    intake_world: World, ketch: tuple[FakeKetch, str], clock: SandboxClock
) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.people is not None and world.bot is not None
    fake.down = True
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    fake.wait_for(lambda k: len(k.attempts) >= 3)

    said = world.bot.status_board.status(1, world.people.bob.user_id).text
    assert "status for the privacy platform is not delivered: the endpoint answered HTTP 503" in said

    fake.down = False
    fake.wait_for(lambda k: k.statuses()[-1:] == ["completed"])
    world.settle(lambda db: intake.pending_count(db) == 0)
    statuses = fake.statuses()
    assert statuses[0] == "in_progress" and statuses[-1] == "completed"
    assert set(statuses[:-1]) == {"in_progress"}
    sent = world.bot.store.db.execute("SELECT count(*) FROM callbacks WHERE state = 'sent'").fetchone()[0]
    assert len(statuses) == sent  # each row arrived exactly once
    assert "not delivered" not in world.bot.status_board.status(1, world.people.bob.user_id).text


def test_the_requests_api_files_by_the_grammar_rules_and_answers_without_values(intake_world: World) -> None:
    world = intake_world
    refused = post(world, "/intake/requests", {"kind": "metadata", "pairs": {"user id": "123"}, "reason": "DSR-9"})
    assert refused.status_code == 400 and "key" in refused.json()["error"]
    no_reason = post(world, "/intake/requests", {"kind": "metadata", "pairs": {"user_id": "123"}})
    assert no_reason.status_code == 400
    assert request_count(world) == 0

    filed = post(
        world,
        "/intake/requests",
        {"kind": "metadata", "pairs": {"user_id": "123"}, "reason": "DSR-9", "ticket": "DSR-9", "due": None},
    )

    assert filed.status_code == 201 and filed.json() == {"id": "PURGE-1"}
    request_message(world)
    described = httpx.get(
        world.app_url + "/intake/requests/PURGE-1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10.0
    )
    assert described.status_code == 200
    found = described.json()
    assert found["id"] == "PURGE-1" and found["state"] == "awaiting_approval" and "123" not in described.text
    assert found["counts"]["traces"] == 5


def test_no_subject_value_reaches_logs_answers_or_status_events(
    intake_world: World, ketch: tuple[FakeKetch, str], caplog: pytest.LogCaptureFixture
) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.people is not None
    secret = "ada.lovelace-7f3c@example.com"
    caplog.set_level(logging.DEBUG)

    filed = post(world, "/intake/ketch", delete_request(callback, space="email", value=secret))
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "submitted")
    fake.wait_for(lambda k: "in_progress" in k.statuses())
    described = httpx.get(
        world.app_url + "/intake/requests/PURGE-1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10.0
    )
    refused = post(world, "/intake/requests", {"kind": "metadata", "pairs": {"email": "ada\\secret-77"}, "reason": "x"})

    assert filed.status_code == 200 and described.status_code == 200 and refused.status_code == 400
    assert "7f3c" not in filed.text + described.text + str([d.body for d in fake.attempts])
    assert "secret" not in refused.text and "cannot be searched" in refused.text
    # purgebot's own logs and the server's (the HTTP client libraries are held at warning by bot.logs):
    ours = " ".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if record.name.split(".")[0] in ("bot", "storage", "handlers", "purgebot", "uvicorn", "starlette")
    )
    assert ours and "7f3c" not in ours and "secret-77" not in ours and TOKEN not in ours


def test_a_request_nobody_approves_in_time_is_reported_denied(
    intake_world: World, ketch: tuple[FakeKetch, str], clock: SandboxClock
) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.bot is not None
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    request_message(world)

    clock.jump_to(clock.now() + timedelta(days=world.settings.purgebot_approval_ttl_days, minutes=1))
    world.bot.wake()
    wait_state(world, "expired")
    fake.wait_for(lambda k: k.statuses() == ["denied"])

    assert fake.received[0].body["event"]["reason"] == "unknown"


def test_a_refused_status_is_not_retried_and_status_shows_it(intake_world: World, ketch: tuple[FakeKetch, str]) -> None:
    world, (fake, callback) = intake_world, ketch
    assert world.people is not None and world.bot is not None
    fake.refuse_with = 401
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    world.people.dave.click(request_message(world), "Reject")
    wait_state(world, "rejected")
    world.settle(lambda db: intake.pending_count(db) == 0 and not intake.has_news(db))

    assert len(fake.attempts) == 1
    said = world.bot.status_board.status(1, world.people.bob.user_id).text
    assert "A `denied` status for the privacy platform is not delivered: the endpoint answered HTTP 401" in said
    assert world.bot.store.db.execute("SELECT headers, sealed FROM intake_callbacks").fetchall() == [("{}", "")]


def test_a_subject_request_from_ketch_covers_every_workspace(
    tmp_path: Path, clock: SandboxClock, ketch: tuple[FakeKetch, str]
) -> None:
    fakes = {"prod-us": FakeLangSmith(api_key="key-us"), "prod-eu": FakeLangSmith(api_key="key-eu")}
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=TUNING, workspaces=fakes, **INTAKE) as world:
        assert world.bot is not None
        assert post(world, "/intake/ketch", delete_request(ketch[1])).status_code == 200
        request_message(world)
        assert requests.get(world.bot.store.db, 1).workspace_names == ["prod-us", "prod-eu"]
