"""The request form: the modal a bare ``/purge`` opens, and reading what its Submit sends.

Pure: Block Kit JSON in and out, no I/O (DESIGN.md "The slash command"). Every field is checked
with the grammar's own rules (``grammar.parse_*``), so the form and the slash command accept
exactly the same requests. Problems with the input are returned all at once, one message per
field, for ``ack(response_action="errors", errors=...)``; problems found later (an unknown project,
a channel the bot is not in) are the workflow's to report, in the channel the form was opened from,
which travels in the view's ``private_metadata``.

Decisions where the contract is silent:

- The kind is a required radio choice without a default: a purge is not filed by leaving a form's
  first answer as it was.
- The form shows the fields of the chosen kind only: the kind selector dispatches its choice and
  the form is re-built for it with ``views.update``, so nobody reads fields that do not apply.
  A field that does not belong to the chosen kind must still be empty on submit (a view that
  was not updated, a payload sent without Slack's client): a leftover from changing one's mind
  must not be silently dropped, just as ``--as-of`` on ``/purge metadata`` is refused.
- Text fields are checked against the ``max_length`` the form declares even though Slack enforces
  it, since a payload can be sent without Slack's client.
- ``private_metadata`` also carries the slash command's ``response_url``, so a refusal still
  reaches the requester where ``chat.postEphemeral`` cannot (a channel the bot is not in, a DM).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from bot import grammar
from bot.grammar import GrammarError

CALLBACK_ID = "purge_request_form"

KIND = "kind"
PROJECT = "project"
TRACE_IDS = "trace_ids"
PAIRS = "pairs"
REASON = "reason"
TICKET = "ticket"
DUE = "due"
AS_OF = "as_of"
WORKSPACE = "workspace"

TRACES, METADATA, EXAMPLES = "traces", "metadata", "examples"
FIELD_MAX = 3000  # Slack's limit for a plain_text_input
_MAX_LENGTH = {TRACE_IDS: FIELD_MAX, PAIRS: FIELD_MAX}  # the grammar limits the reason and the ticket
_KIND_NAMES = {TRACES: "a purge of traces by ID", METADATA: "a metadata purge", EXAMPLES: "an examples purge"}
_DAMAGED = "This form is out of date or damaged: close it and type /purge again."

JSON = dict[str, Any]
T = TypeVar("T")


class FormErrors(Exception):
    """The submission cannot be filed; ``errors`` maps each bad field's block_id to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{block}: {message}" for block, message in errors.items()))
        self.errors = errors


def request_form(
    channel_id: str, *, response_url: str | None = None, kind: str | None = None, workspaces: Sequence[str] = ()
) -> JSON:
    """The modal for ``views.open``; ``channel_id`` (and ``response_url``) come back on submit.

    It shows the fields of ``kind`` only; with no kind chosen yet, the fields every kind shares. The
    kind selector dispatches its choice, and :func:`form_for_kind` builds the ``views.update``.
    """
    metadata: JSON = {"channel": channel_id}
    if response_url:
        metadata["response_url"] = response_url
    if len(workspaces) > 1:  # one workspace needs no picker; the names come back for the kind's update
        metadata["workspaces"] = list(workspaces)
    fields = _KIND_FIELDS.get(kind or "", ())
    picker = [_workspace_block(workspaces, kind)] if len(workspaces) > 1 else []
    guide = [] if kind in _KIND_NAMES else [_CHOOSE_FIRST]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Purge request"),
        "submit": _plain("File request"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "blocks": [
            _INTRO,
            _kind_block(kind),
            *guide,
            *(_FIELD_BLOCKS[name] for name in fields),
            *picker,
            *(_FIELD_BLOCKS[name] for name in (REASON, TICKET, DUE)),
        ],
    }


def form_for_kind(view: JSON, kind: str | None) -> JSON | None:
    """The open form re-built for the kind just chosen, for ``views.update``; None when damaged.

    Blocks keep their IDs, so Slack keeps what was typed in the fields both kinds share.
    """
    channel = _metadata(view).get("channel")
    if not isinstance(channel, str) or not channel or view.get("callback_id") != CALLBACK_ID:
        return None
    return request_form(
        channel,
        response_url=response_url(view),
        kind=kind if kind in _KIND_NAMES else None,
        workspaces=_configured(view),
    )


