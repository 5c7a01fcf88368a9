"""The request form, pure: the modal it builds and what it reads from a submission."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot import form
from bot.grammar import (
    ExamplesRequest,
    GrammarError,
    MetadataRequest,
    RequestOptions,
    TracesRequest,
    parse,
    parse_as_of,
    parse_due,
    parse_pairs,
    parse_project,
    parse_reason,
    parse_ticket,
    parse_trace_ids,
)

NOW = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
ID1 = "0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f"
ID2 = "9a8b7c6d-5e4f-4a3b-8c1d-0e9f8a7b6c5d"


def submitted(kind: str | None = "traces", channel: str = "C0PRIVACY", **fields: str) -> dict[str, Any]:
    """A view as Slack echoes it on submit: the form for ``kind``, its metadata and the given values.

    A field the form for ``kind`` does not show is sent all the same when given, as a view that was
    not updated (or a payload sent without Slack's client) would send it.
    """
    view = form.request_form(channel, kind=kind)
    option = {"value": kind, "text": {"type": "plain_text", "text": str(kind)}} if kind else None
    values: dict[str, Any] = {"kind": {"kind": {"type": "radio_buttons", "selected_option": option}}}
    shown = {block["block_id"] for block in view["blocks"] if block["type"] == "input"}
    for block_id in shown | set(fields):
        if block_id == "due":
            values[block_id] = {block_id: {"type": "datepicker", "selected_date": fields.get(block_id)}}
        elif block_id != "kind":
            values[block_id] = {block_id: {"type": "plain_text_input", "value": fields.get(block_id)}}
    return {**view, "id": "V1", "hash": "1.abc", "state": {"values": values}}


def read(kind: str | None = "traces", **fields: str) -> tuple[object, str]:
    return form.read_submission(submitted(kind, **fields), now=NOW)


def errors(kind: str | None = "traces", **fields: str) -> dict[str, str]:
    with pytest.raises(form.FormErrors) as caught:
        read(kind, **fields)
    return caught.value.errors


# --- the modal ---------------------------------------------------------------------------------


def test_the_modal_carries_the_channel_and_stable_block_ids() -> None:
    view = form.request_form("C0PRIVACY", response_url="https://hooks.slack.com/commands/T1/2/x", kind="traces")

    assert view["type"] == "modal" and view["callback_id"] == form.CALLBACK_ID
    assert json.loads(view["private_metadata"]) == {
        "channel": "C0PRIVACY",
        "response_url": "https://hooks.slack.com/commands/T1/2/x",
    }
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["kind", "project", "trace_ids", "reason", "ticket", "due"]
    assert [name for name, block in inputs.items() if not block["optional"]] == ["kind", "reason"]
    assert [o["value"] for o in inputs["kind"]["element"]["options"]] == ["traces", "metadata", "examples"]
    assert inputs["kind"]["dispatch_action"] is True  # a choice is sent at once, so the form can follow it
    assert inputs["kind"]["element"]["initial_option"]["value"] == "traces"
    assert inputs["trace_ids"]["element"]["max_length"] == 3000
    assert "about 80 IDs; for more, use a metadata request" in inputs["trace_ids"]["hint"]["text"]
    assert inputs["due"]["element"]["type"] == "datepicker"
    for block in inputs.values():
        assert block["element"]["action_id"] == block["block_id"]
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24  # Block Kit's limits
    for option in inputs["kind"]["element"]["options"]:
        assert len(option["text"]["text"]) <= 75 and len(option["description"]["text"]) <= 75
    assert len(view["private_metadata"]) <= 3000
    assert form.response_url(submitted()) is None  # not carried when the command had none


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        (None, ["kind", "reason", "ticket", "due"]),
        ("traces", ["kind", "project", "trace_ids", "reason", "ticket", "due"]),
        ("metadata", ["kind", "pairs", "reason", "ticket", "due"]),
        ("examples", ["kind", "pairs", "as_of", "reason", "ticket", "due"]),
    ],
)
def test_the_form_for_a_kind_shows_its_fields(kind: str | None, fields: list[str]) -> None:
    opened = {**form.request_form("C0PRIVACY", response_url="https://hooks.slack.com/commands/T1/2/x"), "id": "V1"}

    rebuilt = form.form_for_kind(opened, kind)

    assert rebuilt is not None
    assert [b["block_id"] for b in rebuilt["blocks"] if b["type"] == "input"] == fields
    assert rebuilt["private_metadata"] == opened["private_metadata"]
    guide = [b for b in rebuilt["blocks"] if b["block_id"] == "choose_kind"]
    assert bool(guide) is (kind is None)


def test_a_choice_on_another_view_or_an_unknown_kind_is_not_followed() -> None:
    opened = form.request_form("C0PRIVACY")

    assert form.form_for_kind(opened | {"callback_id": "other"}, "traces") is None
    assert form.form_for_kind(opened | {"private_metadata": "C0PRIVACY"}, "traces") is None
    nuked = form.form_for_kind(opened, "nuke")
    assert nuked is not None and "initial_option" not in nuked["blocks"][1]["element"]
    assert form.chosen_kind({"selected_option": {"value": "metadata"}}) == "metadata"
    assert form.chosen_kind({"selected_option": None}) is None


# --- valid submissions -------------------------------------------------------------------------


def test_a_traces_submission_is_the_command_it_stands_for() -> None:
    request, channel = read(
        "traces",
        project="prod-chat",
        trace_ids=f"{ID1.upper()}\n{ID2},{ID1}",
        reason="DSR-1042",
        ticket="DSR-1042",
        due="2026-06-01",
    )

    assert channel == "C0PRIVACY"
    assert request == TracesRequest("prod-chat", (ID1, ID2), RequestOptions("DSR-1042", "DSR-1042", date(2026, 6, 1)))
    typed = parse(
        f"traces prod-chat {ID1.upper()} {ID2},{ID1} --reason DSR-1042 --ticket DSR-1042 --due 2026-06-01", now=NOW
    )
    assert request == typed


def test_metadata_and_examples_submissions() -> None:
    pairs = 'user_id=123\nemail=ada@example.com name="Ada Lovelace"'
    metadata, _ = read("metadata", pairs=pairs, reason="  GDPR art. 17\n")
    examples, _ = read("examples", pairs="user_id=123", reason="r", as_of="2026-05-01T14:30:00+02:00")
    default, _ = read("examples", pairs="user_id=123", reason="r")

    expected = (("user_id", "123"), ("email", "ada@example.com"), ("name", "Ada Lovelace"))
    assert metadata == MetadataRequest(expected, RequestOptions("GDPR art. 17", None, None))
    assert examples == ExamplesRequest(
        (("user_id", "123"),), datetime(2026, 5, 1, 12, 30, tzinfo=UTC), RequestOptions("r", None, None)
    )
    assert isinstance(default, ExamplesRequest) and default.as_of == NOW


def test_form_text_is_taken_as_typed_not_decoded_again() -> None:
    """Slack escapes & < > in command text but sends form text as typed: "&amp;" here is five characters."""
    request, _ = read(
        "metadata", pairs="company=R&D typed=&amp; expr=a<b>c url=<https://x.y|x.y>", reason="R&D <asked> by <@U0BOB>"
    )

    assert isinstance(request, MetadataRequest)
    assert request.pairs == (("company", "R&D"), ("typed", "&amp;"), ("expr", "a<b>c"), ("url", "<https://x.y|x.y>"))
    assert request.options.reason == "R&D <asked> by @U0BOB"
    assert parse_pairs("k=&lt;", kind="metadata") == (("k", "&lt;"),)


# --- errors, one per field ---------------------------------------------------------------------


def test_every_bad_field_gets_its_own_message() -> None:
    found = errors("traces", trace_ids="not-an-id", pairs="u=1", ticket="A B", due="2026-05-01", as_of="x")

    assert set(found) == {"project", "trace_ids", "pairs", "reason", "ticket", "due", "as_of"}
    assert found["project"] == "A trace purge needs the project: its exact name or UUID."
    assert found["trace_ids"].startswith("`not-an-id` is not a trace ID: trace IDs are UUIDs")
    assert found["pairs"].startswith("Key=value pairs are for metadata and examples purges, not for a purge of")
    assert found["reason"] == "Give a reason: a ticket number or a sentence, e.g. DSR-1042."
    assert found["ticket"] == "The ticket `A B` contains a space: give one ticket ID, e.g. DSR-1042."
    assert found["due"] == "The due date 2026-05-01 is in the past (today is 2026-05-02): give today or a later date."
    assert found["as_of"].startswith("An as-of time is for examples purges, not for a purge of traces by ID")


@pytest.mark.parametrize(
    ("kind", "fields", "block", "message"),
    [
        (None, {}, "kind", "Choose what to purge."),
        ("nuke", {}, "kind", "out of date or damaged"),
        ("traces", {"project": "p"}, "trace_ids", "Paste the trace IDs to purge"),
        ("traces", {"project": "p", "trace_ids": " , \n"}, "trace_ids", "Give at least one trace ID"),
        ("traces", {"project": "<@U0BOB>", "trace_ids": ID1}, "project", "a Slack mention is not a project name"),
        ("traces", {"project": "p\u200b", "trace_ids": ID1}, "project", "invisible character (U+200B"),
        ("traces", {"project": "p", "trace_ids": f"{ID1} <#C1|general>"}, "trace_ids", "not a trace ID"),
        (
            "traces",
            {"project": "p", "trace_ids": f"{ID1} " * 81 + ID1},
            "trace_ids",
            "This field holds 3,000 characters; this is 3,033. That is about 80 trace IDs; for more, file a metadata",
        ),
        ("metadata", {}, "pairs", "Give at least one key=value pair, e.g. user_id=123."),
        ("metadata", {"pairs": "user_id"}, "pairs", "`user_id` is not a key=value pair"),
        ("metadata", {"pairs": "name=Ada Lovelace"}, "pairs", "`Lovelace` is not a key=value pair"),
        (
            "metadata",
            {"pairs": 'name="Ada'},
            "pairs",
            "is never closed. Add a closing quote (it must be followed by a space or the end of the field).",
        ),
        ("metadata", {"pairs": "user_id=<@U0BOB>"}, "pairs", "a Slack mention is not a metadata value"),
        ("metadata", {"pairs": "user_id=<!here>"}, "pairs", "a Slack mention is not a metadata value"),
        (
            "metadata",
            {"pairs": "u=1", "project": "p"},
            "project",
            "A project is for purges of traces by ID, not for a metadata purge: clear this field",
        ),
        ("metadata", {"pairs": "u=1", "trace_ids": ID1}, "trace_ids", "Trace IDs are for purges of traces by ID"),
        ("metadata", {"pairs": "u=1", "as_of": "2026-05-01"}, "as_of", "An as-of time is for examples purges"),
        ("metadata", {"pairs": "k=" + "v" * 2999}, "pairs", "This field holds 3,000 characters; this is 3,001."),
        ("examples", {"pairs": "u=1", "as_of": "yesterday"}, "as_of", "The as-of time `yesterday` is not an ISO-8601"),
        ("metadata", {"pairs": "u=1", "reason": "x" * 501}, "reason", "The reason is 501 characters long; the limit"),
        ("metadata", {"pairs": "u=1", "ticket": "<@U0BOB>"}, "ticket", "a Slack mention is not a ticket"),
        ("metadata", {"pairs": "u=1", "due": "2026-02-30"}, "due", "The due date 2026-02-30 is not a real date"),
    ],
)
def test_field_errors(kind: str | None, fields: dict[str, str], block: str, message: str) -> None:
    found = errors(kind, **{"reason": "DSR-1042", **fields})
    assert set(found) == {block}, found
    assert message in found[block]


def test_a_damaged_private_metadata_is_reported_on_the_first_field() -> None:
    view = submitted("metadata", pairs="u=1", reason="r") | {"private_metadata": "C0PRIVACY"}
    with pytest.raises(form.FormErrors) as caught:
        form.read_submission(view, now=NOW)
    assert caught.value.errors == {"kind": "This form is out of date or damaged: close it and type /purge again."}


def test_missing_state_reads_as_empty_fields() -> None:
    view = form.request_form("C0PRIVACY") | {"state": {"values": {}}}
    with pytest.raises(form.FormErrors) as caught:
        form.read_submission(view, now=NOW)
    assert set(caught.value.errors) == {"kind", "reason"}


# --- the grammar's field functions ---------------------------------------------------------------


def test_field_functions_default_blank_optional_fields() -> None:
    assert parse_ticket("  ") is None
    assert parse_due("", now=NOW) is None
    assert parse_as_of(" ", now=NOW) == NOW
    assert parse_due("2026-05-02", now=NOW) == date(2026, 5, 2)
    assert parse_project("  Support Bot (prod) ") == "Support Bot (prod)"
    assert parse_trace_ids(f"{ID1.replace('-', '')}\t{ID2}") == (ID1, ID2)
    assert parse_reason('say "hi"\nthen <#C9|privacy> &amp;') == 'say "hi"\nthen #privacy &amp;'


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_project(""),
        lambda: parse_trace_ids(""),
        lambda: parse_pairs(" \n", kind="examples"),
        lambda: parse_reason(" "),
    ],
)
def test_field_functions_refuse_blank_required_fields(call: Any) -> None:
    with pytest.raises(GrammarError):
        call()
