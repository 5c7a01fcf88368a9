"""The ``purgebot`` command: serve, doctor, demo, verify, report, backup, audit verify.

Exit codes follow DESIGN.md: ``verify`` 0 verified / 2 items remain / 1 error; ``audit verify``
0 intact / 1 broken; ``doctor`` 0 all checks pass / 1 otherwise. A settings problem is one line on stderr and exit 1.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.langsmith.transport import RetryPolicy
from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.app import PurgeBot, Tuning

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Compliance purges in LangSmith, from Slack.")
audit_app = typer.Typer(no_args_is_help=True, help="Check the tamper-evident event log.")
app.add_typer(audit_app, name="audit")

# ``purgebot verify`` is a person waiting at a terminal: a short, said bound, not the server's three minutes.
VERIFY_RETRY = RetryPolicy(attempts=4, timeout=20.0, wait_initial=1.0, wait_max=8.0)
_REQUEST_ID = re.compile(r"^purge-([1-9][0-9]{0,17})$", re.IGNORECASE)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"purgebot: {message}", err=True)
    return typer.Exit(code)


def _settings(command: str, *required: str) -> Settings:
    """The settings, with those ``command`` needs present; with a workspaces file, the keys it names
    stand in for LANGSMITH_API_KEY (they are checked when the workspaces are read)."""
    try:
        settings = load_settings()
        if settings.purgebot_workspaces_file is not None:
            required = tuple(name for name in required if name != "LANGSMITH_API_KEY")
        settings.require(command, *required)
    except SettingsError as error:
        raise _fail(str(error)) from None
    return settings


def _existing_database(settings: Settings) -> Path:
    """The file ``PURGEBOT_DB`` names, which must exist: a command that reads the record never creates
    an empty one (it would answer "does not exist" about a request that is simply elsewhere)."""
    path = settings.purgebot_db
    if path.is_dir():
        raise _fail(f"PURGEBOT_DB is {path}, a folder; it must name the database file")
    if not path.exists():
        raise _fail(f"no database at {path} (PURGEBOT_DB); nothing was created")
    return path


def _bot(settings: Settings, tuning: Tuning | None = None, *, worker_process: bool = False) -> PurgeBot:
    """The bot's parts on ``PURGEBOT_DB``, or one line saying why the file cannot be used."""
    from bot.app import PurgeBot
    from storage.db import StorageError

    if settings.purgebot_db.is_dir():
        raise _fail(f"PURGEBOT_DB is {settings.purgebot_db}, a folder; it must name the database file")
    try:
        return PurgeBot(settings, tuning=tuning, worker_process=worker_process)
    except StorageError as error:
        raise _fail(f"{error} (PURGEBOT_DB)") from None
    except SettingsError as error:  # the workspaces file
        raise _fail(str(error)) from None


def _request_number(text: str) -> int:
    match = _REQUEST_ID.match(text.strip())
    if not match:
        raise _fail(f"{text!r} is not a request ID; request IDs look like PURGE-7")
    return int(match.group(1))


