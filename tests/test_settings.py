"""Settings: DESIGN.md's variables by their exact names, defaults, and one-line errors that keep secrets."""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import Every, WeeklyAt
from bot.settings import Settings, SettingsError, load_settings

PREFIXES = ("SLACK_", "LANGSMITH_", "PURGEBOT_")
SECRET = "supersecret"
KEY_NEW = "B3rATxNY1Ly_SEcx-zeIfXi_PcOXBlcKe4cDR2uQODY="  # Fernet keys for PURGEBOT_INTAKE_KEY
KEY_OLD = "XsNtI2TcJMMbqvjR3lHMRiUR8506nWEUFK-s5bzIoMM="


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SLACK_*, LANGSMITH_*, PURGEBOT_* or PORT from the machine running the tests (any case)."""
    for name in list(os.environ):
        if name.upper().startswith(PREFIXES) or name.upper() == "PORT":
            monkeypatch.delenv(name)


def plain(value: Any) -> Any:
    """A setting's value with secrets revealed and rates as (calls, seconds), for comparison."""
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if isinstance(value, tuple) and value and all(hasattr(item, "get_secret_value") for item in value):
        return tuple(item.get_secret_value() for item in value)
    if hasattr(value, "as_tuple"):
        return value.as_tuple()
    return value


# (variable, value in the environment, what the setting then holds)
EVERY_VARIABLE: list[tuple[str, str, Any]] = [
    ("SLACK_BOT_TOKEN", "xoxb-1-abc", "xoxb-1-abc"),
    ("SLACK_SIGNING_SECRET", "s3cr3t", "s3cr3t"),
    ("SLACK_APP_TOKEN", "xapp-1-abc", "xapp-1-abc"),
    ("SLACK_API_URL", "http://127.0.0.1:9/api", "http://127.0.0.1:9/api/"),
    ("LANGSMITH_API_KEY", "lsv2_pt_abc", "lsv2_pt_abc"),
    ("LANGSMITH_ENDPOINT", "https://eu.api.smith.langchain.com/", "https://eu.api.smith.langchain.com"),
    (
        "LANGSMITH_WORKSPACE_ID",
        "0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f",
        UUID("0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f"),
    ),
    ("PURGEBOT_DB", "/var/lib/purgebot/state.db", Path("/var/lib/purgebot/state.db")),
    ("PURGEBOT_APPROVERS", "U0BOB, W0EVE,S0PRIVACY", ("U0BOB", "W0EVE", "S0PRIVACY")),
    ("PURGEBOT_NOTIFY_CHANNEL", "C0COMPLIANCE", "C0COMPLIANCE"),
    ("PURGEBOT_TIMEZONE", "Europe/Berlin", ZoneInfo("Europe/Berlin")),
    ("PURGEBOT_VERIFY_AT", "tue 07:30", WeeklyAt(weekday=1, at=time(7, 30))),
    ("PURGEBOT_DELETE_CONCURRENCY", "9", 9),
    ("PURGEBOT_METADATA_DELETE", "off", False),
    ("PURGEBOT_DEADLINE_DAYS", "14", 14),
    ("PURGEBOT_APPROVAL_TTL_DAYS", "3", 3),
    ("PURGEBOT_EVIDENCE_RETENTION_DAYS", "90", 90),
    ("PURGEBOT_HMAC_KEY", "k" * 32, "k" * 32),
    ("PURGEBOT_SHOW_VALUES", "full", "full"),
    ("PURGEBOT_WORKSPACES_FILE", "/etc/purgebot/workspaces.toml", Path("/etc/purgebot/workspaces.toml")),
    ("PURGEBOT_LANGSMITH_QUERY_API", "V2", "v2"),
    ("PURGEBOT_LANGSMITH_LOOKBACK_DAYS", "30", 30),
    ("PURGEBOT_LANGSMITH_QUERY_RATE", "5/10s", (5, 10.0)),
    ("PURGEBOT_LANGSMITH_V2_QUERY_RATE", "150/10s", (150, 10.0)),
    ("PURGEBOT_LANGSMITH_CALL_RATE", "100 / 60s", (100, 60.0)),
    ("PURGEBOT_LOG_LEVEL", "DEBUG", "debug"),
    ("PORT", "8080", 8080),
    ("PURGEBOT_INTAKE_TOKEN", "t" * 32, "t" * 32),
    ("PURGEBOT_INTAKE_KEY", f" {KEY_NEW} ,{KEY_OLD}", (KEY_NEW, KEY_OLD)),
    ("PURGEBOT_INTAKE_CHANNEL", "C0INTAKE", "C0INTAKE"),
    ("PURGEBOT_IDENTITY_MAP", "email=user_email, userId=user_id", (("email", "user_email"), ("userId", "user_id"))),
]


