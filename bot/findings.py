"""What a check finds: looking at LangSmith again for what a request sent.

A 202 from LangSmith only means "queued"; the only proof is a later query that finds nothing — and
only from a query that could have found it.  So every look here:

- asks through :meth:`LangSmithClient.lookup`, which notes the API that answered (v1 or v2);
- states a window that covers the approved set: from a day before its earliest known start, or all
  of LangSmith's retention when any start is unknown (v2 looks at the last 24 hours otherwise), and
  refuses to certify (:class:`CannotVerify`) if the window it used does not cover what it had to;
- first makes sure each project that holds part of the approved set is still visible to the key,
  since a hidden or deleted project answers every query with nothing (:class:`ProjectNotVisible`).

A refused or failed query raises; it is never "nothing found".

What each look asks depends on what was sent:

- trace IDs: are these root runs still in their project (1,000 IDs a v2 query, 100 a v1 query)?
- a subject's traces: does any run in any project still carry any of the pairs (one query per
  project when nothing remains)? A trace found that the request does not hold and that started after
  the request was filed is "new since the request" and reported apart, so an active subject does not
  fail a finished purge; one that started earlier (LangSmith ingested it late) is still present;
- dataset examples: do they read back with inputs, outputs and metadata empty (or not at all)?
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import messages
from bot.clock import parse_utc, utc_iso
from bot.langsmith import FoundRun, ProjectNotVisible, QueryApi, RunLookup, Window
from bot.tasks import TaskContext
from storage import checks, items, pairs
from storage.items import Found
from storage.requests import DEFAULT_WORKSPACE, Request

__all__ = ["CannotVerify", "Findings", "Looker"]

QUERY_IDS = 100  # example IDs per GET examples (its page size)
EXAMPLE_FIELDS = ("inputs", "outputs", "metadata")


def by_target(findings: Iterable[Findings]) -> dict[str, tuple[int, int]]:
    """(checked, remaining) of each target, summed over the workspaces it was looked for in, in the order
    first looked at: what a check records of each thing it looked at (``checks.finish``)."""
    totals: dict[str, tuple[int, int]] = {}
    for found in findings:
        checked, remaining = totals.get(found.target, (0, 0))
        totals[found.target] = (checked + found.checked, remaining + len(found.remaining))
    return totals


class CannotVerify(Exception):
    """A look could not have seen everything it had to (its window fell short); never a verdict."""


@dataclass(frozen=True)
class Findings:
    """What one look at LangSmith found for one kind of item, and how it looked."""

    target: str  # checks.TRACES or checks.EXAMPLES
    checked: int
    remaining: list[Found] = field(default_factory=list)
    new_since: int = 0
    unseen: list[Found] = field(default_factory=list)  # of ``remaining``: older traces the request never held
    apis: frozenset[QueryApi] = frozenset()
    window: Window | None = None  # None for examples, which are read by ID without a time window
    workspace: str = DEFAULT_WORKSPACE

    @property
    def noun(self) -> str:
        return "trace" if self.target == checks.TRACES else "example"

    @property
    def api(self) -> str | None:
        return "+".join(sorted(api.value for api in self.apis)) or None

    def sentence(self, *, named: bool = False) -> str:
        """What it found, in words; ``named`` puts the workspace first (a request that covers several)."""
        n = len(self.remaining)
        text = f"{self.workspace}: " if named else ""
        text += (
            f"{n:,} of {messages.plural(self.checked, self.noun, self.noun + 's')} "
            f"{'remain' if n == 0 else 'still present'}"
        )
        if self.unseen:
            text += (
                f", including {messages.plural(len(self.unseen), 'older trace', 'older traces')} of this subject "
                "that LangSmith ingested late"
            )
        if self.new_since:
            text += (
                f" ({messages.plural(self.new_since, 'new trace', 'new traces')} of this subject since the "
                "request, not part of it)"
            )
        return text


class Looker:
    """Asks LangSmith what is left of a request's approved set."""

    def __init__(self, context: TaskContext) -> None:
        self._context = context

    def look(self, request: Request, target: str, workspace: str = DEFAULT_WORKSPACE) -> Findings:
        """What is left of the request's approved set of ``target`` in one of its workspaces."""
        db = self._context.store.db
        if target == checks.EXAMPLES:
            found = self._examples(items.sent(db, request.id, items.EXAMPLE, workspace=workspace), workspace)
        elif request.kind == "metadata":
            found = self._subject(request, workspace)
        else:
            found = self._trace_ids(request, workspace)
        return replace(found, workspace=workspace)

    def _trace_ids(self, request: Request, workspace: str) -> Findings:
        context = self._context
        db = context.store.db
        langsmith = context.workspaces[workspace]
        sent = items.sent(db, request.id, items.TRACE, workspace=workspace)
        needed = context.approved_window(db, request.id)
        window = needed.until(context.clock.now())
        lookup = langsmith.lookup()
        remaining: list[Found] = []
        for session, values in _grouped(sent).items():
            if langsmith.project(session) is None:
                raise ProjectNotVisible(session)
            for page in lookup.existing_traces(session, values, window):
                remaining.extend(Found(run.trace_id, session) for run in page)
        return self._certified(Findings(checks.TRACES, len(sent), remaining), lookup, window, needed)

    def _subject(self, request: Request, workspace: str) -> Findings:
        """One search per project for anything still carrying any pair — one query proves a project
        clean, and where something remains the search's own pages name it.  What it finds is split, page
        by page so a million sent IDs never sit in memory, into the approved set, older traces the request
        never held (still present), and traces that started after the request was filed (new since)."""
        context = self._context
        db = context.store.db
        searched = pairs.of(db, request.id)  # every pair: one key may come with several values
        needed = context.approved_window(db, request.id)
        everything = context.window()
        window = Window(start=min(needed.start, everything.start), end=everything.end)
        filed = parse_utc(request.created_at)
        langsmith = context.workspaces[workspace]
        listed = {project.id for project in langsmith.list_projects()}
        for project_id, _ in items.per_container(db, request.id, items.TRACE, workspace=workspace):
            if project_id not in listed:
                raise ProjectNotVisible(project_id)
        lookup = langsmith.lookup()
        remaining: list[Found] = []
        unseen: list[Found] = []
        new_since = 0
        for project_id in sorted(listed):
            for page in lookup.find_traces(project_id, searched, window):  # one SQLite lookup a page
                trace_ids = [run.trace_id for run in page]
                approved = {item.value for item in items.sent_among(db, request.id, items.TRACE, trace_ids)}
                held = items.holds(db, request.id, items.TRACE, trace_ids)
                for run in page:
                    if run.trace_id in approved:
                        remaining.append(Found(run.trace_id, project_id))
                    elif run.trace_id in held:
                        continue  # held but never sent (left out at preview): not this check's business
                    elif _started_after(run, filed):
                        new_since += 1
                    else:
                        older = Found(run.trace_id, project_id, started=_started(run))
                        remaining.append(older)
                        unseen.append(older)
        sent = items.sent_count(db, request.id, items.TRACE, workspace=workspace)
        findings = Findings(checks.TRACES, sent, remaining, new_since=new_since, unseen=unseen)
        return self._certified(findings, lookup, window, needed)

    def _examples(self, sent: list[Found], workspace: str) -> Findings:
        """A hard-deleted example reads back with empty fields, or not at all; anything else remains."""
        by_version: dict[str | None, list[Found]] = defaultdict(list)
        for item in sent:
            by_version[item.as_of].append(item)
        remaining: list[Found] = []
        for as_of, group in by_version.items():
            wanted = {item.value: item for item in group}
            for start in range(0, len(group), QUERY_IDS):
                chunk = [item.value for item in group[start : start + QUERY_IDS]]
                for example in self._context.workspaces[workspace].list_examples(example_ids=chunk, as_of=as_of):
                    if any(example.get(name) for name in EXAMPLE_FIELDS):
                        remaining.append(wanted[str(example["id"]).lower()])
        return Findings(checks.EXAMPLES, len(sent), remaining)

    @staticmethod
    def _certified(findings: Findings, lookup: RunLookup, window: Window, needed: Window) -> Findings:
        """The findings with the API that answered and the window used — if that window covers what the
        look had to see; otherwise no verdict at all."""
        if not window.covers(needed):
            raise CannotVerify(
                f"the query window from {utc_iso(window.start)} does not reach the approved traces, "
                f"which start from {utc_iso(needed.start)}"
            )
        return replace(findings, apis=frozenset(lookup.answered), window=window)


def _started(run: FoundRun) -> str | None:
    return utc_iso(run.start_time) if run.start_time is not None else None


def _started_after(run: FoundRun, filed: datetime) -> bool:
    """Whether the run started after the request was filed; one without a start time counts as older."""
    return run.start_time is not None and run.start_time > filed


def _grouped(found: Iterable[Found]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for item in found:
        grouped[item.container].append(item.value)
    return grouped
