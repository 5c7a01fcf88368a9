"""The installed ``purgebot`` console script, run as a subprocess with a controlled environment."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST
from e2e import file_traces, request_message, wait_state, wait_thread

from bot.sandbox.world import BOT_TOKEN, LANGSMITH_KEY, World, running_world

PREFIXES = ("SLACK_", "LANGSMITH_", "PURGEBOT_")
HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")
# Everything `serve` needs except what a test leaves out; nothing here reaches a network.
SERVE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test-token",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "SLACK_APP_TOKEN": "xapp-test-token",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "LANGSMITH_API_KEY": "lsv2_test_key",
    "LANGSMITH_ENDPOINT": "http://127.0.0.1:9",
    "PURGEBOT_APPROVERS": "U0BOB,S0PRIVACY",
    "PURGEBOT_NOTIFY_CHANNEL": "C0COMPLIANCE",
}


def purgebot_script() -> str:
    beside = Path(sys.executable).parent / "purgebot"
    found = str(beside) if beside.exists() else shutil.which("purgebot")
    assert found, "the purgebot console script is not installed (pip install -e .)"
    return found


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``purgebot *args`` with the machine's SLACK_*/LANGSMITH_*/PURGEBOT_* removed and ``env`` added."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIXES) and k.upper() != "PORT"}
    return subprocess.run(
        [purgebot_script(), *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ----------------------------------------------------------------------------- a real database


@pytest.fixture(scope="module")
def lifecycle_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database written by a real lifecycle: filed, previewed, approved, submitted; the bot then stopped."""
    path = tmp_path_factory.mktemp("lifecycle") / "purgebot.db"
    with running_world(path, tuning=FAST) as world:
        submit_a_purge(world, traces=4)
    return path


def submit_a_purge(world: World, *, traces: int) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, traces))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    wait_thread(world, root, "is *submitted*")


@pytest.fixture
def db(lifecycle_db: Path, tmp_path: Path) -> Path:
    """This test's own copy of the lifecycle database (SQLite's backup API, so WAL content comes along)."""
    copy = tmp_path / "copy.db"
    source, target = sqlite3.connect(lifecycle_db), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy


def tamper(path: Path, statement: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            assert conn.execute(statement, params).rowcount == 1
    finally:
        conn.close()


def stored_head(path: Path) -> tuple[int, str]:
    conn = sqlite3.connect(path)
    try:
        seq, digest = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return int(seq), str(digest)


def audit(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("audit", "verify", *extra, env={"PURGEBOT_DB": str(db)})


# ----------------------------------------------------------------------------- audit verify


def test_audit_verify_prints_the_head_of_an_intact_chain(db: Path) -> None:
    result = audit(db)

    assert result.returncode == 0, result.stderr
    match = HEAD.match(one_line(result.stdout))
    assert match is not None, result.stdout
    seq, digest = stored_head(db)
    assert (int(match[1]), match[2]) == (seq, digest)
    assert seq >= 5, "filed, previewed, approved, executing, batch sent, submitted…"


def test_audit_verify_needs_only_the_database(db: Path) -> None:
    """No Slack or LangSmith settings at all (``run`` strips them from the environment)."""
    assert audit(db).returncode == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "U0MALLORY"), ("data", '{"count": 0}'), ("kind", "rejected"), ("at", "2020-01-01T00:00:00+00:00")],
)
def test_audit_verify_names_the_first_tampered_event(db: Path, column: str, value: str) -> None:
    victim = 3
    tamper(db, f"UPDATE events SET {column} = ? WHERE seq = ?", value, victim)

    result = audit(db)

    assert result.returncode == 1
    output = one_line(result.stdout + result.stderr)
    assert re.findall(r"\d+", output) == [str(victim)], output
    assert not HEAD.match(output)


