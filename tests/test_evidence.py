"""The evidence report, deadlines and data minimisation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from e2e import file_traces, jump_to_next_check, request_message, wait_state, wait_thread
from pydantic import SecretStr
from slack_sdk import WebClient

from bot import report
from bot.approvers import Approvers
from bot.clock import SandboxClock, SystemClock, parse_utc, utc_iso
from bot.deadlines import Deadlines
from bot.langsmith import LangSmithClient
from bot.minimiser import Minimiser
from bot.sandbox.slack_blocks import readable
from bot.sandbox.world import BOT_TOKEN, LANGSMITH_KEY, REQUESTS_CHANNEL, SIGNING_SECRET, World
from bot.settings import load_settings
from bot.tasks import TaskContext
from bot.workspaces import WorkspaceClients, load_workspaces
from storage import checks, events, outbox, requests
from storage.db import Store

UTC_ZONE = ZoneInfo("UTC")
PREVIEW = {"total": 1, "checked": 1, "known": 1, "sampled": False, "unknown_ids": [], "included": 1}


def verified_subject_purge(world: World, clock: SandboxClock) -> list[str]:
    """A metadata purge taken to `verified`; returns the subject's trace IDs."""
    assert world.people is not None
    prod = world.langsmith.add_project("prod-chat")
    traces = world.langsmith.add_traces(prod, 12, metadata={"user_id": "subject-8842"})
    dataset = world.langsmith.add_dataset("golden")
    world.langsmith.add_example(dataset, inputs={"q": "ada's question"}, metadata={"email": "ada@example.com"})
    world.people.alice.slash(
        "metadata user_id=subject-8842 email=ada@example.com --reason DSR-1042 --ticket DSR-1042",
        channel_id=REQUESTS_CHANNEL,
    )
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_thread(world, root, "0 of 1 example remain")
    world.langsmith.run_weekend()
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    return traces


def test_the_report_of_a_verified_request_matches_the_database_and_names_no_subject(
    world: World, clock: SandboxClock, tmp_path: Path
) -> None:
    assert world.bot is not None
    traces = verified_subject_purge(world, clock)
    db = world.bot.store.db

    json_path, md_path = report.write(db, 1, tmp_path, now=clock.now(), tz=UTC_ZONE)

    data = json.loads(json_path.read_text())
    text = md_path.read_text()
    assert data["request"]["id"] == "PURGE-1" and data["request"]["state"] == "verified"
    assert data["decision"]["outcome"] == "approved" and data["decision"]["by"] == "U0BOB"
    assert data["approved_set"] == {**data["approved_set"], "traces": 12, "examples": 1}
    stored_batches = db.execute("SELECT count(*), sum(state = 'sent') FROM batches WHERE request_id = 1").fetchone()
    assert (len(data["batches"]), sum(b["state"] == "sent" for b in data["batches"])) == tuple(stored_batches)
    assert len(data["events"]) == db.execute("SELECT count(*) FROM events WHERE request_id = 1").fetchone()[0]
    assert [c["remaining"] for c in data["checks"] if c["state"] == "done"] == [0, 0]
    trace_check = next(c for c in data["checks"] if c["state"] == "done" and c["target"] == "traces")
    assert trace_check["query_api"] == world.bot.workspaces["default"].query_api().value  # which API answered it
    window = trace_check["window"]  # and the start times it looked at: all of the retention, to now
    assert window["min_start_time"] <= utc_iso(clock.now() - timedelta(days=399))
    assert trace_check["due_at"] <= window["max_start_time"] <= trace_check["finished_at"]
    assert f"runs/query {trace_check['query_api']}" in text
    chain = events.verify_chain(db)
    assert data["chain"]["head"] == f"{chain.head_seq}:{chain.head_hash}" and data["chain"]["intact"]
    assert "# Evidence: PURGE-1" in text and "approved by bob (U0BOB)" in text
    assert "attachment files within 7 days" in text
    for secret_or_subject in ("subject-8842", "ada@example.com", BOT_TOKEN, SIGNING_SECRET, LANGSMITH_KEY, *traces):
        assert secret_or_subject not in json_path.read_text() + text, secret_or_subject


