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
from collections.abc import Callable
from types import FrameType

from bot import logs
from bot.settings import SettingsError, load_settings
from bot.supervisor import REPORT_INTERVAL

log = logging.getLogger("purgebot.worker")

NICENESS = 10
"""How much lower the worker's CPU priority is than the listener's. When both want the CPU (a purge under
way while people click), the kernel gives the listener most of it: an ack is what a person waits for,
while the purge's pace is mostly LangSmith's limits and latency. Alone, the worker still gets all it wants."""


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
    threading.Thread(target=_hear_nudges, args=(channel, bot.wake), name="nudges", daemon=True).start()
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
        bot.stop()
    return 0


def _hear_nudges(channel: socket.socket, wake: Callable[[], None]) -> None:
    """Wake the workers on each nudge; end the process when the listener's end closes."""
    try:
        for _ in channel.makefile("rb"):
            wake()
    except OSError:
        pass
    _listener_gone()


def _listener_gone() -> None:
    log.error("the listener process is gone; the worker process exits at once")
    logging.shutdown()
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
