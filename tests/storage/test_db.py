"""The SQLite file: migrations, per-connection settings, transactions, threads, and unusable files."""

from __future__ import annotations

import ctypes
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from storage.db import StorageError, StorageUnavailable, Store
from storage.migrations import migrate

TABLES = {"requests", "items", "batches", "checks", "events", "outbox", "messages", "interactions", "pairs", "texts"}
TABLES |= {"intake", "intake_callbacks", "callbacks"}  # m014: requests from privacy platforms
TABLES |= {"search_covered"}  # m017: the projects a search at execution has finished
MIGRATIONS_TABLE = "_sqlite_migrations"
# <linux/prctl.h>, <linux/capability.h>
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
T = TypeVar("T")


def tables(path: Path) -> set[str]:
    """The tables in the file, read with a plain sqlite3 connection (not through Store)."""
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "purgebot.db")
    yield opened
    opened.close()


def run_in_thread(work: Callable[[], T]) -> T:
    """Run ``work()`` on a fresh thread and return its result (re-raising its exception)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    return result[0]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# ----------------------------------------------------------------------------- migrations


def test_migrations_create_every_table_in_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    assert not path.exists()

    Store(path).close()

    assert tables(path) >= TABLES | {MIGRATIONS_TABLE}
    assert tables(path) - TABLES - {MIGRATIONS_TABLE} <= {"sqlite_sequence"}


def test_reopening_a_current_file_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "purgebot.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    applied = conn.execute(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE}").fetchall()
    conn.close()
    assert applied, "the first open records the migrations it applied"

    again = Store(path)
    try:
        with again.write() as db:
            assert migrate(db) == []
        assert again.db.execute(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE}").fetchall() == applied
    finally:
        again.close()


def test_migrate_on_an_empty_database_names_what_it_applied(tmp_path: Path) -> None:
    from sqlite_utils import Database

    db = Database(tmp_path / "bare.db")
    try:
        names = migrate(db)
        assert names and names[0].startswith("m001")
        assert migrate(db) == []
    finally:
        db.close()


# ----------------------------------------------------------------------------- connections


def test_every_connection_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    store = Store(tmp_path / "purgebot.db", busy_timeout=2.5)
    try:

        def pragmas() -> tuple[str, int, int]:
            db = store.db
            return (
                db.execute("PRAGMA journal_mode").fetchone()[0],
                db.execute("PRAGMA busy_timeout").fetchone()[0],
                db.execute("PRAGMA foreign_keys").fetchone()[0],
            )

        assert pragmas() == ("wal", 2500, 1)
        assert run_in_thread(pragmas) == ("wal", 2500, 1)
    finally:
        store.close()


def test_each_thread_gets_its_own_connection(store: Store) -> None:
    mine = store.db.conn
    assert store.db.conn is mine

    theirs = run_in_thread(lambda: store.db.conn)
    other = run_in_thread(lambda: store.db.conn)

    assert theirs is not mine and other is not mine and other is not theirs


def test_a_write_in_one_thread_is_seen_by_another_after_commit(store: Store) -> None:
    with store.write() as db:
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('k', 'now', '{}')")

    assert run_in_thread(lambda: store.db.execute("SELECT count(*) FROM interactions").fetchone()[0]) == 1


def test_close_closes_every_threads_connection(store: Store) -> None:
    opened, release = threading.Event(), threading.Event()
    theirs: list[sqlite3.Connection] = []

    def hold_a_connection() -> None:
        theirs.append(store.db.conn)
        opened.set()
        release.wait(timeout=30)

    holder = threading.Thread(target=hold_a_connection)
    holder.start()
    try:
        assert opened.wait(timeout=30)
        mine = store.db.conn

        store.close()

        assert holder.is_alive()
        for conn in (theirs[0], mine):
            with pytest.raises(sqlite3.ProgrammingError):
                conn.execute("SELECT 1")
    finally:
        release.set()
        holder.join(timeout=30)
    assert store.db.execute("SELECT 1").fetchone()[0] == 1  # a new connection opens on next use


# ----------------------------------------------------------------------------- transactions


class Boom(Exception):
    pass


def test_write_rolls_back_everything_when_the_block_raises(store: Store) -> None:
    with pytest.raises(Boom), store.write() as db:
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('a', 'now', '{}')")
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('b', 'now', '{}')")
        raise Boom

    assert store.db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 0
    assert not store.db.conn.in_transaction
    with store.write() as db:  # the connection is usable again
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('c', 'now', '{}')")
    assert run_in_thread(lambda: store.db.execute("SELECT key FROM interactions").fetchall()) == [("c",)]


def test_write_commits_when_the_block_ends(store: Store) -> None:
    with store.write() as db:
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('a', 'now', '{}')")
        assert db.conn.in_transaction

    assert not store.db.conn.in_transaction
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("SELECT key FROM interactions").fetchall() == [("a",)]
    finally:
        other.close()


def test_write_takes_the_write_lock_up_front(store: Store, tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: a second writer waits (here: gives up after its busy timeout) even before writing."""
    impatient = Store(store.path, busy_timeout=0.05)
    try:
        with store.write(), pytest.raises(Exception, match="locked"), impatient.write():
            pass  # pragma: no cover - never entered
    finally:
        impatient.close()


