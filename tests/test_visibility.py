"""Who may see what: a request filed in a private channel shows its details to its requester, the
approvers and that channel's members — and to nobody else, in status, list or the Home tab."""

from __future__ import annotations

from test_app_home import open_home

from bot.sandbox.slack_blocks import render_blocks
from bot.sandbox.slack_user import SlackUser
from bot.sandbox.world import ALICE, BOB, CAROL, DAVE, REQUESTS_CHANNEL, World

PRIVATE = "G0LEGAL"
ERIN = "U0ERIN"  # a member of the private channel, not an approver


def ask(world: World, text: str, user: str, *, channel_id: str) -> str:
    """``user``'s ``/purge text`` and the answer it gets after the ack."""
    return SlackUser(world.delivery, user).ask(text, channel_id=channel_id)


def test_a_private_channels_request_is_shown_only_to_those_who_may_see_it(world: World) -> None:
    assert world.people is not None
    world.slack.add_user(ERIN, "erin")
    world.slack.add_channel(PRIVATE, "legal-holds", members=[ALICE, ERIN], private=True)
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    filed = world.people.alice.slash(
        f'traces prod-chat {" ".join(ids)} --reason "Subpoena 7731 for Dana" --ticket LEGAL-9', channel_id=PRIVATE
    )
    assert filed.status == 200

    def previewed(_: object) -> bool:
        return any("[Approve]" in m.render() for m in world.slack.messages(PRIVATE))

    world.slack.wait_for(previewed, timeout=15)

    for user in (ALICE, BOB, DAVE, ERIN):  # the requester, two approvers (one through a group), a member
        status = ask(world, "status PURGE-1", user, channel_id=REQUESTS_CHANNEL)
        assert status.startswith("PURGE-1: awaiting_approval") and "Subpoena 7731" in status, (user, status)
        listed = ask(world, "list", user, channel_id=REQUESTS_CHANNEL)
        assert "PURGE-1" in listed, user

    status = ask(world, "status PURGE-1", CAROL, channel_id=REQUESTS_CHANNEL)
    assert status.startswith("PURGE-1: awaiting_approval — its details are not yours to see")
    assert "\n" not in status and "Subpoena" not in status and "LEGAL-9" not in status
    listed = ask(world, "list", CAROL, channel_id=REQUESTS_CHANNEL)
    assert "PURGE-1" not in listed and listed == "No requests you may see."

    world.people.bob.click(next(m for m in world.slack.messages(PRIVATE) if "[Approve]" in m.render()), "Approve")
    world.slack.wait_for(
        lambda _: "submitted" in ask(world, "status PURGE-1", ALICE, channel_id=PRIVATE),
        timeout=15,
    )
    carol = render_blocks(open_home(world, CAROL).view["blocks"])
    erin = render_blocks(open_home(world, ERIN).view["blocks"])
    assert "PURGE-1" not in carol and "Subpoena" not in carol
    assert "PURGE-1" in erin.split("In flight")[1]
