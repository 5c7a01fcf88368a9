"""The composition root: builds every part from the settings and wires them together.

Only this module and the CLI import ``handlers``. Tests and the demo build the same object, with
the Slack and LangSmith URLs pointing at the sandbox stand-ins and, where they need it, a clock.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import handlers
from bot.approvers import Approvers
from bot.callbacks import CallbackSender
from bot.clock import Clock, SystemClock
from bot.deadlines import Deadlines
from bot.deferred import DeferredWork
from bot.executor import Executor
from bot.filing import Filing
from bot.home import HomeTab
from bot.intake import Intake
from bot.langsmith import LangSmithClient, RetryPolicy
from bot.minimiser import Minimiser
from bot.notifier import Notifier
from bot.preview import Previewer
from bot.scheduler import CheckScheduler
from bot.settings import Settings
from bot.status import StatusBoard
from bot.status_feed import StatusFeed
from bot.supervisor import WorkerSupervisor
from bot.tasks import TaskContext
from bot.vault import Vault
from bot.verifier import Verifier
from bot.visibility import Visibility
from bot.worker import Worker
from bot.workflow import Workflow
from bot.workspaces import WorkspaceClients, load_workspaces
from storage import claims
from storage.db import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tuning:
    """Timings a deployment never changes but tests and the demo shorten."""

    lease: timedelta = timedelta(seconds=60)
    check_interval: float = 5.0
    scheduler_stall_grace: float = 600.0  # /healthz: how long past its interval the scheduler may be quiet
    worker_idle: float = 1.0
    progress_interval: float = 3.0
    wait_notice: float = 3.0  # a wait on LangSmith this long (s) or longer shows in the progress message
    channel_pace: float = 1.0
    slack_timeout: float = 10.0
    busy_timeout: float = 30.0  # how long a write waits for a writer that does not take turns (``Store``)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    langsmith_timeout: float = 30.0
    langsmith_transport: httpx.BaseTransport | None = None
    callback_backoff: float = 1.0  # first retry of a platform's status callback (s), doubled up to the max
    callback_max_backoff: float = 300.0


class PurgeBot:
    """Every long-lived part of one purgebot process."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        tuning: Tuning | None = None,
        environ: Mapping[str, str] | None = None,
        worker_process: bool = False,
    ) -> None:
        """``environ`` holds the keys a workspaces file names (default: the process environment).

        ``worker_process``: this process only listens (``purgebot serve``); ``start`` runs the background
        work in a supervised child process (:mod:`bot.supervisor`) instead of on threads here.
        """
        tuning = tuning or Tuning()
        configured = load_workspaces(settings, os.environ if environ is None else environ)
        self.settings = settings
        self.clock = clock or SystemClock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store = Store(settings.purgebot_db, busy_timeout=tuning.busy_timeout)
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        self.slack = WebClient(
            token=token, base_url=settings.slack_api_url, timeout=int(tuning.slack_timeout), retry_handlers=[]
        )
        self.workspaces = WorkspaceClients(
            configured,
            lambda workspace, limiters: LangSmithClient(
                endpoint=workspace.endpoint,
                api_key=workspace.api_key.get_secret_value(),
                workspace_id=workspace.workspace_id,
                workspace=workspace.name,
                transport=tuning.langsmith_transport,
                timeout=tuning.langsmith_timeout,
                query_api=settings.purgebot_langsmith_query_api,
                retry=tuning.retry,
                limiters=limiters,
            ),
            rates=settings.langsmith_rates(),
        )
        self.approvers = Approvers(settings.purgebot_approvers, self.slack)
        visibility = Visibility(self.slack, self.approvers)  # one membership cache for commands and App Home
        self.workflow = Workflow(
            store=self.store,
            approvers=self.approvers,
            visibility=visibility,
            clock=self.clock,
            settings=settings,
            on_change=self.wake,
        )
        self.filing = Filing(
            store=self.store,
            slack=self.slack,
            workspaces=self.workspaces,
            clock=self.clock,
            settings=settings,
            on_change=self.wake,
        )
        self.status_board = StatusBoard(store=self.store, visibility=visibility, clock=self.clock, settings=settings)
        context = TaskContext(
            store=self.store,
            workspaces=self.workspaces,
            clock=self.clock,
            settings=settings,
            owner=self.owner,
            on_change=self.wake,
            lease=tuning.lease,
        )
        self.previewer = Previewer(context, progress_interval=tuning.progress_interval)
        self.executor = Executor(context, progress_interval=tuning.progress_interval, wait_notice=tuning.wait_notice)
        self.verifier = Verifier(context, approvers=self.approvers)
        self.deadlines = Deadlines(context, approvers=self.approvers)
        self.home = HomeTab(
            store=self.store,
            slack=self.slack,
            approvers=self.approvers,
            visibility=visibility,
            clock=self.clock,
            settings=settings,
        )
        self.minimiser = Minimiser(context)
        self.notifier = Notifier(
            store=self.store, slack=self.slack, clock=self.clock, owner=self.owner, channel_pace=tuning.channel_pace
        )
        vault = Vault(settings.purgebot_intake_key)
        self.intake = Intake(store=self.store, filing=self.filing, vault=vault, clock=self.clock, settings=settings)
        self.callbacks = CallbackSender(
            store=self.store,
            feed=StatusFeed(store=self.store, clock=self.clock, settings=settings),
            vault=vault,
            clock=self.clock,
            owner=self.owner,
            backoff=tuning.callback_backoff,
            max_backoff=tuning.callback_max_backoff,
        )
        self._supervisor = WorkerSupervisor() if worker_process else None
        self.deferred = DeferredWork(
            store=self.store,
            workflow=self.workflow,
            filing=self.filing,
            board=self.status_board,
            home=self.home,
            slack=self.slack,
            clock=self.clock,
            worker_process=self._supervisor,
        )
        self._deferred_worker = Worker("deferred", self.deferred.step, idle=tuning.worker_idle)
        self._callback_worker = Worker("callbacks", self.callbacks.step, idle=tuning.worker_idle)
        self._previewer_worker = Worker("previewer", self.previewer.step, idle=tuning.worker_idle)
        self._executor_worker = Worker("executor", self.executor.step, idle=tuning.worker_idle)
        self._notifier_worker = Worker("notifier", self.notifier.step, idle=tuning.worker_idle)
        self.scheduler = CheckScheduler(
            self._tick, interval=tuning.check_interval, stall_grace=tuning.scheduler_stall_grace
        )
        self._bolt: App | None = None
        self._running = False

    @property
    def bolt(self) -> App:
        """The Bolt app with every listener registered (built on first use: it calls auth.test)."""
        if self._bolt is None:
            secret = self.settings.slack_signing_secret
            self._bolt = App(
                client=self.slack,
                signing_secret=secret.get_secret_value() if secret else None,
                logger=_bolt_logger(),
                listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
                process_before_response=False,
            )
            handlers.register(
                self._bolt, deferred=self.deferred, workflow=self.workflow, filing=self.filing, clock=self.clock
            )
        return self._bolt

    def start(self) -> None:
        """Start the executor, the notifier and the check scheduler (each resumes what is pending), here
        or in the worker process."""
        if self._supervisor is not None:
            self._supervisor.start()
            self._running = True
            return
        self.reclaim_dead_claims()
        self.workflow.redact_rested()
        self.callbacks.seal_clear_targets()
        for worker in self.workers:
            worker.start()
        self.scheduler.start()
        self._running = True

    def stop(self) -> None:
        if self._running and self._supervisor is not None:
            self._supervisor.stop()
            self._running = False
        if self._running:
            self.executor.halt()  # else the executor sends every remaining batch before it stops
            self.previewer.halt()  # and a long search goes on through the whole workspace
            self.workspaces.stop_waiting()  # nobody waits out a rate-limit window on the way down
            self.scheduler.stop()
            for worker in self.workers:
                worker.stop()
            self.executor.close()
            self.callbacks.close()
            self._running = False
        self.workspaces.close()
        self.store.close()

    @property
    def workers(self) -> tuple[Worker, ...]:
        return (
            self._deferred_worker,
            self._previewer_worker,
            self._executor_worker,
            self._notifier_worker,
            self._callback_worker,
        )

    def health(self) -> list[str]:
        """Why the bot cannot do its work now, one reason a line (empty: it can); ``/healthz`` shows them."""
        if not self._running:
            return ["the workers are not running"]
        problems = self._supervisor.problems() if self._supervisor is not None else self.work_problems()
        unwritable = self.store.write_problem()
        if unwritable:
            problems.append(f"the database is not writable: {unwritable}")
        return problems

    def work_problems(self) -> list[str]:
        """Why the background work is not running here (what the worker process reports to the listener)."""
        problems = [f"the {worker.name} worker has stopped" for worker in self.workers if not worker.alive]
        stalled = self.scheduler.stalled()
        if stalled:
            problems.append(stalled)
        return problems

    def _tick(self) -> None:
        """The scheduler's job: the query API (``/info`` read hourly in ``auto``), due checks, deadlines,
        minimisation, and forgetting old replay answers."""
        self.workspaces.refresh_query_apis()
        self.verifier.run_due()
        self.deadlines.run()
        self.minimiser.run()
        self.workflow.forget_old_interactions()

    def reclaim_dead_claims(self) -> int:
        """Free work claimed by purgebot processes on this host that no longer run (killed, crashed).

        Their leases would expire anyway; a restart should not wait for that. Owners on other hosts,
        or whose process id is alive, keep their claims until the lease runs out.
        """
        with self.store.write() as db:
            dead = [owner for owner in claims.owners(db) if owner != self.owner and _owner_is_dead(owner)]
            freed = claims.release_all(db, dead)
        if freed:
            log.info("took over work of stopped processes", extra={"rows": freed, "owners": len(dead)})
        return freed

    def wake(self) -> None:
        """New work was stored: cut the workers' idle wait short (in the worker process, if there is one)."""
        if self._supervisor is not None:
            self._supervisor.nudge()
            return
        for worker in self.workers:
            worker.wake()
        self.scheduler.wake()

    def check_notify_channel(self) -> str | None:
        """Say (return) why the bot cannot post to PURGEBOT_NOTIFY_CHANNEL, or None when it can."""
        channel = self.settings.purgebot_notify_channel
        if channel is None:
            return "PURGEBOT_NOTIFY_CHANNEL is not set"
        try:
            info = self.slack.conversations_info(channel=channel).get("channel") or {}
        except SlackApiError as error:
            return f"cannot see notify channel {channel}: Slack said {error.response.get('error')}"
        if info.get("is_archived"):
            return f"notify channel {channel} is archived"
        if not info.get("is_member"):
            return f"not a member of notify channel {channel}: invite @purgebot there"
        return None


def _bolt_logger() -> logging.Logger:
    """Bolt's logger, without its warning that ``SLACK_BOT_TOKEN`` is unused: Bolt reads that variable
    itself although the token reaches it inside ``client``, and the warning would mislead an operator."""
    bolt_log = logging.getLogger("slack_bolt.App")
    skipped = warning_client_prioritized_and_token_skipped()
    if not any(isinstance(f, _DropMessage) and f.message == skipped for f in bolt_log.filters):
        bolt_log.addFilter(_DropMessage(skipped))
    return bolt_log


class _DropMessage(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


def _owner_is_dead(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:nonce``) names a process on this host that has exited."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid_text))


def _is_zombie(pid: int) -> bool:
    """A process that exited but was not reaped yet (a killed worker whose parent died too): dead all the same."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here: count it as alive, and its claims run out with their leases
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
