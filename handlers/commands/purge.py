"""``/purge``: parse the text, answer at once, and do anything slow right after the ack.

A syntax error is the ack's own ephemeral answer and creates nothing. Filing a request checks
Slack and LangSmith, so it runs after the ack and answers through ``respond`` only if refused.
A bare ``/purge`` opens the request form (``handlers.views.request_form`` reads its Submit).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import form, grammar
from bot.clock import Clock
from bot.filing import Filing
from bot.grammar import GrammarError
from bot.messages import escape, pairs_text, plural
from bot.status import StatusBoard
from bot.workflow import RecordingFailed, Workflow
from handlers.replies import actor_name, answer


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


def register(app: App, *, workflow: Workflow, filing: Filing, board: StatusBoard, clock: Clock) -> None:
    def purge_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        try:
            _dispatch(ack, command, respond, client, workflow=workflow, filing=filing, board=board, clock=clock)
        except RecordingFailed as error:
            answer(ack, respond, f"purgebot could not record this ({escape(str(error))}). Nothing changed; try again.")

    app.command("/purge")(purge_command)


def _dispatch(
    ack: Ack,
    command: dict[str, Any],
    respond: Respond,
    client: WebClient,
    *,
    workflow: Workflow,
    filing: Filing,
    board: StatusBoard,
    clock: Clock,
) -> None:
    try:
        parsed = grammar.parse(str(command.get("text") or ""), now=clock.now())
    except GrammarError as error:
        ack(text=escape(str(error)))
        return
    user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
    match parsed:
        case grammar.Help():
            ack(text=grammar.HELP_TEXT)
        case grammar.Status(request_id=request_id):
            ack(text=board.status(request_id, user).text)
        case grammar.ListRequests(state=state):
            ack(text=board.list_requests(state, user).text)
        case grammar.Audit():
            ack(text=workflow.audit(user).text)
        case grammar.TracesRequest() | grammar.MetadataRequest() | grammar.ExamplesRequest():
            provisional = filing_text(parsed, show_values=workflow.shows_values, workspaces=filing.workspace_names)
            key = f"command:{command.get('trigger_id')}"
            earlier = workflow.claim_interaction(key, provisional)
            ack(text=earlier or provisional)
            if earlier is None:
                refusal = filing.file(
                    parsed,
                    requester=user,
                    channel=channel,
                    trigger_id=str(command.get("trigger_id")),
                    requester_name=actor_name(command),
                )
                if refusal is not None:
                    workflow.settle_interaction(key, refusal.text)
                    respond(text=refusal.text, response_type="ephemeral")
        case (
            grammar.Cancel(request_id=request_id)
            | grammar.Verify(request_id=request_id)
            | grammar.Report(request_id=request_id)
        ):
            key = f"command:{command.get('trigger_id')}"
            earlier = workflow.claim_interaction(key, "Working on it…")
            if earlier is not None:
                ack(text=earlier)
                return
            if isinstance(parsed, grammar.Cancel):
                reply = workflow.cancel(request_id=request_id, user=user, name=actor_name(command))
            elif isinstance(parsed, grammar.Verify):
                reply = workflow.verify_now(request_id=request_id, user=user)
            else:
                reply = workflow.upload_report(request_id=request_id, user=user)
            workflow.settle_interaction(key, reply.text)
            ack(text=reply.text)
        case grammar.OpenForm():
            key = f"command:{command.get('trigger_id')}"
            if workflow.claim_interaction(key, "") is not None:
                ack()  # a replay: its trigger_id was spent on the form the first delivery opened
                return
            ack()
            _open_form(command, respond, client, channel=channel, workspaces=filing.workspace_names)


def _open_form(
    command: dict[str, Any], respond: Respond, client: WebClient, *, channel: str, workspaces: list[str]
) -> None:
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