def test_audit_verify_names_a_deleted_event(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq = ?", 2)

    result = audit(db)

    assert result.returncode == 1
    assert re.findall(r"\d+", one_line(result.stdout + result.stderr)) == ["2"]


def test_expect_passes_with_the_printed_head_and_catches_a_cut_off_tail(db: Path) -> None:
    head = one_line(audit(db).stdout)
    assert audit(db, "--expect", head).returncode == 0

    seq, _ = stored_head(db)
    tamper(db, "DELETE FROM events WHERE seq = ?", seq)

    shorter = audit(db)
    assert shorter.returncode == 0, "without --expect a truncated chain still verifies"
    assert one_line(shorter.stdout).startswith(f"{seq - 1}:")
    caught = audit(db, "--expect", head)
    assert caught.returncode == 1
    assert head in caught.stdout + caught.stderr


def test_expect_with_a_hash_that_never_was_fails(db: Path) -> None:
    seq, _ = stored_head(db)
    assert audit(db, "--expect", f"{seq}:{'0' * 64}").returncode == 1


@pytest.mark.parametrize("expect", ["7", "x:abc", "3:" + "G" * 64, "3:abc"])
def test_expect_refuses_a_malformed_head(db: Path, expect: str) -> None:
    result = audit(db, "--expect", expect)

    assert result.returncode != 0
    assert "SEQ:HASH" in result.stderr


def test_audit_verify_without_a_database_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"

    result = audit(missing)

    assert result.returncode == 1
    assert str(missing) in one_line(result.stderr)
    assert not missing.exists(), "verifying must not create an empty database"


# ----------------------------------------------------------------------------- backup

BACKED_UP = re.compile(r"^backed up to (\S+): integrity ok, chain intact at (\d+:[0-9a-f]{64}); (\d+) requests, ")


def test_backup_writes_a_checked_copy_whose_head_audit_verify_finds(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "backup.db"

    result = run("backup", str(target), env={"PURGEBOT_DB": str(db)})

    assert result.returncode == 0, result.stderr
    match = BACKED_UP.match(one_line(result.stdout))
    assert match, result.stdout
    assert match[1] == str(target) and match[3] == "1"
    assert match[2] == "{}:{}".format(*stored_head(db))
    assert audit(target, "--expect", match[2]).returncode == 0


def test_backup_never_overwrites_and_needs_a_database(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken.db"
    target.write_text("last week's backup")

    taken = run("backup", str(target), env={"PURGEBOT_DB": str(db)})
    missing = run("backup", str(tmp_path / "new.db"), env={"PURGEBOT_DB": str(tmp_path / "gone.db")})

    assert taken.returncode == 1 and "already exists" in one_line(taken.stderr)
    assert target.read_text() == "last week's backup"
    assert missing.returncode == 1 and "no database at" in one_line(missing.stderr)
    assert not (tmp_path / "new.db").exists() and not (tmp_path / "gone.db").exists()


# ----------------------------------------------------------------------------- serve: refusing to start


def serve(*args: str, without: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in SERVE_ENV.items() if k != without} | extra
    return run("serve", *args, env=env)


def test_serve_without_the_signing_secret_refuses_to_start(tmp_path: Path) -> None:
    result = serve(without="SLACK_SIGNING_SECRET", PURGEBOT_DB=str(tmp_path / "p.db"))

    assert result.returncode != 0
    line = one_line(result.stderr + result.stdout)
    assert "SLACK_SIGNING_SECRET" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PURGEBOT_DELETE_CONCURRENCY", "0"),
        ("PURGEBOT_APPROVERS", "bob"),
        ("PURGEBOT_VERIFY_AT", "monday"),
        ("PURGEBOT_TIMEZONE", "Mars/Base"),
        ("SLACK_BOT_TOKEN", "xoxp-supersecret"),
        ("PURGEBOT_LOG_LEVEL", "verbose"),
    ],
)
def test_serve_with_a_malformed_variable_names_it(tmp_path: Path, variable: str, value: str) -> None:
    result = serve(PURGEBOT_DB=str(tmp_path / "p.db"), **{variable: value})

    assert result.returncode != 0
    line = one_line(result.stderr + result.stdout)
    assert variable in line
    assert "supersecret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_serve_with_the_intake_token_but_no_key_to_seal_callbacks_refuses_to_start(tmp_path: Path) -> None:
    result = serve(PURGEBOT_DB=str(tmp_path / "p.db"), PURGEBOT_INTAKE_TOKEN="intake-token-0123456789abcdef")

    assert result.returncode == 1
    line = one_line(result.stderr + result.stdout)
    assert line.startswith("purgebot: PURGEBOT_INTAKE_KEY must be set with PURGEBOT_INTAKE_TOKEN")
    assert "intake-token-0123456789abcdef" not in result.stderr + result.stdout
    assert not (tmp_path / "p.db").exists()  # refused before anything was opened


def test_socket_mode_without_the_app_token_refuses_to_start(tmp_path: Path) -> None:
    result = serve("--socket-mode", without="SLACK_APP_TOKEN", PURGEBOT_DB=str(tmp_path / "p.db"))

    assert result.returncode != 0
    line = one_line(result.stderr + result.stdout)
    assert "SLACK_APP_TOKEN" in line and "SLACK_SIGNING_SECRET" not in line


def test_serve_names_every_missing_variable(tmp_path: Path) -> None:
    result = run("serve", env={"PURGEBOT_DB": str(tmp_path / "p.db")})

    assert result.returncode != 0
    line = one_line(result.stderr + result.stdout)
    for variable in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "LANGSMITH_API_KEY", "PURGEBOT_APPROVERS"):
        assert variable in line


