"""One request whose work fails in a way nobody planned for never stops a worker serving the others."""

from __future__ import annotations

from e2e import request_message, thread, wait_thread
from test_subject_purge import file_subject

from bot.clock import utc_iso
from bot.journal import Journal
from bot.sandbox.world import REQUESTS_CHANNEL, World
from storage import events, pairs, requests


def file_as_an_older_version_did(world: World, value: str) -> int:
    """A subject request stored by a version whose grammar still accepted ``value`` (the upgrade path:
    the request is in the file, and this version cannot search it)."""
    assert world.bot is not None
    now = world.bot.clock.now()
    with world.bot.store.write() as db:
        request = requests.insert(
            db,
            kind="metadata",
            state="awaiting_approval",
            requester="U0ALICE",
            channel=REQUESTS_CHANNEL,
            reason="DSR-1",
            as_of=utc_iso(now),
            created_at=utc_iso(now),
            updated_at=utc_iso(now),
        )
        pairs.add(db, request.id, [("path", value)])
        journal = Journal(db, now, world.bot.settings.purgebot_timezone, world.bot.settings.purgebot_notify_channel)
        journal.event(request.id, "U0ALICE", "filed", kind="metadata")
        journal.refresh_request_message(request.id)
    world.bot.wake()
    return request.id


def test_a_request_that_cannot_be_searched_pauses_and_the_next_gets_its_preview(world: World) -> None:
    assert world.people is not None and world.bot is not None
    prod = world.langsmith.add_project("prod-chat")
    world.langsmith.add_traces(prod, 2, metadata={"user_id": "123"})
    stuck = file_as_an_older_version_did(world, "C:\\temp")

    file_subject(world, "metadata user_id=123 --reason DSR-2")
    served = request_message(world, 2)  # its preview and buttons: the previewer went on
    assert "2 traces in 1 project" in served.render()

    db = world.bot.store.db
    assert [e.data["error"] for e in events.for_request(db, stuck) if e.kind == "stumbled"] == ["ValueError"]
    assert requests.get(db, stuck).paused_until is not None and requests.get(db, stuck).preview is None
    listings = [call for call in world.langsmith.calls_to("sessions") if call.method == "GET"]
    assert len(listings) <= 3  # not a loop over the same request (the repro listed projects 94 times in 5 s)

    root = next(m for m in world.slack.messages(REQUESTS_CHANNEL) if not m.is_reply and "PURGE-1" in m.render())
    wait_thread(world, root, "unexpected error (ValueError) during the preview of PURGE-1")
    assert "C:\\temp" not in " ".join(thread(world, root))  # only the error's type is shown
