"""Run queries through v1's ``POST /api/v1/runs/query`` (removed from LangSmith cloud on 31 Jan 2027).

100 runs a page, paged by ``cursors.next``, at the documented 10 queries per 10 s.  A 404 or 410
means this deployment has dropped the route (SmithDB): :class:`QueryApiGone`, never "nothing found".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from bot.langsmith.errors import UnexpectedResponse
from bot.langsmith.filters import Pairs, metadata_filter
from bot.langsmith.pages import cursor_pages
from bot.langsmith.runs_route import RunQueryRoute
from bot.langsmith.values import distinct_uuids, normalize_uuid
from bot.langsmith.window import FoundRun, Window, found_run, is_root_among

__all__ = ["PAGE_SIZE", "RunsV1"]

PAGE_SIZE = 100  # v1's maximum ``limit``, so also the most IDs one query can ask about
_SELECT = ["id", "trace_id", "session_id", "start_time"]


class RunsV1(RunQueryRoute):
    """v1 run queries of one workspace."""

    gone_statuses = frozenset({404, 410})

    def find_traces(self, project_id: str, pairs: Pairs, window: Window) -> Iterator[list[FoundRun]]:
        """Pages of root runs of traces in which any run carries any pair, started in the window
        (v1 has no upper bound: ``start_time`` is its only time filter)."""
        body = {
            "session": [normalize_uuid(project_id)],
            "is_root": True,
            "tree_filter": metadata_filter(pairs),
            "start_time": window.as_dict()["min_start_time"],
            "select": _SELECT,
            "limit": PAGE_SIZE,
        }
        for page in self.pages(body):
            yield [found_run(run, "session_id", project_id) for run in page]

    def existing_traces(self, project_id: str, trace_ids: Sequence[str], window: Window) -> Iterator[list[FoundRun]]:
        """Pages of the root runs of ``trace_ids`` still in the project, 100 IDs a query.

        v1's ``id`` overrides every other filter (the window among them, so it cannot hide a run),
        so ``session_id`` is selected and compared here: a trace of another project is not "in" this one.
        """
        sid = normalize_uuid(project_id)
        ids = distinct_uuids(trace_ids)
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            body = {"session": [sid], "id": chunk, "select": _SELECT, "limit": PAGE_SIZE}
            for page in self.pages(body):
                yield [
                    found_run(run, "session_id", sid)
                    for run in page
                    if is_root_among(run, set(chunk)) and str(run.get("session_id") or sid).lower() == sid
                ]

    def pages(self, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        return cursor_pages(self._post, body, _read_page, what="v1 runs/query")


def _read_page(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("runs"), list):
        raise UnexpectedResponse("v1 runs/query did not return {'runs': [...], 'cursors': {...}}")
    cursors = body.get("cursors") or {}
    cursor = cursors.get("next") if isinstance(cursors, dict) else None
    return body["runs"], cursor if isinstance(cursor, str) else None
