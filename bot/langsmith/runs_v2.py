"""Run queries through v2's ``POST /api/v2/runs/query`` (SmithDB), the API that outlives v1.

1,000 runs a page, paged by ``next_cursor``, at the documented 300 queries per 10 s.  Three of its
rules are traps this module exists to keep out of the rest of the bot:

- without ``min_start_time`` v2 looks at the **last 24 hours** only, so every query states both
  bounds of its :class:`~bot.langsmith.window.Window`; there is no way to call it without one;
- ``project_ids`` is required, even with ``ids``;
- ``selects`` are upper case, and runs carry ``project_id`` where v1 had ``session_id``.

A 404 means this deployment has no v2 (older self-hosted, ClickHouse only): :class:`QueryApiGone`.
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

__all__ = ["PAGE_SIZE", "RunsV2"]

PAGE_SIZE = 1000  # v2's maximum ``page_size``, so also the most IDs one query asks about
_SELECTS = ["ID", "TRACE_ID", "PROJECT_ID", "START_TIME"]


class RunsV2(RunQueryRoute):
    """v2 run queries of one workspace."""

    gone_statuses = frozenset({404})

    def find_traces(self, project_id: str, pairs: Pairs, window: Window) -> Iterator[list[FoundRun]]:
        """Pages of root runs of traces in which any run carries any pair (``tree_filter`` reaches
        pairs set only on a child run; ``is_root`` keeps one row per trace), started in the window."""
        body = {
            "project_ids": [normalize_uuid(project_id)],
            "is_root": True,
            "tree_filter": metadata_filter(pairs),
            "selects": _SELECTS,
            "page_size": PAGE_SIZE,
            **window.as_dict(),
        }
        for page in self.pages(body):
            yield [found_run(run, "project_id", project_id) for run in page]

    def existing_traces(self, project_id: str, trace_ids: Sequence[str], window: Window) -> Iterator[list[FoundRun]]:
        """Pages of the root runs of ``trace_ids`` still in the project started in the window,
        1,000 IDs a query (a root run has ``id == trace_id``)."""
        pid = normalize_uuid(project_id)
        ids = distinct_uuids(trace_ids)
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            asked = set(chunk)
            body = {
                "project_ids": [pid],
                "ids": chunk,
                "selects": _SELECTS,
                "page_size": PAGE_SIZE,
                **window.as_dict(),
            }
            for page in self.pages(body):
                yield [
                    found_run(run, "project_id", pid)
                    for run in page
                    if is_root_among(run, asked) and str(run.get("project_id") or pid).lower() == pid
                ]

    def pages(self, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if "min_start_time" not in body or "max_start_time" not in body:
            raise ValueError("a v2 run query must state its window: v2 defaults to the last 24 hours")
        return cursor_pages(self._post, body, _read_page, what="v2 runs/query")


def _read_page(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise UnexpectedResponse("v2 runs/query did not return {'items': [...], 'next_cursor': ...}")
    cursor = body.get("next_cursor")
    return body["items"], cursor if isinstance(cursor, str) and cursor else None
