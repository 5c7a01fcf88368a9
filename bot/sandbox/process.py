"""``purgebot serve`` as a real child process, pointed at stand-ins running elsewhere.

Crash tests, benchmarks and the crash-loop script need what an in-process server cannot give: a
process that can be killed with SIGKILL (no ``finally``, no shutdown hook, a half-sent batch) and
started again on the same database. :class:`ServeProcess` starts the installed console script with
the environment DESIGN.md names — and nothing else of the caller's ``SLACK_*``, ``LANGSMITH_*`` or
``PURGEBOT_*`` — waits for ``GET /healthz``, and kills, stops or restarts it. The child's output
goes to a log file (appended to across restarts) so a failing test can show it.

With ``socket_mode=True`` it runs ``purgebot serve --socket-mode`` with the stand-in's app-level
token instead of the signing secret; that serves only ``/healthz`` over HTTP, so it is up once that
answers 200 and the Slack stand-in (passed as ``slack``) sees it connect.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.world import APPROVER_GROUP, BOB, BOT_TOKEN, LANGSMITH_KEY, NOTIFY_CHANNEL, SIGNING_SECRET

_OWNED_PREFIXES = ("SLACK_", "LANGSMITH_", "PURGEBOT_")


class ServeProcessError(RuntimeError):
    """The server process did not come up (its log tail is in the message)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (another process may take it before the server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def serve_env(
    *,
    db_path: Path,
    slack_url: str,
    langsmith_url: str,
    port: int,
    extra_env: Mapping[str, str] = {},
    app_token: str | None = None,
) -> dict[str, str]:
    """The caller's environment without its SLACK_/LANGSMITH_/PURGEBOT_ variables, plus the sandbox's.

    With ``app_token`` (Socket Mode) it sets ``SLACK_APP_TOKEN`` and leaves out the signing secret.
    """
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith(_OWNED_PREFIXES)}
    env.update({"SLACK_APP_TOKEN": app_token} if app_token else {"SLACK_SIGNING_SECRET": SIGNING_SECRET})
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": slack_url.rstrip("/") + "/api/",
            "LANGSMITH_API_KEY": LANGSMITH_KEY,
            "LANGSMITH_ENDPOINT": langsmith_url,
            "PURGEBOT_DB": str(db_path),
            "PURGEBOT_APPROVERS": f"{BOB},{APPROVER_GROUP}",
            "PURGEBOT_NOTIFY_CHANNEL": NOTIFY_CHANNEL,
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env)
    return env


