"""The previewer: shows approvers what a request will delete, before anyone can approve it.

For trace IDs it asks LangSmith which of them it knows in the project (all of them up to 1,000, a
random sample of 1,000 beyond that) and leaves out the unknown ones. For a subject purge it
searches every project and dataset for the pairs and stores what it finds — the set an approval
covers. Either way the preview is stored with a digest, and the buttons appear only then.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot import messages
from bot.clock import parse_utc, utc_iso
from bot.langsmith import LangSmithRejected, LangSmithUnavailable
from bot.lease import Lease
from bot.resolver import Halted, Resolver
from bot.tasks import ACTOR, TaskContext
from storage import items, pairs, requests
from storage.requests import Request

PREVIEW_SAMPLE = 1000  # one v2 query of 1,000 IDs, or at most 10 v1 queries of 100
SHOWN = 10  # projects or datasets named in a preview
SAMPLES = 3  # sample IDs named per kind
WATERMARK_SKEW = timedelta(seconds=60)


class Previewer:
    """Claims one request awaiting its preview at a time and stores the preview."""

    def __init__(self, context: TaskContext, *, progress_interval: float = 3.0) -> None:
        self._context = context
        self._halting = threading.Event()
        self._progress_interval = progress_interval

    def halt(self) -> None:
        """Stop searching (for good): the process is stopping; the request is released to resume later."""
        self._halting.set()

    def step(self) -> bool:
        now = utc_iso(self._context.clock.now())
        request = self._context.claim(
            "state = 'awaiting_approval' AND preview IS NULL AND (paused_until IS NULL OR paused_until <= ?)", [now]
        )
        if request is None:
            return False
        return self._context.guarded(request, "the preview", lambda lease: self._preview(request, lease))

    def _preview(self, request: Request, lease: Lease) -> bool:
        unknown: list[str] = []
        try:
            if request.kind == "traces":
                preview, unknown = self._trace_ids(request)
            else:
                preview = self._subject(request, lease)
        except LangSmithUnavailable as error:
            if not self._halting.is_set():
                self._context.pause(request, error, "the preview")
                return True
            with self._context.store.write() as db:  # stopping: the next process searches again
                self._context.release(db, request.id)
            return True
        except Halted:
            with self._context.store.write() as db:
                self._context.release(db, request.id)
            return True
        except LangSmithRejected as error:
            preview = {"error": f"LangSmith refused the search ({error.status}: {messages.escape(error.message)})"}
        self._store(request, preview, unknown, lease)
        return True

    def _trace_ids(self, request: Request) -> tuple[dict[str, Any], list[str]]:
        assert request.session_id is not None
        (workspace,) = request.workspace_names  # a trace purge names its one workspace
        values = items.values(self._context.store.db, request.id)
        sample = values if len(values) <= PREVIEW_SAMPLE else random.sample(values, PREVIEW_SAMPLE)
        window = self._context.window()  # nothing is known of these traces yet: all of the retention
        starts = {
            run.trace_id: utc_iso(run.start_time) if run.start_time is not None else None
            for page in self._context.workspaces[workspace].lookup().existing_traces(request.session_id, sample, window)
            for run in page
        }
        known = set(starts)
        with self._context.store.write() as db:
            items.set_starts(db, request.id, {k: v for k, v in starts.items() if v is not None})
        unknown = [value for value in sample if value not in known]
        preview = {
            "total": len(values),
            "checked": len(sample),
            "known": len(known),
            "sampled": len(sample) < len(values),
            "unknown_ids": unknown,
            "included": len(values) - len(unknown),
        }
        return preview, unknown

    def _subject(self, request: Request, lease: Lease) -> dict[str, Any]:
        """Search each workspace the request covers for the pairs, streaming what is found into its items."""
        context = self._context
        with context.store.write() as db:
            if request.watermark is None:
                requests.update(db, request.id, watermark=utc_iso(context.clock.now()))
            request = requests.get(db, request.id)
            searched = pairs.of(db, request.id)
        assert request.as_of is not None and request.watermark is not None
        last = [0.0]

        names = request.workspace_names
        several = len(names) > 1

        def progress(workspace: str) -> Callable[[int, int], None]:
            where = f" in {workspace}" if several else ""

            def searched_so_far(done: int, of: int) -> None:
                if time.monotonic() - last[0] >= self._progress_interval:
                    last[0] = time.monotonic()
                    found = items.count(context.store.db, request.id, kind=items.TRACE)
                    with context.store.write() as db:
                        lease.renew(db)
                        context.journal(db).refresh_request_message(
                            request.id,
                            searching=f"searched {done:,} of {of:,} projects{where}, {found:,} traces so far…",
                        )
                    context.on_change()

            return searched_so_far

        project_names: dict[str, str] = {}
        dataset_names: dict[str, str] = {}
        for workspace in names:
            resolver = Resolver(
                store=context.store,
                langsmith=context.workspaces[workspace],
                workspace=workspace,
                halted=self._halting.is_set,
            )
            prefix = f"{workspace}/" if several else ""
            try:
                if request.kind == "metadata":
                    found = resolver.traces(request.id, searched, window=context.window(), progress=progress(workspace))
                    project_names |= {key: prefix + name for key, name in found.items()}
                searched_datasets = resolver.examples(request.id, searched, as_of=parse_utc(request.as_of))
            except LangSmithRejected as error:
                refused = f"LangSmith refused the search ({error.status}: {messages.escape(error.message)})"
                if not several:
                    return {"error": refused}
                others = ", ".join(name for name in names if name != workspace)
                return {
                    "error": f"{refused} in workspace {workspace} (`purgebot doctor` says why). To purge {others} "
                    "meanwhile, file a request for each with --workspace"
                }
            dataset_names |= {key: prefix + name for key, name in searched_datasets.items()}
        db = context.store.db
        projects = items.per_container(db, request.id, items.TRACE)
        datasets = items.per_container(db, request.id, items.EXAMPLE)
        return {
            "subject": True,
            "traces": sum(n for _, n in projects),
            "project_count": len(projects),
            "projects": [[project_names.get(p, p), n] for p, n in projects[:SHOWN]],
            "examples": sum(n for _, n in datasets),
            "dataset_count": len(datasets),
            "datasets": [[dataset_names.get(d, d), n] for d, n in datasets[:SHOWN]],
            "sample_traces": items.sample(db, request.id, items.TRACE, SAMPLES),
            "sample_examples": items.sample(db, request.id, items.EXAMPLE, SAMPLES),
            "metadata_delete": request.kind == "metadata" and context.settings.purgebot_metadata_delete,
            **({"workspaces": self._per_workspace(request.id, names)} if several else {}),
        }

    def _per_workspace(self, request_id: int, names: list[str]) -> list[list[Any]]:
        """[workspace, traces, examples] for each workspace the request covers, in configured order."""
        db = self._context.store.db
        traces = items.per_workspace(db, request_id, items.TRACE)
        examples = items.per_workspace(db, request_id, items.EXAMPLE)
        return [[name, traces.get(name, 0), examples.get(name, 0)] for name in names]

    def _store(self, request: Request, preview: dict[str, Any], unknown: list[str], lease: Lease) -> None:
        context = self._context
        now = context.clock.now()
        with context.store.write() as db:
            lease.fence(db)
            items.mark(db, request.id, unknown, items.UNKNOWN)
            items.set_all(db, request.id, from_status=items.REQUESTED, to_status=items.INCLUDED)
            included = items.digest(db, request.id, items.INCLUDED)
            digest = hashlib.sha256((included + json.dumps(preview, sort_keys=True)).encode()).hexdigest()
            traces, examples = items.included_counts(db, request.id)
            requests.update(
                db,
                request.id,
                preview=json.dumps(preview),
                preview_digest=digest,
                paused_until=None,
                item_count=items.count(db, request.id),
                included_traces=traces,
                included_examples=examples,
            )
            counts = {key: value for key, value in preview.items() if isinstance(value, (int, bool))}
            journal = context.journal(db, now)
            journal.event(
                request.id,
                ACTOR,
                "previewed",
                preview_digest=digest,
                included_digest=included,
                unknown=len(unknown),
                **counts,
            )
            journal.refresh_request_message(request.id)
            context.release(db, request.id)
        context.on_change()


def search_again_since(request: Request) -> datetime | None:
    """Where the incremental search at execution starts: a little before the preview's search began,
    so a trace that started while the preview searched is not missed (duplicates are ignored)."""
    if request.watermark is None:
        return None
    return parse_utc(request.watermark) - WATERMARK_SKEW
