"""``purgebot doctor`` against the stand-ins over loopback HTTP: one line per check, exit 0 only when all pass.

Two LangSmith stand-ins play two workspaces, each with its own key (the EU one org-scoped, so it
needs its workspace ID); the Slack stand-in plays the workspace. Each test breaks one thing the way
a deployment gets it wrong and reads what the operator is told.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Slot
from typer.testing import CliRunner

from bot.cli import app
from bot.doctor import log_checks
from bot.langsmith.regions import REGIONS, Region, other_regions, region_of
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.langsmith import create_app as langsmith_app
from bot.sandbox.process import ServeProcess
from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.slack_server import create_app as slack_app
from bot.sandbox.world import (
    APPROVER_GROUP,
    BOB,
    BOT_TOKEN,
    LANGSMITH_KEY,
    NOTIFY_CHANNEL,
    World,
    populate_slack,
    running_world,
)
from bot.settings import load_settings
from bot.slack_scopes import NEEDED_SCOPES

US_KEY = "lsv2_pt_us_0123456789abcdef"
EU_KEY = "lsv2_sk_eu_fedcba9876543210"
EU_TENANT = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
SECRETS = (US_KEY, EU_KEY, BOT_TOKEN)
CHECKS_PER_WORKSPACE = 5  # endpoint, key, X-Tenant-Id, query API, projects
SLACK_CHECKS = 4  # token, scopes, notify channel, approvers


@dataclass
class Deployment:
    """The stand-ins and the configuration that points at them; a test breaks one part."""

    us: FakeLangSmith
    eu: FakeLangSmith
    slack: FakeSlack
    us_url: str
    eu_url: str
    slack_url: str
    folder: Path
    eu_tenant: str | None = EU_TENANT

    def workspaces_file(self) -> Path:
        tenant = f'workspace_id = "{self.eu_tenant}"\n' if self.eu_tenant else ""
        path = self.folder / "workspaces.toml"
        path.write_text(
            f'[[workspace]]\nname = "prod-us"\nendpoint = "{self.us_url}"\napi_key_env = "LANGSMITH_API_KEY_US"\n\n'
            f'[[workspace]]\nname = "prod-eu"\nendpoint = "{self.eu_url}"\napi_key_env = "LANGSMITH_API_KEY_EU"\n'
            + tenant
        )
        return path

    def env(self) -> dict[str, str]:
        return {
            "PURGEBOT_WORKSPACES_FILE": str(self.workspaces_file()),
            "LANGSMITH_API_KEY_US": US_KEY,
            "LANGSMITH_API_KEY_EU": EU_KEY,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": self.slack_url + "/api/",
            "PURGEBOT_APPROVERS": f"{BOB},{APPROVER_GROUP}",
            "PURGEBOT_NOTIFY_CHANNEL": NOTIFY_CHANNEL,
        }


@pytest.fixture
def deployment(servers: Callable[[int], tuple[Slot, str]], tmp_path: Path) -> Deployment:
    us = FakeLangSmith(api_key=US_KEY, backend="smithdb")
    eu = FakeLangSmith(api_key=EU_KEY, require_tenant=EU_TENANT, backend="clickhouse")
    for name in ("support-bot", "prod-chat", "eval-nightly", "staging"):
        us.add_project(name)
    eu.add_project("prod-chat-eu")
    slack = FakeSlack(bot_token=BOT_TOKEN)
    populate_slack(slack)
    urls = []
    for n, asgi in enumerate((langsmith_app(us), langsmith_app(eu), slack_app(slack))):
        slot, url = servers(n)
        slot.app = asgi
        urls.append(url)
    return Deployment(us, eu, slack, *urls, folder=tmp_path)


def doctor(env: dict[str, str]) -> tuple[int, list[str]]:
    """``purgebot doctor`` with exactly ``env`` of the machine's SLACK_/LANGSMITH_/PURGEBOT_ variables."""
    own = {k: None for k in os.environ if k.upper().startswith(("SLACK_", "LANGSMITH_", "PURGEBOT_"))}
    result = CliRunner().invoke(app, ["doctor"], env={**own, **env})
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert not any(secret in output for secret in SECRETS), output  # no key, no token, ever
    return result.exit_code, output.splitlines()


def line(lines: list[str], subject: str, check: str) -> str:
    (found,) = [text for text in lines if text[5:].startswith(f"{subject}: {check}: ")]
    return found


