"""Re-sends after a check: one request's odd batch never holds up another's."""

from __future__ import annotations

from e2e import file_traces, request_message, wait_state

from bot.clock import utc_iso
from bot.sandbox.world import World
from bot.workflow import items_digest
from storage import batches, items


def test_an_empty_re_send_batch_is_retired_and_other_requests_re_sends_go_out(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    first_ids = world.langsmith.add_traces(project, 2)
    second_ids = world.langsmith.add_traces(project, 3)
    for number, ids in ((1, first_ids), (2, second_ids)):
        file_traces(world, ids)
        world.people.bob.click(request_message(world, number), "Approve")
        wait_state(world, "submitted", number)
    sent_before = len(world.langsmith.calls_to("runs/delete"))

    # As a check leaves them: PURGE-1 holds a re-send batch whose items a later round took (an older
    # file can hold one), PURGE-2 one that carries what its check found remaining.
    now = utc_iso(world.bot.clock.now())
    with world.bot.store.write() as db:
        batches.create(db, request_id=1, round_=1, kind=batches.TRACES, session_id=project, size=2,
                       digest=items_digest(first_ids), at=now)  # fmt: skip
        resend = batches.create(db, request_id=2, round_=1, kind=batches.TRACES, session_id=project, size=3,
                                digest=items_digest(second_ids), at=now)  # fmt: skip
        items.reassign(db, 2, items.TRACE, second_ids, resend)
    world.bot.wake()

    def re_sent(_: object) -> bool:
        return batches.get(world.bot.store.db, resend).state == batches.SENT

    world.slack.wait_for(re_sent, timeout=15)
    again = [call.body for call in world.langsmith.calls_to("runs/delete")[sent_before:]]
    assert again == [{"session_id": project, "trace_ids": second_ids}]  # never an empty delete call
    empty = [b for b in batches.for_request(world.bot.store.db, 1) if b.round == 1]
    assert [b.state for b in empty] == [batches.SUPERSEDED]
