"""Finding what a subject purge covers: every trace and dataset example that carries its pairs.

Searches stream into SQLite a page at a time, so memory stays flat however many traces match.
Pairs are OR-matched, as LangSmith's own metadata delete matches them: a trace goes if any of its
runs carries any pair; an example goes if its metadata contains any pair (one query per pair,
since LangSmith reads a multi-key ``metadata`` filter as containment of all of them). Counts are
read back from SQLite afterwards (``items.per_container``), so nothing is tallied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from bot.clock import utc_iso
from bot.langsmith import FoundRun, LangSmithClient, Pairs, Window
from storage import items
from storage.db import Store
from storage.items import Found
from storage.requests import DEFAULT_WORKSPACE

PAGE = 1000  # items written per transaction while a search streams


class Halted(Exception):
    """The process is stopping; what was found so far is stored and the search resumes later."""


class Resolver:
    """Streams search results for one request, in one workspace, into its items."""

    def __init__(
        self,
        *,
        store: Store,
        langsmith: LangSmithClient,
        workspace: str = DEFAULT_WORKSPACE,
        halted: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self._langsmith = langsmith
        self._workspace = workspace
        self._halted = halted

    def traces(
        self,
        request_id: int,
        pairs: Pairs,
        *,
        window: Window,
        origin: str = items.PREVIEW,
        status: str = items.REQUESTED,
        progress: Callable[[int, int], None] = lambda done, of: None,
        skip: Container[str] = (),
        covered: Callable[[str], None] = lambda project: None,
    ) -> dict[str, str]:
        """Search every project for traces, started in ``window``, in which any run carries any pair
        (every pair: two values of one key are both searched); store the new ones with their start times.

        Projects in ``skip`` (by ID) were searched before; ``covered`` hears of each project whose
        search finished, once its items are stored. Returns the names of the projects (by ID), for the
        preview.
        """
        projects = list(self._langsmith.list_projects())
        lookup = self._langsmith.lookup()
        for n, project in enumerate(projects, start=1):
            if project.id in skip:
                progress(n, len(projects))
                continue
            pages = lookup.find_traces(project.id, pairs, window)
            self._store_stream(
                request_id,
                (_trace(run, project.id) for page in pages for run in page),
                kind=items.TRACE,
                origin=origin,
                status=status,
            )
            covered(project.id)
            progress(n, len(projects))
        return {project.id: project.name for project in projects}

    def examples(
        self,
        request_id: int,
        pairs: Pairs,
        *,
        as_of: datetime,
        status: str = items.REQUESTED,
    ) -> dict[str, str]:
        """Search every dataset's examples at ``as_of`` and in each earlier version; returns dataset names."""
        datasets = {str(d["id"]): str(d.get("name") or d["id"]) for d in self._langsmith.list_datasets()}
        for key, value in pairs:
            found = self._langsmith.list_examples(metadata={key: value}, as_of=as_of)
            self._store_stream(request_id, _examples(found, utc_iso(as_of)), kind=items.EXAMPLE, status=status)
        for dataset_id in datasets:
            for moment in self._langsmith.dataset_versions(dataset_id):
                if moment >= as_of:
                    continue
                for key, value in pairs:
                    found = self._langsmith.list_examples(metadata={key: value}, as_of=moment, dataset_id=dataset_id)
                    self._store_stream(request_id, _examples(found, utc_iso(moment)), kind=items.EXAMPLE, status=status)
        return datasets

    def _store_stream(
        self, request_id: int, found: Iterable[Found], *, kind: str, status: str, origin: str = items.PREVIEW
    ) -> int:
        added = 0
        iterator = iter(found)
        while page := list(islice(iterator, PAGE)):
            if self._halted():
                raise Halted
            with self._store.write() as db:
                added += items.add(
                    db, request_id, page, kind=kind, origin=origin, status=status, workspace=self._workspace
                )
        return added


def _trace(run: FoundRun, project_id: str) -> Found:
    started = utc_iso(run.start_time) if run.start_time is not None else None
    return Found(run.trace_id, project_id, started=started)


def _examples(found: Iterator[dict[str, Any]], as_of: str) -> Iterator[Found]:
    return (Found(str(example["id"]).lower(), str(example["dataset_id"]).lower(), as_of) for example in found)
