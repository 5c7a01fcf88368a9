"""``purgebot demo``: two purges from request to proof, told as the Slack conversation would read.

The headline case first — a subject's erasure by metadata, across projects, child runs and dataset
history — then a purge of traces listed by ID, with a typo the preview catches. Everything runs
here: the Slack and LangSmith stand-ins on loopback, purgebot serving HTTP, and a fresh database (in
a temporary folder, or in ``--keep DIR`` to inspect afterwards). No credentials, no network, and no
SLACK_*, LANGSMITH_* or PURGEBOT_* variable is read. The clock jumps over the weekend so LangSmith's
weekend delete job and Monday's checks happen in seconds.

Each step waits until what it caused has all reached Slack (:meth:`World.settle`) before the next
person acts, so every message is printed under the step that caused it.
"""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot import report
from bot.app import Tuning
from bot.clock import SandboxClock, parse_utc
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.slack_records import Message
from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.transcript import Transcript
from bot.sandbox.world import LANGSMITH_KEY, REQUESTS_CHANNEL, World, running_world
from storage import checks, events, requests

SUBJECT = {"user_id": "123"}
TYPO_ID = "9a1e0c6f-0000-4bad-8bad-0123456789ab"
LISTED_TRACES = 8
DATABASE = "purgebot.db"
UTC = ZoneInfo("UTC")


class FolderInUse(Exception):
    """``--keep DIR`` names a folder that already holds a demo's files: the demo never overwrites them."""


def run_demo(out: TextIO, *, keep: Path | None = None) -> int:
    """Tell the story; return the exit code (0 when every step happened as it should).

    With ``keep``, the database and the evidence reports are written there and left for inspection
    (``FolderInUse`` if it already holds them), and the transcript ends with their paths.
    """
    started = time.monotonic()
    transcript = Transcript(out)
    clock = SandboxClock()
    with contextlib.ExitStack() as stack:
        folder = (
            _kept(keep) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="purgebot-demo-")))
        )
        world = stack.enter_context(
            running_world(
                folder / DATABASE,
                clock=clock,
                # The stand-in does not hold posts to Slack's one a second per channel, so neither does the bot here.
                tuning=Tuning(check_interval=0.5, worker_idle=0.2, progress_interval=0.5, channel_pace=0.0),
                # SmithDB only, as GCP US cloud is today: v1 run queries answer 410, v2 looks at the last
                # 24 hours unless told a window, and the traces below are three days old.
                langsmith=FakeLangSmith(api_key=LANGSMITH_KEY, backend="smithdb"),
            )
        )
        world.slack.subscribe(transcript.on_event)
        try:
            _story(world, transcript, clock)
        except TimeoutError as error:
            transcript.say(f"\npurgebot demo: a step did not happen in time: {error}")
            return 1
        assert world.bot is not None
        written = [
            path
            for number in (1, 2)
            for path in report.write(world.bot.store.db, number, folder, now=clock.now(), tz=UTC)
        ]
        chain = events.verify_chain(world.bot.store.db)
        headline = folder / "PURGE-1-evidence.md"
        transcript.say(f"  wrote {', '.join(path.name for path in written)}; {headline.name} reads:\n")
        transcript.say(textwrap.indent(headline.read_text(), "    "))
        head = f"{chain.head_seq}:{chain.head_hash}"
        transcript.say(f"Audit chain: {'intact' if chain.intact else 'BROKEN'}, head {head}")
        world.stop_bot()  # the database is whole on disk before its path is printed
        # The file writers take turns on (storage.db.FileTurns) is of no use once nothing runs on the database.
        (folder / f"{DATABASE}-lock").unlink(missing_ok=True)
        if keep:
            transcript.say(f"\nKept for inspection in {folder}:")
            for path in (folder / DATABASE, *written):
                transcript.say(f"  {path}")
            transcript.say(f"  e.g. PURGEBOT_DB={folder / DATABASE} purgebot audit verify --expect {head}")
        else:
            transcript.say("(`purgebot demo --keep DIR` keeps the database and both reports for inspection.)")
    transcript.say(f"Demo finished in {time.monotonic() - started:.1f} s.")
    return 0


