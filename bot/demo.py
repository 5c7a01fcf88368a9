"""``purgebot demo``: one purge from request to proof, told as the Slack conversation would read.

Everything runs here: the Slack and LangSmith stand-ins on loopback, purgebot serving HTTP, and a
fresh temporary database. No credentials, no network, and no SLACK_*, LANGSMITH_* or PURGEBOT_*
variable is read. The clock jumps over the weekend so LangSmith's weekend delete job and Monday's
check happen in seconds.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot import report
from bot.app import Tuning
from bot.clock import SandboxClock, parse_utc
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.slack_server import Event, FakeSlack, Message, readable
from bot.sandbox.slack_user import Delivered
from bot.sandbox.world import LANGSMITH_KEY, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import checks, events, requests

NAMES = {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol", "U0DAVE": "dave", "U0PURGEBOT": "purgebot"}
CHANNELS = {REQUESTS_CHANNEL: "#privacy-requests", NOTIFY_CHANNEL: "#compliance"}
KNOWN_TRACES = 40
TYPO_ID = "9a1e0c6f-0000-4bad-8bad-0123456789ab"
WAIT = 30.0
UTC = ZoneInfo("UTC")


def _names(text: str) -> str:
    text = re.sub(r"<@(U\w+)>", lambda m: "@" + NAMES.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<!subteam\^(S\w+)>", "@privacy-approvers", text)
    return re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)


class Transcript:
    """Prints what people would see, as it happens, from the Slack stand-in's events.

    A person's step (their line, and the ack Slack shows them at once) is printed under one lock, so a
    message the bot posts from another thread in the meantime waits and follows it.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._changed = threading.Condition(threading.RLock())
        self._shown: list[str] = []  # every bot message printed, header and body

    def say(self, text: str = "") -> None:
        with self._changed:
            self._out.write(text + "\n")
            self._out.flush()

    @contextlib.contextmanager
    def step(self, user: str, channel: str, action: str) -> Iterator[None]:
        """Print the person's line; what happens inside (their delivery, its ack) is printed before any bot message."""
        with self._changed:
            self.say(f"\n{CHANNELS[channel]}  {NAMES[user]}: {action}")
            yield

    def ack(self, user: str, ack: Delivered, *, timed: bool = False) -> None:
        """The ack's answer, shown only to the person who acted."""
        took = f", {ack.elapsed * 1000:.0f} ms" if timed else ""
        self.bot(f"{CHANNELS[REQUESTS_CHANNEL]} purgebot (only {NAMES[user]} sees this{took}):", readable(ack.text))

    def bot(self, header: str, body: str) -> None:
        indented = textwrap.indent(_names(body), "      ")
        with self._changed:
            self.say(f"  {header}\n{indented}")
            self._shown.append(f"{header}\n{body}")
            self._changed.notify_all()

    def mark(self) -> int:
        """How many bot messages were printed so far (for :meth:`wait_shown`)."""
        with self._changed:
            return len(self._shown)

    def wait_shown(self, words: str, *, since: int, timeout: float = WAIT) -> None:
        """Wait until a bot message printed after ``since`` contains ``words``."""
        with self._changed:
            if not self._changed.wait_for(lambda: any(words in m for m in self._shown[since:]), timeout):
                raise TimeoutError(f"no message saying {words!r} after {timeout:g}s")

    def on_event(self, event: Event) -> None:
        message = event.message
        if event.kind == "message_posted" and message is not None:
            self.bot(f"{self._where(message)} purgebot:", message.render())
        elif event.kind == "message_updated" and message is not None:
            self.bot(f"{self._where(message)} purgebot edited its message:", message.render())
        elif event.kind == "ephemeral" and event.ephemeral is not None:
            who = NAMES.get(event.ephemeral.user or "", "someone")
            self.bot(
                f"{CHANNELS.get(event.ephemeral.channel or '', '')} purgebot (only {who} sees this):",
                event.ephemeral.render(),
            )

    def _where(self, message: Message) -> str:
        channel = CHANNELS.get(message.channel, message.channel)
        return f"{channel} ↳ thread" if message.is_reply else channel


def run_demo(out: TextIO) -> int:
    """Tell the story; return the exit code (0 when every step happened as it should)."""
    started = time.monotonic()
    transcript = Transcript(out)
    clock = SandboxClock()
    with (
        tempfile.TemporaryDirectory(prefix="purgebot-demo-") as folder,
        running_world(
            Path(folder) / "purgebot.db",
            clock=clock,
            # The stand-in does not hold posts to Slack's one a second per channel, so neither does the bot here.
            tuning=Tuning(check_interval=0.5, worker_idle=0.2, progress_interval=0.5, channel_pace=0.0),
            # SmithDB only, as GCP US cloud is today: v1 run queries answer 410, v2 looks at the last
            # 24 hours unless told a window, and the traces below are three days old.
            langsmith=FakeLangSmith(api_key=LANGSMITH_KEY, backend="smithdb"),
        ) as world,
    ):
        world.slack.subscribe(transcript.on_event)
        try:
            _story(world, transcript, clock)
        except TimeoutError as error:
            transcript.say(f"\npurgebot demo: a step did not happen in time: {error}")
            return 1
        assert world.bot is not None
        chain = events.verify_chain(world.bot.store.db)
        transcript.say(f"\nAudit chain intact: {chain.intact}, head {chain.head_seq}:{chain.head_hash}")
    transcript.say(f"Demo finished in {time.monotonic() - started:.1f} s.")
    return 0


