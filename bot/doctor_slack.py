"""``purgebot doctor``'s checks of Slack: the token, its scopes, the notify channel, the approvers.

Each is something the bot finds out too late otherwise: a missing scope answers ``missing_scope``
when a request is filed, a notify channel without the bot loses every check outcome, an approver
ID that is a typo means nobody can approve. Only reads: ``auth.test`` (its ``x-oauth-scopes``
header lists the token's scopes), ``conversations.info``, ``users.info``, ``usergroups.users.list``.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.doctor_check import Check, Lines
from bot.settings import Settings
from bot.slack_scopes import NEEDED_SCOPES

__all__ = ["check_slack"]

TIMEOUT = 10
AFTER_TOKEN = ("scopes", "notify channel", "approvers")
TOKEN_SOURCE = "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
REINSTALL = "add it under OAuth & Permissions → Scopes (or update the app from manifest.yml) and reinstall the app"
# slack_sdk logs each failed request at ERROR itself; the line below says it once, with the fix.
_QUIET = logging.getLogger("bot.doctor.slack_sdk")
_QUIET.disabled = True


def check_slack(settings: Settings) -> list[Check]:
    """One line per check; without a working token the others are skipped."""
    lines = Lines("slack")
    token = settings.slack_bot_token
    if token is None or not token.get_secret_value():
        lines.fail("token", f"SLACK_BOT_TOKEN is not set: {TOKEN_SOURCE}")
        lines.skip(AFTER_TOKEN, "no token")
        return lines.checks
    client = WebClient(
        token=token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=TIMEOUT,
        retry_handlers=[],
        logger=_QUIET,
    )
    auth = _token(lines, client, settings.slack_api_url)
    if auth is None:
        lines.skip(AFTER_TOKEN, "the token was not accepted")
        return lines.checks
    _scopes(lines, auth)
    bot_name = str(auth.get("user") or "purgebot")
    _notify_channel(lines, client, settings.purgebot_notify_channel, bot_name)
    _approvers(lines, client, settings.purgebot_approvers)
    return lines.checks


def _token(lines: Lines, client: WebClient, url: str) -> SlackResponse | None:
    try:
        auth = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        lines.fail(
            "token",
            f"Slack refused SLACK_BOT_TOKEN ({code}): {TOKEN_SOURCE}; reinstall the app if it was uninstalled "
            "or the token revoked",
        )
        return None
    except OSError as error:  # DNS failure, refused connection, timeout: urllib's errors are OSErrors
        reason = getattr(error, "reason", error)
        lines.fail("token", f"Slack is unreachable at {url} ({reason}): check SLACK_API_URL and the network")
        return None
    lines.ok("token", f"accepted: @{auth.get('user')} in {auth.get('team')} ({auth.get('team_id')})")
    return auth


def _scopes(lines: Lines, auth: SlackResponse) -> None:
    header = next((value for name, value in auth.headers.items() if name.lower() == "x-oauth-scopes"), None)
    if header is None:
        lines.fail("scopes", "Slack did not say which scopes the token has (no x-oauth-scopes): is it a bot token?")
        return
    granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
    missing = sorted(NEEDED_SCOPES - granted)
    if missing:
        lines.fail("scopes", f"missing {', '.join(missing)}: {REINSTALL}")
    else:
        lines.ok("scopes", f"all {len(NEEDED_SCOPES)} the code uses are granted")


def _notify_channel(lines: Lines, client: WebClient, channel: str | None, bot: str) -> None:
    """Can the bot post check outcomes there: the channel exists for it, is not archived, has it as a member."""
    if channel is None:
        lines.fail("notify channel", "PURGEBOT_NOTIFY_CHANNEL is not set: set it to the compliance channel's ID (C…)")
        return
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "missing_scope":
            fix = f"the token lacks {error.response.get('needed')}: {REINSTALL}"
        else:
            fix = (
                "check PURGEBOT_NOTIFY_CHANNEL is the channel's ID (channel details, at the bottom); "
                f"a private channel exists for the bot only once @{bot} is invited"
            )
        lines.fail("notify channel", f"{channel}: Slack said {code}: {fix}")
        return
    except OSError as error:
        lines.fail("notify channel", f"{channel}: Slack did not answer ({getattr(error, 'reason', error)}); run again")
        return
    name = f"#{info.get('name')} ({channel})"
    if info.get("is_archived"):
        lines.fail("notify channel", f"{name} is archived: unarchive it or set PURGEBOT_NOTIFY_CHANNEL to another")
    elif not info.get("is_member"):
        lines.fail("notify channel", f"the bot is not a member of {name}: type /invite @{bot} in that channel")
    else:
        lines.ok("notify channel", f"{name}: the bot is a member")


def _approvers(lines: Lines, client: WebClient, ids: tuple[str, ...]) -> None:
    """Every ID in PURGEBOT_APPROVERS is an active person or a user group with members."""
    if not ids:
        lines.fail(
            "approvers",
            "PURGEBOT_APPROVERS is not set: list the Slack user IDs (U…) and user-group IDs (S…) who may approve",
        )
        return
    found: list[str] = []
    problems: list[str] = []
    for approver in ids:
        try:
            if approver.startswith("S"):
                members = client.usergroups_users_list(usergroup=approver).get("users") or []
                if members:
                    found.append(f"{approver} ({len(members)} member{'s' if len(members) != 1 else ''})")
                else:
                    problems.append(f"user group {approver} has no members")
                continue
            user = client.users_info(user=approver).get("user") or {}
        except SlackApiError as error:
            problems.append(_lookup_problem(approver, error))
            continue
        except OSError as error:
            problems.append(f"{approver}: Slack did not answer ({getattr(error, 'reason', error)})")
            continue
        who = f"{approver} ({user.get('name')})"
        if user.get("deleted"):
            problems.append(f"{who} is deactivated")
        elif user.get("is_bot"):
            problems.append(f"{who} is a bot")
        else:
            found.append(who)
    if problems:
        said = "; ".join(dict.fromkeys(problems))  # a missing scope is said once, not once per approver
        lines.fail("approvers", f"{said}: fix PURGEBOT_APPROVERS (a person's ID: profile → ⋮ → Copy member ID)")
    else:
        lines.ok("approvers", f"{len(found)} resolve: {', '.join(found)}")


def _lookup_problem(approver: str, error: SlackApiError) -> str:
    code = error.response.get("error")
    if code == "missing_scope":
        kind = "user groups" if approver.startswith("S") else "users"
        return f"{kind} cannot be looked up: the token lacks {error.response.get('needed')} ({REINSTALL})"
    if code in ("user_not_found", "no_such_subteam"):
        kind = "user group" if approver.startswith("S") else "user"
        return f"{approver} is no {kind} of this workspace"
    if code == "plan_upgrade_required":
        return f"{approver}: user groups need a paid Slack plan; list the people instead"
    return f"{approver}: Slack said {code}"
