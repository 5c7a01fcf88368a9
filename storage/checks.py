"""The ``checks`` table: every scheduled or manual verification is a row before it runs.

A check is claimed with an owner and an expiry and marked done only after it finished, so a
crash mid-check runs it again (at least once), and a check that fell due while the bot was down
simply runs when it comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from storage.db import inserted_id
from storage.requests import Request

PENDING = "pending"
RUNNING = "running"
DONE = "done"
DROPPED = "dropped"

SCHEDULED = "scheduled"
MANUAL = "manual"

TRACES = "traces"
EXAMPLES = "examples"
BOTH = "both"  # a manual check of a subject purge whose approved set holds traces and examples


@dataclass(frozen=True)
class Check:
    """One verification of a request; ``seq`` 0 is the first scheduled check, 1-3 the re-checks."""

    id: int
    request_id: int
    seq: int
    kind: str
    due_at: str
    state: str
    requested_by: str | None
    attempts: int
    last_error: str | None
    finished_at: str | None
    checked: int | None
    remaining: int | None
    outcome: str | None
    target: str
    api: str | None  # which run-query API answered (v1, v2); None for examples or before it ran
    window_start: str | None  # the start-time window the trace queries looked at
    window_end: str | None
    failing_since: str | None  # when the tries that got no answer began
    escalated_at: str | None
    by_target: str | None  # JSON {"traces": [checked, remaining], "examples": [...]}: each thing it looked at

    def found(self) -> dict[str, tuple[int, int]]:
        """(checked, remaining) of each target this finished check looked at, where it was recorded apart."""
        return {target: (int(n[0]), int(n[1])) for target, n in json.loads(self.by_target or "{}").items()}

    def remaining_of(self, target: str) -> int | None:
        """How many items of ``target`` this finished check found remaining; None when it did not look at
        them, or is a check of both from before each was recorded apart and found something somewhere."""
        if self.remaining is None:
            return None
        if self.by_target:
            found = self.found().get(target)
            return found[1] if found is not None else None
        return self.remaining if self.target == target or self.remaining == 0 else None


_COLUMNS = (
    "id, request_id, seq, kind, due_at, state, requested_by, attempts, last_error, finished_at, checked, remaining, "
    "outcome, target, api, window_start, window_end, failing_since, escalated_at, by_target"
)


def targets_of(request: Request) -> list[str]:
    """What a request's deletes were about, as check targets: traces (trace-ID and subject purges) and,
    when its approved set holds any, dataset examples."""
    kinds = [TRACES] if request.kind in ("traces", "metadata") else []
    return kinds + ([EXAMPLES] if request.included_examples else [])


def manual_target(request: Request) -> str:
    """The target a manual check of ``request`` records: what it will look at, so the record (and the
    evidence report built from it) never says "both" of a request that sent only traces."""
    found = targets_of(request)
    if not found:  # an examples request whose search found nothing: a check has nothing to look at
        return EXAMPLES
    return found[0] if len(found) == 1 else BOTH


def schedule(
    db: Database,
    *,
    request_id: int,
    seq: int,
    kind: str,
    due_at: str,
    target: str = TRACES,
    requested_by: str | None = None,
) -> int:
    return inserted_id(
        db.table("checks").insert(
            {
                "request_id": request_id,
                "seq": seq,
                "kind": kind,
                "due_at": due_at,
                "state": PENDING,
                "target": target,
                "requested_by": requested_by,
            }
        )
    )


def claim_due(db: Database, *, now: str, owner: str, expires: str) -> Check | None:
    """Take the most overdue check that is pending, or running under an expired or released claim."""
    row = db.execute(
        "SELECT id FROM checks WHERE due_at <= ? "
        "AND (state = ? OR (state = ? AND (claim_expires IS NULL OR claim_expires < ?))) "
        "ORDER BY due_at, id LIMIT 1",
        [now, PENDING, RUNNING, now],
    ).fetchone()
    if row is None:
        return None
    db.execute(
        "UPDATE checks SET state = ?, claim_owner = ?, claim_expires = ?, attempts = attempts + 1 WHERE id = ?",
        [RUNNING, owner, expires, row[0]],
    )
    return get(db, row[0])


def claim(db: Database, check_id: int, *, owner: str, expires: str) -> Check:
    """Claim one named check (a manual check run by the CLI)."""
    db.execute(
        "UPDATE checks SET state = ?, claim_owner = ?, claim_expires = ?, attempts = attempts + 1 WHERE id = ?",
        [RUNNING, owner, expires, check_id],
    )
    return get(db, check_id)


def get(db: Database, check_id: int) -> Check:
    return Check(*db.execute(f"SELECT {_COLUMNS} FROM checks WHERE id = ?", [check_id]).fetchone())


def finish(
    db: Database,
    check_id: int,
    *,
    at: str,
    checked: int,
    remaining: int,
    outcome: str,
    api: str | None = None,
    window: tuple[str, str] | None = None,
    by_target: dict[str, tuple[int, int]] | None = None,
) -> None:
    """Record what the check found (in all, and ``by_target``: checked and remaining of each thing it looked
    at), which API answered and the window its trace queries looked at."""
    start, end = window if window is not None else (None, None)
    found = json.dumps(by_target) if by_target else None  # in the order looked at: traces, then examples
    db.execute(
        "UPDATE checks SET state = ?, finished_at = ?, checked = ?, remaining = ?, outcome = ?, api = ?, "
        "window_start = ?, window_end = ?, by_target = ?, claim_owner = NULL, claim_expires = NULL "
        "WHERE id = ?",
        [DONE, at, checked, remaining, outcome, api, start, end, found, check_id],
    )


def retry_later(db: Database, check_id: int, *, due_at: str, error: str, failing_since: str) -> None:
    db.execute(
        "UPDATE checks SET state = ?, due_at = ?, last_error = ?, failing_since = ?, claim_owner = NULL, "
        "claim_expires = NULL WHERE id = ?",
        [PENDING, due_at, error, failing_since, check_id],
    )


def mark_escalated(db: Database, check_id: int, *, at: str) -> None:
    db.execute("UPDATE checks SET escalated_at = ? WHERE id = ?", [at, check_id])


def drop(db: Database, check_id: int) -> None:
    """Drop one check that can no longer run (its request was minimised)."""
    db.execute(
        "UPDATE checks SET state = ?, claim_owner = NULL, claim_expires = NULL WHERE id = ?", [DROPPED, check_id]
    )


def drop_pending(db: Database, request_id: int) -> int:
    """Drop the request's scheduled checks that have not run (the request is verified)."""
    return db.execute(
        "UPDATE checks SET state = ? WHERE request_id = ? AND state = ? AND kind = ?",
        [DROPPED, request_id, PENDING, SCHEDULED],
    ).rowcount


