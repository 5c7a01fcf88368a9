"""Minimisation reaches failed and unverified requests too, runs in short transactions, and a minimised
request is refused a check with a clear answer instead of being retried forever."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from e2e import file_traces, request_message, wait_state
from pydantic import SecretStr

from bot.clock import SandboxClock, utc_iso
from bot.minimiser import Minimiser, keyed_hash
from bot.sandbox.world import REQUESTS_CHANNEL, World
from bot.tasks import TaskContext
from bot.verifier import NothingToCheck
from storage import checks, events, items, minimise, requests, texts
from storage.db import Store


def keyed_context(world: World, clock: SandboxClock) -> TaskContext:
    assert world.bot is not None
    settings = world.settings.model_copy(update={"purgebot_hmac_key": SecretStr("s3cret-key")})
    return TaskContext(
        store=world.bot.store,
        workspaces=world.bot.workspaces,
        clock=clock,
        settings=settings,
        owner="t",
        on_change=lambda: None,
    )


def test_a_failed_request_is_minimised_after_retention_and_a_check_of_it_is_refused_clearly(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    world.langsmith.inject("runs/delete", status=403, body={"detail": "Forbidden"})
    file_traces(world, ids)
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "failed")

    db = world.bot.store.db
    (failed,) = [e for e in events.for_request(db, 1) if e.kind == "failed"]
    assert "Forbidden" not in str(failed.data)  # LangSmith's words live beside the chain, named by digest
    assert texts.read(db, 1, failed.data["message_digest"]) == "Forbidden"

    clock.jump_to(clock.now() + timedelta(days=366))
    assert Minimiser(keyed_context(world, clock)).run() == 1
    assert texts.read(db, 1, failed.data["message_digest"]) == keyed_hash(b"s3cret-key", "Forbidden")
    assert requests.get(db, 1).reason == keyed_hash(b"s3cret-key", "DSR-1042")
    assert not set(ids) & set(items.values(db, 1))
    assert requests.get(db, 1).minimised_at is not None

    said = world.people.alice.ask("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "PURGE-1 was minimised on" in said and "can no longer be asked" in said
    with pytest.raises(NothingToCheck, match="was minimised on"):
        world.bot.verifier.check_now(1, requested_by="purgebot-cli")

    queries = len(world.langsmith.calls_to("runs/query"))
    with world.bot.store.write() as write:  # a check that was still scheduled when the request was minimised
        check_id = checks.schedule(
            write, request_id=1, seq=1, kind=checks.SCHEDULED, due_at=utc_iso(clock.now()), target=checks.TRACES
        )
    world.bot.verifier.run_due()
    assert checks.get(db, check_id).state == checks.DROPPED  # dropped, not retried every few minutes
    assert len(world.langsmith.calls_to("runs/query")) == queries
    assert "check_dropped" in [e.kind for e in events.for_request(db, 1)]
    assert events.verify_chain(db).intact


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def test_items_are_hashed_a_chunk_a_transaction_and_never_twice(store: Store) -> None:
    with store.write() as db:
        request = requests.insert(
            db, kind="metadata", state="verified", requester="U1", channel="C1", reason="r",
            created_at="2025-01-01", updated_at="2025-01-01",
        )  # fmt: skip
        items.add(db, request.id, (items.Found(f"value-{n}", "p") for n in range(2_500)))

    def hasher(value: str) -> str:
        return keyed_hash(b"k", value)

    done = []
    while True:
        with store.write() as db:  # each chunk is its own short transaction: acks get in between
            done.append(minimise.items_chunk(db, request.id, hasher, size=1000))
        if done[-1] < 1000:
            break
    assert done == [1000, 1000, 500]
    with store.write() as db:
        assert minimise.items_chunk(db, request.id, hasher, size=1000) == 0  # a resumed run hashes nothing twice
    values = items.values(store.db, request.id)
    assert values[7] == hasher("value-7") and all(v.startswith(minimise.HASHED) for v in values)
