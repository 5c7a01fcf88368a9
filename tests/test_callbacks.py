"""Status callbacks and the platform's credential: it rests only sealed, an unopenable target waits
(nothing is lost), and targets an earlier version stored in the clear are sealed at start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from e2e import request_message, wait_state
from pydantic import SecretStr
from test_intake import CALLBACK_AUTH, INTAKE, KEY, TOKEN, TUNING, delete_request, post, request_count

from bot.clock import SandboxClock
from bot.sandbox.ketch import FakeKetch
from bot.sandbox.ketch import create_app as ketch_app
from bot.sandbox.serving import serve
from bot.sandbox.world import World, running_world
from bot.vault import CallbackTarget, Vault
from storage import intake

URL_SECRET = "url-secret-7f3a"


@pytest.fixture
def sealed_world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=TUNING, **INTAKE) as running:
        running.langsmith.add_traces(running.langsmith.add_project("prod-chat"), 3, metadata={"user_id": "123"})
        yield running


@pytest.fixture
def ketch() -> Iterator[tuple[FakeKetch, str]]:
    fake = FakeKetch()
    with serve(ketch_app(fake)) as url:
        yield fake, f"{url}/callback?token={URL_SECRET}"


def database_bytes(world: World) -> bytes:
    """The SQLite file and its WAL and shared-memory files, as a copy or a replica would hold them."""
    return b"".join(path.read_bytes() for path in world.db_path.parent.glob(world.db_path.name + "*"))


def reject_and_wait_for_an_attempt(world: World, fake: FakeKetch) -> None:
    assert world.people is not None
    world.people.dave.click(request_message(world), "Reject")
    wait_state(world, "rejected")
    fake.wait_for(lambda k: len(k.attempts) >= 1)


def test_the_platform_credential_rests_only_sealed_and_is_sent_as_given(
    sealed_world: World, ketch: tuple[FakeKetch, str]
) -> None:
    world, (fake, callback) = sealed_world, ketch
    assert world.bot is not None
    fake.down = True  # the status stays owed: the target must stay stored, and unreadable
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    reject_and_wait_for_an_attempt(world, fake)

    stored = database_bytes(world)
    for secret in (CALLBACK_AUTH.encode(), b"ketch-callback-credential", URL_SECRET.encode(), TOKEN.encode()):
        assert secret not in stored
    (url, sealed), *_ = world.bot.store.db.execute("SELECT url, sealed FROM intake_callbacks").fetchall()
    assert url.startswith("http://127.0.0.1:") and "/callback" not in url  # the origin alone
    assert Vault([SecretStr(KEY)]).open(sealed) == CallbackTarget(callback, {"Authorization": CALLBACK_AUTH})

    fake.down = False
    fake.wait_for(lambda k: k.statuses() == ["denied"])
    assert fake.received[0].authorization == CALLBACK_AUTH
    world.settle(lambda db: intake.pending_count(db) == 0)
    assert world.bot.store.db.execute("SELECT sealed FROM intake_callbacks").fetchall() == [("",)]


def test_a_target_no_key_opens_waits_with_the_reason_shown_and_goes_once_the_key_is_right(
    sealed_world: World, ketch: tuple[FakeKetch, str]
) -> None:
    world, (fake, callback) = sealed_world, ketch
    assert world.bot is not None and world.people is not None
    fake.down = True
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    reject_and_wait_for_an_attempt(world, fake)
    target = CallbackTarget(callback, {"Authorization": CALLBACK_AUTH})
    other_key = Vault([SecretStr(Fernet.generate_key().decode())])
    with world.bot.store.write() as db:  # as if PURGEBOT_INTAKE_KEY had been replaced, not rotated
        db.execute("UPDATE intake_callbacks SET sealed = ?", [other_key.seal(target)])
    tried = len(fake.attempts)
    fake.down = False

    def unopened(db: object) -> bool:
        errors = world.bot.store.db.execute("SELECT error FROM callbacks WHERE state = 'pending'").fetchall()
        return any("cannot be opened" in (error or "") for (error,) in errors)

    world.settle(unopened)
    said = world.bot.status_board.status(1, world.people.bob.user_id).text
    assert "its callback target cannot be opened: none of the keys in PURGEBOT_INTAKE_KEY opens it" in said
    assert len(fake.attempts) == tried and intake.pending_count(world.bot.store.db) == 1  # held, not dropped

    with world.bot.store.write() as db:  # the right key is back
        db.execute("UPDATE intake_callbacks SET sealed = ?", [Vault([SecretStr(KEY)]).seal(target)])
    world.bot.wake()
    fake.wait_for(lambda k: k.statuses() == ["denied"], timeout=15.0)
    assert fake.received[0].authorization == CALLBACK_AUTH


def test_targets_stored_in_the_clear_are_sealed_and_finished_ones_blanked_at_start(
    sealed_world: World, ketch: tuple[FakeKetch, str]
) -> None:
    world, (fake, callback) = sealed_world, ketch
    assert world.bot is not None
    fake.down = True
    assert post(world, "/intake/ketch", delete_request(callback)).status_code == 200
    reject_and_wait_for_an_attempt(world, fake)
    clear = json.dumps({"Authorization": CALLBACK_AUTH})
    with world.bot.store.write() as db:  # as a version before m016 left them: one owed, one settled
        db.execute("UPDATE intake_callbacks SET url = ?, headers = ?, sealed = NULL", [callback, clear])
        db.execute("INSERT INTO intake_callbacks (request_id, url, headers) VALUES (99, ?, ?)", [callback, clear])

    assert world.bot.callbacks.seal_clear_targets() == 2

    rows = world.bot.store.db.execute("SELECT request_id, url, headers, sealed FROM intake_callbacks ORDER BY id")
    (owed, settled) = rows.fetchall()
    assert owed[2] == "{}" and URL_SECRET not in owed[1]
    assert Vault([SecretStr(KEY)]).open(owed[3]) == CallbackTarget(callback, {"Authorization": CALLBACK_AUTH})
    assert settled == (99, owed[1], "{}", "")  # nothing is owed to request 99: nothing of it is kept
    assert world.bot.callbacks.seal_clear_targets() == 0
    fake.down = False
    fake.wait_for(lambda k: k.statuses() == ["denied"])


def test_without_a_key_a_request_naming_callbacks_is_refused_and_nothing_filed(
    tmp_path: Path, clock: SandboxClock
) -> None:
    settings = {name: value for name, value in INTAKE.items() if name != "purgebot_intake_key"}
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=TUNING, **settings) as world:
        answer = post(world, "/intake/ketch", delete_request("http://127.0.0.1:9/callback"))

        assert answer.status_code == 503
        assert answer.json()["error"]["message"].startswith("PURGEBOT_INTAKE_KEY is not set")
        assert request_count(world) == 0
        assert httpx.get(world.app_url + "/healthz", timeout=10.0).status_code == 200