class ServeProcess:
    """One ``purgebot serve`` at a time on one database and port; ``start`` again after ``kill``/``stop``."""

    def __init__(
        self,
        *,
        db_path: Path,
        slack_url: str,
        langsmith_url: str,
        port: int | None = None,
        extra_env: Mapping[str, str] = {},
        log_path: Path | None = None,
        socket_mode: bool = False,
        slack: FakeSlack | None = None,
    ) -> None:
        """``slack`` is the stand-in at ``slack_url``; Socket Mode needs it to see the process connect."""
        if socket_mode and slack is None:
            raise ValueError("socket mode serves no HTTP: pass slack= so start() can see the process connect")
        self.socket_mode = socket_mode
        self.slack = slack
        self.db_path = Path(db_path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="purgebot-serve-", suffix=".log")
            os.close(handle)
            log_path = Path(name)
        self.log_path = Path(log_path)
        self.env = serve_env(
            db_path=self.db_path,
            slack_url=slack_url,
            langsmith_url=langsmith_url,
            port=self.port,
            extra_env=extra_env,
            app_token=slack.app_token if socket_mode and slack is not None else None,
        )
        self.command = [
            str(Path(sys.executable).parent / "purgebot"),
            "serve",
            *(["--socket-mode"] if socket_mode else []),
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []  # every process started, oldest first

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def worker_pid(self) -> int | None:
        """The worker process ``serve`` started (it holds the claims; see :mod:`bot.supervisor`), if one runs."""
        if self.pid is None:
            return None
        found = [pid for pid in _children(self.pid) if _alive(pid)]
        return found[0] if found else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> str:
        """Start the server and return its base URL once ``GET /healthz`` answers 200.

        In Socket Mode: and once the stand-in sees a connection opened after this call (the URL then
        serves only ``/healthz``).
        """
        if self.running:
            raise ServeProcessError(f"purgebot serve is already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            log.write(f"\n--- starting {' '.join(self.command)} on port {self.port}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the test does not reach the server first
            )
        self.pids.append(self._process.pid)
        deadline = time.monotonic() + timeout
        sockets_before = len(self.slack.socket_connections()) if self.slack is not None else 0
        with httpx.Client(timeout=1.0) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    self._process = None
                    raise ServeProcessError(f"purgebot serve exited with {code} before answering\n{self.log_tail()}")
                if self._ready(client, sockets_before):
                    return self.url
                if time.monotonic() > deadline:
                    self.kill()
                    awaited = "connect over Socket Mode" if self.socket_mode else "answer /healthz"
                    problem = f"purgebot serve did not {awaited} in {timeout:g}s"
                    raise ServeProcessError(f"{problem}\n{self.log_tail()}")
                time.sleep(0.05)

    def _ready(self, client: httpx.Client, sockets_before: int) -> bool:
        """``/healthz`` answers 200 (the worker process reports in), and in Socket Mode the socket is open."""
        if self.socket_mode:
            assert self.slack is not None
            if not any(connection.active for connection in self.slack.socket_connections()[sockets_before:]):
                return False
        try:
            return client.get(f"{self.url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> int | None:
        """SIGKILL to the process group, listener and worker at once: no chance to clean up. Waits until
        both are gone (so their pids name no running process)."""
        worker = self.worker_pid
        if self.pid is not None and self.running:
            os.killpg(self.pid, signal.SIGKILL)
        code = self._end(signal.SIGKILL, grace=0.0)
        _wait_gone(worker)
        return code

    def kill_listener(self) -> int | None:
        """SIGKILL to the listener alone; its worker sees the socket close and exits at once. Waits for both."""
        worker = self.worker_pid
        code = self._end(signal.SIGKILL, grace=0.0)
        _wait_gone(worker)
        return code

    def kill_worker(self) -> int:
        """SIGKILL to the worker alone (the listener goes on and starts another); returns the killed pid."""
        worker = self.worker_pid
        if worker is None:
            raise ServeProcessError(f"purgebot serve runs no worker process\n{self.log_tail()}")
        os.kill(worker, signal.SIGKILL)
        _wait_gone(worker)
        return worker

    def wait_for_new_worker(self, old: int, timeout: float = 30.0) -> int:
        """Wait until the listener has started a worker other than ``old`` and ``/healthz`` answers 200."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                worker = self.worker_pid
                if worker is not None and worker != old and self._ready(client, 0):
                    return worker
                time.sleep(0.05)
        raise ServeProcessError(f"purgebot serve did not start a new worker in {timeout:g}s\n{self.log_tail()}")

    def stop(self, grace: float = 15.0, *, group: bool = False) -> int | None:
        """SIGTERM (to the listener, as ``docker stop`` sends it, or with ``group`` to the whole process
        group, as systemd does) and wait up to ``grace`` seconds for a clean exit, then SIGKILL. Returns
        the listener's exit code."""
        return self._end(signal.SIGTERM, grace=grace, group=group)

    def _end(self, sig: signal.Signals, *, grace: float, group: bool = False) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
            try:
                process.wait(timeout=grace if sig != signal.SIGKILL else 10.0)
            except subprocess.TimeoutExpired:
                with self.log_path.open("ab") as log:
                    log.write(f"\n--- did not exit {grace:g}s after {sig.name}; killing it\n".encode())
                process.kill()
                process.wait(10.0)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- exited with {process.returncode} ({sig.name})\n".encode())
        return process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.running:
            self.stop()
        else:
            self._end(signal.SIGKILL, grace=0.0)  # reap an exited process


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (any of its threads may have started them), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_gone(pid: int | None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pid is not None and _alive(pid):
        if time.monotonic() > deadline:
            raise ServeProcessError(f"process {pid} still runs {timeout:g}s after its end")
        time.sleep(0.01)
