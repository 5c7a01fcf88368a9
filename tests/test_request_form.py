"""The request form: a bare `/purge` opens it, Submit files the same request the command would.

Driven over real HTTP with signed requests: the modal is opened in the Slack stand-in and its
Submit is the view_submission payload Slack would send.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from e2e import WAIT, ephemeral_texts, request_message, wait_ephemeral

from bot.sandbox.slack_records import View
from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.world import ALICE, REQUESTS_CHANNEL, World
from storage import events, items, pairs, requests

ELSEWHERE = "C0BOTLESS"  # a channel purgebot was not invited to


def open_form(world: World, channel: str = REQUESTS_CHANNEL) -> View:
    """Alice types a bare `/purge`; returns the modal it opened."""
    assert world.people is not None
    before = len(world.slack.views(ALICE))
    delivered = world.people.alice.slash("", channel_id=channel)
    assert delivered.status == 200 and delivered.body == "", delivered.body
    world.slack.wait_for(lambda s: len(s.views(ALICE)) > before, timeout=WAIT)
    return world.slack.views(ALICE)[-1]


def values(kind: str | None = None, *, due: str | None = None, **fields: str) -> dict[str, Any]:
    """The form's state as Slack sends it: block_id -> action_id -> element state."""
    state: dict[str, Any] = {name: {name: value} for name, value in fields.items()}
    if kind is not None:
        state["kind"] = {"kind": {"type": "radio_buttons", "selected_option": {"value": kind}}}
    if due is not None:
        state["due"] = {"due": {"type": "datepicker", "selected_date": due}}
    return state


def choose_kind(world: World, view: View, kind: str) -> View:
    """Alice picks the kind; returns the form as purgebot re-built it (``views.update``)."""
    assert world.people is not None
    view = current(world.slack, view)  # the form as it is now, not as it was opened
    if _chosen(view) == kind:
        return view
    delivered = world.people.alice.choose(view, "kind", kind)
    assert delivered.status == 200 and delivered.body == "", delivered.body
    world.slack.wait_for(lambda s: _chosen(current(s, view)) == kind, timeout=WAIT)
    return current(world.slack, view)


def current(slack: FakeSlack, view: View) -> View:
    return next(v for v in slack.views() if v.id == view.id)


def _chosen(view: View) -> str | None:
    kind = next(b for b in view.view["blocks"] if b["block_id"] == "kind")
    option = kind["element"].get("initial_option")
    return option["value"] if option else None


def submit(world: World, view: View, form_values: dict[str, Any]) -> Any:
    """Alice picks the kind in ``form_values``, fills in the rest and presses Submit.

    Returns the ack's JSON body, or None when it had none (the modal closes).
    """
    assert world.people is not None
    kind = form_values.get("kind", {}).get("kind", {}).get("selected_option", {}).get("value")
    if kind is not None:
        view = choose_kind(world, view, kind)
    delivered = world.people.alice.submit(current(world.slack, view), form_values)
    assert delivered.status == 200, delivered.body
    return delivered.json() if delivered.body else None


def stored(world: World) -> list[requests.Request]:
    assert world.bot is not None
    return requests.list_requests(world.bot.store.db)


def test_a_bare_purge_opens_the_form_for_its_channel(world: World) -> None:
    view = open_form(world)

    assert view.callback_id == "purge_request_form"
    metadata = json.loads(view.private_metadata)
    assert metadata["channel"] == REQUESTS_CHANNEL
    assert metadata["response_url"].startswith(world.slack_url + "/response/")
    assert inputs(view) == ["kind", "reason", "ticket", "due"]  # the fields of a kind follow its choice
    assert ephemeral_texts(world, ALICE) == []


def inputs(view: View) -> list[str]:
    return [b["block_id"] for b in view.view["blocks"] if b["type"] == "input"]


def test_the_form_shows_the_fields_of_the_chosen_kind(world: World) -> None:
    view = open_form(world)

    shown = {kind: inputs(view := choose_kind(world, view, kind)) for kind in ("traces", "examples", "metadata")}

    assert shown == {
        "traces": ["kind", "project", "trace_ids", "reason", "ticket", "due"],
        "examples": ["kind", "pairs", "as_of", "reason", "ticket", "due"],
        "metadata": ["kind", "pairs", "reason", "ticket", "due"],
    }
    updates = world.slack.calls("views.update")
    assert len(updates) == 3 and all(call.params["view_id"] == view.id and call.params["hash"] for call in updates)
    assert json.loads(view.private_metadata)["channel"] == REQUESTS_CHANNEL  # the channel survives each update
    assert submit(world, view, values("metadata", pairs="user_id=123", reason="DSR-1042")) is None
    request_message(world, 1)


