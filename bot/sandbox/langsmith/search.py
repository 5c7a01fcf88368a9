"""The run search both query APIs share: which runs match, in which order, one page at a time.

v1 and v2 differ in how a request is spelled, what it defaults to and how an answer looks; each
turns its body into a :class:`RunSearch` and lets :func:`find_page` do the rest.  Every given
constraint applies (AND); v1's rule that ``id`` overrides the other filters is v1's to apply.

Runs of a project the key cannot see are never found.  Pages follow a key cursor (start time
desc, then id), so inserts while a client pages neither repeat a run nor skip one that was there
before; a run inserted behind the cursor shows up.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable
from typing import Literal

from bot.sandbox.langsmith.filters import FilterNode, compile_filter
from bot.sandbox.langsmith.model import Run, run_key
from bot.sandbox.langsmith.state import Workspace

Key = tuple[float, str]


@dataclasses.dataclass(frozen=True)
class RunSearch:
    """What to find.  ``sessions`` None means every project; ``since``/``until`` bound start times
    (epoch seconds, inclusive); ``filters`` maps ``filter``/``trace_filter``/``tree_filter`` to parsed filters."""

    sessions: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    trace_id: str | None = None
    is_root: bool | None = None
    run_type: str | None = None
    has_error: bool | None = None
    since: float | None = None
    until: float | None = None
    filters: tuple[tuple[str, FilterNode], ...] = ()


def find_page(
    ws: Workspace, search: RunSearch, *, limit: int, after: Key | None, order: Literal["asc", "desc"] = "desc"
) -> tuple[list[Run], bool]:
    """Up to ``limit`` matching runs after the cursor key ``after``, and whether more may follow.

    "More" means candidates remain past the last run returned, so the next page may be empty;
    a client must stop on an empty page or a null cursor, whichever comes first.
    """
    candidates = _candidates(ws, search)
    checks = _checks(ws, search)
    if order == "desc":
        first = bisect.bisect_left(candidates, (-search.until, ""), key=run_key) if search.until is not None else 0
        if after is not None:
            first = max(first, bisect.bisect_right(candidates, after, key=run_key))
        indices: Iterable[int] = range(first, len(candidates))
        end = len(candidates) - 1
    else:
        start = bisect.bisect_left(candidates, after, key=run_key) - 1 if after else len(candidates) - 1
        indices = range(start, -1, -1)
        end = 0
    runs: list[Run] = []
    for i in indices:
        run = candidates[i]
        if order == "desc" and search.since is not None and run.ts < search.since:
            return runs, False  # newest first: every later candidate started earlier still
        if all(check(run) for check in checks):
            runs.append(run)
            if len(runs) == limit:
                return runs, i != end
    return runs, False


def _candidates(ws: Workspace, search: RunSearch) -> list[Run]:
    """The runs to look at, sorted by :func:`run_key` (newest first)."""
    if search.ids is not None:
        return sorted((ws.runs[i] for i in set(search.ids) if i in ws.runs), key=run_key)
    if search.trace_id is not None:
        return sorted(ws.traces.get(search.trace_id, ()), key=run_key)
    wanted = ws.sessions if search.sessions is None else dict.fromkeys(search.sessions)
    pool = [session for sid in wanted if (session := ws.visible(sid)) is not None]
    if len(pool) == 1:
        return pool[0].sorted_runs()
    return sorted((r for s in pool for r in s.runs), key=run_key)


def _checks(ws: Workspace, search: RunSearch) -> list[Callable[[Run], bool]]:
    checks: list[Callable[[Run], bool]] = []
    if ws.hidden and (search.ids is not None or search.trace_id is not None):
        hidden = frozenset(ws.hidden)
        checks.append(lambda r: r.session_id not in hidden)
    if search.sessions is not None and (search.ids is not None or search.trace_id is not None):
        wanted = set(search.sessions)
        checks.append(lambda r: r.session_id in wanted)
    if search.ids is not None and search.trace_id is not None:
        trace_id = search.trace_id
        checks.append(lambda r: r.trace_id == trace_id)
    if search.is_root is not None:
        is_root = search.is_root
        checks.append(lambda r: (r.parent_run_id is None) == is_root)
    if search.run_type is not None:
        run_type = search.run_type
        checks.append(lambda r: r.run_type == run_type)
    if search.has_error:
        checks.append(lambda r: False)  # the stand-in's runs all succeed
    if search.since is not None:
        since = search.since
        checks.append(lambda r: r.ts >= since)
    if search.until is not None:
        until = search.until
        checks.append(lambda r: r.ts <= until)
    filters = dict(search.filters)
    if "filter" in filters:
        checks.append(compile_filter(filters["filter"]))
    if "trace_filter" in filters:
        checks.append(_per_trace(ws, filters["trace_filter"], whole_tree=False))
    if "tree_filter" in filters:
        checks.append(_per_trace(ws, filters["tree_filter"], whole_tree=True))
    return checks


def _per_trace(ws: Workspace, node: FilterNode, *, whole_tree: bool) -> Callable[[Run], bool]:
    """A check that the run's trace matches: its root run (``trace_filter``) or any of its runs
    (``tree_filter``); remembered per trace for the rest of the page."""
    match = compile_filter(node)
    seen: dict[str, bool] = {}

    def check(run: Run) -> bool:
        if run.trace_id not in seen:
            runs = ws.traces[run.trace_id]
            seen[run.trace_id] = any(match(r) for r in runs) if whole_tree else match(runs[0])
        return seen[run.trace_id]

    return check
