"""The search at execution: a subject's traces that appeared since the preview, found while the
approved set's first deletes already go out.

The approval says so: a subject purge also takes the subject's traces ingested after the preview.
They are appended to the request's items past the approved set (``items.EXECUTION``), cut into
batches once the whole search is done, and reported apart. The search runs beside the first deletes,
so a workspace of a hundred projects does not hold the first delete until the last project has
answered; each project it finishes is recorded (``storage.searches``) and the finish on the request
(``searched_again_at``), so a search cut short resumes with the projects it had not finished.
"""

from __future__ import annotations

from collections.abc import Callable

from bot import messages
from bot.clock import utc_iso
from bot.langsmith import Window
from bot.lease import Lease
from bot.preview import search_again_since
from bot.resolver import Resolver
from bot.tasks import ACTOR, TaskContext
from storage import items, pairs, requests, searches
from storage.requests import Request


def needed(request: Request) -> bool:
    """Whether the request still has a search at execution to run (or to finish)."""
    return request.kind == "metadata" and search_again_since(request) is not None and request.searched_again_at is None


def search_again(context: TaskContext, request: Request, lease: Lease, *, halted: Callable[[], bool]) -> None:
    """Run (or finish) the request's search at execution; raises what LangSmith's refusal or outage
    raises, or ``resolver.Halted`` when ``halted`` says stop, with what was found so far stored."""
    since = search_again_since(request)
    assert since is not None
    with context.store.read_snapshot() as db:
        searched = pairs.of(db, request.id)
    window = Window(start=since, end=max(since, context.clock.now()))
    for workspace in request.workspace_names:
        with context.store.read_snapshot() as db:
            done = searches.covered(db, request.id, workspace)

        def covered(project: str, workspace: str = workspace) -> None:
            with context.store.write() as db:
                searches.cover(db, request.id, workspace, project, at=utc_iso(context.clock.now()))

        resolver = Resolver(
            store=context.store, langsmith=context.workspaces[workspace], workspace=workspace, halted=halted
        )
        resolver.traces(
            request.id,
            searched,
            window=window,
            origin=items.EXECUTION,
            status=items.INCLUDED,
            skip=done,
            covered=covered,
        )
    now = context.clock.now()
    with context.store.write() as db:
        lease.fence(db)  # one process reports the search, once
        # Counted from the file, not from the search's return: a search cut short and run again finds
        # its first traces already stored. They sit past the preview's items.
        new = items.count_from(db, request.id, request.item_count, origin=items.EXECUTION)
        previewed = (request.preview_data or {}).get("traces", 0)
        requests.update(db, request.id, included_traces=previewed + new, searched_again_at=utc_iso(now))
        journal = context.journal(db, now)
        journal.event(request.id, ACTOR, "searched_again", new_traces=new, since=utc_iso(since))
        if new:
            journal.in_thread(
                request.id,
                f"Found {messages.plural(new, 'trace', 'traces')} of this subject that appeared "
                "after the preview; they are deleted too, as the approval covers.",
            )
