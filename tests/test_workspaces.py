"""PURGEBOT_WORKSPACES_FILE: every workspace of the company, or one line that says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.langsmith import LangSmithClient
from bot.settings import SettingsError, load_settings
from bot.workspaces import DEFAULT, UnknownWorkspace, Workspace, WorkspaceClients, load_workspaces

TENANT = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
GOOD = f"""
# production, both regions
[[workspace]]
name = "prod-us"
endpoint = "https://api.smith.langchain.com/"
api_key_env = "LANGSMITH_API_KEY_PROD_US"
workspace_id = "{TENANT.upper()}"

[[workspace]]
name = "prod-eu"
endpoint = "https://eu.api.smith.langchain.com"
api_key_env = "LANGSMITH_API_KEY_PROD_EU"
"""
KEYS = {"LANGSMITH_API_KEY_PROD_US": "lsv2_us", "LANGSMITH_API_KEY_PROD_EU": "lsv2_eu"}


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> tuple[Workspace, ...]:
    path = tmp_path / "workspaces.toml"
    path.write_text(text)
    settings = load_settings(isolated=True, purgebot_workspaces_file=path)
    return load_workspaces(settings, KEYS if environ is None else environ)


def refusal(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as refused:
        load(tmp_path, text, environ)
    message = str(refused.value)
    assert "\n" not in message and "lsv2_" not in message  # one line, and never a key
    return message


def test_the_file_names_each_workspace_with_its_own_key_and_tenant(tmp_path: Path) -> None:
    us, eu = load(tmp_path, GOOD)

    assert (us.name, us.endpoint, us.workspace_id, us.api_key.get_secret_value()) == (
        "prod-us",
        "https://api.smith.langchain.com",
        TENANT,
        "lsv2_us",
    )
    assert (eu.name, eu.endpoint, eu.workspace_id, eu.api_key.get_secret_value()) == (
        "prod-eu",
        "https://eu.api.smith.langchain.com",
        None,
        "lsv2_eu",
    )
    assert "lsv2" not in repr(us)


def test_without_the_file_the_langsmith_variables_are_the_workspace_default() -> None:
    settings = load_settings(
        isolated=True,
        langsmith_api_key="lsv2_one",
        langsmith_endpoint="https://eu.api.smith.langchain.com",
        langsmith_workspace_id=TENANT,
    )

    (only,) = load_workspaces(settings, {})

    assert (only.name, only.endpoint, only.workspace_id) == (DEFAULT, "https://eu.api.smith.langchain.com", TENANT)
    assert only.api_key.get_secret_value() == "lsv2_one"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('workspace_id = "', 'workspace_ID = "'), "line 7: unknown key `workspace_ID` in [[workspace]]"),
        (GOOD.replace('name = "prod-eu"', 'name = "prod-us"'), "line 10: workspace name `prod-us` is used twice"),
        (GOOD.replace('name = "prod-eu"', 'name = "Prod EU"'), "line 10: workspace name `Prod EU` must match"),
        (GOOD.replace('name = "prod-eu"\n', ""), "line 9: [[workspace]] #2 has no `name`"),
        (GOOD.replace("https://eu.api", "eu.api"), "line 11: workspace prod-eu: endpoint must be an http(s) URL"),
        (GOOD.replace(f'"{TENANT.upper()}"', '"6f1c…"'), "line 7: workspace prod-us: workspace_id must be a UUID"),
        (GOOD.replace('name = "prod-eu"', 'name = "prod-eu'), "not valid TOML: Illegal character '\\n' (at line 10"),
        (GOOD.replace('"https://eu.api.smith.langchain.com"', "7"), "line 11: `endpoint` must be a string"),
        (GOOD.replace('"LANGSMITH_API_KEY_PROD_EU"', "12"), "line 12: `api_key_env` must be a string"),
        (GOOD.replace('"LANGSMITH_API_KEY_PROD_EU"', '"$KEY"'), "line 12: workspace prod-eu: api_key_env names an"),
        ("region = 'eu'\n" + GOOD, "line 1: unknown table or key `region`"),
        ("# nothing yet\n", "no [[workspace]] table"),
        ('name = "x"\n', "line 1: unknown table or key `name`"),
    ],
)
def test_a_wrong_file_stops_start_up_naming_the_line_and_the_rule(tmp_path: Path, text: str, expected: str) -> None:
    message = refusal(tmp_path, text)

    assert message.startswith(f"PURGEBOT_WORKSPACES_FILE: {tmp_path / 'workspaces.toml'}")
    assert expected in message, message


def test_a_missing_key_variable_names_the_workspace_and_the_variable(tmp_path: Path) -> None:
    message = refusal(tmp_path, GOOD, {"LANGSMITH_API_KEY_PROD_US": "lsv2_us", "LANGSMITH_API_KEY_PROD_EU": " "})

    assert message == (
        "PURGEBOT_WORKSPACES_FILE: workspace prod-eu: the environment variable LANGSMITH_API_KEY_PROD_EU is not set"
    )


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    settings = load_settings(isolated=True, purgebot_workspaces_file=tmp_path / "missing.toml")

    with pytest.raises(SettingsError, match=r"^PURGEBOT_WORKSPACES_FILE: cannot read .*missing.toml: No such file"):
        load_workspaces(settings, KEYS)


def test_workspaces_that_share_a_key_share_its_limits() -> None:
    """LangSmith counts calls per key: an org-scoped key used with two tenant IDs gets one budget, not two."""
    org, other = SecretStr("lsv2_org"), SecretStr("lsv2_other")
    configured = [
        Workspace("prod", "https://api.smith.langchain.com", org, TENANT),
        Workspace("staging", "https://api.smith.langchain.com", org, "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"),
        Workspace("prod-eu", "https://eu.api.smith.langchain.com", other),
    ]
    clients = WorkspaceClients(
        configured,
        lambda w, limiters: LangSmithClient(
            endpoint=w.endpoint, api_key=w.api_key.get_secret_value(), workspace_id=w.workspace_id, limiters=limiters
        ),
        rates=((10, 10.0), (300, 10.0), (1000, 10.0)),
    )

    prod, staging, eu = (clients[name] for name in ("prod", "staging", "prod-eu"))
    assert prod.call_limiter is staging.call_limiter and prod.v2_query_limiter is staging.v2_query_limiter
    assert eu.call_limiter is not prod.call_limiter
    assert (prod.workspace_id, staging.workspace_id) == (TENANT, "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b")
    assert clients.names == ["prod", "staging", "prod-eu"]
    with pytest.raises(UnknownWorkspace):
        clients["prod-apac"]
    clients.close()
