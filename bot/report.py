"""The evidence report of one request: a complete JSON file and a one-page Markdown file.

Built only from what purgebot stored — the request, its events, batches and checks — so every
number equals the database's. It names the request, ticket, people, times, counts and digests;
it never holds raw subject values (metadata values, e-mail addresses) or trace IDs, so it can go
to an auditor or into a ticket as it is. The event chain's head at the time of the report is
printed in it: ``purgebot audit verify --expect SEQ:HASH`` later proves the log still holds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot import messages
from bot.clock import parse_utc, utc_iso
from storage import batches, checks, events, items, requests

MINIMISED = "(minimised after the retention period)"

FORMAT_VERSION = 1
NOT_RUN = {checks.PENDING: "not yet", checks.RUNNING: "running", checks.DROPPED: "not run (dropped)"}
ATTACHMENTS_NOTE = (
    "Hard-deleted examples read back with inputs, outputs and metadata empty. LangSmith deletes "
    "attachment files within 7 days; that is LangSmith's promise, not something purgebot can observe."
)


def build(db: Database, request_id: int, *, now: datetime) -> dict[str, Any]:
    """The complete, machine-readable evidence of one request."""
    request = requests.get(db, request_id)
    history = events.for_request(db, request_id)
    chain = events.verify_chain(db)
    approval = next((e for e in history if e.kind in ("approved", "rejected", "cancelled", "expired")), None)
    previewed = next((e for e in history if e.kind == "previewed"), None)
    filed = next((e for e in history if e.kind == "filed"), None)
    several = len(request.workspace_names) > 1
    per_workspace = _per_workspace(history) if several else {}
    return {
        "format": FORMAT_VERSION,
        "generated_at": utc_iso(now),
        "request": {
            "id": request.label,
            "kind": request.kind,
            "state": request.state,
            "requested_by": request.requester,
            "requested_by_name": filed.data.get("actor_name") if filed else None,  # as Slack sent it then
            "channel": request.channel,
            "reason": request.reason if request.minimised_at is None else MINIMISED,
            "ticket": request.ticket,
            "filed_at": request.created_at,
            "due_date": request.due_date,
            "project": request.project,
            "project_id": request.session_id,
            "workspaces": request.workspace_names,
            "examples_as_of": request.as_of,
            "submitted_at": request.submitted_at,
            "failure": request.failure if request.minimised_at is None or not request.failure else MINIMISED,
        },
        "decision": None
        if approval is None
        else {
            "outcome": approval.kind,
            "by": approval.actor,
            "by_name": approval.data.get("actor_name"),
            "at": approval.at,
            "preview_digest": approval.data.get("preview_digest"),
        },
        "preview": None if previewed is None else {"at": previewed.at, **previewed.data},
        "approved_set": {
            "traces": items.count(db, request_id, items.INCLUDED, kind=items.TRACE),
            "examples": items.count(db, request_id, items.INCLUDED, kind=items.EXAMPLE),
            "found_after_preview": items.count(db, request_id, items.INCLUDED, origin=items.EXECUTION),
            "left_out_as_unknown": items.count(db, request_id, items.UNKNOWN),
            # as approved: after minimisation the stored values are keyed hashes, so recomputing would differ
            "digest": (previewed.data.get("included_digest") if previewed else None)
            or items.digest(db, request_id, items.INCLUDED),
        },
        "batches": [
            {
                "id": b.id,
                "kind": b.kind,
                "workspace": b.workspace,
                "round": b.round,
                "project_id": b.session_id,
                "size": b.size,
                "digest": b.digest,
                "state": b.state,
                "created_at": b.created_at,
                "sent_at": b.sent_at,
                "langsmith_status": b.status_code,
                "langsmith_answer": json.loads(b.response) if b.response else None,
            }
            for b in batches.for_request(db, request_id)
        ],
        "checks": [
            {
                "id": c.id,
                "kind": c.kind,
                "target": c.target,
                "due_at": c.due_at,
                "state": c.state,
                "finished_at": c.finished_at,
                "checked": c.checked,
                "remaining": c.remaining,
                "by_target": {t: {"checked": n[0], "remaining": n[1]} for t, n in c.found().items()} or None,
                "by_workspace": per_workspace.get(c.id),
                "outcome": c.outcome,
                "query_api": c.api,
                "window": {"min_start_time": c.window_start, "max_start_time": c.window_end}
                if c.window_start
                else None,
            }
            for c in sorted(checks.for_request(db, request_id), key=_in_time_order)
        ],
        "events": [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "data": e.data, "hash": e.hash}
            for e in history
        ],
        "chain": {
            "intact": chain.intact,
            "head": f"{chain.head_seq}:{chain.head_hash}",
            "first_bad_event": chain.first_bad,
        },
        "notes": [ATTACHMENTS_NOTE] if items.count(db, request_id, items.INCLUDED, kind=items.EXAMPLE) else [],
    }


def markdown(report: dict[str, Any], tz: ZoneInfo) -> str:
    """One page a person reads: who asked, who approved, what went out, what the checks found."""
    request, decision = report["request"], report["decision"]

    def when(text: str | None) -> str:
        return messages.when_text(parse_utc(text), tz) if text else "—"

    sent = [b for b in report["batches"] if b["state"] == batches.SENT]
    lines = [
        f"# Evidence: {request['id']}",
        "",
        f"Generated {when(report['generated_at'])} by purgebot. Event chain head at that time: "
        f"`{report['chain']['head']}` ({'intact' if report['chain']['intact'] else 'BROKEN'}).",
        "",
        "## Request",
        "",
        "| | |",
        "|---|---|",
        f"| Request | {request['id']} ({request['kind']}) — now **{request['state']}** |",
        f"| Requested by | {_person(request['requested_by'], request.get('requested_by_name'))}, "
        f"{when(request['filed_at'])} |",
        f"| Reason | {_cell(request['reason'])} |",
        f"| Ticket | {_cell(request['ticket'] or '—')} |",
        f"| Due | {request['due_date'] or '—'} |",
    ]
    several = len(request.get("workspaces") or []) > 1
    if several:
        lines.append(f"| Workspaces | {', '.join(request['workspaces'])} (verified only when every one passes) |")
    if request["project"]:
        lines.append(f"| Project | {_cell(request['project'])} ({request['project_id']}) |")
    if decision:
        by = _person(decision["by"], decision.get("by_name"))
        lines.append(f"| Decision | {decision['outcome']} by {by}, {when(decision['at'])} |")
    approved = report["approved_set"]
    lines += [
        "",
        "## What the approval covered",
        "",
        f"{approved['traces']:,} traces and {approved['examples']:,} dataset examples "
        f"({approved['found_after_preview']:,} traces found after the preview, as the approval states; "
        f"{messages.plural(approved['left_out_as_unknown'], 'ID', 'IDs')} left out as unknown to LangSmith). "
        f"SHA-256 of the set: `{approved['digest']}`.",
        "",
        "## What was sent to LangSmith",
        "",
        f"{len(sent):,} of {len(report['batches']):,} calls accepted "
        f"({sum(b['size'] for b in sent if b['kind'] != batches.METADATA):,} IDs). LangSmith answers 202 "
        '"queued" and deletes later; only the checks below prove deletion.',
        "",
        "| call | kind | " + ("workspace | " if several else "") + "round | size | sent | LangSmith |",
        "|---|---|" + ("---|" if several else "") + "---|---|---|---|",
        *(
            f"| {b['id']} | {b['kind']} | " + (f"{b['workspace']} | " if several else "") + f"{b['round']} | "
            f"{b['size']:,} | {when(b['sent_at'])} | {b['langsmith_status'] or '—'} |"
            for b in report["batches"]
        ),
        "",
        "## Checks",
        "",
        "In time order: when each ran, or is due. A scheduled check falls due at a set time and runs at the "
        "bot's first chance after it; a manual check runs when someone asks for it.",
        "",
        "| check | what | due | ran | checked | remaining | asked | traces started in |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {c['id']} ({c['kind']}) | {messages.CHECK_TARGETS.get(c['target'], c['target'])} | "
            f"{when(c['due_at']) if c['kind'] == checks.SCHEDULED else 'when asked'} | {_ran(c, when)} | "
            f"{_count(c, 'checked')} | {_count(c, 'remaining')} | {_asked(c)} | {_window(c['window'], when)} |"
            for c in report["checks"]
        ),
    ]
    if several:
        lines += ["", "What each check found in each workspace:", ""]
        lines += [
            f"- check {c['id']}: "
            + "; ".join(
                f"{workspace} {target} {numbers['remaining']:,} of {numbers['checked']:,} remaining"
                for workspace in request["workspaces"]  # in configured order; one that sent none says nothing
                for target, numbers in c["by_workspace"].get(workspace, {}).items()
                if numbers["checked"]
            )
            for c in report["checks"]
            if c.get("by_workspace")
        ]
    if report["notes"]:
        lines += ["", *report["notes"]]
    lines += ["", f"The JSON file beside this one holds all {len(report['events']):,} events with their hashes."]
    return "\n".join(lines) + "\n"


def write(db: Database, request_id: int, folder: Path, *, now: datetime, tz: ZoneInfo) -> tuple[Path, Path]:
    """Write ``PURGE-n-evidence.json`` and ``PURGE-n-evidence.md`` into ``folder``; return both paths."""
    report = build(db, request_id, now=now)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report['request']['id']}-evidence"
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(report, tz))
    return json_path, md_path


def _per_workspace(history: list[events.Event]) -> dict[int, dict[str, dict[str, dict[str, int]]]]:
    """check id -> workspace -> target -> {checked, remaining}, from the ``checked`` events of a request that
    covers several workspaces (their targets are keyed ``workspace/target``)."""
    found: dict[int, dict[str, dict[str, dict[str, int]]]] = {}
    for event in history:
        if event.kind != "checked" or not isinstance(event.data.get("targets"), dict):
            continue
        for key, numbers in event.data["targets"].items():
            workspace, _, target = str(key).rpartition("/")
            if workspace:
                found.setdefault(int(event.data["check"]), {}).setdefault(workspace, {})[target] = {
                    "checked": int(numbers["checked"]),
                    "remaining": int(numbers["remaining"]),
                }
    return found


def _in_time_order(check: checks.Check) -> tuple[str, int]:
    """When it ran, or for one that has not, when it is due: a list a reader follows from top to bottom."""
    return check.finished_at or check.due_at, check.id


def _person(user_id: str, name: str | None) -> str:
    """``bob (U0BOB)``: the name Slack sent when they acted, and the ID that stays the same when names change."""
    if name:
        return f"{_cell(name)} ({user_id})"
    if user_id.startswith("platform:"):  # filed through the intake API
        return f"{messages.person(user_id)} ({user_id})"
    return f"Slack user {user_id}" if user_id[:1] in ("U", "W") else _cell(user_id)


def _ran(check: dict[str, Any], when: Callable[[str | None], str]) -> str:
    if check["finished_at"]:
        return when(check["finished_at"])
    return NOT_RUN.get(check["state"], "—")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _asked(check: dict[str, Any]) -> str:
    """Which LangSmith API answered a check: the run-query API for traces, ``GET examples`` for examples."""
    if check["query_api"]:
        return f"runs/query {check['query_api']}"
    return "examples API" if check["target"] == "examples" and check["state"] == "done" else "—"


def _window(window: dict[str, str] | None, when: Callable[[str | None], str]) -> str:
    return f"{when(window['min_start_time'])} to {when(window['max_start_time'])}" if window else "—"


def _count(check: dict[str, Any], what: str) -> str:
    """``44 (traces 40, examples 4)`` for a check of both; the one number otherwise, "—" before it ran."""
    value = check[what]
    if value is None:
        return "—"
    parts = check.get("by_target") or {}
    if len(parts) < 2:
        return f"{value:,}"
    return f"{value:,} ({', '.join(f'{target} {numbers[what]:,}' for target, numbers in parts.items())})"