def test_the_report_lists_checks_in_time_order_saying_due_and_ran_and_names_people_by_name_and_id(
    world: World, clock: SandboxClock, tmp_path: Path
) -> None:
    """A manual check before the weekend, the scheduled one a minute after it fell due: each row says what it
    looked at, when it was due and when it ran, as status does; people read ``bob (U0BOB)``; no Python words."""
    assert world.people is not None and world.bot is not None
    file_traces(world, world.langsmith.add_traces(world.langsmith.add_project("prod-chat"), 3))
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")
    world.people.alice.slash("verify PURGE-1", channel_id=REQUESTS_CHANNEL)
    wait_thread(world, root, "Manual check of PURGE-1")
    world.langsmith.run_weekend()
    (scheduled,) = [c for c in checks.for_request(world.bot.store.db, 1) if c.kind == checks.SCHEDULED]
    due = parse_utc(scheduled.due_at)
    clock.jump_to(due + timedelta(minutes=1))
    world.bot.wake()
    wait_state(world, "verified")

    json_path, md_path = report.write(world.bot.store.db, 1, tmp_path, now=clock.now(), tz=UTC_ZONE)

    data, text = json.loads(json_path.read_text()), md_path.read_text()
    assert [(c["kind"], c["target"]) for c in data["checks"]] == [("manual", "traces"), ("scheduled", "traces")]
    manual, scheduled_row = [line for line in text.splitlines() if re.match(r"\| \d+ \((manual|scheduled)\)", line)]
    assert "(manual) | traces | when asked |" in manual
    ran = parse_utc(data["checks"][1]["finished_at"])
    assert f"(scheduled) | traces | {due:%a %d %b %Y %H:%M} UTC | {ran:%a %d %b %Y %H:%M} UTC |" in scheduled_row
    assert f"{ran:%H:%M}" == f"{due + timedelta(minutes=1):%H:%M}"
    assert "| Requested by | alice (U0ALICE), " in text and "| Decision | approved by bob (U0BOB), " in text
    assert (data["request"]["requested_by_name"], data["decision"]["by_name"]) == ("alice", "bob")
    assert data["chain"]["intact"] is True and "(intact)" in text  # JSON keeps the boolean, the page says it
    assert not re.search(r"\b(True|False|None|both)\b", text), text
    status = readable(world.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL))
    assert f"Scheduled check of traces, due {due:%a %d %b %Y %H:%M} UTC, ran {ran:%a %d %b %Y %H:%M} UTC" in status
    assert "Manual check of traces, ran " in status


def test_people_recorded_before_names_were_kept_read_as_slack_users() -> None:
    """Events of older versions carry no ``actor_name``: the page names the ID alone, and purgebot as itself."""
    found = {
        "generated_at": "2026-12-07T09:01:00.000000+00:00",
        "chain": {"head": "1:ab", "intact": False},
        "request": {
            "id": "PURGE-1",
            "kind": "traces",
            "state": "expired",
            "requested_by": "U0ALICE",
            "filed_at": "2026-12-01T09:00:00.000000+00:00",
            "reason": "DSR-1",
            "ticket": None,
            "due_date": None,
            "project": None,
        },
        "decision": {"outcome": "expired", "by": "purgebot", "at": "2026-12-08T09:00:00.000000+00:00"},
        "approved_set": {"traces": 0, "examples": 0, "found_after_preview": 0, "left_out_as_unknown": 0, "digest": "d"},
        "batches": [],
        "checks": [],
        "notes": [],
        "events": [],
    }

    text = report.markdown(found, UTC_ZONE)

    assert "| Requested by | Slack user U0ALICE, Tue 01 Dec 2026 09:00 UTC |" in text
    assert "| Decision | expired by purgebot, Tue 08 Dec 2026 09:00 UTC |" in text
    assert "(BROKEN)" in text