@app.command()
def serve(
    socket_mode: Annotated[
        bool,
        typer.Option("--socket-mode", help="Connect over Socket Mode (needs SLACK_APP_TOKEN) instead of serving HTTP."),
    ] = False,
    new_database: Annotated[
        bool,
        typer.Option(
            "--new-database",
            help="Begin a new record on an empty PURGEBOT_DB even though Slack shows purgebot ran before.",
        ),
    ] = False,
) -> None:
    """Run the bot: HTTP on 0.0.0.0:$PORT (or Socket Mode) here, and the executor, the notifier and the
    scheduler in a worker process that this one starts, supervises and stops (:mod:`bot.supervisor`).

    On an empty database it first asks Slack whether purgebot posted in the notify channel before,
    and refuses to start a second record if so (a volume that did not mount, a lost disk).
    """
    from bot import continuity
    from bot.server import create_web_app, serve_health_in_background

    transport = "SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET"
    settings = _settings(
        "serve --socket-mode" if socket_mode else "serve",
        "SLACK_BOT_TOKEN",
        transport,
        "LANGSMITH_API_KEY",
        "PURGEBOT_APPROVERS",
        "PURGEBOT_NOTIFY_CHANNEL",
    )
    if settings.purgebot_intake_token is not None and not settings.purgebot_intake_key:
        raise _fail(
            "PURGEBOT_INTAKE_KEY must be set with PURGEBOT_INTAKE_TOKEN: it seals the credentials privacy "
            "platforms send for their status callbacks (README: Connecting Ketch)"
        )
    logs.configure(logs.level_named(settings.purgebot_log_level))
    bot = _bot(settings, worker_process=True)  # this process listens; the slow work runs in a child
    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    sdk_log.disabled = True  # an unreachable Slack is said below, once, without the SDK's own error line
    try:
        bolt = bot.bolt
        problem = bot.check_notify_channel()
        assert settings.purgebot_notify_channel is not None
        refusal = continuity.check_start(
            bot.store, bot.slack, settings.purgebot_notify_channel, new_database=new_database, clock=bot.clock
        )
    except BoltError as error:
        bot.stop()
        raise _fail(f"Slack did not accept SLACK_BOT_TOKEN at {settings.slack_api_url} ({error})") from None
    except OSError as error:  # DNS failure, refused connection, timeout: urllib's errors are OSErrors
        bot.stop()
        reason = getattr(error, "reason", error)
        raise _fail(f"Slack is unreachable at {settings.slack_api_url} ({reason})") from None
    finally:
        sdk_log.disabled = False
    if refusal:
        bot.stop()
        raise _fail(refusal)
    log = logging.getLogger("purgebot")
    if problem:
        log.warning("cannot post to the notify channel: %s", problem)
    else:
        log.info("notify channel reachable", extra={"channel": settings.purgebot_notify_channel})
    from bot.doctor import check_in_background

    check_in_background(settings, os.environ)  # logs each failing check; never stops the start
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        bot.start()
        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert settings.slack_app_token is not None
            try:
                serve_health_in_background(bot.health, settings.port)
            except OSError as error:
                raise _fail(f"cannot serve /healthz on port {settings.port} (PORT): {error.strerror}") from None
            log.info("serving /healthz", extra={"port": settings.port})
            try:
                SocketModeHandler(bolt, settings.slack_app_token.get_secret_value()).start()  # type: ignore[no-untyped-call]
            except SlackApiError as error:
                raise _fail(f"Slack refused SLACK_APP_TOKEN for Socket Mode ({error.response.get('error')})") from None
        else:
            import uvicorn

            log.info("serving", extra={"port": settings.port})
            web = create_web_app(bolt, bot.health, bot.intake)
            uvicorn.run(web, host="0.0.0.0", port=settings.port, log_level="warning", access_log=False)
    finally:
        bot.stop()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """End ``serve`` through its ``finally`` (so the workers stop) rather than dying on the spot.

    uvicorn catches SIGTERM for its graceful HTTP shutdown and then raises it again for the handler
    that was installed before it; with Python's default handler that killed the process and
    ``bot.stop()`` never ran. The same holds for a SIGTERM in Socket Mode.
    """
    raise SystemExit(0)


@app.command()
def doctor() -> None:
    """Check the deployment before the first real request: each LangSmith workspace, then Slack.

    One line per check, and for a failure how to fix it. Exit 0 when every check passes, 1 otherwise.
    Reads only: sends no delete and posts nothing.
    """
    from bot.doctor import run_checks

    logging.getLogger("stamina").setLevel(logging.ERROR)  # its retry lines would say less than ours
    settings = _settings("doctor")
    try:
        checks = run_checks(settings, os.environ)
    except SettingsError as error:
        raise _fail(str(error)) from None
    for check in checks:
        typer.echo(check.line())
    raise typer.Exit(1 if any(check.failed for check in checks) else 0)


