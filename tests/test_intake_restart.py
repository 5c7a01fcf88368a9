"""A real ``purgebot serve`` killed with SIGKILL after an approval is stored and before Ketch heard of it:
the restarted process still tells Ketch, once per status, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from test_intake import CALLBACK_AUTH, KEY, TOKEN, delete_request
from test_restart import request_message, wait_until

from bot.sandbox.ketch import FakeKetch
from bot.sandbox.ketch import create_app as ketch_app
from bot.sandbox.process import ServeProcess
from bot.sandbox.serving import serve
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from storage import intake, requests
from storage.db import Store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Only the stand-ins: purgebot runs as a child process."""
    with running_world(tmp_path / "purgebot.db", start=False) as running:
        running.langsmith.add_traces(running.langsmith.add_project("prod-chat"), 5, metadata={"user_id": "123"})
        yield running


def test_a_kill_after_the_approval_is_stored_loses_no_status_and_sends_none_twice(
    world: World, start_serve: Callable[..., ServeProcess]
) -> None:
    fake = FakeKetch()
    fake.down = True  # nothing reaches Ketch before the kill
    server = start_serve(
        world,
        extra_env={
            "PURGEBOT_INTAKE_TOKEN": TOKEN,
            "PURGEBOT_INTAKE_KEY": KEY,
            "PURGEBOT_INTAKE_CHANNEL": REQUESTS_CHANNEL,
            "PURGEBOT_IDENTITY_MAP": "userId=user_id",
        },
    )
    with serve(ketch_app(fake)) as ketch_url:
        server.start()
        filed = httpx.post(
            server.url + "/intake/ketch",
            json=delete_request(ketch_url + "/callback"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10.0,
        )
        assert filed.status_code == 200 and filed.json()["response"]["status"] == "pending"
        root = request_message(world)
        store = Store(world.db_path)
        try:
            with world.people_at(server.url) as (_, bob):
                assert bob.click(root, "Approve").status == 200
                wait_until("the approval is stored", lambda: requests.get(store.db, 1).state != "awaiting_approval")
            server.kill()
            assert not fake.received

            fake.down = False
            server.start()
            wait_until("PURGE-1 is submitted", lambda: requests.get(store.db, 1).state == "submitted")
            fake.wait_for(lambda k: bool(k.received), timeout=30.0)
            wait_until("every status is settled", lambda: intake.pending_count(store.db) == 0, timeout=30.0)

            statuses = fake.statuses()
            sent = store.db.execute("SELECT status FROM callbacks WHERE state = 'sent' ORDER BY id").fetchall()
            assert statuses == [row[0] for row in sent]  # in order, each queued status accepted exactly once
            assert statuses[0] == "in_progress"
            assert all(delivery.authorization == CALLBACK_AUTH for delivery in fake.received)
        finally:
            store.close()