def test_a_stale_choice_does_not_overwrite_a_newer_one(world: World) -> None:
    """Slack refuses an update whose hash is stale (hash_conflict): the newer form stays."""
    assert world.people is not None
    opened = open_form(world)
    newer = choose_kind(world, opened, "metadata")

    world.people.alice.choose(opened, "kind", "traces")  # a click on the form as it was before
    world.slack.wait_for(lambda s: len(s.calls("views.update")) == 2, timeout=WAIT)

    assert world.slack.calls("views.update")[1].error == "hash_conflict"
    assert inputs(current(world.slack, opened)) == inputs(newer)
    assert ephemeral_texts(world, ALICE) == []


def test_bad_input_is_answered_in_the_form_and_stores_nothing(world: World) -> None:
    ids = world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2)
    view = open_form(world)
    yesterday = (world.clock.now() - timedelta(days=1)).date().isoformat()
    good = {"project": "prod-chat", "trace_ids": "\n".join(ids), "reason": "DSR-1042"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        (values("traces", project="prod-chat", trace_ids=ids[0]), "reason", "Give a reason"),
        (values("traces", trace_ids=ids[0], reason="DSR-1042"), "project", "needs the project"),
        (values("traces", **good | {"trace_ids": f"{ids[0]}\n0c6f-xyz"}), "trace_ids", "`0c6f-xyz` is not a trace ID"),
        (values("metadata", pairs="user_id=1\nemail", reason="DSR-1042"), "pairs", "`email` is not a key=value pair"),
        (values("traces", **good | {"trace_ids": f"{ids[0]}\n" * 82}), "trace_ids", "This field holds 3,000"),
        (values("traces", due=yesterday, **good), "due", f"The due date {yesterday} is in the past"),
        (values("metadata", pairs="user_id=<@U0BOB>", reason="DSR-1042"), "pairs", "a Slack mention is not a metadata"),
        (values("traces", **good | {"project": "<#C0PRIVACY|privacy-requests>"}), "project", "a Slack mention is not"),
        (values(None, **good), "kind", "Choose what to purge."),
    ]
    for form_values, block, message in cases:
        answer = submit(world, view, form_values)
        assert answer is not None and answer["response_action"] == "errors", (block, answer)
        assert list(answer["errors"]) == [block], answer
        assert message in answer["errors"][block], answer

    assert stored(world) == []
    assert ephemeral_texts(world, ALICE) == []
    assert submit(world, view, values("traces", **good)) is None  # the same modal, corrected
    request_message(world, 1)  # refused input used no number


def test_a_form_request_is_the_twin_of_the_same_slash_command(world: World) -> None:
    assert world.people is not None and world.bot is not None
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 3)
    typo = "9a1e0c6f-0000-4bad-8bad-0123456789ab"
    due = (world.clock.now() + timedelta(days=10)).date().isoformat()
    view = open_form(world)

    answer = submit(
        world,
        view,
        values(
            "traces",
            project="prod-chat",
            trace_ids=f"{ids[0].upper()}, {ids[1]}\n{ids[2]} {typo} {ids[0]}",
            reason="DSR-1042 (Ada's request)",
            ticket="DSR-1042",
            due=due,
        ),
    )
    assert answer is None  # the modal closes at once
    form_root = request_message(world, 1)
    world.people.alice.slash(
        f"traces prod-chat {ids[0].upper()}, {ids[1]} {ids[2]} {typo} {ids[0]} "
        f'--reason "DSR-1042 (Ada\'s request)" --ticket DSR-1042 --due {due}',
        channel_id=REQUESTS_CHANNEL,
    )
    slash_root = request_message(world, 2)

    db = world.bot.store.db
    by_form, by_slash = requests.get(db, 1), requests.get(db, 2)
    same = [
        "kind",
        "state",
        "requester",
        "channel",
        "reason",
        "ticket",
        "due_date",
        "project",
        "session_id",
        "item_count",
        "items_digest",
        "as_of",
        "preview_digest",
    ]
    assert {f: getattr(by_form, f) for f in same} == {f: getattr(by_slash, f) for f in same}
    assert (by_form.kind, by_form.item_count, by_form.due_date) == ("traces", 4, due)
    assert by_form.trigger_id and by_form.trigger_id != by_slash.trigger_id
    assert items.values(db, 1) == items.values(db, 2)
    filed = [next(e.data for e in events.for_request(db, n) if e.kind == "filed") for n in (1, 2)]
    assert filed[0] == filed[1] and filed[0]["actor_name"] == "alice"  # as Slack named her, for the report
    assert form_root.render().replace("PURGE-1", "PURGE-2") == slash_root.render()


