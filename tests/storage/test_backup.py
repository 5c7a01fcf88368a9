"""storage.backup: a consistent, checked copy taken while writers keep writing; a failed one leaves nothing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import events
from storage.backup import BackupFailed, backup
from storage.db import Store
from storage.migrations import migrations

AT = "2026-11-30T09:00:00+00:00"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def append(store: Store, n: int) -> None:
    for i in range(n):
        with store.write() as db:
            events.append(db, request_id=None, actor="test", kind="tick", data={"i": i}, at=AT)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_the_copy_holds_every_row_as_one_self_contained_file(store: Store, tmp_path: Path) -> None:
    append(store, 25)
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()

    done = backup(store.path, target)

    head = events.verify_chain(store.db)
    assert (done.head_seq, done.head_hash) == (head.head_seq, head.head_hash) == (25, head.head_hash)
    assert (done.events, done.requests) == (25, 0)
    assert done.schema == migrations.applied(store.db)[-1].name
    assert done.size == target.stat().st_size > 0
    assert rows(target, "PRAGMA journal_mode") == [("delete",)]  # no -wal beside it holds part of the data
    assert rows(target, "SELECT seq, hash FROM events") == rows(store.path, "SELECT seq, hash FROM events")
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.db"]  # no partial file left over


def test_a_backup_taken_while_another_thread_writes_is_one_moment_of_the_database(store: Store, tmp_path: Path) -> None:
    """Writers are never blocked and the copy is a consistent prefix of the chain, never a torn one."""
    append(store, 5)
    stop = threading.Event()
    written = 0

    def writer() -> None:
        nonlocal written
        while not stop.is_set():
            append(store, 1)
            written += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = [backup(store.path, tmp_path / f"copy-{n}.db") for n in range(5)]
    finally:
        stop.set()
        thread.join(10)

    assert written > 0
    for done in copies:
        copy = Store(done.path)
        check = events.verify_chain(copy.db)
        assert check.intact and check.head_seq == done.head_seq >= 5
        assert events.contains_head(store.db, done.head_seq, done.head_hash)  # the live chain holds that head
        copy.close()


def test_an_existing_file_is_never_overwritten(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "last-week.db"
    target.write_bytes(b"an older backup")

    with pytest.raises(BackupFailed, match="already exists; a backup never overwrites a file"):
        backup(store.path, target)

    assert target.read_bytes() == b"an older backup"


def test_a_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(BackupFailed, match="no database at"):
        backup(tmp_path / "gone.db", tmp_path / "copy.db")

    assert list(tmp_path.iterdir()) == []


def test_a_broken_chain_is_not_backed_up(store: Store, tmp_path: Path) -> None:
    append(store, 10)
    with store.write() as db:
        db.execute("UPDATE events SET actor = 'mallory' WHERE seq = 4")
    target = tmp_path / "copy.db"

    with pytest.raises(BackupFailed) as caught:
        backup(store.path, target)

    assert str(caught.value).startswith("the event chain is broken at event 4")
    beside = ["purgebot.db", "purgebot.db-lock", "purgebot.db-shm", "purgebot.db-wal"]  # the copy left nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == beside


def test_a_damaged_database_fails_the_integrity_check(tmp_path: Path) -> None:
    """An index whose entries no longer match the table: the copy is page-for-page, so the check sees it."""
    path = tmp_path / "purgebot.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.executemany(
        "INSERT INTO requests (kind, state, requester, channel, reason, created_at, updated_at)"
        " VALUES ('traces', ?, 'U1', 'C1', 'r', 'now', 'now')",
        [(f"state-{i}",) for i in range(50)],
    )
    conn.commit()
    conn.execute("PRAGMA writable_schema = ON")
    # Re-declare the state index over another column: its stored pages now disagree with the table.
    conn.execute(
        "UPDATE sqlite_master SET sql = 'CREATE INDEX idx_requests_state ON requests (requester)'"
        " WHERE name = 'idx_requests_state'"
    )
    assert conn.total_changes > 0
    conn.commit()
    conn.close()
    target = tmp_path / "copy.db"

    with pytest.raises(BackupFailed) as caught:
        backup(path, target)

    assert "fails PRAGMA integrity_check" in str(caught.value)
    assert not target.exists()