def for_request(db: Database, request_id: int) -> list[Check]:
    return [
        Check(*row)
        for row in db.execute(f"SELECT {_COLUMNS} FROM checks WHERE request_id = ? ORDER BY id", [request_id])
    ]


def latest_done(db: Database, request_id: int, target: str) -> Check | None:
    """The most recent finished check of ``target`` (a manual check of both counts for each: read what it
    found of ``target`` with :meth:`Check.remaining_of`)."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM checks WHERE request_id = ? AND state = ? AND target IN (?, ?) "
        "ORDER BY finished_at DESC, id DESC LIMIT 1",
        [request_id, DONE, target, BOTH],
    ).fetchone()
    return Check(*row) if row else None


def due_count(db: Database, now: str) -> int:
    """How many checks are due and not finished: the work a scheduler tick has in hand right now."""
    return int(
        db.execute(
            "SELECT count(*) FROM checks WHERE due_at <= ? AND state IN (?, ?)", [now, PENDING, RUNNING]
        ).fetchone()[0]
    )


def next_pending(db: Database, request_id: int) -> Check | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM checks WHERE request_id = ? AND state = ? AND kind = ? ORDER BY due_at LIMIT 1",
        [request_id, PENDING, SCHEDULED],
    ).fetchone()
    return Check(*row) if row else None
