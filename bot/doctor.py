"""``purgebot doctor``: check a deployment before its first real request, and log the same at each start.

A wrong region, a missing ``X-Tenant-Id``, a scope the app was installed without or a notify channel
without the bot all surface otherwise in the middle of a purge, in front of a requester with a
deadline. The checks here read what a purge reads and send nothing that changes anything (no
delete, no post): per LangSmith workspace its endpoint, key, ``X-Tenant-Id``, query API and
projects (:mod:`bot.doctor_langsmith`), then Slack's token, scopes, notify channel and approvers
(:mod:`bot.doctor_slack`). Every failing line says how to fix it. ``serve`` runs them in the
background at start and logs each failure as a warning, without refusing to start: a LangSmith
that is down for a minute must not keep the bot from taking requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from pydantic import SecretStr

from bot.doctor_check import Check, Status
from bot.doctor_langsmith import check_workspace
from bot.doctor_slack import check_slack
from bot.settings import Settings, SettingsError
from bot.workspaces import Workspace, load_workspaces

__all__ = ["check_in_background", "log_checks", "run_checks"]

log = logging.getLogger("purgebot.doctor")


def run_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """Every check, each LangSmith workspace in order and then Slack.

    A workspaces file that cannot be read raises ``SettingsError`` (one line): nothing can be
    checked against a configuration that does not parse.
    """
    workspaces = load_workspaces(settings, environ)
    checks = [check for workspace in workspaces for check in check_workspace(workspace, settings)]
    checks += check_slack(settings)
    return _scrubbed(checks, _secrets(settings, workspaces))


def log_checks(settings: Settings, environ: Mapping[str, str]) -> None:
    """What ``serve`` logs at start: each failing check as a warning, then how many passed."""
    try:
        checks = run_checks(settings, environ)
    except SettingsError as error:
        log.warning("doctor: %s", error)
        return
    failed = [check for check in checks if check.failed]
    for check in failed:
        log.warning(
            "doctor: %s", check.line(), extra={"subject": check.subject, "check": check.name, "detail": check.detail}
        )
    passed = sum(1 for check in checks if check.status is Status.OK)
    log.info("doctor: %d of %d checks passed", passed, len(checks))


def check_in_background(settings: Settings, environ: Mapping[str, str]) -> threading.Thread:
    """Run :func:`log_checks` in a daemon thread, so a slow LangSmith or Slack never delays start-up."""
    thread = threading.Thread(target=log_checks, args=(settings, dict(environ)), name="doctor", daemon=True)
    thread.start()
    return thread


def _secrets(settings: Settings, workspaces: Iterable[Workspace]) -> list[str]:
    values: list[SecretStr | None] = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.langsmith_api_key,
        settings.purgebot_hmac_key,
        *(workspace.api_key for workspace in workspaces),
    ]
    return [value.get_secret_value() for value in values if value is not None and value.get_secret_value()]


def _scrubbed(checks: list[Check], secrets: list[str]) -> list[Check]:
    """Belt and braces: no line carries a key or a token, whatever a service put into its answer."""

    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        return text

    return [Check(check.subject, check.name, check.status, clean(check.detail)) for check in checks]
