"""The App Home tab for a requester, an approver and a bystander; deciding from it."""

from __future__ import annotations

from e2e import file_traces, request_message, wait_ephemeral, wait_state

from bot.messages import APPROVE_ACTION
from bot.sandbox.slack_blocks import render_blocks
from bot.sandbox.slack_records import View
from bot.sandbox.world import BOB, REQUESTS_CHANNEL, World
from storage import requests


def open_home(world: World, user: str) -> View:
    before = world.slack.home(user)
    delivered = world.delivery.open_home(user_id=user)
    assert delivered.status == 200, delivered.body

    def published(_: object) -> bool:
        now = world.slack.home(user)
        return now is not None and now is not before and (before is None or now.view != before.view)

    world.slack.wait_for(published, timeout=10)
    home = world.slack.home(user)
    assert home is not None
    return home


def test_the_home_tab_shows_each_person_what_concerns_them(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    request_message(world)

    alice = render_blocks(open_home(world, "U0ALICE").view["blocks"])
    bob = render_blocks(open_home(world, "U0BOB").view["blocks"])
    carol = render_blocks(open_home(world, "U0CAROL").view["blocks"])

    mine = alice.split("Your requests")[1].split("In flight")[0]
    assert "PURGE-1" in mine and "30 days left" in mine and "thread" in mine
    assert "[Approve]" not in alice  # the requester cannot approve her own request
    waiting = bob.split("Awaiting your approval")[1].split("Your requests")[0]
    assert "PURGE-1" in waiting and "[Approve]" in waiting and "[Reject]" in waiting
    assert "Nothing awaits your approval" in carol and "PURGE-1" not in carol.split("Your requests")[0]
    assert world.people is not None
    for text in ("status PURGE-1", "list", "list awaiting_approval"):
        shown = world.people.alice.ask(text, channel_id="C0PRIVACY")
        assert "(30 days left)" in shown, (text, shown)


def test_an_approver_decides_from_the_home_tab_and_sees_the_result(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    request_message(world)
    home = open_home(world, "U0BOB")

    world.delivery.click_in_view(user_id="U0BOB", view=home, label="Approve")

    wait_state(world, "submitted")
    refreshed = render_blocks(open_home(world, "U0BOB").view["blocks"])
    assert "Nothing awaits your approval" in refreshed and "PURGE-1" in refreshed.split("In flight")[1]


def test_a_refusal_from_the_home_tab_is_shown_on_it(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 2))
    root = request_message(world)
    home = open_home(world, "U0BOB")
    world.people.dave.click(root, "Reject")
    wait_state(world, "rejected")

    world.delivery.click_in_view(user_id="U0BOB", view=home, label="Approve")

    def noticed(_: object) -> bool:
        current = world.slack.home("U0BOB")
        return current is not None and "already rejected" in render_blocks(current.view["blocks"])

    world.slack.wait_for(noticed, timeout=10)
    assert world.langsmith.calls_to("runs/delete") == []


def test_a_request_whose_preview_failed_offers_no_decision_and_a_click_with_its_digest_is_refused(
    world: World,
) -> None:
    assert world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    world.langsmith.inject("runs/query", status=403, times=50, body={"detail": "Forbidden"})
    file_traces(world, ids)

    def preview_failed(_: object) -> bool:
        found = requests.find(world.bot.store.db, 1) if world.bot else None
        return found is not None and found.preview is not None

    world.slack.wait_for(preview_failed, timeout=15)
    failed = requests.get(world.bot.store.db, 1)
    assert failed.preview_digest is not None and not failed.preview_succeeded
    bob = render_blocks(open_home(world, "U0BOB").view["blocks"])
    assert "Nothing awaits your approval" in bob and "[Approve]" not in bob

    # The same values a button would carry, sent anyway (an old Home tab, a forged payload).
    root = next(m for m in world.slack.messages(REQUESTS_CHANNEL) if not m.is_reply and "PURGE-1" in m.render())
    world.delivery.click(
        user_id=BOB, channel_id=REQUESTS_CHANNEL, message_ts=root.ts, action_id=APPROVE_ACTION,
        value=f"1:{failed.preview_digest}",
    )  # fmt: skip
    wait_ephemeral(world, BOB, "The preview of PURGE-1 failed")
    assert requests.get(world.bot.store.db, 1).state == "awaiting_approval"
    assert world.langsmith.calls_to("runs/delete") == []
