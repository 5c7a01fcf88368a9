"""The SQLite file: connections, transactions and the errors a caller can act on.

Error tree::

    StorageError
    ├── StorageUnavailable   the file cannot be opened or written (read-only, disk full, bad path)
    └── NotFound             a row the caller named does not exist
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        try:
            with self.write() as db:
                migrate(db)
        except SchemaTooNew as error:
            self.close()
            raise StorageError(f"cannot use the database {self.path}: {error}") from None

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
        first (``urgent``: a write someone's ack waits for goes ahead of background ones); other
        processes on the same file meet the busy timeout.
        """
        db = self.db
        with self.turns.turn(urgent=urgent):
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