@pytest.mark.parametrize(("variable", "value", "expected"), EVERY_VARIABLE, ids=[row[0] for row in EVERY_VARIABLE])
def test_each_variable_is_read_by_its_exact_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: Any
) -> None:
    before = plain(getattr(load_settings(), variable.lower()))
    assert before != expected, "the test value must differ from the default"

    monkeypatch.setenv(variable, value)

    assert plain(getattr(load_settings(), variable.lower())) == expected


@pytest.mark.parametrize(
    ("near_miss", "field"),
    [
        ("PURGEBOT_APPROVER", "purgebot_approvers"),
        ("SLACK_TOKEN", "slack_bot_token"),
        ("LANGSMITH_KEY", "langsmith_api_key"),
        ("PURGEBOT_CONCURRENCY", "purgebot_delete_concurrency"),
        ("NOTIFY_CHANNEL", "purgebot_notify_channel"),
    ],
)
def test_a_near_miss_name_is_not_read(monkeypatch: pytest.MonkeyPatch, near_miss: str, field: str) -> None:
    default = plain(getattr(load_settings(), field))
    monkeypatch.setenv(near_miss, {"purgebot_delete_concurrency": "9"}.get(field, "xoxb-U0BOB"))

    assert plain(getattr(load_settings(), field)) == default


def test_every_field_comes_from_a_documented_variable() -> None:
    assert {name.upper() for name in Settings.model_fields} == {row[0] for row in EVERY_VARIABLE}


def test_the_verify_at_interval_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PURGEBOT_VERIFY_AT", "+30m")
    assert load_settings().purgebot_verify_at == Every(timedelta(minutes=30))


def test_metadata_delete_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PURGEBOT_METADATA_DELETE", "on")
    assert load_settings().purgebot_metadata_delete is True


def test_defaults() -> None:
    settings = load_settings()

    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.langsmith_api_key is None
    assert settings.langsmith_endpoint == "https://api.smith.langchain.com"
    assert settings.langsmith_workspace_id is None
    assert settings.purgebot_db == Path("./purgebot.db")
    assert settings.purgebot_approvers == ()
    assert settings.purgebot_notify_channel is None
    assert settings.purgebot_timezone == ZoneInfo("UTC")
    assert settings.purgebot_verify_at == WeeklyAt(weekday=0, at=time(9, 0))
    assert settings.purgebot_delete_concurrency == 4
    assert settings.purgebot_metadata_delete is True
    assert settings.purgebot_deadline_days == 30
    assert settings.purgebot_approval_ttl_days == 7
    assert settings.purgebot_evidence_retention_days == 365
    assert settings.purgebot_hmac_key is None
    assert settings.purgebot_show_values == "masked"
    assert settings.purgebot_langsmith_query_api == "auto"
    assert settings.purgebot_langsmith_lookback_days == 400  # LangSmith's longest retention
    assert settings.purgebot_langsmith_query_rate.as_tuple() == (10, 10.0)  # v1 runs/query: 10 per 10 s
    assert settings.purgebot_langsmith_v2_query_rate.as_tuple() == (300, 10.0)  # v2 runs/query: 300 per 10 s
    assert settings.purgebot_log_level == "info"
    assert settings.port == 3000


MALFORMED = [
    ("SLACK_BOT_TOKEN", "xoxp-supersecret"),
    ("SLACK_BOT_TOKEN", ""),
    ("SLACK_APP_TOKEN", "xoxb-supersecret"),
    ("SLACK_API_URL", "slack.com/api"),
    ("LANGSMITH_ENDPOINT", "ftp://api.smith.langchain.com"),
    ("LANGSMITH_ENDPOINT", "https://"),
    ("LANGSMITH_WORKSPACE_ID", "workspace-1"),
    ("PURGEBOT_APPROVERS", "U0BOB,bob"),
    ("PURGEBOT_APPROVERS", "<@U0BOB>"),
    ("PURGEBOT_APPROVERS", "C0PRIVACY"),
    ("PURGEBOT_NOTIFY_CHANNEL", "#compliance"),
    ("PURGEBOT_NOTIFY_CHANNEL", "U0BOB"),
    ("PURGEBOT_TIMEZONE", "Mars/Olympus_Mons"),
    ("PURGEBOT_TIMEZONE", "CEST"),
    ("PURGEBOT_VERIFY_AT", "monday 9am"),
    ("PURGEBOT_VERIFY_AT", "mon 9:00"),
    ("PURGEBOT_VERIFY_AT", "+0d"),
    ("PURGEBOT_VERIFY_AT", "30m"),
    ("PURGEBOT_DELETE_CONCURRENCY", "four"),
    ("PURGEBOT_DELETE_CONCURRENCY", "0"),
    ("PURGEBOT_DELETE_CONCURRENCY", "-1"),
    ("PURGEBOT_DELETE_CONCURRENCY", "2.5"),
    ("PURGEBOT_METADATA_DELETE", "maybe"),
    ("PURGEBOT_DEADLINE_DAYS", "0"),
    ("PURGEBOT_APPROVAL_TTL_DAYS", "a week"),
    ("PURGEBOT_EVIDENCE_RETENTION_DAYS", "-5"),
    ("PURGEBOT_LANGSMITH_QUERY_RATE", "15 per 10"),
    ("PURGEBOT_LANGSMITH_QUERY_RATE", "0/10s"),
    ("PURGEBOT_LANGSMITH_CALL_RATE", "10/0s"),
    ("PURGEBOT_SHOW_VALUES", "yes"),
    ("PURGEBOT_LANGSMITH_QUERY_API", "v3"),
    ("PURGEBOT_LANGSMITH_QUERY_API", "smithdb"),
    ("PURGEBOT_LANGSMITH_LOOKBACK_DAYS", "0"),
    ("PURGEBOT_LANGSMITH_V2_QUERY_RATE", "300"),
    ("PURGEBOT_LOG_LEVEL", "verbose"),
    ("PURGEBOT_LOG_LEVEL", "10"),
    ("PORT", "http"),
    ("PORT", "70000"),
    ("PURGEBOT_INTAKE_CHANNEL", "#privacy"),
    ("PURGEBOT_IDENTITY_MAP", "email"),
    ("PURGEBOT_IDENTITY_MAP", "email=user email"),
    ("PURGEBOT_IDENTITY_MAP", "email=a,email=b"),
]


