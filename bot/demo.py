"""``purgebot demo``: one purge from request to proof, told as the Slack conversation would read.

Everything runs here: the Slack and LangSmith stand-ins on loopback, purgebot serving HTTP, and a
fresh temporary database. No credentials, no network, and no SLACK_*, LANGSMITH_* or PURGEBOT_*
variable is read. The clock jumps over the weekend so LangSmith's weekend delete job and Monday's
check happen in seconds.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot import report
from bot.app import Tuning
from bot.clock import SandboxClock, parse_utc
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.slack_server import Event, FakeSlack, Message
from bot.sandbox.world import LANGSMITH_KEY, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import checks, events

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
    """Prints what people would see, as it happens, from the Slack stand-in's events."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._roots: dict[str, str] = {}

    def say(self, text: str = "") -> None:
        with self._lock:
            self._out.write(text + "\n")
            self._out.flush()

    def person(self, user: str, channel: str, action: str) -> None:
        self.say(f"\n{CHANNELS[channel]}  {NAMES[user]}: {action}")

    def bot(self, header: str, body: str) -> None:
        indented = textwrap.indent(_names(body), "      ")
        self.say(f"  {header}\n{indented}")

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
            tuning=Tuning(check_interval=0.5, worker_idle=0.2, progress_interval=0.5),
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
    transcript.person(alice.user_id, REQUESTS_CHANNEL, shown)
    ack = alice.slash(command, channel_id=REQUESTS_CHANNEL)
    transcript.bot(
        f"{CHANNELS[REQUESTS_CHANNEL]} purgebot (only alice sees this, {ack.elapsed * 1000:.0f} ms):", ack.body
    )
    world.slack.wait_for(lambda s: _root_with_buttons(s) is not None, timeout=WAIT)
    root = _root_with_buttons(world.slack)
    assert root is not None

    transcript.person(alice.user_id, REQUESTS_CHANNEL, "clicks [Approve] on her own request")
    alice.click(root, "Approve")
    world.slack.wait_for(lambda s: bool(s.ephemerals(alice.user_id)), timeout=WAIT)
    transcript.person(carol.user_id, REQUESTS_CHANNEL, "clicks [Approve] (carol is not an approver)")
    carol.click(root, "Approve")
    world.slack.wait_for(lambda s: bool(s.ephemerals(carol.user_id)), timeout=WAIT)
    transcript.person(bob.user_id, REQUESTS_CHANNEL, "clicks [Approve]")
    bob.click(root, "Approve")
    world.slack.wait_for(lambda s: _thread_says(s, root, "submitted"), timeout=WAIT)

    transcript.person(alice.user_id, REQUESTS_CHANNEL, "/purge verify PURGE-1   (right away, before the weekend)")
    ack = alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    transcript.bot(f"{CHANNELS[REQUESTS_CHANNEL]} purgebot (only alice sees this):", ack.body)
    world.slack.wait_for(lambda s: _thread_says(s, root, "Manual check"), timeout=WAIT)

    due = parse_utc(checks.for_request(world.bot.store.db, 1)[0].due_at)
    transcript.say("\n— The weekend: LangSmith runs its delete job over the queued deletes. —")
    deleted = world.langsmith.run_weekend()
    transcript.say(f"  (LangSmith stand-in: {deleted} traces deleted; nothing is sent to anyone.)")
    clock.jump_to(due + timedelta(minutes=1))
    transcript.say(f"— The clock moves to {due:%a %d %b %H:%M} UTC, when the scheduled check is due. —")
    world.bot.wake()
    world.slack.wait_for(lambda s: len(s.messages(NOTIFY_CHANNEL)) >= 1, timeout=WAIT)
    world.slack.wait_for(lambda s: _thread_says(s, root, "verified"), timeout=WAIT)

    transcript.person(alice.user_id, REQUESTS_CHANNEL, "/purge status PURGE-1")
    ack = alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    transcript.bot(f"{CHANNELS[REQUESTS_CHANNEL]} purgebot (only alice sees this):", ack.body)

    transcript.say("\n— The compliance officer runs `purgebot report PURGE-1` for the ticket. —")
    with tempfile.TemporaryDirectory(prefix="purgebot-report-") as folder:
        json_path, md_path = report.write(world.bot.store.db, 1, Path(folder), now=clock.now(), tz=UTC)
        transcript.say(f"  wrote {json_path.name} ({json_path.stat().st_size:,} bytes) and {md_path.name}:\n")
        transcript.say(textwrap.indent(md_path.read_text(), "    "))


def _root_with_buttons(slack: FakeSlack) -> Message | None:
    for message in slack.messages(REQUESTS_CHANNEL):
        if not message.is_reply and "[Approve]" in message.render():
            return message
    return None


def _thread_says(slack: FakeSlack, root: Message, words: str) -> bool:
    return any(words in reply.text for reply in slack.thread(REQUESTS_CHANNEL, root.ts) if reply.is_reply)
