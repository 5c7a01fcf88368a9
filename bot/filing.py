"""Filing a request: the checks before anything is stored, then the request and its first event at once.

A new request is checked against Slack (a channel the bot can post in), the configured workspaces
(``--workspace``) and, for trace IDs, LangSmith (the project exists, in that workspace). A refusal
stores nothing and uses no number; otherwise the request, its raw values, its pairs and its ``filed``
event are one transaction, and its message is queued through the outbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlite_utils import Database

from bot import grammar, messages
from bot.clock import Clock, utc_iso
from bot.grammar import ExamplesRequest, MetadataRequest, TracesRequest
from bot.journal import Journal
from bot.langsmith import LangSmithError, LangSmithRejected, Project, ProjectNotFound
from bot.settings import Settings
from bot.states import State
from bot.workflow import Reply, items_digest, named_actor
from bot.workspaces import WorkspaceClients
from storage import items, pairs, requests
from storage.db import Store
from storage.requests import Request

log = logging.getLogger(__name__)


class Filing:
    """Files new requests from the slash command, the request form and the intake API."""

    def __init__(
        self,
        *,
        store: Store,
        slack: WebClient,
        workspaces: WorkspaceClients,
        clock: Clock,
        settings: Settings,
        on_change: Callable[[], None],
    ) -> None:
        self._store = store
        self._slack = slack
        self._workspaces = workspaces
        self._clock = clock
        self._settings = settings
        self._on_change = on_change

    def file(
        self,
        command: grammar.Request,
        *,
        requester: str,
        channel: str,
        trigger_id: str,
        requester_name: str | None = None,
        record: Callable[[Database, Request], None] | None = None,
    ) -> Reply | None:
        """Check a new request against Slack (and LangSmith, for a project), then store it and queue its message.

        Returns a refusal, or None when the request was stored (its posted message is the answer).
        Nothing is stored and no number is used when the request is refused. ``requester_name`` is the
        name Slack sent with the command; the ``filed`` event keeps it for the evidence report.
        ``record`` writes what a caller keeps beside the request (the intake API's link to a platform's
        request) in the same transaction, so the two exist together or not at all.
        """
        refusal = self._channel_refusal(channel)
        if refusal:
            return refusal
        covered = self._workspaces_of(command)
        if isinstance(covered, Reply):
            return covered
        project = None
        if isinstance(command, TracesRequest):
            found = self._project(command.project, covered[0])
            if isinstance(found, Reply):
                return found
            project = found
        self._store_request(
            command,
            requester=requester,
            channel=channel,
            trigger_id=trigger_id,
            project=project,
            workspaces=covered,
            requester_name=requester_name,
            record=record,
        )
        return None

    @property
    def workspace_names(self) -> list[str]:
        """The configured LangSmith workspaces, for the request form's picker."""
        return self._workspaces.names

    def _workspaces_of(self, command: grammar.Request) -> list[str] | Reply:
        """The workspaces a request covers: the one ``--workspace`` names, or every configured one for a
        subject; a trace purge must name its workspace when there are several (its IDs live in one)."""
        configured = self._workspaces.names
        named = command.options.workspace
        if named is not None and named not in configured:
            return Reply(
                f"There is no workspace `{named}`: the workspaces are {', '.join(configured)}. Nothing was filed."
            )
        if named is not None:
            return [named]
        if isinstance(command, TracesRequest) and len(configured) > 1:
            return Reply(
                "A traces request names its workspace when there are several: add --workspace "
                f"{' or --workspace '.join(configured)}. Nothing was filed."
            )
        return configured

    def _project(self, name_or_id: str, workspace: str) -> Project | Reply:
        name = messages.escape(name_or_id)
        where = f" in workspace {workspace}" if len(self._workspaces) > 1 else ""
        try:
            return self._workspaces[workspace].resolve_project(name_or_id)
        except ProjectNotFound:
            return Reply(
                f"LangSmith has no project named `{name}`{where} that this API key can see. "
                "Check the spelling (names are exact) or give the project's UUID. Nothing was filed."
            )
        except LangSmithRejected as error:
            return Reply(
                f"LangSmith refused to look up project `{name}` ({error.status}: {messages.escape(error.message)}). "
                "Nothing was filed."
            )
        except LangSmithError as error:
            return Reply(
                f"LangSmith could not be reached to look up project `{name}` ({messages.escape(str(error))}). "
                "Nothing was filed; try again in a minute."
            )

    def _store_request(
        self,
        command: grammar.Request,
        *,
        requester: str,
        channel: str,
        trigger_id: str,
        workspaces: list[str],
        project: Project | None = None,
        requester_name: str | None = None,
        record: Callable[[Database, Request], None] | None = None,
    ) -> None:
        """The request, its raw values and its first event, in one transaction; then its message."""
        now = self._clock.now()
        options = command.options
        due = options.due or (
            now.astimezone(self._settings.purgebot_timezone).date()
            + timedelta(days=self._settings.purgebot_deadline_days)
        )
        kind = {TracesRequest: "traces", MetadataRequest: "metadata", ExamplesRequest: "examples"}[type(command)]
        values = list(command.trace_ids) if isinstance(command, TracesRequest) else []
        searched = [] if isinstance(command, TracesRequest) else list(command.pairs)
        as_of = command.as_of if isinstance(command, ExamplesRequest) else now
        with self._store.write() as db:
            request = requests.insert(
                db,
                kind=kind,
                state=State.AWAITING_APPROVAL.value,
                requester=requester,
                channel=channel,
                reason=options.reason,
                ticket=options.ticket,
                due_date=date.isoformat(due),
                project=project.name if project else None,
                session_id=project.id if project else None,
                item_count=len(values),
                items_digest=items_digest(values) if values else None,
                as_of=None if project else utc_iso(as_of),
                trigger_id=trigger_id,
                created_at=utc_iso(now),
                updated_at=utc_iso(now),
                workspaces=json.dumps(workspaces),
            )
            if project is not None:
                items.add(db, request.id, (items.Found(value, project.id) for value in values), workspace=workspaces[0])
            pairs.add(db, request.id, searched)
            if record is not None:
                record(db, request)
            Journal.of(db, now, self._settings).event(
                request.id,
                requester,
                "filed",
                kind=kind,
                project=request.project,
                session_id=request.session_id,
                items=len(values),
                items_digest=request.items_digest,
                pairs=len(searched),
                pairs_digest=items_digest([f"{k}={v}" for k, v in searched]) if searched else None,
                as_of=request.as_of,
                channel=channel,
                due=request.due_date,
                ticket=request.ticket,
                workspaces=workspaces,
                **named_actor(requester_name),
            )
            Journal.of(db, now, self._settings).refresh_request_message(request.id)
        log.info("request filed", extra={"request": request.label, "kind": kind, "items": len(values)})
        self._on_change()

    def _channel_refusal(self, channel: str) -> Reply | None:
        if channel.startswith("D"):
            return Reply(
                "File purge requests in a channel, not a direct message, so a second person can approve "
                "them in the thread. Nothing was filed."
            )
        try:
            info = self._slack.conversations_info(channel=channel).get("channel") or {}
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "unknown_error"
            if code == "channel_not_found":
                return Reply(
                    "I can't post in this channel: invite @purgebot (`/invite @purgebot`) and try again. "
                    "Nothing was filed."
                )
            return Reply(f"Slack did not let me check this channel ({code}). Nothing was filed.")
        if info.get("is_archived"):
            return Reply("This channel is archived. Nothing was filed.")
        if not info.get("is_member", False):
            return Reply(
                "I can't post in this channel: invite @purgebot (`/invite @purgebot`) and try again. Nothing was filed."
            )
        return None
