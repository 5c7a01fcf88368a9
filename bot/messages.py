"""Block Kit payloads for everything the bot says. Pure functions: data in, ``{"text", "blocks"}`` out.

Messages in the notify channel and anything uploaded carry the request ID, ticket and counts, never
raw subject values; only the request's own thread preview names trace IDs, so the approver sees
exactly what will be deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from storage.requests import Request

APPROVE_ACTION = "purge_approve"
REJECT_ACTION = "purge_reject"

Payload = dict[str, Any]


def escape(text: str | None) -> str:
    """Text a person typed (a reason, a project name, LangSmith's error) made safe for mrkdwn.

    Slack reads ``&``, ``<`` and ``>`` as markup; escaped, a reason cannot turn into a mention.
    """
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plural(n: int, singular: str, many: str) -> str:
    return f"{n:,} {singular if n == 1 else many}"


def when(moment: datetime, tz: ZoneInfo) -> str:
    """A time as a person reads it, in the configured zone: ``Mon 30 Nov 2026 09:00 UTC``."""
    local = moment.astimezone(tz)
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or str(tz))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def decision_value(request: Request) -> str:
    """What a button carries: the request and the preview it was shown with, so an approval is bound to it."""
    return f"{request.id}:{request.preview_digest or ''}"


def parse_decision_value(value: str) -> tuple[int, str] | None:
    head, _, digest = value.partition(":")
    return (int(head), digest) if head.isdigit() else None


def request_message(request: Request, tz: ZoneInfo) -> Payload:
    """The request's root message: summary, preview, and either the buttons or the decision."""
    summary = (
        f":wastebasket: *{request.label}* — purge of {plural(request.item_count, 'trace ID', 'trace IDs')} "
        f"in project `{escape(request.project)}`, filed by <@{request.requester}>"
    )
    facts = [f"*Reason:* {escape(request.reason)}"]
    if request.ticket:
        facts.append(f"*Ticket:* {escape(request.ticket)}")
    if request.due_date:
        facts.append(f"*Due:* {request.due_date}")
    blocks = [_section(summary), _context("  ·  ".join(facts)), _section(preview_text(request))]
    state = request.state
    preview = request.preview_data
    if state == "awaiting_approval" and preview is not None and "error" not in preview:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"decision:{request.id}:{(request.preview_digest or '')[:12]}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "style": "primary",
                        "value": decision_value(request),
                        "text": {"type": "plain_text", "text": "Approve"},
                    },
                    {
                        "type": "button",
                        "action_id": REJECT_ACTION,
                        "style": "danger",
                        "value": decision_value(request),
                        "text": {"type": "plain_text", "text": "Reject"},
                    },
                ],
            }
        )
        blocks.append(_context("A second person approves: anyone on the approver list except the requester."))
    elif state != "awaiting_approval":
        blocks.append(_section(decision_text(request)))
    return {"text": f"{request.label}: {summary_text(request)}", "blocks": blocks}


def summary_text(request: Request) -> str:
    return (
        f"purge of {plural(request.item_count, 'trace ID', 'trace IDs')} in {escape(request.project)} "
        f"({request.state.replace('_', ' ')})"
    )


def preview_text(request: Request) -> str:
    preview = request.preview_data
    if preview is None:
        return ":hourglass_flowing_sand: *Preview:* asking LangSmith which of these trace IDs it knows…"
    if "error" in preview:
        return (
            f":warning: *Preview failed:* {preview['error']}\nNothing can be approved without a preview; "
            f"cancel with `/purge cancel {request.label}` and file again."
        )
    checked, known, unknown = preview["checked"], preview["known"], preview["unknown_ids"]
    scope = (
        f"a random sample of {checked:,} of the {preview['total']:,} IDs"
        if preview["sampled"]
        else f"all {checked:,} IDs"
    )
    lines = [f":mag: *Preview:* LangSmith knows {known:,} of {scope} in `{escape(request.project)}`."]
    if unknown:
        shown = ", ".join(f"`{value}`" for value in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        lines.append(f"Left out as unknown ({len(unknown):,}): {shown}{more}. A wrong project or a typo shows here.")
    if preview["sampled"]:
        lines.append(f"The {preview['total'] - checked:,} IDs outside the sample are included unchecked.")
    lines.append(
        f"*Approving deletes {plural(preview['included'], 'trace', 'traces')}* (with their child runs, "
        "feedback and stats) once LangSmith runs its weekend delete job."
    )
    return "\n".join(lines)


def decision_text(request: Request) -> str:
    """The decision, and where the request stands since, for the root message."""
    who = f"<@{request.decided_by}>" if request.decided_by else "the bot"
    if request.state == "expired":
        return ":hourglass: *Expired*: nobody approved it in time."
    if request.state in ("rejected", "cancelled"):
        return f":no_entry_sign: *{request.state.capitalize()}* by {who}."
    since = {
        "executing": "sending the deletes",
        "submitted": "deletes accepted by LangSmith, waiting for its weekend delete job",
        "verified": "*verified*: a later query found nothing left",
        "unverified": "*unverified*: items still present after the last re-check",
        "failed": "*failed*",
    }.get(request.state)
    return f":white_check_mark: *Approved* by {who}." + (f" Now {since}." if since else "")


def progress_message(
    request: Request, *, batches: int, sent: int, items: int, items_sent: int, final: bool = False
) -> Payload:
    bar_width = 20
    filled = round(bar_width * items_sent / items) if items else bar_width
    bar = "█" * filled + "░" * (bar_width - filled)
    head = "Deletes sent" if final else "Sending deletes"
    text = (
        f"*{head}:* `{bar}` {items_sent:,} of {plural(items, 'trace ID', 'trace IDs')} accepted by LangSmith "
        f"({sent:,} of {plural(batches, 'batch', 'batches')} of ≤1,000)."
    )
    return {"text": f"{request.label}: {items_sent:,} of {items:,} trace IDs accepted", "blocks": [_section(text)]}


def thread_note(text: str) -> Payload:
    return {"text": text, "blocks": [_section(text)]}


def linked_note(text: str) -> Payload:
    """A notify-channel post; the notifier appends the link to the request's thread."""
    return {"text": text, "blocks": [_section(text)], "link_thread": True}
