"""Items at scale: cutting the approved set into batches, and looking up what was sent, on a real file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import batches, items, requests
from storage.db import Store
from storage.items import Found
from storage.migrations import migrations


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "items.db")
    yield opened
    opened.close()


def new_request(store: Store) -> int:
    with store.write() as db:
        fields = {"requester": "U1", "channel": "C1", "reason": "r", "created_at": "t", "updated_at": "t"}
        request = requests.insert(db, kind="metadata", state="approved", **fields)
        return request.id


def trace_ids(project: str, n: int) -> list[Found]:
    return [Found(f"{project}-{i:05d}", project) for i in range(n)]


EVERYTHING = (0, 2**62)


def cut_all(
    store: Store, request_id: int, kind: str, size: int, window: tuple[int, int] = EVERYTHING
) -> list[list[str]]:
    """Cut range batches the way the executor does, resuming from ``last_cut`` before every cut."""
    batch_kind = batches.TRACES if kind == items.TRACE else batches.EXAMPLES
    cut = []
    while chunk := items.next_range(
        store.db,
        request_id,
        kind,
        size,
        after=batches.last_cut(store.db, request_id, batch_kind, window),
        window=window,
    ):
        with store.write() as db:
            batch_id = batches.create(
                db,
                request_id=request_id,
                round_=0,
                kind=batch_kind,
                session_id=chunk[0][2],
                size=len(chunk),
                digest="d",
                at="t",
                workspace=chunk[0][3],
                seqs=(chunk[0][0], chunk[-1][0]),
            )
            batch = batches.get(db, batch_id)
        cut.append(items.in_batch(store.db, batch))
        assert cut[-1] == [row[1] for row in chunk]  # the range holds exactly what was cut
    return cut


def test_traces_are_cut_project_by_project_in_order_and_each_item_once(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        # found interleaved, as a search over several projects stores them
        for start in range(0, 25, 5):
            items.add(db, request_id, trace_ids("p-b", 25)[start : start + 5], status=items.INCLUDED)
            items.add(db, request_id, trace_ids("p-a", 12)[start : start + 5], status=items.INCLUDED)
        items.add(db, request_id, [Found("unknown-1", "p-a")], status=items.UNKNOWN)

    cut = cut_all(store, request_id, items.TRACE, 10)

    assert [len(batch) for batch in cut] == [10, 2, 10, 10, 5]  # ≤10 a batch, never two projects in one
    assert [value for batch in cut for value in batch] == sorted(v.value for v in trace_ids("p-a", 12)) + sorted(
        v.value for v in trace_ids("p-b", 25)
    )
    last = batches.last_cut(store.db, request_id, batches.TRACES, EVERYTHING)
    assert items.next_range(store.db, request_id, items.TRACE, 10, after=last, window=EVERYTHING) == []  # unknown never


def test_cutting_resumes_after_the_last_batch_and_skips_items_already_in_one(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        items.add(db, request_id, trace_ids("p-a", 30), status=items.INCLUDED)
    first = items.next_range(store.db, request_id, items.TRACE, 10, after=None, window=EVERYTHING)
    with store.write() as db:
        batches.create(
            db,
            request_id=request_id,
            round_=0,
            session_id="p-a",
            size=10,
            digest="d",
            at="t",
            seqs=(first[0][0], first[-1][0]),
        )

    assert batches.last_cut(store.db, request_id, batches.TRACES, EVERYTHING) == ("p-a", first[-1][0])
    # a restart cuts on from there: the next batch starts with the 11th item
    rest = cut_all(store, request_id, items.TRACE, 10)
    assert rest[0][0] == "p-a-00010" and sum(len(batch) for batch in rest) == 20


def test_examples_are_cut_across_datasets(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        examples = [Found(f"e-{i}", f"d-{i % 3}") for i in range(7)]
        items.add(db, request_id, examples, kind=items.EXAMPLE, status=items.INCLUDED)

    cut = cut_all(store, request_id, items.EXAMPLE, 5)

    assert cut == [[f"e-{i}" for i in range(5)], ["e-5", "e-6"]]


def test_sent_lookups_agree_with_the_full_list(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        items.add(db, request_id, trace_ids("p-a", 30), status=items.INCLUDED)
    cut_all(store, request_id, items.TRACE, 10)
    with store.write() as db:
        for batch in batches.for_request(db, request_id)[:2]:
            batches.mark_sent(db, batch.id, status_code=202, response={}, at="t")

    sent = items.sent(store.db, request_id)
    assert len(sent) == items.sent_count(store.db, request_id) == 20
    asked = ["p-a-00003", "p-a-00025", "nobody"]  # sent, in a batch not yet sent, unknown
    assert items.sent_among(store.db, request_id, items.TRACE, asked) == [Found("p-a-00003", "p-a")]


def test_count_from_counts_only_what_a_later_search_added(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        items.add(db, request_id, trace_ids("p-a", 8), status=items.INCLUDED)
        before = items.count(db, request_id)
        items.add(db, request_id, trace_ids("p-a", 10), status=items.INCLUDED, origin=items.EXECUTION)  # 2 new

    assert items.count_from(store.db, request_id, before, origin=items.EXECUTION) == 2
    assert items.included_counts(store.db, request_id) == (10, 0)


def test_add_reports_only_rows_it_inserted(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        assert items.add(db, request_id, trace_ids("p-a", 5)) == 5
        assert items.add(db, request_id, trace_ids("p-a", 7)) == 2


def test_m005_fills_the_counts_of_requests_filed_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from sqlite_utils import Database

    old = Database(conn)
    migrations.apply(old, stop_before="m005_included_counts")
    old.execute(
        "INSERT INTO requests (kind, state, requester, channel, reason, created_at, updated_at, item_count) "
        "VALUES ('metadata', 'submitted', 'U1', 'C1', 'r', 't', 't', 3)"
    )
    for seq, (kind, status) in enumerate([("trace", "included"), ("trace", "unknown"), ("example", "included")]):
        old.execute(
            "INSERT INTO items (request_id, seq, value, kind, status) VALUES (1, ?, ?, ?, ?)",
            [seq, f"v{seq}", kind, status],
        )
    conn.commit()
    conn.close()

    store = Store(path)
    try:
        request = requests.get(store.db, 1)
        assert (request.included_traces, request.included_examples) == (1, 1)
    finally:
        store.close()


def test_m017_turns_per_item_batches_into_ranges_that_read_the_same(tmp_path: Path) -> None:
    """A file cut before m017 — every item pointing at its batch, one item taken by a re-send, one
    batch still pending mid-cut — reads the same sent set after it, and cutting goes on where it was."""
    from sqlite_utils import Database

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    old = Database(conn)
    migrations.apply(old, stop_before="m017_batch_ranges")
    old.execute(
        "INSERT INTO requests (kind, state, requester, channel, reason, created_at, updated_at, item_count) "
        "VALUES ('metadata', 'executing', 'U1', 'C1', 'r', 't', 't', 9)"
    )
    # p-a: 0..3 in batch 1 (sent), 4..5 in batch 2 (pending); p-b: 6..8 not cut yet; seq 2 re-sent in batch 3
    layout = [("p-a", 1)] * 4 + [("p-a", 2)] * 2 + [("p-b", None)] * 3
    for seq, (project, batch_id) in enumerate(layout):
        old.execute(
            "INSERT INTO items (request_id, seq, value, kind, status, session_id, batch_id) "
            "VALUES (1, ?, ?, 'trace', 'included', ?, ?)",
            [seq, f"t{seq}", project, 3 if seq == 2 else batch_id],
        )
    for batch_id, round_, state, size in [(1, 0, "sent", 4), (2, 0, "pending", 2), (3, 1, "pending", 1)]:
        old.execute(
            "INSERT INTO batches (id, request_id, round, session_id, size, digest, state, created_at, kind, workspace) "
            "VALUES (?, 1, ?, 'p-a', ?, 'd', ?, 't', 'traces', 'default')",
            [batch_id, round_, size, state],
        )
    expected_sent = ["t0", "t1", "t2", "t3"]
    conn.commit()
    conn.close()

    store = Store(path)
    try:
        db = store.db
        assert [f.value for f in items.sent(db, 1)] == expected_sent
        assert items.sent_count(db, 1) == 4
        assert [f.value for f in items.sent_among(db, 1, items.TRACE, ["t2", "t4", "t7"])] == ["t2"]
        first, second, resend = batches.for_request(db, 1)
        assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (0, 3, 4, 5)
        assert items.in_batch(db, first) == ["t0", "t1", "t2", "t3"]  # the re-sent item was cut in it
        assert items.in_batch(db, resend) == ["t2"]  # a re-send keeps its per-item rows
        assert db.execute("SELECT count(*) FROM items WHERE batch_id IS NOT NULL").fetchone()[0] == 1
        assert requests.get(db, 1).searched_again_at == "t"  # its search ran before its first batch
        # cutting goes on with p-b, nothing of p-a twice
        assert cut_all(store, 1, items.TRACE, 10, window=(0, 9)) == [["t6", "t7", "t8"]]
    finally:
        store.close()


def test_the_previewed_set_ends_after_its_last_item_even_where_duplicates_left_gaps(store: Store) -> None:
    request_id = new_request(store)
    with store.write() as db:
        assert items.previewed_end(db, request_id) == 0
        # a trace found by two of its runs is skipped the second time: positions 0, 1, 3 (2 was the duplicate)
        items.add(db, request_id, [Found("t-1", "p"), Found("t-2", "p"), Found("t-1", "p"), Found("t-3", "p")])
        items.add(db, request_id, [Found("t-4", "p")], origin=items.EXECUTION)

    assert items.count(store.db, request_id, origin=items.PREVIEW) == 3
    assert items.previewed_end(store.db, request_id) == 4  # past t-3 at position 3, before t-4