# ----------------------------------------------------------------------------- verify


def verify_env(world: World) -> dict[str, str]:
    return {
        "PURGEBOT_DB": str(world.db_path),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": world.slack_url + "/api/",
        "LANGSMITH_API_KEY": LANGSMITH_KEY,
        "LANGSMITH_ENDPOINT": world.langsmith_url,
    }


def test_verify_exits_2_while_traces_remain_and_0_after_the_weekend(world: World) -> None:
    submit_a_purge(world, traces=3)
    env = verify_env(world)

    before = run("verify", "PURGE-1", env=env)
    assert before.returncode == 2, before.stdout + before.stderr
    assert "3 of 3" in before.stdout
    assert len(world.langsmith.calls_to("runs/query")) > 0

    world.langsmith.run_weekend()
    after = run("verify", "purge-1", env=env)

    assert after.returncode == 0, after.stdout + after.stderr
    assert "0 of 3" in after.stdout
    wait_state(world, "verified")


def test_verify_of_an_unknown_request_exits_1(world: World) -> None:
    result = run("verify", "PURGE-99", env=verify_env(world))

    assert result.returncode == 1
    assert "PURGE-99" in result.stderr


def test_verify_of_a_request_with_nothing_sent_exits_1(world: World) -> None:
    assert world.people is not None
    project = world.langsmith.add_project("prod-chat")
    file_traces(world, world.langsmith.add_traces(project, 1))
    request_message(world)

    result = run("verify", "PURGE-1", env=verify_env(world))

    assert result.returncode == 1
    assert "is awaiting approval: there is nothing to check" in result.stderr


@pytest.mark.parametrize("argument", ["nonsense", "PURGE-0", "PURGE-", "7", "PURGE-1x"])
def test_verify_of_something_that_is_not_a_request_id_shows_the_form(argument: str) -> None:
    result = run("verify", argument)

    assert result.returncode != 0
    assert "PURGE-7" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_needs_langsmith_and_slack_settings(tmp_path: Path) -> None:
    result = run("verify", "PURGE-1", env={"PURGEBOT_DB": str(tmp_path / "p.db")})

    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "SLACK_BOT_TOKEN" in line and "LANGSMITH_API_KEY" in line


# ----------------------------------------------------------------------------- demo