@app.command()
def demo(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            help="Leave the demo's database and evidence reports in this folder (created if missing) and print "
            "their paths.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Run the whole lifecycle against local stand-ins: no credentials, no network."""
    from bot.demo import FolderInUse, run_demo

    try:
        code = run_demo(sys.stdout, keep=keep)
    except (FolderInUse, OSError) as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


@app.command()
def verify(request: Annotated[str, typer.Argument(help="The request, e.g. PURGE-7.")]) -> None:
    """Check a request against LangSmith now. Exit 0 verified, 2 items remain, 1 error.

    The outcome is stored and queued for Slack; the running bot posts it (one sender, so nothing is
    posted twice).
    """
    from bot.langsmith import LangSmithError, WaitNotice
    from bot.verifier import NothingToCheck
    from storage.db import NotFound, StorageError

    number = _request_number(request)
    settings = _settings("verify", "SLACK_BOT_TOKEN", "LANGSMITH_API_KEY")
    _existing_database(settings)
    logging.getLogger("stamina").setLevel(logging.ERROR)  # its retry lines would say less than ours

    def waiting(notice: WaitNotice) -> None:
        why = f"answered {notice.status}" if notice.status is not None else f"did not answer ({notice.reason})"
        typer.echo(
            f"purgebot: LangSmith {why}; trying again in {notice.seconds:.0f}s "
            f"(attempt {notice.attempt + 1} of {notice.attempts})",
            err=True,
        )

    from bot.app import Tuning

    bot = _bot(settings, Tuning(retry=VERIFY_RETRY))
    for client in bot.workspaces:
        client.transport.on_wait = waiting
    try:
        result = bot.verifier.check_now(number, requested_by="purgebot-cli")
    except (NotFound, NothingToCheck, StorageError, LangSmithError) as error:
        raise _fail(str(error)) from None
    finally:
        bot.stop()
    if result is None:
        raise _fail("LangSmith could not be reached; the check stays queued for the running bot")
    typer.echo(f"PURGE-{number}: {result.state}: {result.remaining:,} of {result.checked:,} traces remain")
    raise typer.Exit(0 if result.remaining == 0 else 2)


@app.command()
def report(
    request: Annotated[str, typer.Argument(help="The request, e.g. PURGE-7.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the two files.")] = Path("."),
) -> None:
    """Write the evidence report (JSON and Markdown) into --out and print their paths."""
    from bot import report as evidence
    from bot.clock import SystemClock
    from storage.db import NotFound, StorageError, Store

    number = _request_number(request)
    settings = _settings("report")
    try:
        store = Store(_existing_database(settings))
        paths = evidence.write(store.db, number, out, now=SystemClock().now(), tz=settings.purgebot_timezone)
        store.close()
    except (NotFound, StorageError, OSError) as error:
        raise _fail(str(error)) from None
    for path in paths:
        typer.echo(str(path))


@app.command()
def backup(target: Annotated[Path, typer.Argument(help="The new file to write the copy to.")]) -> None:
    """Copy the database while the bot runs, check the copy (integrity, event chain), and say what it holds.

    Needs only PURGEBOT_DB. The copy is one self-contained SQLite file: to restore, stop the bot and
    put it where PURGEBOT_DB points.
    """
    from storage.backup import backup as copy_database
    from storage.db import StorageError

    settings = _settings("backup")
    try:
        done = copy_database(_existing_database(settings), target)
    except StorageError as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"backed up to {done.path}: integrity ok, chain intact at {done.head_seq}:{done.head_hash}; "
        f"{done.requests:,} requests, {done.events:,} events, schema {done.schema}; "
        f"{done.size / 1_000_000:.1f} MB in {done.seconds:.2f} s"
    )


@audit_app.command("verify")
def audit_verify(
    expect: Annotated[
        str | None,
        typer.Option("--expect", help="SEQ:HASH of a head printed earlier; fails if the chain no longer holds it."),
    ] = None,
) -> None:
    """Walk the event chain. Exit 0 and print the head when intact; exit 1 naming the first bad event."""
    from storage import events
    from storage.db import StorageError, Store

    settings = _settings("audit verify")
    try:
        store = Store(_existing_database(settings))
        check = events.verify_chain(store.db)
        expected_ok = True
        if expect is not None:
            seq, _, digest = expect.partition(":")
            if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise _fail("--expect takes SEQ:HASH, e.g. 42:3f5e…(64 hex digits)")
            expected_ok = events.contains_head(store.db, int(seq), digest)
        store.close()
    except StorageError as error:
        raise _fail(str(error)) from None
    if not check.intact:
        typer.echo(f"chain broken at event {check.first_bad}")
        raise typer.Exit(1)
    if not expected_ok:
        typer.echo(f"chain intact up to {check.head_seq}:{check.head_hash}, but it no longer holds {expect}")
        raise typer.Exit(1)
    typer.echo(f"{check.head_seq}:{check.head_hash}")


def main() -> None:
    app()