def test_a_good_configuration_of_two_workspaces_passes_one_line_per_check(deployment: Deployment) -> None:
    code, lines = doctor(deployment.env())

    assert code == 0, "\n".join(lines)
    assert len(lines) == 2 * CHECKS_PER_WORKSPACE + SLACK_CHECKS
    assert all(text.startswith("ok   ") for text in lines), "\n".join(lines)
    assert f"{deployment.us_url} answers (no cloud region: self-hosted or a proxy" in line(
        lines, "langsmith prod-us", "endpoint"
    )
    assert "accepted (LANGSMITH_API_KEY_US)" in line(lines, "langsmith prod-us", "key")
    assert "not needed: the key belongs to one workspace" in line(lines, "langsmith prod-us", "X-Tenant-Id")
    assert "v2, as auto chooses (GET info says SmithDB only)" in line(lines, "langsmith prod-us", "query API")
    assert line(lines, "langsmith prod-us", "projects").endswith("4 visible: eval-nightly, prod-chat, staging, …")
    assert f"needed (an org-scoped key) and sent: {EU_TENANT}" in line(lines, "langsmith prod-eu", "X-Tenant-Id")
    assert "v1, as auto chooses (GET info says ClickHouse only)" in line(lines, "langsmith prod-eu", "query API")
    assert line(lines, "langsmith prod-eu", "projects").endswith("1 visible: prod-chat-eu")
    assert "@purgebot in Sandbox Workspace" in line(lines, "slack", "token")
    assert f"all {len(NEEDED_SCOPES)} the code uses are granted" in line(lines, "slack", "scopes")
    assert "#compliance (C0COMPLIANCE): the bot is a member" in line(lines, "slack", "notify channel")
    assert "2 resolve: U0BOB (bob), S0PRIVACY (1 member)" in line(lines, "slack", "approvers")
    for stand_in in (deployment.us, deployment.eu):  # it reads; it never deletes
        assert {(call.method, call.path.split("?")[0]) for call in stand_in.calls} <= {
            ("GET", "/api/v1/info"),
            ("GET", "/api/v1/sessions"),
        }
        assert not stand_in.calls_to("delete")
    assert {call.method for call in deployment.slack.calls()} <= {
        "auth.test",
        "conversations.info",
        "users.info",
        "usergroups.users.list",
    }


def test_a_key_of_another_region_says_wrong_region_or_workspace_and_names_the_hosts(deployment: Deployment) -> None:
    deployment.eu.wrong_region = True

    code, lines = doctor(deployment.env())

    assert code == 1
    assert len(lines) == 2 * CHECKS_PER_WORKSPACE + SLACK_CHECKS
    key = line(lines, "langsmith prod-eu", "key")
    assert key.startswith("FAIL ")
    assert '403 {"error":"Forbidden"}' in key and "wrong region or workspace?" in key
    for host in ("api.smith", "eu.api.smith", "apac.api.smith", "aws.api.smith"):
        assert f"https://{host}.langchain.com" in key
    assert "`endpoint` of [[workspace]] prod-eu" in key and "`workspace_id` of [[workspace]] prod-eu" in key
    assert line(lines, "langsmith prod-eu", "projects").startswith("--   ")
    assert line(lines, "langsmith prod-eu", "endpoint").startswith("ok   ")  # GET info needs no key
    assert all(text.startswith("ok   ") for text in lines if "prod-eu" not in text)


def test_an_org_scoped_key_without_its_workspace_id_says_to_set_it(deployment: Deployment) -> None:
    deployment.eu_tenant = None

    code, lines = doctor(deployment.env())

    assert code == 1
    assert line(lines, "langsmith prod-eu", "key").startswith("ok   langsmith prod-eu: key: accepted: an org-scoped")
    tenant = line(lines, "langsmith prod-eu", "X-Tenant-Id")
    assert tenant.startswith("FAIL ") and "org_scoped_key_requires_workspace" in tenant
    assert f"set `workspace_id` of [[workspace]] prod-eu in {deployment.folder / 'workspaces.toml'}" in tenant


def test_a_workspace_id_the_key_may_not_use_is_named(deployment: Deployment) -> None:
    deployment.eu_tenant = str(uuid.uuid4())

    code, lines = doctor(deployment.env())

    assert code == 1
    tenant = line(lines, "langsmith prod-eu", "X-Tenant-Id")
    assert tenant.startswith(f"FAIL langsmith prod-eu: X-Tenant-Id: {deployment.eu_tenant} is refused (403 Forbidden)")
    assert "wrong region" not in "\n".join(lines)