def test_demo_keep_leaves_the_database_and_reports_and_prints_their_paths(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    result = run("demo", "--keep", str(kept), env={"PURGEBOT_DB": str(tmp_path / "ignored.db")})

    assert result.returncode == 0, result.stdout + result.stderr
    listed = result.stdout.split(f"Kept for inspection in {kept}:\n", 1)[1].splitlines()
    names = ["purgebot.db", *(f"PURGE-{n}-evidence.{ext}" for n in (1, 2) for ext in ("json", "md"))]
    assert listed[:5] == [f"  {kept / name}" for name in names]
    assert sorted(p.name for p in kept.iterdir()) == sorted(names)  # the database is whole: no -wal left
    assert not (tmp_path / "ignored.db").exists()  # PURGEBOT_DB is not read
    expect = re.search(r"audit verify --expect (\d+:[0-9a-f]{64})$", listed[5])
    assert expect, listed
    audit = run("audit", "verify", "--expect", expect.group(1), env={"PURGEBOT_DB": str(kept / "purgebot.db")})
    assert (audit.returncode, audit.stdout.strip()) == (0, expect.group(1))

    again = run("demo", "--keep", str(kept))
    assert again.returncode == 1 and again.stdout == ""
    assert one_line(again.stderr).startswith(f"purgebot: {kept} already holds purgebot.db, PURGE-1-evidence.json")


def test_demo_without_keep_leaves_nothing_and_says_how_to_keep(tmp_path: Path) -> None:
    result = run("demo", cwd=tmp_path, env={"TMPDIR": str(tmp_path)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "`purgebot demo --keep DIR` keeps the database and both reports" in result.stdout
    assert "Kept for inspection" not in result.stdout and list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- help


def test_help_lists_the_commands() -> None:
    result = run("--help")

    assert result.returncode == 0
    for command in ("serve", "demo", "verify", "audit"):
        assert re.search(rf"^\W*{command}\b", result.stdout, re.MULTILINE), result.stdout


def test_audit_help_lists_verify() -> None:
    result = run("audit", "--help")

    assert result.returncode == 0
    assert "verify" in result.stdout


# ----------------------------------------------------------------------------- an operator's mistakes: one line each


@pytest.mark.parametrize("command", [("report", "PURGE-1"), ("audit", "verify"), ("verify", "PURGE-1")])
def test_a_command_reading_the_record_never_creates_one_and_names_purgebot_db(
    tmp_path: Path, command: tuple[str, str]
) -> None:
    missing = tmp_path / "elsewhere.db"
    result = run(*command, env={**SERVE_ENV, "PURGEBOT_DB": str(missing)})
    assert result.returncode == 1
    assert one_line(result.stderr) == f"purgebot: no database at {missing} (PURGEBOT_DB); nothing was created"
    assert not missing.exists()


@pytest.mark.parametrize("command", [("serve",), ("verify", "PURGE-1"), ("report", "PURGE-1")])
def test_purgebot_db_naming_a_folder_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = run(*command, env={**SERVE_ENV, "PURGEBOT_DB": str(tmp_path)})
    assert result.returncode == 1
    assert "a folder; it must name the database file" in one_line(result.stderr)


def test_serve_with_purgebot_db_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    result = serve(PURGEBOT_DB=str(tmp_path / "gone" / "purgebot.db"))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "cannot use the database" in line and "PURGEBOT_DB" in line and "Traceback" not in result.stdout


@pytest.mark.parametrize("command", [("serve",), ("audit", "verify")])
def test_a_database_of_a_newer_purgebot_is_refused_in_one_line(db: Path, command: tuple[str, ...]) -> None:
    """Rolling the image back without restoring the backup: the older code refuses the newer schema."""
    tamper(db, "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('purgebot', ?, 'x')", "m999_x")
    result = run(*command, env={**SERVE_ENV, "PURGEBOT_DB": str(db)})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"purgebot: cannot use the database {db}: it was migrated by a newer purgebot")
    assert "m999_x" in line and "restore the backup" in line


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/", "http://purgebot-no-such-host.invalid/api/"])
def test_serve_with_slack_unreachable_is_one_line(tmp_path: Path, url: str) -> None:
    result = serve(PURGEBOT_DB=str(tmp_path / "purgebot.db"), SLACK_API_URL=url)
    assert result.returncode == 1
    assert one_line(result.stderr).startswith(f"purgebot: Slack is unreachable at {url}")


def test_verify_offline_says_what_it_waits_for_and_gives_up_within_its_bound(db: Path) -> None:
    env = {**SERVE_ENV, "PURGEBOT_DB": str(db), "LANGSMITH_ENDPOINT": "http://127.0.0.1:9"}
    result = run("verify", "PURGE-1", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "purgebot: LangSmith could not be reached; the check stays queued for the running bot"
    waits = lines[:-1]
    assert waits and all("LangSmith did not answer (ConnectError" in w and "trying again in" in w for w in waits)
    assert "stamina" not in result.stderr and "Traceback" not in result.stderr