def test_an_urgent_writer_goes_before_background_writers_already_waiting(store: Store) -> None:
    """A click's ack waits for the transaction under way, not for the executor's queue of writes."""
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.write():
            holding.set()
            release.wait(10)

    def writer(name: str, urgent: bool) -> None:
        with store.write(urgent=urgent) as db:
            db.execute("INSERT INTO interactions (key, at, answer) VALUES (?, 'now', '{}')", [name])
            order.append(name)

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(10)
    background = [threading.Thread(target=writer, args=(f"background-{n}", False)) for n in range(3)]
    for thread in background:
        thread.start()
    wait_until(lambda: store.turns.waiting(urgent=False) == 3)
    urgent = threading.Thread(target=writer, args=("urgent", True))
    urgent.start()
    wait_until(lambda: store.turns.waiting(urgent=True) == 1)
    release.set()
    for thread in [first, urgent, *background]:
        thread.join(10)

    assert order[0] == "urgent" and sorted(order[1:]) == ["background-0", "background-1", "background-2"]
    assert store.db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 4


# ----------------------------------------------------------------------------- unusable files


def assert_unavailable(path: Path, error: StorageUnavailable) -> None:
    message = str(error)
    assert str(path) in message, message
    assert "\n" not in message and "Traceback" not in message


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable) as caught:
        Store(tmp_path)
    assert_unavailable(tmp_path, caught.value)
    assert "unable to open" in str(caught.value)