def chosen_kind(action: JSON) -> str | None:
    """The kind a ``block_actions`` action on the kind selector chose."""
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def read_submission(view: JSON, *, now: datetime) -> tuple[grammar.Request, str]:
    """The typed request and the channel the form was opened from, or :class:`FormErrors`."""
    channel = _metadata(view).get("channel")
    if not isinstance(channel, str) or not channel:
        raise FormErrors({KIND: _DAMAGED})
    values = (view.get("state") or {}).get("values") or {}
    text = {block: _text_value(values, block) for block in (PROJECT, TRACE_IDS, PAIRS, REASON, TICKET, AS_OF)}
    errors: dict[str, str] = {}
    for block, limit in _MAX_LENGTH.items():
        if len(text[block]) > limit:
            errors[block] = _too_long(block, len(text[block]), limit)

    def check(block: str, read: Callable[[], T]) -> T | None:
        if block in errors:
            return None
        try:
            return read()
        except GrammarError as error:
            errors[block] = str(error)
            return None

    kind = _selected(values, KIND)
    if kind not in _KIND_NAMES:
        errors[KIND] = "Choose what to purge." if kind is None else _DAMAGED
    reason = check(REASON, lambda: grammar.parse_reason(text[REASON]))
    ticket = check(TICKET, lambda: grammar.parse_ticket(text[TICKET]))
    due: date | None = check(DUE, lambda: grammar.parse_due(_date_value(values, DUE), now=now))
    project: str | None = None
    trace_ids: tuple[str, ...] | None = None
    pairs: tuple[tuple[str, str], ...] | None = None
    as_of: datetime | None = None
    if kind == TRACES:
        _required(errors, text, PROJECT, "A trace purge needs the project: its exact name or UUID.")
        project = check(PROJECT, lambda: grammar.parse_project(text[PROJECT]))
        _required(errors, text, TRACE_IDS, "Paste the trace IDs to purge, one per line or separated by spaces.")
        trace_ids = check(TRACE_IDS, lambda: grammar.parse_trace_ids(text[TRACE_IDS]))
        _unused(errors, text, kind, PAIRS, "Key=value pairs are for metadata and examples purges")
        _unused(errors, text, kind, AS_OF, "An as-of time is for examples purges")
    elif kind in (METADATA, EXAMPLES):
        _unused(errors, text, kind, PROJECT, "A project is for purges of traces by ID")
        _unused(errors, text, kind, TRACE_IDS, "Trace IDs are for purges of traces by ID")
        _required(errors, text, PAIRS, "Give at least one key=value pair, e.g. user_id=123.")
        pairs = check(PAIRS, lambda: grammar.parse_pairs(text[PAIRS], kind=kind))
        if kind == METADATA:
            _unused(errors, text, kind, AS_OF, "An as-of time is for examples purges")
        else:
            as_of = check(AS_OF, lambda: grammar.parse_as_of(text[AS_OF], now=now))
    workspace = check(WORKSPACE, lambda: _workspace(view, values, kind))
    if errors:
        raise FormErrors(errors)
    assert reason is not None  # every field that failed is in ``errors``
    options = grammar.RequestOptions(reason, ticket, due, workspace)
    if kind == TRACES:
        assert project is not None and trace_ids is not None
        return grammar.TracesRequest(project, trace_ids, options), channel
    assert pairs is not None
    if kind == METADATA:
        return grammar.MetadataRequest(pairs, options), channel
    assert as_of is not None
    return grammar.ExamplesRequest(pairs, as_of, options), channel


def opened_in(view: JSON) -> str:
    """The channel the form was opened from ("" when its metadata is damaged)."""
    channel = _metadata(view).get("channel")
    return channel if isinstance(channel, str) else ""


def response_url(view: JSON) -> str | None:
    """The ``response_url`` of the ``/purge`` that opened the form, if it was carried along."""
    url = _metadata(view).get("response_url")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


# --- reading --------------------------------------------------------------------------------------


def _configured(view: JSON) -> list[str]:
    """The workspace names the form was built with (none when only one is configured)."""
    names = _metadata(view).get("workspaces")
    return [str(name) for name in names] if isinstance(names, list) else []


def _workspace(view: JSON, values: JSON, kind: str | None) -> str | None:
    """The workspace picked, which must be one the form offered; a trace purge must pick one when several are."""
    configured = _configured(view)
    chosen = grammar.parse_workspace(_selected(values, WORKSPACE))
    if chosen is not None and chosen not in configured:
        raise GrammarError(_DAMAGED)
    if chosen is None and kind == TRACES and len(configured) > 1:
        raise GrammarError("A trace purge is in one workspace: choose it.")
    return chosen


def _metadata(view: JSON) -> JSON:
    try:
        metadata = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def _element(values: JSON, block: str) -> JSON:
    """The state of the block's one element ({} when Slack sent none)."""
    actions = values.get(block)
    if isinstance(actions, dict):
        element = actions.get(block)
        if element is None and actions:
            element = next(iter(actions.values()))
        if isinstance(element, dict):
            return element
    return {}


def _text_value(values: JSON, block: str) -> str:
    value = _element(values, block).get("value")
    return value if isinstance(value, str) else ""


def _selected(values: JSON, block: str) -> str | None:
    option = _element(values, block).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def _date_value(values: JSON, block: str) -> str:
    value = _element(values, block).get("selected_date")
    return value if isinstance(value, str) else ""


def _required(errors: dict[str, str], text: dict[str, str], block: str, message: str) -> None:
    if block not in errors and not text[block].strip():
        errors[block] = message


def _unused(errors: dict[str, str], text: dict[str, str], kind: str, block: str, what: str) -> None:
    if block not in errors and text[block].strip():
        errors[block] = f"{what}, not for {_KIND_NAMES[kind]}: clear this field, or choose another kind above."


