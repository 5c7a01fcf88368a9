"""``/purge``: parse the text, store what it asks for with its claim, and ack at once.

A syntax error and ``help`` are the ack's own ephemeral answer and store nothing. Filing (which
checks Slack and LangSmith) and actions on a request are stored with their claim and acknowledged
with what is under way; questions (``status``, ``list``, ``audit``) change nothing and are not
stored. Either is done after the ack (:mod:`bot.deferred`), which answers through ``response_url``;
a filed request's message in the channel is its answer. A bare ``/purge`` opens the request form
(``handlers.views.request_form`` reads its Submit).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import form, grammar
from bot.clock import Clock, utc_iso
from bot.deferred import DeferredWork
from bot.filing import Filing
from bot.grammar import GrammarError
from bot.jobs import SlashCommand
from bot.messages import escape, pairs_text, plural
from bot.workflow import RecordingFailed, Workflow
from handlers.replies import actor_name


def filing_text(request: grammar.Request, *, show_values: bool, workspaces: list[str]) -> str:
    """The ack for a new request: what is being filed, before anything slow happens.

    Subject values are masked as in the channel (unless ``PURGEBOT_SHOW_VALUES=full``): the requester
    typed them, and the request message's *Show values* gives them back, to the requester alone.
    """
    if isinstance(request, grammar.TracesRequest):
        return (
            f"Filing a purge of {plural(len(request.trace_ids), 'trace ID', 'trace IDs')} in "
            f"`{escape(request.project)}`: checking the project with LangSmith…"
        )
    what = "traces and dataset examples" if isinstance(request, grammar.MetadataRequest) else "dataset examples"
    shown = pairs_text(request.pairs, show_values=show_values)
    named = request.options.workspace
    where = (
        f"in workspace {named}"
        if named
        else ("across the workspace" if len(workspaces) == 1 else f"across workspaces {', '.join(workspaces)}")
    )
    return f"Filing a subject purge of {what} matching {shown} {where}: searching LangSmith…"


def waiting_text(command: grammar.Command) -> str:
    """The ack for a question or an action on a request, while the answer is worked out after it."""
    match command:
        case grammar.Status(request_id=number):
            return f"Looking up PURGE-{number}…"
        case grammar.ListRequests():
            return "Looking up the requests…"
        case grammar.Audit():
            return "Checking the event chain…"
        case grammar.Cancel(request_id=number):
            return f"Cancelling PURGE-{number}…"
        case grammar.Verify(request_id=number):
            return f"Asking for a check of PURGE-{number}…"
        case grammar.Report(request_id=number):
            return f"Asking for the evidence report of PURGE-{number}…"
        case _:
            return "Working on it…"


def register(app: App, *, deferred: DeferredWork, workflow: Workflow, filing: Filing, clock: Clock) -> None:
    def purge_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        now = clock.now()
        try:
            parsed = grammar.parse(str(command.get("text") or ""), now=now)
        except GrammarError as error:
            ack(text=escape(str(error)))
            return
        key = f"command:{command.get('trigger_id')}"
        try:
            if isinstance(parsed, grammar.Help):
                ack(text=grammar.HELP_TEXT)
            elif isinstance(parsed, grammar.OpenForm):
                first = deferred.claim(key)
                ack()
                if first:  # a replay opens nothing: its trigger_id was spent on the first delivery's form
                    _open_form(command, respond, client, workspaces=filing.workspace_names)
            elif isinstance(parsed, grammar.Status | grammar.ListRequests | grammar.Audit):
                ack(text=waiting_text(parsed))  # a question: nothing to keep, nothing stored
                deferred.answer_after_ack(_job(command, received_at=utc_iso(now)))
            else:
                if isinstance(parsed, grammar.TracesRequest | grammar.MetadataRequest | grammar.ExamplesRequest):
                    provisional = filing_text(
                        parsed, show_values=workflow.shows_values, workspaces=filing.workspace_names
                    )
                else:
                    provisional = waiting_text(parsed)
                job = _job(command, received_at=utc_iso(now))
                earlier = deferred.accept(key, provisional, job)
                ack(text=earlier or provisional)
                if earlier is None:
                    deferred.after_ack(key, job)
        except RecordingFailed as error:
            ack(text=f"purgebot could not record this ({escape(str(error))}). Nothing changed; try again.")

    app.command("/purge")(purge_command)


def _job(command: dict[str, Any], *, received_at: str) -> SlashCommand:
    return SlashCommand(
        text=str(command.get("text") or ""),
        user=str(command.get("user_id", "")),
        channel=str(command.get("channel_id", "")),
        trigger_id=str(command.get("trigger_id") or ""),
        response_url=str(command.get("response_url") or ""),
        received_at=received_at,
        name=actor_name(command),
    )


def _open_form(command: dict[str, Any], respond: Respond, client: WebClient, *, workspaces: list[str]) -> None:
    """Open the form here, in the listener, while its trigger is valid (3 s): the one Slack call a listener
    makes, since the worker process could miss those three seconds whenever it is busy or restarting."""
    channel = str(command.get("channel_id", ""))
    view = form.request_form(
        channel, response_url=str(command.get("response_url") or "") or None, workspaces=workspaces
    )
    try:
        client.views_open(trigger_id=str(command.get("trigger_id") or ""), view=view)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown_error"
        late = " (the trigger expired: purgebot answered too slowly)" if code == "expired_trigger_id" else ""
        respond(
            text=f"Slack did not open the request form (`{escape(str(code))}`){late}. Nothing was filed. "
            "Type `/purge` again, or type the request as a command: see `/purge help`.",
            response_type="ephemeral",
        )
