"""Block Kit payloads for everything the bot says. Pure functions: data in, ``{"text", "blocks"}`` out.

Messages in the notify channel and anything uploaded carry the request ID, ticket and counts, never
raw subject values; only the request's own thread preview names trace IDs, so the approver sees
exactly what will be deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import parse_utc
from bot.masking import mask
from bot.states import RESTING, in_words
from storage.requests import DEFAULT_WORKSPACE, Request

APPROVE_ACTION = "purge_approve"
REJECT_ACTION = "purge_reject"
SHOW_VALUES_ACTION = "purge_show_values"

Payload = dict[str, Any]


def person(user: str) -> str:
    """How a requester appears: a Slack mention, or a privacy platform by name (``platform:ketch``)."""
    platform, found, name = user.partition("platform:")
    if found and not platform:
        return f"{'Ketch' if name == 'ketch' else 'the intake API'} (privacy platform)"
    return f"<@{user}>"


def escape(text: str | None) -> str:
    """Text a person typed (a reason, a project name, LangSmith's error) made safe for mrkdwn.

    Slack reads ``&``, ``<`` and ``>`` as markup; escaped, a reason cannot turn into a mention.
    """
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plural(n: int, singular: str, many: str) -> str:
    return f"{n:,} {singular if n == 1 else many}"


def when_text(moment: datetime, tz: ZoneInfo) -> str:
    """A time as plain text in the configured zone, for files and terminals: ``Mon 30 Nov 2026 09:00 UTC``."""
    local = moment.astimezone(tz)
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or str(tz))


def when(moment: datetime, tz: ZoneInfo) -> str:
    """A time in a Slack message: ``<!date^…>``, so each reader sees it in their own time zone.

    Slack clients that cannot format it show the fallback, :func:`when_text` in the configured zone.
    """
    return f"<!date^{int(moment.timestamp())}^{SLACK_DATE_FORMAT}|{when_text(moment, tz)}>"


CHECK_TARGETS = {"traces": "traces", "examples": "examples", "both": "traces and examples"}  # a check looked at


SLACK_DATE_FORMAT = "{date_long_pretty} {time}"  # "Monday, November 30th, 2026 9:00 AM", or "today 9:00 AM"


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


def request_message(
    request: Request,
    tz: ZoneInfo,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    searching: str | None = None,
    show_values: bool = False,
) -> Payload:
    """The request's root message: summary, preview, and either the buttons or the decision.

    Subject values and sample IDs appear masked (:mod:`bot.masking`) unless ``show_values``
    (``PURGEBOT_SHOW_VALUES=full``); masked, a *Show values* button gives them to the requester and
    the approvers, ephemerally. This message lives in the channel where the request was filed.
    """
    state = request.state
    ended = state in RESTING  # redacted: counts remain, values and samples go, even unmasked ones
    shown_values = show_values and not ended
    blocks = [
        _section(_headline(request, [] if ended else pairs, shown_values, pair_count=len(pairs), tz=tz)),
        _context(_facts(request)),
        _section(preview_text(request, searching, show_values=shown_values)),
    ]
    preview = request.preview_data
    buttons = [] if show_values or ended else [decision_button("Show values", SHOW_VALUES_ACTION, None, request)]
    decidable = state == "awaiting_approval" and preview is not None and "error" not in preview
    if decidable:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"decision:{request.id}:{(request.preview_digest or '')[:12]}",
                "elements": [
                    decision_button("Approve", APPROVE_ACTION, "primary", request),
                    decision_button("Reject", REJECT_ACTION, "danger", request),
                    *buttons,
                ],
            }
        )
        blocks.append(_context("A second person approves: anyone on the approver list except the requester."))
    elif state != "awaiting_approval":
        blocks.append(_section(decision_text(request)))
    if buttons and not decidable:
        blocks.append({"type": "actions", "block_id": f"values:{request.id}", "elements": buttons})
    return {"text": f"{request.label}: {summary_text(request)}", "blocks": blocks}


def decision_button(label: str, action_id: str, style: str | None, request: Request) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": action_id,
        "value": decision_value(request),
        "text": {"type": "plain_text", "text": label},
    }
    if action_id == APPROVE_ACTION:  # it starts an irreversible delete: Slack asks the approver to confirm
        button["confirm"] = {
            "title": {"type": "plain_text", "text": f"Approve {request.label}?"},
            "text": {
                "type": "plain_text",
                "text": "LangSmith deletes what the preview shows once its weekend job runs. This cannot be undone.",
            },
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        }
    return button | ({"style": style} if style else {})


def _headline(
    request: Request, pairs: Sequence[tuple[str, str]], show_values: bool, *, pair_count: int, tz: ZoneInfo
) -> str:
    head = f":wastebasket: *{request.label}* — "
    names = request.workspace_names
    if request.kind == "traces":
        where = "" if names == [DEFAULT_WORKSPACE] else f" of workspace {names[0]}"
        return (
            head + f"purge of {plural(request.item_count, 'trace ID', 'trace IDs')} in project "
            f"`{escape(request.project)}`{where}, filed by {person(request.requester)}"
        )
    what = "traces and dataset examples" if request.kind == "metadata" else "dataset examples"
    shown = pairs_text(pairs, show_values=show_values) or plural(pair_count, "pair", "pairs")
    scope = (
        "the whole workspace"
        if names == [DEFAULT_WORKSPACE]
        else f"{'workspace' if len(names) == 1 else 'workspaces'} {', '.join(names)}"
    )
    return (
        head + f"subject purge of {what} matching {shown}, filed by {person(request.requester)}\n"
        f"Pairs are OR-matched (anything matching any one of them) and the search covers {scope}: "
        + (
            "every project and every dataset, including earlier dataset versions."
            if request.kind == "metadata"
            else "every dataset, including earlier versions, "
            f"as of {when(parse_utc(request.as_of), tz) if request.as_of else 'filing'}."
        )
    )


def pairs_text(pairs: Sequence[tuple[str, str]], *, show_values: bool) -> str:
    """```user_id` = `•••23` OR `email` = `a•••@•••.com``: the searched pairs, values masked unless ``show_values``."""
    return " OR ".join(f"`{escape(key)}` = `{escape(value if show_values else mask(value))}`" for key, value in pairs)


def _facts(request: Request) -> str:
    facts = [f"*Reason:* {escape(request.reason)}"]
    if request.ticket:
        facts.append(f"*Ticket:* {escape(request.ticket)}")
    if request.due_date:
        facts.append(f"*Due:* {request.due_date}")
    return "  ·  ".join(facts)


def summary_text(request: Request) -> str:
    """One line about the request for lists and fallbacks — counts and names, never subject values."""
    state = in_words(request.state)
    if request.kind == "traces":
        return f"purge of {plural(request.item_count, 'trace ID', 'trace IDs')} in {escape(request.project)} ({state})"
    preview = request.preview_data or {}
    if "traces" in preview:
        found = f"{plural(preview['traces'], 'trace', 'traces')}, {plural(preview['examples'], 'example', 'examples')}"
        return f"subject purge ({request.kind}): {found} ({state})"
    return f"subject purge ({request.kind}) ({state})"


def preview_text(request: Request, searching: str | None = None, *, show_values: bool = False) -> str:
    preview = request.preview_data
    if preview is None:
        if request.kind != "traces":
            return f":hourglass_flowing_sand: *Preview:* searching LangSmith… {searching or ''}".rstrip()
        return ":hourglass_flowing_sand: *Preview:* asking LangSmith which of these trace IDs it knows…"
    if "error" in preview:
        return (
            f":warning: *Preview failed:* {preview['error']}\nNothing can be approved without a preview; "
            f"cancel with `/purge cancel {request.label}` and file again."
        )
    if preview.get("subject"):
        return _subject_preview(preview, show_values)
    return _trace_id_preview(request, preview, show_values)


def _trace_id_preview(request: Request, preview: dict[str, Any], show_values: bool) -> str:
    checked, known, unknown = preview["checked"], preview["known"], preview["unknown_ids"]
    scope = (
        f"a random sample of {checked:,} of the {preview['total']:,} IDs"
        if preview["sampled"]
        else f"all {checked:,} IDs"
    )
    lines = [f":mag: *Preview:* LangSmith knows {known:,} of {scope} in `{escape(request.project)}`."]
    if unknown and show_values:
        shown = ", ".join(f"`{value}`" for value in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        lines.append(f"Left out as unknown ({len(unknown):,}): {shown}{more}. A wrong project or a typo shows here.")
    elif unknown:
        lines.append(
            f"Left out as unknown: {len(unknown):,} (*Show values* lists them). A wrong project or a typo shows here."
        )
    if preview["sampled"]:
        lines.append(f"The {preview['total'] - checked:,} IDs outside the sample are included unchecked.")
    lines.append(
        f"*Approving deletes {plural(preview['included'], 'trace', 'traces')}* (with their child runs, "
        "feedback and stats) once LangSmith runs its weekend delete job."
    )
    return "\n".join(lines)


def _subject_preview(preview: dict[str, Any], show_values: bool) -> str:
    def listing(named: list[list[Any]], total_count: int) -> str:
        shown = " · ".join(f"`{escape(str(name))}` {n:,}" for name, n in named)
        more = f" · and {total_count - len(named):,} more" if total_count > len(named) else ""
        return shown + more

    lines = [
        ":mag: *Preview:* " + f"{plural(preview['traces'], 'trace', 'traces')} in "
        f"{plural(preview['project_count'], 'project', 'projects')}"
        + f" and {plural(preview['examples'], 'dataset example', 'dataset examples')} in "
        f"{plural(preview['dataset_count'], 'dataset', 'datasets')}."
    ]
    if preview.get("workspaces"):
        lines.append(
            "By workspace: "
            + " · ".join(
                f"{name} {plural(traces, 'trace', 'traces')}, {plural(examples, 'example', 'examples')}"
                for name, traces, examples in preview["workspaces"]
            )
        )
    if preview["projects"]:
        lines.append("Traces by project: " + listing(preview["projects"], preview["project_count"]))
    if preview["datasets"]:
        lines.append("Examples by dataset: " + listing(preview["datasets"], preview["dataset_count"]))
    samples = [
        *(f"trace `{v}`" for v in preview["sample_traces"]),
        *(f"example `{v}`" for v in preview["sample_examples"]),
    ]
    if samples and show_values:
        lines.append("For example: " + ", ".join(samples) + ".")
    approve = [f"*Approving deletes {plural(preview['traces'], 'trace', 'traces')}*"]
    if preview["examples"]:
        approve.append(f"hard-deletes {plural(preview['examples'], 'example', 'examples')} in every version")
    lines.append(", ".join(approve) + ".")
    if preview["project_count"] or preview.get("metadata_delete"):
        lines.append(
            "Traces of this subject that appear after this preview and before the deletes go out are found "
            "again and deleted too."
            + (
                " LangSmith's own workspace-wide delete by metadata is also sent for these pairs."
                if preview.get("metadata_delete")
                else ""
            )
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


@dataclass(frozen=True)
class ProgressLine:
    """Where one kind of delete stands: batches written and sent, items in them and in the sent ones."""

    noun: str
    batches: int
    sent: int
    items: int
    items_sent: int


@dataclass(frozen=True)
class ProgressWait:
    """A wait before LangSmith is asked again, shown in the progress message while it lasts.

    ``status`` is LangSmith's answer (429 for its rate limit, 408 or 5xx), None when it did not
    answer at all (``reason`` says how); ``retry_after`` is what LangSmith asked for, if it did.
    """

    status: int | None
    seconds: float
    retry_after: float | None = None
    reason: str = ""


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


def wait_text(wait: ProgressWait) -> str:
    """One line about a wait: "waiting for LangSmith's rate limit (Retry-After 30 s)" and the like."""
    if wait.status == 429:
        hint = (
            f"Retry-After {_seconds(wait.retry_after)}"
            if wait.retry_after is not None
            else f"no Retry-After given, backing off {_seconds(wait.seconds)}"
        )
        return f"waiting for LangSmith's rate limit ({hint}), then sending again"
    answer = f"LangSmith answered {wait.status}" if wait.status is not None else "LangSmith did not answer"
    if wait.status is None and wait.reason:
        answer += f" ({escape(wait.reason.split(':', 1)[0])})"
    hint = f"; it asked for Retry-After {_seconds(wait.retry_after)}" if wait.retry_after is not None else ""
    return f"{answer}{hint}; trying again in {_seconds(wait.seconds)}"


def progress_message(
    request: Request, lines: Sequence[ProgressLine], *, final: bool = False, waiting: ProgressWait | None = None
) -> Payload:
    """One message, edited as batches are accepted: a bar per kind of delete, and any wait on LangSmith."""
    done = final and all(line.sent == line.batches for line in lines)
    parts = []
    for line in lines:
        width = 20
        filled = round(width * line.items_sent / line.items) if line.items else width
        bar = "█" * filled + "░" * (width - filled)
        parts.append(
            f"`{bar}` {line.items_sent:,} of {plural(line.items, line.noun, line.noun + 's')} accepted by "
            f"LangSmith ({line.sent:,} of {plural(line.batches, 'batch', 'batches')} of ≤1,000)"
        )
    head = "Deletes sent" if done else "Sending deletes"
    text = f"*{head}:* " + "\n".join(parts) if parts else f"*{head}:* nothing to send."
    fallback = "; ".join(f"{line.items_sent:,} of {line.items:,} {line.noun}s accepted" for line in lines)
    fallback = f"{request.label}: {fallback or 'nothing to send'}"
    if waiting is not None:
        note = wait_text(waiting)
        text += f"\n:hourglass_flowing_sand: {note[0].upper()}{note[1:]}."
        fallback += f"; {note}"
    return {"text": fallback, "blocks": [_section(text)]}


def thread_note(text: str) -> Payload:
    return {"text": text, "blocks": [_section(text)]}


def linked_note(text: str) -> Payload:
    """A notify-channel post; the notifier appends the link to the request's thread."""
    return {"text": text, "blocks": [_section(text)], "link_thread": True}


def minimised_refusal(request: Request) -> str | None:
    """Why a minimised request can no longer be checked; None while it holds its raw IDs."""
    if request.minimised_at is None:
        return None
    return (
        f"{request.label} was minimised on {request.minimised_at[:10]}: after the retention period its trace and "
        "example IDs were replaced with keyed hashes, so LangSmith can no longer be asked about them. Its evidence "
        f"report keeps every check made (`/purge report {request.label}`)."
    )


def values_text(request: Request, searched: Sequence[tuple[str, str]]) -> str:
    """What *Show values* tells the requester or an approver, ephemerally: the full values and samples."""
    lines = [f"*{request.label}*, only for you:"]
    if searched:
        lines.append("Searched for: " + " OR ".join(f"`{escape(key)}` = `{escape(value)}`" for key, value in searched))
    preview = request.preview_data or {}
    samples = [
        *(f"trace `{v}`" for v in preview.get("sample_traces") or []),
        *(f"example `{v}`" for v in preview.get("sample_examples") or []),
    ]
    if samples:
        lines.append("For example: " + ", ".join(samples) + ".")
    unknown = preview.get("unknown_ids") or []
    if unknown:
        more = f" and {len(unknown) - 50:,} more" if len(unknown) > 50 else ""
        lines.append(f"Left out as unknown to LangSmith: {', '.join(f'`{v}`' for v in unknown[:50])}{more}.")
    if len(lines) == 1:
        lines.append("Nothing to show yet: the preview is not ready.")
    return "\n".join(lines)