def test_purgebot_report_writes_both_files_and_prints_their_paths(
    world: World, clock: SandboxClock, tmp_path: Path
) -> None:
    verified_subject_purge(world, clock)
    script = shutil.which("purgebot") or str(Path(sys.executable).parent / "purgebot")
    env = {"PATH": str(Path(sys.executable).parent), "PURGEBOT_DB": str(world.db_path)}

    result = subprocess.run(
        [script, "report", "purge-1", "--out", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name for p in printed] == ["PURGE-1-evidence.json", "PURGE-1-evidence.md"]
    assert all(p.exists() for p in printed)
    missing = subprocess.run(
        [script, "report", "PURGE-9", "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "PURGE-9 does not exist" in missing.stderr


@pytest.fixture
def context(tmp_path: Path) -> Iterator[TaskContext]:
    """A bare task context on a real SQLite file, with the system clock (moved by time-machine)."""
    store = Store(tmp_path / "purgebot.db")
    settings = load_settings(
        isolated=True,
        purgebot_db=tmp_path / "purgebot.db",
        purgebot_notify_channel="C0NOTIFY",
        purgebot_approvers="U0BOB",
        purgebot_hmac_key="k3y",
        purgebot_approval_ttl_days=7,
    )
    workspaces = WorkspaceClients(
        load_workspaces(settings, {}),
        lambda w, limiters: LangSmithClient(endpoint="http://127.0.0.1:9", api_key="unused", limiters=limiters),
        rates=settings.langsmith_rates(),
    )
    yield TaskContext(
        store=store,
        workspaces=workspaces,
        clock=SystemClock(),
        settings=settings,
        owner="test:1:x",
        on_change=lambda: None,
    )
    workspaces.close()
    store.close()


def file_at(context: TaskContext, *, due: str, state: str = "awaiting_approval", preview: bool = True) -> int:
    now = utc_iso(context.clock.now())
    with context.store.write() as db:
        request = requests.insert(
            db,
            kind="traces",
            state=state,
            requester="U0ALICE",
            channel="C0PRIVACY",
            reason="DSR-1",
            ticket="T-1",
            due_date=due,
            project="p",
            item_count=1,
            preview=json.dumps(PREVIEW) if preview else None,
            preview_digest="d" if preview else None,
            created_at=now,
            updated_at=now,
        )
    return request.id


def posts(context: TaskContext) -> list[tuple[str | None, str]]:
    """Every message waiting to be sent (not only each request's next one)."""
    rows = context.store.db.execute("SELECT channel, payload FROM outbox WHERE state = ? ORDER BY id", [outbox.PENDING])
    return [(channel, json.loads(payload).get("text", "")) for channel, payload in rows]


def deadlines(context: TaskContext) -> Deadlines:
    return Deadlines(context, approvers=Approvers(("U0BOB",), WebClient(token="xoxb-unused")))


def test_approval_reminder_after_24_hours_once(context: TaskContext) -> None:
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        number = file_at(context, due="2026-12-31")
        traveller.shift(timedelta(hours=23, minutes=59))
        assert deadlines(context).run() == 0
        traveller.shift(timedelta(minutes=2))
        assert deadlines(context).run() == 1
        assert deadlines(context).run() == 0
    reminders = [text for _, text in posts(context) if "waited 24 hours" in text]
    assert reminders == [f":bell: PURGE-{number} has waited 24 hours for approval. Approvers: <@U0BOB>."]


def test_a_request_awaiting_approval_expires_after_the_ttl_with_a_message(context: TaskContext) -> None:
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        number = file_at(context, due="2027-01-31")
        traveller.shift(timedelta(days=7) - timedelta(seconds=1))
        deadlines(context).run()
        assert requests.get(context.store.db, number).state == "awaiting_approval"
        traveller.shift(timedelta(seconds=2))
        deadlines(context).run()
    assert requests.get(context.store.db, number).state == "expired"
    assert any("expired" in text for _, text in posts(context))


def test_the_notify_channel_is_warned_five_days_before_the_deadline_once(context: TaskContext) -> None:
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        file_at(context, due="2026-12-10", state="submitted")
        deadlines(context).run()
        assert not [c for c, _ in posts(context) if c == "C0NOTIFY"]
        traveller.shift(timedelta(days=4))  # 5 days left
        deadlines(context).run()
        deadlines(context).run()
    warnings = [text for channel, text in posts(context) if channel == "C0NOTIFY"]
    assert len(warnings) == 1 and "due in 5 days (2026-12-10)" in warnings[0] and "T-1" in warnings[0]


def test_minimisation_hashes_raw_values_after_retention_and_the_chain_still_verifies(
    world: World, clock: SandboxClock
) -> None:
    assert world.bot is not None
    traces = verified_subject_purge(world, clock)
    store = world.bot.store
    settings = world.settings.model_copy(update={"purgebot_hmac_key": None})
    context = TaskContext(
        store=store, workspaces=world.bot.workspaces, clock=clock, settings=settings, owner="t", on_change=lambda: None
    )
    clock.jump_to(clock.now() + timedelta(days=366))
    assert Minimiser(context).run() == 0  # no key: refuses, changes nothing
    assert store.db.execute("SELECT count(*) FROM items WHERE value = ?", [traces[0]]).fetchone()[0] == 1

    keyed = TaskContext(
        store=store,
        workspaces=world.bot.workspaces,
        clock=clock,
        settings=settings.model_copy(update={"purgebot_hmac_key": SecretStr("s3cret-key")}),
        owner="t",
        on_change=lambda: None,
    )
    assert Minimiser(keyed).run() == 1
    world.stop_bot()

    raw = b"".join(p.read_bytes() for p in world.db_path.parent.glob(world.db_path.name + "*"))
    for value in (*traces, "ada@example.com", "subject-8842"):
        assert value.encode() not in raw, value
    check = Store(world.db_path)
    assert events.verify_chain(check.db).intact
    assert report.build(check.db, 1, now=clock.now())["approved_set"]["traces"] == 12
    check.close()


def test_the_report_is_uploaded_to_the_thread_when_verified_and_on_request(world: World, clock: SandboxClock) -> None:
    assert world.people is not None
    verified_subject_purge(world, clock)

    def uploaded(count: int) -> None:
        def done(_: object) -> bool:
            return len([f for f in world.slack.uploaded_files() if f.completed]) >= count

        world.slack.wait_for(done, timeout=10)

    uploaded(2)
    files = [f for f in world.slack.uploaded_files() if f.completed]
    root = request_message_ts(world)
    assert sorted(f.filename for f in files) == ["PURGE-1-evidence.json", "PURGE-1-evidence.md"]
    assert all(f.channel == REQUESTS_CHANNEL and f.thread_ts == root for f in files)
    (carrier,) = [m for m in world.slack.thread(REQUESTS_CHANNEL, root) if m.files]  # one message, both files
    assert sorted(f["name"] for f in carrier.files) == ["PURGE-1-evidence.json", "PURGE-1-evidence.md"]
    assert carrier.text == "Evidence report of PURGE-1, for the ticket."
    assert all(
        b"subject-8842" not in (f.content or b"") and b"ada@example.com" not in (f.content or b"") for f in files
    )
    assert (
        json.loads(next(f for f in files if f.filename.endswith(".json")).content or b"")["request"]["state"]
        == "verified"
    )

    refused = world.people.carol.ask("report PURGE-1", channel_id=REQUESTS_CHANNEL)
    asked = world.people.alice.ask("report PURGE-1", channel_id=REQUESTS_CHANNEL)

    assert "Only the requester or an approver" in refused
    assert asked == "Uploading the evidence report of PURGE-1 to its thread."
    uploaded(4)
    assert len(world.slack.calls("files.completeUploadExternal")) == 2


def request_message_ts(world: World) -> str:
    return next(m.ts for m in world.slack.messages(REQUESTS_CHANNEL) if not m.is_reply and "PURGE-1*" in m.render())