def test_a_rejected_key_is_401_not_accepted(deployment: Deployment) -> None:
    """Without a workspaces file the LANGSMITH_* variables are the workspace default."""
    env = {k: v for k, v in deployment.env().items() if not k.startswith(("PURGEBOT_WORKSPACES", "LANGSMITH_"))}
    deployment.us.api_key = "lsv2_pt_rotated"  # the key was revoked and replaced in LangSmith

    code, lines = doctor({**env, "LANGSMITH_ENDPOINT": deployment.us_url, "LANGSMITH_API_KEY": US_KEY})

    assert code == 1
    assert len(lines) == CHECKS_PER_WORKSPACE + SLACK_CHECKS
    key = line(lines, "langsmith default", "key")
    assert key.startswith("FAIL langsmith default: key: not accepted (401): LangSmith does not know the key in ")
    assert "LANGSMITH_API_KEY" in key


def test_an_org_scoped_default_workspace_says_to_set_langsmith_workspace_id(deployment: Deployment) -> None:
    env = {k: v for k, v in deployment.env().items() if not k.startswith(("PURGEBOT_WORKSPACES", "LANGSMITH_"))}

    code, lines = doctor({**env, "LANGSMITH_ENDPOINT": deployment.eu_url, "LANGSMITH_API_KEY": EU_KEY})

    assert code == 1
    assert "set LANGSMITH_WORKSPACE_ID (or workspace_id in a workspaces file)" in line(
        lines, "langsmith default", "X-Tenant-Id"
    )


def test_a_query_api_pinned_where_it_is_not_served_says_to_use_auto(deployment: Deployment) -> None:
    code, lines = doctor({**deployment.env(), "PURGEBOT_LANGSMITH_QUERY_API": "v1"})

    assert code == 1
    assert line(lines, "langsmith prod-us", "query API") == (
        "FAIL langsmith prod-us: query API: v1, pinned by PURGEBOT_LANGSMITH_QUERY_API, but GET info says "
        "SmithDB only, where v1 run queries are not served: set PURGEBOT_LANGSMITH_QUERY_API=auto (or v2)"
    )
    assert line(lines, "langsmith prod-eu", "query API").startswith("ok   ")  # ClickHouse: v1 is right there


def test_a_notify_channel_without_the_bot_says_to_invite_it(deployment: Deployment) -> None:
    deployment.slack.add_channel(NOTIFY_CHANNEL, "compliance", bot_member=False)

    code, lines = doctor(deployment.env())

    assert code == 1
    assert line(lines, "slack", "notify channel") == (
        "FAIL slack: notify channel: the bot is not a member of #compliance (C0COMPLIANCE): "
        "type /invite @purgebot in that channel"
    )
    assert [text for text in lines if text.startswith("FAIL")] == [line(lines, "slack", "notify channel")]


def test_a_missing_scope_and_approvers_that_do_not_resolve_say_what_to_fix(deployment: Deployment) -> None:
    deployment.slack.scopes = NEEDED_SCOPES - {"usergroups:read"}
    deployment.slack.add_user("U0GONE", "gone", deleted=True)
    env = {**deployment.env(), "PURGEBOT_APPROVERS": f"{BOB},U0GONE,U0NOBODY,{APPROVER_GROUP}"}

    code, lines = doctor(env)

    assert code == 1
    scopes = line(lines, "slack", "scopes")
    assert scopes.startswith("FAIL slack: scopes: missing usergroups:read: add it under OAuth & Permissions")
    approvers = line(lines, "slack", "approvers")
    assert "U0GONE (gone) is deactivated; U0NOBODY is no user of this workspace; user groups cannot be looked up" in (
        approvers
    )
    assert approvers.endswith("fix PURGEBOT_APPROVERS (a person's ID: profile → ⋮ → Copy member ID)")


def test_missing_slack_settings_are_failing_lines_not_a_refusal(deployment: Deployment) -> None:
    env = {k: v for k, v in deployment.env().items() if k not in ("PURGEBOT_APPROVERS", "PURGEBOT_NOTIFY_CHANNEL")}

    code, lines = doctor(env)

    assert code == 1
    assert line(lines, "slack", "notify channel").startswith("FAIL slack: notify channel: PURGEBOT_NOTIFY_CHANNEL")
    assert line(lines, "slack", "approvers").startswith("FAIL slack: approvers: PURGEBOT_APPROVERS is not set")
    assert len(lines) == 2 * CHECKS_PER_WORKSPACE + SLACK_CHECKS