def test_a_metadata_form_request_searches_by_its_pairs(world: World) -> None:
    assert world.bot is not None
    world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 2, metadata={"user_id": "123"})
    view = open_form(world)

    answer = submit(
        world, view, values("metadata", pairs='user_id=123\nname="Ada Lovelace" company=R&D', reason="DSR-7")
    )

    assert answer is None
    root = request_message(world, 1)
    request = requests.get(world.bot.store.db, 1)
    assert (request.kind, request.reason, request.channel, request.project) == (
        "metadata",
        "DSR-7",
        REQUESTS_CHANNEL,
        None,
    )
    assert pairs.of(world.bot.store.db, 1) == [("user_id", "123"), ("name", "Ada Lovelace"), ("company", "R&D")]
    assert "`company` = `•••&amp;D`" in root.render()  # masked in the channel, decoded once: Slack shows R&D
    assert world.people is not None
    world.people.bob.click(root, "Show values")
    wait_ephemeral(world, "U0BOB", "`company` = `R&amp;D`")  # in full only to an approver, decoded once


def test_an_unknown_project_is_told_in_the_channel_and_a_replay_files_nothing(world: World) -> None:
    assert world.people is not None
    view = choose_kind(world, open_form(world), "traces")

    delivered = world.people.alice.submit(
        view,
        values(
            "traces", project="no-such-project", trace_ids="0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f", reason="DSR-1042"
        ),
    )

    assert delivered.status == 200 and delivered.body == ""  # not in the modal: it has closed
    wait_ephemeral(world, ALICE, "no project named `no-such-project`")
    told = world.slack.ephemerals(ALICE)
    assert [(e.channel, e.via) for e in told] == [(REQUESTS_CHANNEL, "chat.postEphemeral")]
    assert "Nothing was filed" in told[0].text
    assert stored(world) == []

    world.delivery.replay(delivered)
    world.slack.wait_for(lambda s: len(s.ephemerals(ALICE)) == 2, timeout=WAIT)
    assert world.slack.ephemerals(ALICE)[1].text == told[0].text  # the first answer again
    assert len(world.langsmith.calls_to("sessions")) == 1  # and no second lookup
    assert stored(world) == []


def test_a_replayed_submission_files_once(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    ids = world.langsmith.add_traces(project, 2)
    view = choose_kind(world, open_form(world), "traces")
    assert world.people is not None
    delivered = world.people.alice.submit(
        view, values("traces", project="prod-chat", trace_ids=" ".join(ids), reason="DSR-1042")
    )

    again = world.delivery.replay(delivered)

    assert again.status == 200 and again.body == ""
    request_message(world, 1)
    assert [r.id for r in stored(world)] == [1]
    assert ephemeral_texts(world, ALICE) == []


def test_a_refusal_reaches_the_requester_where_the_bot_cannot_post(world: World) -> None:
    """chat.postEphemeral fails in a channel without the bot; the opening command's response_url does not."""
    world.slack.add_channel(ELSEWHERE, "random", members=[ALICE], bot_member=False)
    view = open_form(world, ELSEWHERE)

    assert submit(world, view, values("metadata", pairs="user_id=123", reason="DSR-1042")) is None

    wait_ephemeral(world, ALICE, "invite @purgebot")
    told = world.slack.ephemerals(ALICE)
    assert [(e.channel, e.via) for e in told] == [(ELSEWHERE, "response_url")]
    assert stored(world) == []


def test_a_form_slack_would_not_open_is_explained(world: World) -> None:
    assert world.people is not None
    world.slack.inject("views.open", error="expired_trigger_id")

    delivered = world.people.alice.slash("", channel_id=REQUESTS_CHANNEL)

    assert delivered.status == 200
    wait_ephemeral(world, ALICE, "Slack did not open the request form (`expired_trigger_id`)")
    assert "type the request as a command" in ephemeral_texts(world, ALICE)[0]
    assert world.slack.views(ALICE) == []


def test_a_replayed_bare_purge_opens_one_form_and_says_nothing(world: World) -> None:
    assert world.people is not None
    delivered = world.people.alice.slash("", channel_id=REQUESTS_CHANNEL)
    world.slack.wait_for(lambda s: len(s.views(ALICE)) == 1, timeout=WAIT)

    again = world.delivery.replay(delivered)

    assert again.status == 200 and again.body == ""
    assert len(world.slack.views(ALICE)) == 1
    assert world.slack.calls("views.open")[1:] == []
    assert ephemeral_texts(world, ALICE) == []
