"""The listener's side of the worker process: start it, hear its health, nudge it, restart it when it dies.

``purgebot serve`` stays one command, but the slow work (what the acks promised, executor, previewer,
notifier, callback sender, scheduler) runs in a child process (:mod:`bot.worker_process`), so the
interpreter that acks Slack does nothing else. The two talk over a socketpair, one JSON object a line:

- listener -> worker: ``{"wake": true}`` when a person's action stored new work (a command, click or form to do)
  (a nudge; the worker also polls, so a lost nudge only delays), and ``{"answer": job}``, a question to
  answer (``/purge status``, ``list``, ``audit``, *Show values*, a home tab), which is not stored;
- worker -> listener: ``{"problems": [...]}`` every ``REPORT_INTERVAL`` seconds, what ``/healthz`` shows.

The child inherits the environment (the secrets travel there, never on its command line, which ``ps``
shows) and the listener's stdout and stderr (one log). It stays in the listener's process group, so a
``kill -9`` of the group takes both; if only the listener dies, the child reads end-of-file on its socket
and exits at once (:mod:`bot.worker_process`), so no orphan keeps working beside the next worker.
When the child dies the supervisor starts another after a back-off (0.5 s, doubled up to 30 s; back to
0.5 s after a child that lived a while) and ``/healthz`` says so meanwhile; after a clean exit (a
SIGTERM, usually to the whole group) it first waits ``STOPPED_GRACE`` for the listener's own stop.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

REPORT_INTERVAL = 0.5  # seconds between the worker's health reports
STALE_AFTER = 10.0  # a report older than this means the worker is stuck
FIRST_BACKOFF = 0.5
STOPPED_GRACE = 5.0  # after a worker's clean exit, how long to wait for the listener's own stop
MAX_BACKOFF = 30.0


class WorkerSupervisor:
    """Runs one worker process at a time and restarts it when it exits, until ``stop``."""

    def __init__(self, *, first_backoff: float = FIRST_BACKOFF, max_backoff: float = MAX_BACKOFF) -> None:
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._report: list[str] | None = None  # the last problems the running worker reported
        self._reported_at = 0.0
        self._down_because = "the worker process is starting"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Tell the worker that new work was stored; a worker that is down finds it when it starts."""
        self._send({"wake": True})

    def hand_over(self, job: dict[str, object]) -> bool:
        """Give the worker a question to answer (:mod:`bot.deferred`); False when it cannot take it now."""
        return self._send({"answer": job})

    def problems(self) -> list[str]:
        """Why the worker cannot do its work now (empty: it reports that it can)."""
        with self._lock:
            report, reported_at, down = self._report, self._reported_at, self._down_because
        if report is None:
            return [down]
        quiet = time.monotonic() - reported_at
        if quiet > STALE_AFTER:
            return [f"the worker process has not reported for {quiet:.0f}s"]
        return list(report)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the worker (it finishes its in-flight calls and lets go of its claims), wait, then kill."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("the worker process did not stop in time; killing it", extra={"grace": grace})
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(5.0)

    # -- the supervising thread -----------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = self._first_backoff
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                code = self._run_one()
            except OSError as error:  # fork failed, the interpreter is gone: try again after the back-off
                code = None
                self._set_down(f"the worker process could not start: {error.strerror or error}")
            if self._stopping.is_set():
                return
            if time.monotonic() - started > self._max_backoff:  # it lived a while: this death is news
                backoff = self._first_backoff
            wait, backoff = backoff, min(self._max_backoff, backoff * 2)
            if code == 0:
                # A clean exit is a SIGTERM: most likely to the whole process group, and this process is
                # about to stop too. Give it the time to say so before starting another.
                self._set_down("the worker process stopped")
                if self._stopping.wait(max(wait, STOPPED_GRACE)):
                    return
                log.warning("the worker process stopped on its own; restarting it")
            elif code is not None:
                log.error("the worker process exited; restarting it", extra={"code": code, "in_seconds": wait})
                self._set_down(f"the worker process exited ({_exit_text(code)}); restarting it")
            self._stopping.wait(0 if code == 0 else wait)

    def _run_one(self) -> int:
        """Start a worker, read its reports until it exits, and return its exit code."""
        ours, theirs = socket.socketpair()
        try:
            fd, parent = str(theirs.fileno()), str(os.getpid())
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.worker_process", "--fd", fd, "--parent", parent],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()  # only the child holds its end: the child's death is our end-of-file
        with self._lock:
            self._process, self._socket = process, ours
            self._report, self._down_because = None, "the worker process is starting"
        log.info("worker process started", extra={"worker_pid": process.pid})
        try:
            for line in ours.makefile("rb"):
                self._heard(line)
        except OSError:
            pass  # the socket broke: the child is gone or going, and wait() says how
        finally:
            with self._lock:
                self._socket = None
            ours.close()
        return process.wait()

    def _heard(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            problems = [str(problem) for problem in message["problems"]]
        except (ValueError, KeyError, TypeError):
            log.warning("the worker process sent an unreadable report")
            return
        with self._lock:
            self._report, self._reported_at = problems, time.monotonic()

    def _set_down(self, reason: str) -> None:
        with self._lock:
            self._report, self._down_because = None, reason

    def _send(self, message: dict[str, object]) -> bool:
        """Send without blocking; False when it was not sent. Never block a listener on a busy worker: a
        nudge lost (the worker is going, or has nudges enough queued) only delays, as the worker also
        polls for new work, and a question not handed over is answered by the listener itself."""
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            if self._socket is None:
                return False
            try:
                sent = self._socket.send(data, socket.MSG_DONTWAIT)
                if sent < len(data):  # rare: the buffer filled mid-line; finish the line, or the next would merge
                    self._socket.sendall(data[sent:])
            except OSError:
                return False
            return True


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