def test_a_rejected_slack_token_skips_the_slack_checks(deployment: Deployment) -> None:
    code, lines = doctor({**deployment.env(), "SLACK_BOT_TOKEN": "xoxb-revoked"})

    assert code == 1
    assert line(lines, "slack", "token").startswith("FAIL slack: token: Slack refused SLACK_BOT_TOKEN (invalid_auth)")
    assert [text[:4] for text in lines if text[5:].startswith("slack")] == ["FAIL", "--  ", "--  ", "--  "]
    assert "xoxb-revoked" not in "\n".join(lines)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"PURGEBOT_NOTIFY_CHANNEL": "compliance"}, "purgebot: PURGEBOT_NOTIFY_CHANNEL: expected a Slack channel ID"),
        ({"PURGEBOT_WORKSPACES_FILE": "{folder}/workspaces.toml", "LANGSMITH_API_KEY_EU": ""}, "LANGSMITH_API_KEY_EU"),
        ({"PURGEBOT_WORKSPACES_FILE": "{folder}/missing.toml"}, "PURGEBOT_WORKSPACES_FILE: "),
    ],
)
def test_a_malformed_setting_or_workspaces_file_is_one_line(
    deployment: Deployment, change: dict[str, str], expected: str
) -> None:
    env = {**deployment.env(), **{k: v.format(folder=deployment.folder) for k, v in change.items()}}

    code, lines = doctor(env)

    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("purgebot: ") and expected in lines[0], lines
    assert not deployment.us.calls and not deployment.slack.calls()


def test_an_endpoint_that_does_not_answer_says_which_setting_to_check(deployment: Deployment) -> None:
    env = {k: v for k, v in deployment.env().items() if not k.startswith(("PURGEBOT_WORKSPACES", "LANGSMITH_"))}

    code, lines = doctor({**env, "LANGSMITH_ENDPOINT": "http://127.0.0.1:9", "LANGSMITH_API_KEY": US_KEY})

    assert code == 1
    endpoint = line(lines, "langsmith default", "endpoint")
    assert endpoint.startswith("FAIL langsmith default: endpoint: http://127.0.0.1:9 does not answer (ConnectError")
    assert endpoint.endswith("check LANGSMITH_ENDPOINT")
    assert [text[:4] for text in lines if "langsmith" in text] == ["FAIL", *["--  "] * 4]


def test_regions_name_the_four_cloud_hosts() -> None:
    assert region_of("https://EU.api.smith.langchain.com/") == Region("EU", "https://eu.api.smith.langchain.com")
    assert region_of("https://langsmith.internal.example.com/api/v1") is None
    assert [r.name for r in other_regions("https://api.smith.langchain.com")] == ["EU", "APAC", "AWS US"]
    assert [r.endpoint for r in other_regions("http://127.0.0.1:9")] == [r.endpoint for r in REGIONS]


def test_log_checks_warns_of_each_failing_check(deployment: Deployment, caplog: pytest.LogCaptureFixture) -> None:
    """What ``serve`` runs at start, in the background: failures as warnings, then a count."""
    deployment.eu.wrong_region = True
    settings = load_settings(
        isolated=True,
        purgebot_workspaces_file=deployment.workspaces_file(),
        slack_bot_token=BOT_TOKEN,
        slack_api_url=deployment.slack_url + "/api/",
        purgebot_approvers=BOB,
        purgebot_notify_channel=NOTIFY_CHANNEL,
    )

    with caplog.at_level(logging.INFO, logger="purgebot.doctor"):
        log_checks(settings, deployment.env())

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "prod-eu: key:" in warnings[0] and "wrong region or workspace?" in warnings[0]
    assert caplog.records[-1].getMessage() == "doctor: 10 of 14 checks passed"


@pytest.fixture
def wrong_region_world(tmp_path: Path) -> Iterator[World]:
    with running_world(tmp_path / "purgebot.db", start=False) as world:
        world.langsmith.wrong_region = True
        yield world


def test_serve_starts_anyway_and_logs_the_failing_check(
    wrong_region_world: World, start_serve: Callable[..., ServeProcess]
) -> None:
    server = start_serve(wrong_region_world)
    server.start()

    deadline = time.monotonic() + 20
    while "checks passed" not in server.log_text():
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.05)
    warnings = [text for text in server.log_text().splitlines() if '"level": "warning"' in text]
    assert any("langsmith default: key:" in text and "wrong region or workspace?" in text for text in warnings)
    assert LANGSMITH_KEY not in server.log_text()
