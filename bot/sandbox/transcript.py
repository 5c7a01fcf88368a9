"""What people in the sandbox workspace see, printed as it happens: the demo's transcript.

It is built from the Slack stand-in's events (a message posted or edited, something shown to one
person), rendered as Slack would show them, with people and channels by name.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
import threading
from collections.abc import Iterator
from typing import TextIO

from bot.sandbox.slack_blocks import readable
from bot.sandbox.slack_records import Event, Message
from bot.sandbox.slack_user import Delivered
from bot.sandbox.world import ALICE, BOB, CAROL, DAVE, NOTIFY_CHANNEL, REQUESTS_CHANNEL

NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave", "U0PURGEBOT": "purgebot"}
CHANNELS = {REQUESTS_CHANNEL: "#privacy-requests", NOTIFY_CHANNEL: "#compliance"}
WAIT = 30.0  # seconds a step may take before the demo gives up on it


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
        """Wait until a bot message printed after ``since`` contains ``words``: for what the bot says outside
        the outbox (a refusal through the click's ``response_url``), which ``World.settle`` cannot see."""
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