def _too_long(block: str, length: int, limit: int) -> str:
    message = f"This field holds {limit:,} characters; this is {length:,}."
    if block == TRACE_IDS:
        return f"{message} That is about 80 trace IDs; for more, file a metadata request (or several requests)."
    return message


# --- building -------------------------------------------------------------------------------------


def _plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


def _option(value: str, text: str, description: str) -> JSON:
    return {"text": _plain(text), "value": value, "description": _plain(description)}


def _text(*, multiline: bool = False, max_length: int | None = None, placeholder: str | None = None) -> JSON:
    element: JSON = {"type": "plain_text_input", "multiline": multiline}
    if max_length is not None:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return element


def _input(block: str, label: str, element: JSON, *, optional: bool | None = None, hint: str | None = None) -> JSON:
    """An input block whose element's action_id is its block_id; optional unless it is the kind or reason."""
    block_json: JSON = {
        "type": "input",
        "block_id": block,
        "label": _plain(label),
        "optional": (block not in (KIND, REASON)) if optional is None else optional,
        "element": {**element, "action_id": block},
    }
    if hint:
        block_json["hint"] = _plain(hint)
    return block_json


def _workspace_block(workspaces: Sequence[str], kind: str | None) -> JSON:
    hint = (
        "The workspace the project is in."
        if kind == TRACES
        else "Leave empty to search every workspace; choose one to search only there."
    )
    element: JSON = {
        "type": "static_select",
        "placeholder": _plain("Every workspace" if kind != TRACES else "Choose the workspace"),
        "options": [{"text": _plain(name), "value": name} for name in workspaces],
    }
    return _input(WORKSPACE, "Workspace", element, hint=hint)


def _kind_block(kind: str | None) -> JSON:
    element: JSON = {"type": "radio_buttons", "options": _KIND_OPTIONS}
    chosen = next((option for option in _KIND_OPTIONS if option["value"] == kind), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {**_input(KIND, "What to purge", element), "dispatch_action": True}


_INTRO: JSON = {
    "type": "section",
    "block_id": "intro",
    "text": {
        "type": "mrkdwn",
        "text": "Files a compliance purge in LangSmith. Nothing is deleted until a second "
        "person approves it in the request's thread.",
    },
}
_CHOOSE_FIRST: JSON = {
    "type": "context",
    "block_id": "choose_kind",
    "elements": [{"type": "mrkdwn", "text": "Choose what to purge; the form then asks for what that kind needs."}],
}
_KIND_OPTIONS = [
    _option(TRACES, "Traces by ID", "Traces in one project, by trace ID."),
    _option(
        METADATA,
        "Metadata: traces and dataset examples",
        "Anything in the workspace whose metadata matches a key=value pair.",
    ),
    _option(EXAMPLES, "Examples only", "Dataset examples matching a pair, as of a time and in earlier versions."),
]
_FIELD_BLOCKS: dict[str, JSON] = {
    PROJECT: _input(
        PROJECT, "Project", _text(placeholder="prod-chat"), hint="The LangSmith project's exact name, or its UUID."
    ),
    TRACE_IDS: _input(
        TRACE_IDS,
        "Trace IDs",
        _text(multiline=True, max_length=FIELD_MAX, placeholder="0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f"),
        hint="One per line, or separated by spaces or commas. The field holds 3,000 characters, "
        "about 80 IDs; for more, use a metadata request.",
    ),
    PAIRS: _input(
        PAIRS,
        "Key=value pairs",
        _text(multiline=True, max_length=FIELD_MAX, placeholder="user_id=123"),
        hint='One per line or separated by spaces; quote a value with spaces: name="Ada Lovelace". '
        "Type values literally, not as @mentions. Several pairs are OR-matched: anything "
        "matching any one of them is purged.",
    ),
    AS_OF: _input(
        AS_OF,
        "As of",
        _text(placeholder="2026-05-01 or 2026-05-01T12:00:00Z"),
        hint="The dataset version to search, as an ISO-8601 date or time (UTC without a zone); "
        "earlier versions are searched too. Default: now.",
    ),
    REASON: _input(
        REASON,
        "Reason",
        _text(multiline=True, max_length=grammar.REASON_MAX, placeholder="DSR-1042"),
        optional=False,
        hint="A ticket number or a sentence, never personal data: the channel shows it.",
    ),
    TICKET: _input(TICKET, "Ticket", _text(max_length=grammar.TICKET_MAX, placeholder="DSR-1042")),
    DUE: _input(
        DUE,
        "Due date",
        {"type": "datepicker", "placeholder": _plain("Default: the standard deadline")},
        hint="Set it from the ticket: GDPR counts one calendar month from the subject's request.",
    ),
}
_KIND_FIELDS: dict[str, tuple[str, ...]] = {TRACES: (PROJECT, TRACE_IDS), METADATA: (PAIRS,), EXAMPLES: (PAIRS, AS_OF)}