def _kept(folder: Path) -> Path:
    """``folder``, created if need be, when it holds no file the demo writes."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [DATABASE, f"{DATABASE}-wal", *(f"PURGE-{n}-evidence.{ext}" for n in (1, 2) for ext in ("json", "md"))]
    taken = [name for name in names if (folder / name).exists()]
    if taken:
        raise FolderInUse(f"{folder} already holds {', '.join(taken)} from an earlier demo; name another folder")
    return folder.resolve()


def _story(world: World, transcript: Transcript, clock: SandboxClock) -> None:
    assert world.people is not None and world.bot is not None
    alice, bob, carol, dave = world.people.alice, world.people.bob, world.people.carol, world.people.dave
    listed = _seed(world.langsmith, clock)
    transcript.say("purgebot demo: LangSmith purges from request to proof, against local stand-ins.")
    transcript.say(
        "LangSmith holds two projects, prod-chat (236 traces) and support-bot (64), and two datasets. The subject "
        "of ticket DSR-1042 asked to be forgotten: their user ID is in the metadata of 40 traces — on the root "
        "run of 34, only on a child run of 6 — and of 4 dataset examples, one of them kept only in an earlier "
        "version of its dataset. The traces are three days old."
    )
    transcript.say(
        "The workspace is SmithDB-only, as GCP US cloud is today: purgebot reads /info, queries v2, and states a "
        "window that reaches back past the traces (v2 alone would look at the last 24 hours)."
    )
    transcript.say(
        "Approvers: @bob and the @privacy-approvers group (@dave). Compliance channel: #compliance. "
        "Subject values show masked in the channel; only the requester's own command shows them."
    )

    command = 'metadata user_id=123 --reason "DSR-1042" --ticket DSR-1042'
    with transcript.step(alice.user_id, REQUESTS_CHANNEL, f"/purge {command}"):
        transcript.ack(alice.user_id, alice.slash(command, channel_id=REQUESTS_CHANNEL), timed=True)
    world.settle(_previewed(1))
    root = _root_with_buttons(world.slack, 1)
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

    transcript.say(
        "\n— A second request, by trace ID: an API key was pasted into a few chats in prod-chat. Alice lists "
        "their traces; one ID is mistyped. —"
    )
    ids = ", ".join([*listed, TYPO_ID])
    reason = '--reason "INC-311: API key pasted into chats" --ticket INC-311'
    shown = f"/purge traces prod-chat {listed[0]}, {listed[1]}, … ({len(listed) + 1} IDs, one mistyped) {reason}"
    with transcript.step(alice.user_id, REQUESTS_CHANNEL, shown):
        transcript.ack(alice.user_id, alice.slash(f"traces prod-chat {ids} {reason}", channel_id=REQUESTS_CHANNEL))
    world.settle(_previewed(2))
    with transcript.step(dave.user_id, REQUESTS_CHANNEL, "clicks [Approve] on PURGE-2 (dave is in @privacy-approvers)"):
        dave.click(_root_with_buttons(world.slack, 2), "Approve")
    world.settle(_reached(2, "submitted"))

    due = parse_utc(checks.for_request(world.bot.store.db, 2)[0].due_at)
    transcript.say("\n— The weekend: LangSmith runs its delete job over the queued deletes. —")
    deleted = world.langsmith.run_weekend()
    transcript.say(f"  (LangSmith stand-in: {deleted} traces deleted; nothing is sent to anyone.)")
    ran = due + timedelta(minutes=1)
    clock.jump_to(ran)
    transcript.say(
        f"— The clock moves to {ran:%a %d %b %H:%M} UTC: the scheduled checks fell due at {due:%H:%M} and run now. —"
    )
    world.bot.wake()
    world.settle(lambda db: _reached(1, "verified")(db) and _reached(2, "verified")(db))

    shown_before = transcript.mark()
    with transcript.step(alice.user_id, REQUESTS_CHANNEL, "/purge status PURGE-1"):
        transcript.ack(alice.user_id, alice.slash("status PURGE-1", channel_id=REQUESTS_CHANNEL))
    transcript.wait_shown("PURGE-1: verified", since=shown_before)  # answered after the ack
    transcript.say("\n— The compliance officer runs `purgebot report PURGE-1` (and PURGE-2) for the tickets. —")


def _seed(langsmith: FakeLangSmith, clock: SandboxClock) -> list[str]:
    """The workspace of the story; returns the IDs of the traces the second request lists."""
    three_days_ago = clock.now() - timedelta(days=3)
    month_ago = clock.now() - timedelta(days=30)
    prod, support = langsmith.add_project("prod-chat"), langsmith.add_project("support-bot")
    langsmith.add_traces(prod, 30, metadata=SUBJECT, start_time=three_days_ago)
    langsmith.add_traces(
        prod, 6, metadata={"user_id": "456"}, child_metadata=[{"step": "lookup"}, SUBJECT], start_time=three_days_ago
    )
    langsmith.add_traces(support, 4, metadata=SUBJECT, start_time=three_days_ago)
    listed = langsmith.add_traces(prod, LISTED_TRACES, start_time=three_days_ago)
    langsmith.add_traces(prod, 192, metadata={"user_id": "456"})
    langsmith.add_traces(support, 60)
    golden, regressions = langsmith.add_dataset("golden"), langsmith.add_dataset("regressions")
    for n in range(3):
        langsmith.add_example(golden, inputs={"q": f"q{n}"}, outputs={"a": "…"}, metadata=SUBJECT, created_at=month_ago)
    langsmith.add_example(golden, inputs={"q": "other"}, metadata={"user_id": "456"}, created_at=month_ago)
    removed = langsmith.add_example(regressions, inputs={"q": "old"}, metadata=SUBJECT, created_at=month_ago)
    langsmith.remove_example_from_latest(removed, at=month_ago + timedelta(days=1))
    return listed


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


def _root_with_buttons(slack: FakeSlack, number: int) -> Message:
    for message in slack.messages(REQUESTS_CHANNEL):
        if not message.is_reply and f"*PURGE-{number}*" in message.render() and "[Approve]" in message.render():
            return message
    raise TimeoutError(f"PURGE-{number} has no Approve button")
