"""The SQLite file: connections, transactions and the errors a caller can act on.

Error tree::

    StorageError
    ├── StorageUnavailable   the file cannot be opened or written (read-only, disk full, bad path)
    └── NotFound             a row the caller named does not exist
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from sqlite_utils import Database
from sqlite_utils.db import Table

from storage.migrations import SchemaTooNew, migrate

_UNAVAILABLE_HINTS = ("readonly", "disk is full", "unable to open", "disk i/o error", "not a database")


class StorageError(Exception):
    """Something about the database stopped the operation."""


class StorageUnavailable(StorageError):
    """The database file cannot be opened or written; nothing was changed."""


class NotFound(StorageError):
    """The row the caller named does not exist."""


class WriteTurns:
    """Whose turn it is to write, among this process's threads: one at a time, and a writer answering a
    person (``urgent``) goes before background writers that are waiting.

    Threads queue here rather than in SQLite's busy handler, which polls with sleeps of up to 100 ms;
    and a click's ack then waits for at most the one transaction under way, never for a queue of
    executor writes cutting a million items into batches.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._waiting = {True: 0, False: 0}  # urgent? -> threads waiting

    def waiting(self, *, urgent: bool) -> int:
        with self._changed:
            return self._waiting[urgent]

    @contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._changed:
            self._waiting[urgent] += 1
            try:
                while self._busy or (not urgent and self._waiting[True]):
                    self._changed.wait()
            finally:
                self._waiting[urgent] -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class FileTurns:
    """Whose turn it is to write, among processes on one file: an exclusive ``flock`` on a file beside it.

    ``purgebot serve`` is two processes on one file (the listener and its worker). Without this their
    writers would meet in SQLite's busy handler, which sleeps 1, 2, 5 … up to 100 ms between tries: a
    claim write the ack waits for could sleep 100 ms past the moment the worker's transaction ended.
    The kernel wakes a process waiting on ``flock`` as soon as the holder lets go (or dies: a killed
    holder's lock goes with it). One descriptor per file and process, shared by every Store on that
    file in the process: its threads already take turns (:class:`WriteTurns`), and two Stores of one
    process on one file then meet SQLite's busy timeout as before rather than waiting on each other here.

    A file beside the database that cannot be created (a read-only folder) leaves only SQLite's lock.
    A holder that is frozen (SIGSTOP, a paused VM) inside its turn holds up the other processes' writes
    until it runs again or dies; with SQLite's lock alone they would fail after the busy timeout instead.
    """

    _shared: ClassVar[dict[Path, tuple[int, int]]] = {}  # lock file -> (descriptor, Stores using it)
    _registry = threading.Lock()

    def __init__(self, database: Path) -> None:
        self._path = Path(f"{database.resolve()}-lock")
        with self._registry:
            fd, users = self._shared.get(self._path, (-1, 0))
            if fd < 0:
                try:
                    fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError:
                    fd = -1
            if fd >= 0:
                self._shared[self._path] = (fd, users + 1)
        self._fd = fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd < 0:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._registry:
            if self._fd < 0 or self._path not in self._shared:
                return
            fd, users = self._shared[self._path]
            if users > 1:
                self._shared[self._path] = (fd, users - 1)
            else:
                del self._shared[self._path]
                os.close(fd)
        self._fd = -1


class Store:
    """One SQLite file shared by the server's threads (and by other processes such as the CLI).

    Each thread gets its own connection: a SQLite transaction belongs to a whole connection, so
    sharing one across the Bolt listeners, the executor and the scheduler would interleave their
    transactions. WAL lets readers run beside the one writer; writers queue up to the busy timeout.
    """

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self.turns = WriteTurns()
        self._file_turns: FileTurns | None = None
        try:
            with self.write() as db:
                migrate(db)
        except SchemaTooNew as error:
            self.close()
            raise StorageError(f"cannot use the database {self.path}: {error}") from None
        self._file_turns = FileTurns(self.path)  # once the file is known to be a database: no lock beside a folder

    @property
    def db(self) -> Database:
        """This thread's connection, opened on first use."""
        database: Database | None = getattr(self._local, "db", None)
        if database is None:
            database = self._open()
            self._local.db = database
        return database

    def _open(self) -> Database:
        try:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as error:
            raise _translate(error, self.path) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA secure_delete = ON")  # overwritten values do not linger in free pages
        except sqlite3.Error as error:
            conn.close()
            raise _translate(error, self.path) from None
        with self._lock:
            # Threads come and go (pools, timers); close what finished threads left behind.
            finished = [pair for pair in self._connections if not pair[0].is_alive()]
            for _, old in finished:
                old.close()
            self._connections = [pair for pair in self._connections if pair not in finished]
            self._connections.append((threading.current_thread(), conn))
        return Database(conn)

    @contextmanager
    def write(self, *, urgent: bool = False) -> Iterator[Database]:
        """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``).

        A deferred transaction that reads and then writes fails at once when another connection
        committed in between (SQLITE_BUSY_SNAPSHOT), whatever the busy timeout; taking the lock
        first makes every compare-and-set wait its turn instead. Threads of this process take turns
        first (``urgent``: a write someone's ack waits for goes ahead of background ones), then
        processes (:class:`FileTurns`); a writer that does not take turns (``sqlite3`` by hand) meets
        the busy timeout.
        """
        db = self.db
        file_turn = self._file_turns.turn() if self._file_turns is not None else contextlib.nullcontext()
        with self.turns.turn(urgent=urgent), file_turn:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise _translate(error, self.path) from None
            try:
                yield db
            except sqlite3.Error as error:
                db.conn.rollback()
                translated = _translate(error, self.path)
                if isinstance(translated, StorageUnavailable):  # e.g. a read-only file fails at the first write
                    raise translated from error
                raise
            except BaseException:
                db.conn.rollback()
                raise
            try:
                db.conn.commit()
            except sqlite3.Error as error:
                db.conn.rollback()
                raise _translate(error, self.path) from None

    @contextmanager
    def read_snapshot(self) -> Iterator[Database]:
        """Several reads that see one consistent state of the file (WAL snapshot), writing nothing."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.conn.rollback()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and empty it, so replaced bytes leave the WAL too."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise _translate(error, self.path) from None

    def write_problem(self) -> str | None:
        """Why a write to the file would fail now (None when it would succeed), for the health check.

        A fresh connection, not one of the workers': those keep working through open file handles
        after the file was removed or its volume detached, which is exactly what must show. It takes
        the write lock and lets go at once; a lock held by another writer means the file is writable.
        """
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=0.2, isolation_level=None)
        except sqlite3.Error as error:
            return str(_translate(error, self.path))
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            if "locked" in str(error).lower() or "busy" in str(error).lower():
                return None
            return str(_translate(error, self.path))
        finally:
            conn.close()
        return None

    def close(self) -> None:
        """Close every connection any thread opened."""
        if self._file_turns is not None:
            self._file_turns.close()
        with self._lock:
            for _, conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _translate(error: sqlite3.Error, path: Path) -> StorageError:
    text = str(error).lower()
    if any(hint in text for hint in _UNAVAILABLE_HINTS):
        return StorageUnavailable(f"cannot use the database {path}: {error}")
    return StorageError(f"database {path}: {error}")


def inserted_id(table: Table) -> int:
    """The integer primary key of the row an ``insert`` just wrote."""
    if table.last_pk is None:
        raise StorageError(f"insert into {table.name} returned no primary key")
    return int(table.last_pk)
