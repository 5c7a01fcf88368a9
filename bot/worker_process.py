"""The worker process ``purgebot serve`` starts and supervises (:mod:`bot.supervisor`): the slow work, no acks.

    python -m bot.worker_process --fd N --parent PID

It lowers its own CPU priority (``NICENESS``), builds the same :class:`bot.app.PurgeBot` from the
same environment as the listener and starts what the listener no longer runs: the deferred work,
the previewer, the executor, the notifier, the callback sender and the check scheduler (each resumes
what is pending, including the commands, clicks and forms the listener stored and acked). Over the
socket ``--fd`` it reads nudges and writes a health report every half second.

When the listener is gone (end-of-file on the socket, or a new parent) it exits at once with
``os._exit``, as a ``kill -9`` would end it: nothing it was sending is recorded as done, its claims
name a process that no longer runs, and the next worker takes them over at start (``reclaim_dead_claims``).
Stopping gracefully instead would leave it sending deletes beside the next listener's worker until
its leases ran out. SIGTERM (``serve`` stopping, or a stop sent to the whole group) stops it cleanly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import TYPE_CHECKING

from bot import logs
from bot.jobs import Job, decode
from bot.settings import SettingsError, load_settings
from bot.supervisor import REPORT_INTERVAL

if TYPE_CHECKING:
    from bot.app import PurgeBot

log = logging.getLogger("purgebot.worker")

NICENESS = 10
"""How much lower the worker's CPU priority is than the listener's. When both want the CPU (a purge under
way while people click), the kernel gives the listener most of it: an ack is what a person waits for,
while the purge's pace is mostly LangSmith's limits and latency. Alone, the worker still gets all it wants."""

ANSWERERS = 4
"""Threads answering the questions the listener hands over, so a slow Slack lookup holds up no other."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="purgebot's worker process (started by purgebot serve)")
    parser.add_argument("--fd", type=int, required=True, help="the socket shared with the listener")
    parser.add_argument("--parent", type=int, required=True, help="the listener's process id")
    args = parser.parse_args(argv)
    channel = socket.socket(fileno=args.fd)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"purgebot worker: {error}", file=sys.stderr)
        return 1
    logs.configure(logs.level_named(settings.purgebot_log_level))
    os.nice(NICENESS)

    from bot.app import PurgeBot
    from storage.db import StorageError

    try:
        bot = PurgeBot(settings)
    except (StorageError, SettingsError) as error:
        log.error("the worker process cannot start", extra={"error": str(error)})
        return 1
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # a Ctrl-C reaches the whole group; the listener stops us in turn
    answering = ThreadPoolExecutor(max_workers=ANSWERERS, thread_name_prefix="answers")
    threading.Thread(target=_hear_listener, args=(channel, bot, answering), name="listener", daemon=True).start()
    try:
        bot.start()
        log.info("worker process running", extra={"listener_pid": args.parent})
        while not stopping.is_set():
            if os.getppid() != args.parent:
                _listener_gone()
            try:
                channel.sendall(json.dumps({"problems": bot.work_problems()}).encode() + b"\n")
            except OSError:
                _listener_gone()
            stopping.wait(REPORT_INTERVAL)
    finally:
        answering.shutdown(wait=False, cancel_futures=True)
        bot.stop()
    return 0


def _hear_listener(channel: socket.socket, bot: PurgeBot, answering: ThreadPoolExecutor) -> None:
    """Wake the workers on each nudge, answer each question handed over (on ``answering``'s threads, so
    a slow answer holds up no nudge); end the process when the listener's end closes."""
    try:
        for line in channel.makefile("rb"):
            try:
                message = json.loads(line)
                question = decode(message["answer"]) if "answer" in message else None
            except (ValueError, TypeError, KeyError) as error:  # a line the listener did not finish
                log.warning("a message from the listener could not be read", extra={"error": repr(error)})
                continue
            if question is None:
                bot.wake()
            else:
                answering.submit(_answer, bot, question)
    except OSError:
        pass
    _listener_gone()


def _answer(bot: PurgeBot, question: Job) -> None:
    """Answer one question on a pool thread, whose future nobody reads: a failure is logged here or lost."""
    try:
        bot.deferred.answer(question)
    except Exception:  # one question's failure must not pass unseen; the others go on regardless
        log.exception("a question could not be answered")


def _listener_gone() -> None:
    log.error("the listener process is gone; the worker process exits at once")
    logging.shutdown()
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
