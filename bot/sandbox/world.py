"""A whole workspace on loopback: the Slack and LangSmith stand-ins, and purgebot serving HTTP.

``purgebot demo`` tells its story in one; the end-to-end tests drive one. Everything talks over
real HTTP: the people below reach purgebot through signed requests, purgebot reaches the
stand-ins through its real Slack and LangSmith clients.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.app import PurgeBot, Tuning
from bot.clock import Clock, SandboxClock, utc_iso
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.langsmith import create_app as langsmith_app
from bot.sandbox.serving import serve
from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.slack_server import create_app as slack_app
from bot.sandbox.slack_user import SlackDelivery, SlackUser
from bot.server import create_web_app
from bot.settings import Settings, load_settings
from storage import checks, outbox

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-bot-token"
LANGSMITH_KEY = "lsv2_sandbox_api_key"

REQUESTS_CHANNEL = "C0PRIVACY"
NOTIFY_CHANNEL = "C0COMPLIANCE"
ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
APPROVER_GROUP = "S0PRIVACY"


@dataclass(frozen=True)
class People:
    """Who is in the sandbox: Alice files requests, Bob and Dave approve, Carol only watches."""

    alice: SlackUser
    bob: SlackUser
    carol: SlackUser
    dave: SlackUser


class World:
    """The stand-ins and one running purgebot, with the people who use it."""

    def __init__(
        self,
        *,
        slack: FakeSlack,
        langsmith: FakeLangSmith,
        slack_url: str,
        langsmith_url: str,
        db_path: Path,
        clock: Clock,
        tuning: Tuning,
        settings: dict[str, Any],
        environ: dict[str, str] | None = None,
        fakes: dict[str, FakeLangSmith] | None = None,
    ) -> None:
        self.slack = slack
        self.langsmith = langsmith
        self.environ = environ or {}  # the keys a workspaces file names
        self.fakes = fakes or {"default": langsmith}  # the LangSmith stand-in of each workspace
        self.slack_url = slack_url
        self.langsmith_url = langsmith_url
        self.db_path = db_path
        self.clock = clock
        self.tuning = tuning
        self._settings = settings
        self.bot: PurgeBot | None = None
        self.app_url = ""
        self.people: People | None = None
        self._bot_stack = contextlib.ExitStack()

    @property
    def settings(self) -> Settings:
        return load_settings(
            isolated=True,
            **{
                "slack_bot_token": BOT_TOKEN,
                "slack_signing_secret": SIGNING_SECRET,
                "slack_api_url": self.slack_url + "/api/",
                "langsmith_api_key": LANGSMITH_KEY,
                "langsmith_endpoint": self.langsmith_url,
                "purgebot_db": self.db_path,
                "purgebot_approvers": f"{BOB},{APPROVER_GROUP}",
                "purgebot_notify_channel": NOTIFY_CHANNEL,
                **self._settings,
            },
        )

    def start_bot(self) -> PurgeBot:
        """Start purgebot (again, after ``stop_bot``) on the same database: a restart."""
        bot = PurgeBot(self.settings, clock=self.clock, tuning=self.tuning, environ=self.environ)
        self._bot_stack.callback(bot.stop)
        self.app_url = self._bot_stack.enter_context(serve(create_web_app(bot.bolt, bot.health, bot.intake)))
        bot.start()
        delivery = SlackDelivery(
            app_url=self.app_url, signing_secret=SIGNING_SECRET, slack=self.slack, slack_url=self.slack_url
        )
        self._bot_stack.callback(delivery.close)
        self.people = People(*(SlackUser(delivery, user) for user in (ALICE, BOB, CAROL, DAVE)))
        self.bot = bot
        return bot

    def stop_bot(self) -> None:
        self._bot_stack.close()
        self.bot = None

    @contextlib.contextmanager
    def people_at(self, app_url: str) -> Iterator[tuple[SlackUser, SlackUser]]:
        """Alice and Bob reaching a purgebot served elsewhere — a child process, perhaps restarted since —
        over signed HTTP, through a delivery of their own that is closed afterwards."""
        delivery = SlackDelivery(
            app_url=app_url, signing_secret=SIGNING_SECRET, slack=self.slack, slack_url=self.slack_url
        )
        try:
            yield SlackUser(delivery, ALICE), SlackUser(delivery, BOB)
        finally:
            delivery.close()

    def settle(self, done: Callable[[Database], bool], *, timeout: float = 30.0) -> None:
        """Wait until ``done`` holds in purgebot's database and everything purgebot had to say about it
        has reached Slack: no message waits in the outbox and no check is due.

        ``done`` names the effect of what a person just did (a request stored, a state reached). The
        messages that effect causes are outbox rows written in the same transaction, and a row is marked
        sent only after the Slack stand-in answered — which it does after showing the change to its
        listeners. So once both hold in one snapshot, all of it has been seen. Checks due now (the
        examples checked at submit) are part of it. It polls for that; it never sleeps a fixed time and hopes.
        """
        assert self.bot is not None, "start_bot() first"
        store, deadline = self.bot.store, time.monotonic() + timeout
        while True:
            with store.read_snapshot() as db:
                quiet = outbox.pending_count(db) == 0 and checks.due_count(db, utc_iso(self.clock.now())) == 0
                if quiet and done(db):
                    return
            if time.monotonic() >= deadline:
                name = getattr(done, "__name__", repr(done))
                raise TimeoutError(f"{name} and nothing left to post: still not so after {timeout:g}s")
            time.sleep(0.01)

    @property
    def delivery(self) -> SlackDelivery:
        assert self.people is not None, "start_bot() first"
        return self.people.alice.delivery


def populate_slack(slack: FakeSlack) -> None:
    for user, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (DAVE, "dave")):
        slack.add_user(user, name)
    everyone = (ALICE, BOB, CAROL, DAVE)
    slack.add_channel(REQUESTS_CHANNEL, "privacy-requests", members=everyone)
    slack.add_channel(NOTIFY_CHANNEL, "compliance", members=everyone)
    slack.add_usergroup(APPROVER_GROUP, "privacy-approvers", [DAVE])


@contextlib.contextmanager
def running_world(
    db_path: Path,
    *,
    clock: Clock | None = None,
    tuning: Tuning | None = None,
    langsmith: FakeLangSmith | None = None,
    workspaces: dict[str, FakeLangSmith] | None = None,
    start: bool = True,
    **settings: Any,
) -> Iterator[World]:
    """Start the stand-ins (and purgebot, unless ``start`` is False); stop everything on exit.

    ``workspaces`` names several LangSmith stand-ins, each its own workspace with its own key: they are
    written to a workspaces file beside the database, and ``langsmith`` is the first of them.
    """
    slack = FakeSlack(bot_token=BOT_TOKEN)
    populate_slack(slack)
    if workspaces:
        langsmith = next(iter(workspaces.values()))
    langsmith = langsmith or FakeLangSmith(api_key=LANGSMITH_KEY)
    environ: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        slack_url = stack.enter_context(serve(slack_app(slack)))
        langsmith_url = stack.enter_context(serve(langsmith_app(langsmith)))
        if workspaces:
            tables = []
            for name, fake in workspaces.items():
                url = langsmith_url if fake is langsmith else stack.enter_context(serve(langsmith_app(fake)))
                variable = "LANGSMITH_API_KEY_" + name.upper().replace("-", "_")
                environ[variable] = fake.api_key
                tables.append(f'[[workspace]]\nname = "{name}"\nendpoint = "{url}"\napi_key_env = "{variable}"\n')
            path = db_path.parent / "workspaces.toml"
            path.write_text("\n".join(tables))
            settings = {"purgebot_workspaces_file": path, **settings}
        world = World(
            slack=slack,
            langsmith=langsmith,
            slack_url=slack_url,
            langsmith_url=langsmith_url,
            db_path=db_path,
            clock=clock or SandboxClock(),
            tuning=tuning or Tuning(),
            settings=settings,
            environ=environ,
            fakes=workspaces,
        )
        stack.callback(world.stop_bot)
        if start:
            world.start_bot()
        yield world
