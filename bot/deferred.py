"""Doing what an ack promised: the slash commands, clicks, forms and home tabs that were stored with their claim.

A listener only parses, stores an action's job with its claim (``accept``) and acks; everything that
reads Slack, LangSmith or more than one row happens here, after the ack. In one process (tests, the
demo) ``after_ack`` does the job at once on the listener's thread; in ``purgebot serve`` it nudges the
worker process, whose ``step`` does it. A question changes nothing and is not stored: in ``serve`` it
is handed to the worker process over its socket (``answer_after_ack``). Either way the person hears
the answer ephemerally through the ``response_url`` Slack gave (a form: ``chat.postEphemeral``; a home
tab: the tab published again).

A job is taken (``storage.interactions.take``) in a write transaction before it is done, so two
processes on one file never both do it; one whose taker died is taken again after ``TAKEN_FOR``.
An action finishes its job in the same transaction as the change it makes, so a crash can neither
lose it nor do it twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient
from sqlite_utils import Database

from bot import form, grammar
from bot.clock import Clock, parse_utc, utc_iso
from bot.filing import Filing
from bot.home import HomeTab
from bot.jobs import Click, FormSubmission, HomeOpened, Job, ShowValues, SlashCommand, decode, encode
from bot.messages import escape
from bot.status import StatusBoard
from bot.supervisor import WorkerSupervisor
from bot.workflow import RecordingFailed, Reply, Workflow
from storage import interactions
from storage.db import Store
from storage.requests import Request

log = logging.getLogger(__name__)

TAKEN_FOR = timedelta(seconds=30)
"""How long a taker may take to do a job before another process may do it instead."""

MAX_TRIES = 5
"""A job whose doer died or failed this often is given up, and the person told, rather than tried forever."""
GAVE_UP = (
    "purgebot could not finish this after several tries (see its log). Check with `/purge status` or `/purge list` "
    "whether it took effect before you try again."
)

RESPONSE_URL_TIMEOUT = 10


class DeferredWork:
    """Accepts jobs before the ack and does them after it (here, or in the worker process's ``step``)."""

    def __init__(
        self,
        *,
        store: Store,
        workflow: Workflow,
        filing: Filing,
        board: StatusBoard,
        home: HomeTab,
        slack: WebClient,
        clock: Clock,
        worker_process: WorkerSupervisor | None,
    ) -> None:
        """``worker_process``: ``purgebot serve``'s listener nudges it to do each stored job and hands it
        each question (answering one itself only when it cannot take it); None: this process does each
        job right after its ack."""
        self._store = store
        self._workflow = workflow
        self._filing = filing
        self._board = board
        self._home = home
        self._slack = slack
        self._clock = clock
        self._worker_process = worker_process

    def accept(self, key: str, provisional: str, job: Job) -> str | None:
        """Store ``job`` with the claim of ``key`` (before the ack): None when this delivery is the first,
        else the answer the first one got, which a replay repeats without doing anything new."""
        return self._workflow.claim_interaction(key, provisional, job=job, taken=self._worker_process is None)

    def claim(self, key: str) -> bool:
        """Claim work the listener does itself (opening the request form): True when this delivery is the first."""
        return self._workflow.claim_interaction(key, "", job=None, taken=False) is None

    def after_ack(self, key: str, job: Job) -> None:
        """Do the accepted job now, or have the worker process do it."""
        if self._worker_process is None:
            self.perform(key, job)
        else:
            self._worker_process.nudge()

    def answer_after_ack(self, question: Job) -> None:
        """Answer a question (``status``, ``list``, ``audit``, *Show values*, a home tab): it changes nothing,
        so nothing is stored — the worker process answers it, or this process when there is none. A
        question lost with a worker that dies is simply asked again; storing each would cost the ack
        a write (measured: ``bench/ack_load.py``, README)."""
        if self._worker_process is None or not self._worker_process.hand_over(encode(question)):
            self.answer(question)

    def answer(self, question: Job) -> None:
        self.perform(None, question)

    def step(self) -> bool:
        """Driven by a ``Worker``: do the jobs nobody is doing. True when any was waiting."""
        stale_before = utc_iso(self._clock.now() - TAKEN_FOR)
        with self._store.read_snapshot() as db:
            waiting = interactions.undecided(db, stale_before=stale_before)
        for key in waiting:
            with self._store.write() as db:
                answer = interactions.take(db, key, at=utc_iso(self._clock.now()), stale_before=stale_before)
            if answer is None:
                continue
            try:
                job = decode(answer["pending"])
            except (TypeError, KeyError) as error:
                log.error("a stored job cannot be read; dropped", extra={"key": key, "error": repr(error)})
                self._finish(key)
                continue
            if answer["tries"] > MAX_TRIES:
                log.error("a job failed every try; given up", extra={"key": key, "tries": MAX_TRIES})
                self.tell(job, self._finish(key, GAVE_UP))
                continue
            self.perform(key, job)
        return bool(waiting)

    def perform(self, key: str | None, job: Job) -> None:
        """Do ``job`` (stored under ``key``; None: a question, not stored) and tell the person. If the
        database cannot record it, say so: the job stays taken, and is done again after ``TAKEN_FOR``."""
        try:
            text = self._do(key, job)
        except RecordingFailed as error:
            why = escape(str(error))
            if key is None:  # a question: nothing stored, so nothing retries it
                self.tell(job, f"purgebot could not use its database ({why}); ask again in a minute.")
            else:
                self.tell(job, f"purgebot could not record this yet ({why}); it tries again shortly.")
            return
        self.tell(job, text)

    # -- doing -------------------------------------------------------------------------------------

    def _do(self, key: str | None, job: Job) -> str:
        """The job's effect, with its interaction finished; the answer for the person ("" for none)."""
        match job:
            case Click():
                refusal = self._workflow.decide(
                    request_id=job.request_id,
                    preview_digest=job.preview_digest,
                    user=job.user,
                    approve=job.approve,
                    name=job.name,
                    answering=key,
                )
                return refusal.text if refusal else ""
            case SlashCommand():
                return self._command(key, job)
            case FormSubmission():
                return self._form(key, job)
            case ShowValues():  # a question: never stored, so there is nothing to finish
                return self._workflow.show_values(request_id=job.request_id, user=job.user).text
            case HomeOpened():
                self._home.publish(job.user)
                return ""

    def _command(self, key: str | None, command: SlashCommand) -> str:
        try:
            parsed = grammar.parse(command.text, now=parse_utc(command.received_at))
        except grammar.GrammarError as error:  # the grammar changed since it was accepted (an upgrade)
            return self._finish(key, escape(str(error)))
        user = command.user
        match parsed:
            case grammar.TracesRequest() | grammar.MetadataRequest() | grammar.ExamplesRequest():
                return self._file(key, parsed, user, command.channel, command.trigger_id, command.name)
            case grammar.Cancel(request_id=request_id):
                return self._workflow.cancel(request_id=request_id, user=user, name=command.name, answering=key).text
            case grammar.Verify(request_id=request_id):
                return self._workflow.verify_now(request_id=request_id, user=user, answering=key).text
            case grammar.Report(request_id=request_id):
                return self._workflow.upload_report(request_id=request_id, user=user, answering=key).text
            case grammar.Status(request_id=request_id):  # questions: never stored, nothing to finish
                return self._board.status(request_id, user).text
            case grammar.ListRequests(state=state):
                return self._board.list_requests(state, user).text
            case grammar.Audit():
                return self._workflow.audit(user).text
            case grammar.Help() | grammar.OpenForm():  # answered in the listener; never a job
                return ""

    def _form(self, key: str | None, submission: FormSubmission) -> str:
        try:
            request, channel = form.read_submission(submission.view, now=parse_utc(submission.received_at))
        except form.FormErrors:  # checked before the ack; only an upgrade in between gets here
            return self._finish(key, "purgebot could not read your form again after an upgrade. Nothing was filed.")
        return self._file(key, request, submission.user, channel, submission.trigger_id, submission.name)

    def _file(
        self, key: str | None, request: grammar.Request, user: str, channel: str, trigger_id: str, name: str | None
    ) -> str:
        """File it; a stored request finishes its job in the same transaction (its message is the answer)."""

        def finish_with_it(db: Database, _request: Request) -> None:
            if key is not None:
                interactions.finish(db, key)

        refusal: Reply | None = self._filing.file(
            request,
            requester=user,
            channel=channel,
            trigger_id=trigger_id,
            requester_name=name,
            record=finish_with_it,
        )
        return self._finish(key, refusal.text) if refusal is not None else ""

    def _finish(self, key: str | None, text: str | None = None) -> str:
        """Finish a job whose work wrote nothing (a refusal, an unstored question): its answer for the person
        (``text``; None keeps the ack's as the answer a replay repeats)."""
        if key is not None:
            with self._store.write() as db:
                interactions.finish(db, key, text)
        return text or ""

    # -- telling -----------------------------------------------------------------------------------

    def tell(self, job: Job, text: str) -> None:
        """Tell the person who caused ``job`` (also a replay's first answer, from the listener)."""
        match job:
            case Click(response_url=None):  # clicked on the home tab
                self._home.publish(job.user, notice=text or None)
            case Click() | SlashCommand() | ShowValues():
                if text:
                    self._respond(job.response_url or None, text)
            case FormSubmission():
                if text:
                    self._tell_submitter(job, text)
            case HomeOpened():
                pass

    def _respond(self, url: str | None, text: str) -> None:
        """Send ``text`` ephemerally through ``url``; a failure is logged (the person is not reachable)."""
        if url is None:
            problem = "no response_url"
        else:
            try:
                sent = WebhookClient(url, timeout=RESPONSE_URL_TIMEOUT).send(
                    text=text, response_type="ephemeral", replace_original=False
                )
            except (OSError, SlackRequestError) as error:
                problem = f"response_url failed: {error}"
            else:
                if sent.status_code == 200:
                    return
                problem = f"response_url answered {sent.status_code}"
        log.warning("could not answer the person", extra={"error": problem})

    def _tell_submitter(self, submission: FormSubmission, text: str) -> None:
        """Show ``text`` to the form's submitter in the channel it was opened from.

        ``chat.postEphemeral`` fails where the bot is not a member (the very case of "invite
        @purgebot") and in DMs between people; there the ``response_url`` of the ``/purge`` that opened
        the form still reaches the requester, if it has not expired (30 minutes).
        """
        view = submission.view
        channel = form.opened_in(view)
        try:
            self._slack.chat_postEphemeral(channel=channel, user=submission.user, text=text)
            return
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "unknown_error"
        url = form.response_url(view)
        if url is not None:
            self._respond(url, text)
        else:
            log.warning("could not tell the requester", extra={"channel": channel, "error": code})