def test_a_path_in_a_missing_directory_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "purgebot.db"
    with pytest.raises(StorageUnavailable) as caught:
        Store(path)
    assert_unavailable(path, caught.value)
    assert not path.parent.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for\n" * 200)

    with pytest.raises(StorageUnavailable) as caught:
        Store(path)

    assert_unavailable(path, caught.value)
    assert "not a database" in str(caught.value)
    assert path.read_bytes().startswith(b"these are not")  # left as it was


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory of our own whose mode bits the test sets."""
    path = Path(tempfile.mkdtemp(prefix="purgebot-ro-"))
    path.chmod(0o755)
    yield path
    path.chmod(0o755)
    shutil.rmtree(path)


OPEN_STORE = textwrap.dedent(
    """
    import sys
    from storage.db import Store, StorageError
    try:
        store = Store(sys.argv[1])
        with store.write() as db:
            db.execute("INSERT INTO interactions (key, at, answer) VALUES ('k', 'now', '{}')")
        store.close()
    except StorageError as error:
        print(type(error).__name__)
        print(error)
        sys.exit(3)
    print("written")
    """
)


def drop_permission_override() -> None:
    """In the child before exec: remove root's power to ignore file permissions (Linux capabilities).

    Dropping a capability from the bounding set means the exec'd program does not get it, even as
    uid 0, so mode bits bind it like any other user. (Switching to ``nobody`` is not an option here:
    the interpreter lives under /root.)
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def open_store_unprivileged(path: Path) -> subprocess.CompletedProcess[str]:
    """Open ``path`` with ``Store`` and write a row, in a child process that file permissions actually bind.

    Tests run as root in CI, and root writes to a 0444 file in a 0555 directory regardless (it has
    CAP_DAC_OVERRIDE); the child gives that up, which is the situation of an operator's service
    user facing a read-only volume.
    """
    return subprocess.run(
        [sys.executable, "-c", OPEN_STORE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=drop_permission_override if os.geteuid() == 0 else None,
    )


@pytest.mark.parametrize("dir_mode", [0o555, 0o755], ids=["read-only-dir", "writable-dir"])
def test_a_read_only_database_gives_storage_unavailable_naming_the_path(shared_dir: Path, dir_mode: int) -> None:
    path = shared_dir / "purgebot.db"
    Store(path).close()
    for leftover in shared_dir.glob("purgebot.db-*"):
        leftover.unlink()
    path.chmod(0o444)
    shared_dir.chmod(dir_mode)

    child = open_store_unprivileged(path)

    assert child.returncode == 3, child.stdout + child.stderr
    kind, message = child.stdout.splitlines()
    assert kind == "StorageUnavailable"
    assert message.startswith(f"cannot use the database {path}: ")
    assert "readonly" in message or "unable to open" in message, message
    assert "Traceback" not in child.stderr


def test_the_unprivileged_child_can_open_a_writable_database(shared_dir: Path) -> None:
    """The control for the test above: the child itself works, so its failure there is the read-only file."""
    shared_dir.chmod(0o777)
    path = shared_dir / "purgebot.db"

    child = open_store_unprivileged(path)

    assert (child.returncode, child.stdout.strip()) == (0, "written"), child.stderr
    assert tables(path) >= TABLES


def test_a_write_refused_by_sqlite_inside_the_block_is_storage_unavailable(store: Store) -> None:
    """The in-process twin of the read-only file: ``query_only`` makes SQLite refuse writes the same way."""
    store.db.execute("PRAGMA query_only = ON")

    with pytest.raises(StorageUnavailable) as caught, store.write() as db:
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('k', 'now', '{}')")

    assert_unavailable(store.path, caught.value)
    assert "readonly" in str(caught.value)
    assert not store.db.conn.in_transaction


def test_other_sqlite_errors_inside_the_block_stay_what_they_are(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.write() as db:
        db.execute("INSERT INTO interactions (key, at, answer) VALUES ('k', NULL, '{}')")
    assert not store.db.conn.in_transaction


def test_a_database_of_the_previous_schema_migrates_on_start_and_keeps_its_rows(tmp_path: Path) -> None:
    """A file written by the first schema (before subject purges) opens under the current one."""
    from sqlite_utils import Database

    from storage.migrations import migrations

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m002_subject_purges")
    old["requests"].insert(
        {
            "id": 1,
            "kind": "traces",
            "state": "submitted",
            "requester": "U1",
            "channel": "C1",
            "reason": "DSR-1",
            "created_at": "2026-11-01",
            "updated_at": "2026-11-01",
        }
    )
    old["batches"].insert(
        {
            "id": 7,
            "request_id": 1,
            "round": 0,
            "session_id": "s",
            "size": 1,
            "digest": "d",
            "state": "sent",
            "created_at": "2026-11-01",
        }
    )
    old["items"].insert(
        {"request_id": 1, "seq": 0, "value": "t-1", "session_id": "s", "status": "included", "batch_id": 7}
    )
    old.close()

    store = Store(path)

    assert "m002_subject_purges" in [m.name for m in migrations.applied(store.db)]
    assert migrations.pending(store.db) == []
    assert store.db.execute("SELECT value, kind, found FROM items").fetchall() == [("t-1", "trace", "preview")]
    assert store.db.execute("SELECT id, kind, session_id FROM batches").fetchall() == [(7, "traces", "s")]
    assert store.db.execute("SELECT count(*) FROM pairs").fetchone()[0] == 0
    store.close()


def record_a_future_migration(path: Path, name: str = "m999_from_the_future") -> None:
    """What a newer purgebot leaves in the file: a migration this code has never heard of."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('purgebot', ?, 'later')",
                [name],
            )
    finally:
        conn.close()


def test_a_database_of_a_newer_version_is_refused_naming_what_it_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    Store(path).close()
    record_a_future_migration(path)
    before = path.read_bytes()

    with pytest.raises(StorageError) as caught:
        Store(path)

    message = str(caught.value)
    assert message.startswith(f"cannot use the database {path}: it was migrated by a newer purgebot")
    assert "m999_from_the_future" in message and "backup" in message
    assert "\n" not in message
    assert path.read_bytes() == before  # nothing applied, nothing written


def test_a_migration_set_of_another_tool_in_the_same_file_is_not_a_newer_version(tmp_path: Path) -> None:
    """The control: only purgebot's own set counts, so the refusal above is about the unknown name."""
    path = tmp_path / "shared.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('other-tool', 'm1', 'x')"
        )
    conn.close()

    Store(path).close()