def _story(world: World, transcript: Transcript, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    alice, bob, carol = world.people.alice, world.people.bob, world.people.carol
    project = world.langsmith.add_project("prod-chat")
    three_days_ago = clock.now() - timedelta(days=3)
    trace_ids = world.langsmith.add_traces(
        project, KNOWN_TRACES, metadata={"user_id": "123"}, start_time=three_days_ago
    )
    world.langsmith.add_traces(project, 200)
    transcript.say("purgebot demo: a LangSmith purge from request to proof, against local stand-ins.")
    transcript.say(
        f"LangSmith holds project prod-chat with {KNOWN_TRACES + 200} traces; {KNOWN_TRACES} belong "
        "to user 123, who asked to be forgotten (DSR-1042). They are three days old."
    )
    transcript.say(
        "The workspace is SmithDB-only, as GCP US cloud is today: purgebot reads /info, queries v2, and states a "
        "window that reaches back past the traces (v2 alone would look at the last 24 hours)."
    )
    transcript.say("Approvers: @bob and the @privacy-approvers group. Compliance channel: #compliance.")

    ids = ", ".join([*trace_ids, TYPO_ID])
    command = f'traces prod-chat {ids} --reason "DSR-1042: erase user 123" --ticket DSR-1042'
    shown = (
        f"/purge traces prod-chat {trace_ids[0]}, {trace_ids[1]}, … ({KNOWN_TRACES + 1} IDs, one mistyped) "
        '--reason "DSR-1042: erase user 123" --ticket DSR-1042'
    )
    with transcript.step(alice.user_id, REQUESTS_CHANNEL, shown):
        transcript.ack(alice.user_id, alice.slash(command, channel_id=REQUESTS_CHANNEL), timed=True)
    world.settle(_previewed(1))
    root = _root_with_buttons(world.slack)
    assert root is not None

    for person, action, refusal in (
        (alice, "clicks [Approve] on her own request", "so you can't approve it"),
        (carol, "clicks [Approve] (carol is not an approver)", "Only approvers can approve"),
    ):
        shown_before = transcript.mark()
        with transcript.step(person.user_id, REQUESTS_CHANNEL, action):
            person.click(root, "Approve")
        transcript.wait_shown(refusal, since=shown_before)
    with transcript.step(bob.user_id, REQUESTS_CHANNEL, "clicks [Approve]"):
        bob.click(root, "Approve")
    world.settle(_reached(1, "submitted"))

    with transcript.step(alice.user_id, REQUESTS_CHANNEL, "/purge verify PURGE-1   (right away, before the weekend)"):
        transcript.ack(alice.user_id, alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL))
    world.settle(_manual_check_done(1))

    due = parse_utc(checks.for_request(world.bot.store.db, 1)[0].due_at)
    transcript.say("\n— The weekend: LangSmith runs its delete job over the queued deletes. —")
    deleted = world.langsmith.run_weekend()
    transcript.say(f"  (LangSmith stand-in: {deleted} traces deleted; nothing is sent to anyone.)")
    clock.jump_to(due + timedelta(minutes=1))
    transcript.say(f"— The clock moves to {due:%a %d %b %H:%M} UTC, when the scheduled check is due. —")
    world.bot.wake()
    world.settle(_reached(1, "verified"))

    with transcript.step(alice.user_id, REQUESTS_CHANNEL, "/purge status PURGE-1"):
        transcript.ack(alice.user_id, alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL))

    transcript.say("\n— The compliance officer runs `purgebot report PURGE-1` for the ticket. —")
    with tempfile.TemporaryDirectory(prefix="purgebot-report-") as folder:
        json_path, md_path = report.write(world.bot.store.db, 1, Path(folder), now=clock.now(), tz=UTC)
        transcript.say(f"  wrote {json_path.name} ({json_path.stat().st_size:,} bytes) and {md_path.name}:\n")
        transcript.say(textwrap.indent(md_path.read_text(), "    "))


def _previewed(number: int) -> Callable[[Database], bool]:
    def previewed(db: Database) -> bool:
        request = requests.find(db, number)
        return request is not None and request.preview_succeeded

    previewed.__name__ = f"PURGE-{number} previewed"
    return previewed


def _reached(number: int, state: str) -> Callable[[Database], bool]:
    def reached(db: Database) -> bool:
        request = requests.find(db, number)
        return request is not None and request.state == state

    reached.__name__ = f"PURGE-{number} {state}"
    return reached


def _manual_check_done(number: int) -> Callable[[Database], bool]:
    def checked(db: Database) -> bool:
        return any(c.kind == checks.MANUAL and c.state == checks.DONE for c in checks.for_request(db, number))

    checked.__name__ = f"a manual check of PURGE-{number} done"
    return checked


def _root_with_buttons(slack: FakeSlack) -> Message | None:
    for message in slack.messages(REQUESTS_CHANNEL):
        if not message.is_reply and "[Approve]" in message.render():
            return message
    return None
