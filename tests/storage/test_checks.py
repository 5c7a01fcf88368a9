"""What a check is recorded as looking at, and the migration that corrected older manual checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import checks, requests
from storage.db import Store
from storage.migrations import migrations

FIELDS = {"state": "submitted", "requester": "U1", "channel": "C1", "reason": "r", "created_at": "t", "updated_at": "t"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "checks.db")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("kind", "examples", "target"),
    [
        ("traces", 0, checks.TRACES),
        ("metadata", 0, checks.TRACES),  # a subject with traces only: nothing of a dataset to look at
        ("metadata", 3, checks.BOTH),
        ("examples", 3, checks.EXAMPLES),
        ("examples", 0, checks.EXAMPLES),
    ],
)
def test_a_manual_check_targets_what_the_request_sent(store: Store, kind: str, examples: int, target: str) -> None:
    with store.write() as db:
        request = requests.insert(db, kind=kind, included_examples=examples, **FIELDS)

    assert checks.manual_target(request) == target


def test_the_migration_corrects_manual_checks_that_said_both_of_what_they_did_not_look_at(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m012_manual_check_targets")
    for number, (kind, examples) in enumerate([("traces", 0), ("metadata", 0), ("metadata", 2), ("examples", 2)], 1):
        old["requests"].insert({"id": number, "kind": kind, "included_examples": examples, **FIELDS})
        old["checks"].insert(
            {"request_id": number, "seq": 0, "kind": "manual", "due_at": "t", "state": "done", "target": "both"}
        )
    old["checks"].insert(
        {"request_id": 1, "seq": 0, "kind": "scheduled", "due_at": "t", "state": "done", "target": "traces"}
    )
    old.close()

    store = Store(path)

    rows = store.db.execute("SELECT request_id, kind, target FROM checks ORDER BY id").fetchall()
    assert rows == [
        (1, "manual", "traces"),
        (2, "manual", "traces"),
        (3, "manual", "both"),
        (4, "manual", "examples"),
        (1, "scheduled", "traces"),
    ]
    store.close()


def test_what_a_check_of_both_found_is_read_per_target_and_an_older_one_only_when_nothing_remained(
    store: Store,
) -> None:
    with store.write() as db:
        request = requests.insert(db, kind="metadata", included_examples=2, **FIELDS)
        ids = [
            checks.schedule(db, request_id=request.id, seq=0, kind=checks.MANUAL, due_at="t", target=checks.BOTH)
            for _ in range(3)
        ]
        checks.finish(
            db,
            ids[0],
            at="t1",
            checked=5,
            remaining=3,
            outcome="remaining",
            by_target={"traces": (3, 3), "examples": (2, 0)},
        )
        # checks of both finished before by_target was recorded: one found nothing, one found something
        checks.finish(db, ids[1], at="t2", checked=5, remaining=0, outcome="clear")
        checks.finish(db, ids[2], at="t3", checked=5, remaining=3, outcome="remaining")

    recorded, clear, unknown = (checks.get(store.db, n) for n in ids)
    assert recorded.found() == {"traces": (3, 3), "examples": (2, 0)}
    assert (recorded.remaining_of(checks.TRACES), recorded.remaining_of(checks.EXAMPLES)) == (3, 0)
    assert (clear.remaining_of(checks.TRACES), clear.remaining_of(checks.EXAMPLES)) == (0, 0)
    assert (unknown.remaining_of(checks.TRACES), unknown.remaining_of(checks.EXAMPLES)) == (None, None)
