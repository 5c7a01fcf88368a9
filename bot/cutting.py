"""Cutting a request's first round into delete calls, as they are sent.

A batch of traces is a range of positions in the approved set — ≤1000 items of one project — and a
batch of examples ≤1000 items of one workspace (``storage.batches``); then, for subject purges when
enabled, the workspace-wide delete by metadata. Each batch is one row, stored before it is yielded:
nothing is sent that is not a row first. The approved set as the preview showed it (the positions
up to its last item) is cut while the search at execution still runs; what that search adds sits past it
and is cut once the search is done. Each part goes on after a restart from its last range.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future

from sqlite_utils import Database

from bot.clock import utc_iso
from bot.langsmith import LangSmithRejected, LangSmithUnavailable
from bot.lease import Lease
from bot.resolver import Halted
from bot.tasks import TaskContext
from bot.workflow import items_digest
from storage import batches, items, pairs
from storage.requests import Request

BATCH_SIZE = 1000  # LangSmith's documented maximum per delete call
_KINDS = ((items.TRACE, batches.TRACES), (items.EXAMPLE, batches.EXAMPLES))
_END = 2**62  # past any position


def windows(db: Database, request: Request) -> tuple[tuple[int, int], tuple[int, int]]:
    """The approved set as previewed, and what the search at execution appended after it (by
    position: a search skips the duplicates it meets, so positions can have gaps and the previewed
    set may end past ``item_count``)."""
    end = items.previewed_end(db, request.id)
    return (0, end), (end, _END)


class FirstRound:
    """The first round's batches of one request, yielded as they are stored, while the search at
    execution (``search``, when one runs) goes on beside them.

    When that search fails, cutting stops after the previewed set and ``search_error`` says why; when
    the process stops, ``halted`` is set. Either way the batches already stored stay pending or sent.
    """

    def __init__(
        self,
        context: TaskContext,
        request: Request,
        lease: Lease,
        search: Future[None] | None,
        *,
        stop: threading.Event,
    ) -> None:
        self._context = context
        self._request = request
        self._lease = lease
        self._search = search
        self._stop = stop  # the search beside reads it before each page it stores
        self.search_error: LangSmithUnavailable | LangSmithRejected | None = None
        self.halted = False

    def __iter__(self) -> Iterator[batches.Batch]:
        previewed, found_since = windows(self._context.store.db, self._request)
        yield from self._ranges(previewed)
        if self._search is not None:
            try:
                self._search.result()
            except (LangSmithUnavailable, LangSmithRejected) as error:
                self.search_error = error
                return
            except Halted:
                self.halted = True
                return
        yield from self._ranges(found_since)
        yield from self._metadata()

    def close(self) -> None:
        """Stop the search beside (if it still runs) and wait for it: nothing of it outlives the lease."""
        self._stop.set()
        if self._search is not None:
            self._search.exception()  # waits; its error, if any, was read by the iteration or is moot

    def _search_refused(self) -> bool:
        """LangSmith refused the search beside (the request fails): nothing more is cut. An outage of
        it does not stop the previewed set, whose deletes the approval covers either way."""
        search = self._search
        return search is not None and search.done() and isinstance(search.exception(), LangSmithRejected)

    def _ranges(self, window: tuple[int, int]) -> Iterator[batches.Batch]:
        context, request = self._context, self._request
        now = utc_iso(context.clock.now())
        for kind, batch_kind in _KINDS:
            after = batches.last_cut(context.store.db, request.id, batch_kind, window)
            while not self._search_refused():
                # Read and digest outside the write lock (this claim's holder is the only one cutting
                # batches of the request), so the senders recording answers wait only for the insert.
                chunk = items.next_range(context.store.db, request.id, kind, BATCH_SIZE, after=after, window=window)
                if not chunk:
                    break
                project, workspace = chunk[0][2], chunk[0][3]
                after = (project if kind == items.TRACE else workspace) or "", chunk[-1][0]
                with context.store.write() as db:
                    self._lease.fence(db)  # only the holder cuts: two cutters would batch the same items twice
                    batch_id = batches.create(
                        db,
                        request_id=request.id,
                        round_=0,
                        kind=batch_kind,
                        size=len(chunk),
                        session_id=project,
                        digest=items_digest([row[1] for row in chunk]),
                        at=now,
                        workspace=workspace,
                        seqs=(chunk[0][0], chunk[-1][0]),
                    )
                    batch = batches.get(db, batch_id)
                yield batch

    def _metadata(self) -> Iterator[batches.Batch]:
        context, request = self._context, self._request
        if request.kind != "metadata" or not context.settings.purgebot_metadata_delete:
            return
        now = utc_iso(context.clock.now())
        with context.store.write() as db:
            written = []
            if not batches.for_request(db, request.id, kind=batches.METADATA):
                groups = distinct_key_groups(pairs.of(db, request.id))
                for workspace, group in itertools.product(request.workspace_names, groups):
                    batch_id = batches.create(
                        db,
                        request_id=request.id,
                        round_=0,
                        kind=batches.METADATA,
                        session_id=None,
                        size=len(group),
                        digest=items_digest([f"{k}={v}" for k, v in group]),
                        at=now,
                        workspace=workspace,
                    )
                    written.append(batches.get(db, batch_id))
        yield from written


def plan(context: TaskContext, request: Request) -> dict[str, tuple[int, int]]:
    """(batches, items) of the first round per kind of batch, for the progress message: counted from the
    approved set before every batch is written (what the search at execution adds counts once stored)."""
    db = context.store.db
    counted = {}
    for kind, batch_kind in _KINDS:
        parts = [items.batch_plan(db, request.id, kind, BATCH_SIZE, window=window) for window in windows(db, request)]
        counted[batch_kind] = (sum(p[0] for p in parts), sum(p[1] for p in parts))
    return counted


def distinct_key_groups(searched: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split pairs into groups with distinct keys: LangSmith's metadata delete takes a JSON object,
    which cannot say ``user_id=1`` and ``user_id=2`` at once, so each group is one call."""
    groups: list[list[tuple[str, str]]] = []
    for key, value in searched:
        target = next((group for group in groups if all(k != key for k, _ in group)), None)
        if target is None:
            groups.append([(key, value)])
        else:
            target.append((key, value))
    return groups
