"""manifest.yml: valid against Slack's schema, pointing at /slack/events, asking for exactly the scopes used."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from e2e import file_traces, jump_to_next_check, request_message, wait_state, wait_thread

from bot.clock import SandboxClock
from bot.sandbox.slack_server import FakeSlack
from bot.sandbox.world import NOTIFY_CHANNEL, REQUESTS_CHANNEL, World
from bot.slack_scopes import COMMANDS_SCOPE, NEEDED_SCOPES, SCOPES_OF_METHOD

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "data" / "slack-manifest-schema" / "manifest.schema.1.0.0.json"
PLACEHOLDER_HOST = "purge.example.com"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def bot_scopes(manifest: dict[str, Any]) -> list[str]:
    return list(manifest["oauth_config"]["scopes"]["bot"])


def test_the_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)

    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))

    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_itself_catches_a_bad_manifest(manifest: dict[str, Any]) -> None:
    """The control: an unknown key is an error, so a passing validation above means something."""
    schema = json.loads(SCHEMA.read_text())
    broken = {**manifest, "features": {**manifest["features"], "slash_command": []}}

    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_purge_and_interactivity_point_at_the_events_url(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    purge = [c for c in commands if c["command"] == "/purge"]
    assert len(purge) == 1
    url = purge[0]["url"]
    assert re.fullmatch(r"https://[^/\s]+/slack/events", url), url

    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == url
    assert manifest["settings"].get("socket_mode_enabled") is False


def test_urls_use_the_placeholder_host(manifest: dict[str, Any]) -> None:
    text = (ROOT / "manifest.yml").read_text()
    hosts = set(re.findall(r"https?://([^/\s\"']+)", yaml.safe_dump(manifest)))
    assert hosts <= {PLACEHOLDER_HOST, "api.slack.com"}, hosts
    assert PLACEHOLDER_HOST in manifest["settings"]["interactivity"]["request_url"]
    comments = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert f"replace {PLACEHOLDER_HOST}" in comments, "the header comment tells the operator what to change"


def test_no_scope_is_requested_twice(manifest: dict[str, Any]) -> None:
    scopes = bot_scopes(manifest)
    assert len(scopes) == len(set(scopes))
    assert COMMANDS_SCOPE in scopes


def methods_called_in_code() -> set[str]:
    """Slack Web API methods named at call sites in bot/ and handlers/ (slack_sdk's snake_case → dotted)."""
    pattern = re.compile(r"\b(?:self\.(?:_slack|slack)|client)\.([a-z]+(?:_[a-zA-Z0-9]+)+)\(")
    found: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        if "sandbox" in path.parts:
            continue  # the stand-ins, not the bot
        found.update(name.replace("_", ".") for name in pattern.findall(path.read_text()))
    return found


def test_the_code_scan_finds_the_call_sites_it_should() -> None:
    """The control for the scan: it sees the calls we know are there."""
    found = methods_called_in_code()
    assert {"chat.postMessage", "chat.update", "usergroups.users.list", "conversations.info"} <= found


def test_every_method_the_code_calls_has_a_known_scope() -> None:
    unknown = methods_called_in_code() - set(SCOPES_OF_METHOD)
    assert not unknown, f"add these to SCOPES_OF_METHOD (bot/slack_scopes.py) from slack.md §6: {sorted(unknown)}"


def test_the_manifest_asks_for_no_scope_the_code_does_not_use(manifest: dict[str, Any]) -> None:
    used = {COMMANDS_SCOPE}.union(*(SCOPES_OF_METHOD[m] for m in methods_called_in_code() if m in SCOPES_OF_METHOD))

    stale = set(bot_scopes(manifest)) - used

    assert not stale, f"scopes no code needs: {sorted(stale)}"


def test_the_manifest_grants_what_the_code_uses(manifest: dict[str, Any]) -> None:
    needed = set().union(*(SCOPES_OF_METHOD.get(m, frozenset()) for m in methods_called_in_code()))

    assert needed <= set(bot_scopes(manifest)), sorted(needed - set(bot_scopes(manifest)))


def test_the_needed_scopes_are_the_manifests(manifest: dict[str, Any]) -> None:
    """``purgebot doctor`` checks an installed token against NEEDED_SCOPES: they must be what the
    manifest asks for, no more (a stale method in SCOPES_OF_METHOD) and no less."""
    assert set(bot_scopes(manifest)) == NEEDED_SCOPES


def test_a_whole_lifecycle_calls_only_methods_the_manifest_grants(
    world: World, clock: SandboxClock, manifest: dict[str, Any]
) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 3))
    root = request_message(world)
    world.people.alice.click(root, "Approve")  # refused: an ephemeral
    world.people.dave.click(root, "Approve")  # through the approver group
    wait_state(world, "submitted")
    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_thread(world, root, "still present")
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    world.slack.wait_for(lambda s: len(s.messages(NOTIFY_CHANNEL)) == 1, timeout=10)

    called = {call.method for call in world.slack.calls()}

    assert {"chat.postMessage", "chat.update", "usergroups.users.list"} <= called
    unknown = called - set(SCOPES_OF_METHOD)
    assert not unknown, f"add these to SCOPES_OF_METHOD (bot/slack_scopes.py) from slack.md §6: {sorted(unknown)}"
    missing = {
        method: sorted(SCOPES_OF_METHOD[method] - set(bot_scopes(manifest)))
        for method in called
        if not SCOPES_OF_METHOD[method] <= set(bot_scopes(manifest))
    }
    assert not missing, f"methods called without their scope in the manifest: {missing}"
    scanned = methods_called_in_code() | {"auth.test"}
    if "files.upload.v2" in scanned:  # slack_sdk's helper calls these two on the wire
        scanned |= {"files.getUploadURLExternal", "files.completeUploadExternal"}
    assert called <= scanned, "the code scan misses a call site"


def test_the_slack_stand_in_grants_exactly_the_manifests_scopes(manifest: dict[str, Any]) -> None:
    """The stand-in refuses a method without its scope; it must hold what an installed app would hold."""
    assert set(bot_scopes(manifest)) == FakeSlack().scopes