@pytest.mark.parametrize(("variable", "value"), MALFORMED)
def test_a_malformed_value_is_one_line_starting_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(f"{variable}: "), message
    assert len(message) > len(variable) + 10, "says what it expects"
    assert "\n" not in message and "\r" not in message
    assert "Traceback" not in message and "pydantic" not in message.lower()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", f"xoxp-{SECRET}"),
        ("SLACK_BOT_TOKEN", f"{SECRET}-xoxb-"),
        ("SLACK_APP_TOKEN", f"xoxb-{SECRET}"),
        ("SLACK_APP_TOKEN", f" xapp-{SECRET}"),
        ("PURGEBOT_INTAKE_TOKEN", "short-" + SECRET[:4]),
        ("PURGEBOT_INTAKE_KEY", f"{KEY_NEW},{SECRET}"),
        ("PURGEBOT_INTAKE_KEY", KEY_NEW[:-2] + SECRET[:2]),
    ],
)
def test_a_malformed_secret_is_not_repeated(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert str(caught.value).startswith(f"{variable}: ")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_secrets_stay_out_of_another_variables_error_and_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SLACK_SIGNING_SECRET", "LANGSMITH_API_KEY", "PURGEBOT_HMAC_KEY"):
        monkeypatch.setenv(variable, f"{variable.lower()}-{SECRET}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", f"xoxb-{SECRET}")
    monkeypatch.setenv("SLACK_APP_TOKEN", f"xapp-{SECRET}")

    settings = load_settings()
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in str(settings.model_dump())

    monkeypatch.setenv("PURGEBOT_DELETE_CONCURRENCY", "many")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.args[0].startswith("PURGEBOT_DELETE_CONCURRENCY: ")
    assert SECRET not in str(caught.value)


def test_an_overriding_keyword_is_validated_like_the_environment() -> None:
    with pytest.raises(SettingsError, match=r"^PURGEBOT_NOTIFY_CHANNEL: "):
        load_settings(purgebot_notify_channel="compliance")


def test_require_names_every_missing_variable_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")
    monkeypatch.setenv("PURGEBOT_NOTIFY_CHANNEL", "C0COMPLIANCE")
    settings = load_settings()

    with pytest.raises(SettingsError) as caught:
        settings.require("serve", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "LANGSMITH_API_KEY", "PURGEBOT_APPROVERS")

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("SLACK_SIGNING_SECRET, LANGSMITH_API_KEY, PURGEBOT_APPROVERS")
    assert "purgebot serve" in message
    assert "SLACK_BOT_TOKEN" not in message
    settings.require("serve", "SLACK_BOT_TOKEN", "PURGEBOT_NOTIFY_CHANNEL")  # present: no error


def test_require_of_nothing_passes() -> None:
    load_settings().require("audit verify")


def test_isolated_settings_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in MALFORMED:
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("PURGEBOT_DB", "/nowhere/from-env.db")

    settings = load_settings(isolated=True, purgebot_notify_channel="C0COMPLIANCE")

    assert settings.purgebot_db == Path("./purgebot.db")
    assert settings.slack_bot_token is None
    assert settings.purgebot_delete_concurrency == 4
    assert settings.purgebot_notify_channel == "C0COMPLIANCE"
    with pytest.raises(SettingsError, match=r"^PURGEBOT_DELETE_CONCURRENCY: "):
        load_settings(isolated=True, purgebot_delete_concurrency=0)
