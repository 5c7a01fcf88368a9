"""``purgebot backup``: a consistent copy of the database, checked before it is called a backup.

SQLite's online backup API copies the file in one step under a single read transaction, so the copy
is the database as of one moment; with WAL the running bot keeps writing meanwhile and is never
blocked. The copy is written beside the target under a temporary name, switched from WAL to a
rollback journal (one self-contained file, nothing in a ``-wal`` beside it), checked with
``PRAGMA integrity_check`` and by walking the event chain, flushed to disk, and only then renamed into
place: a file at the target is always a checked backup, and a failed one leaves nothing behind.

The source is opened without migrating it (a backup of an older or newer schema stays exactly that)
and is never written.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlite_utils import Database

from storage import events
from storage.db import StorageError
from storage.migrations import migrations


class BackupFailed(StorageError):
    """No backup was written; the message says why in one line."""


@dataclass(frozen=True)
class Backup:
    """What a finished backup holds, as checked on the copy itself."""

    path: Path
    size: int
    requests: int
    events: int
    head_seq: int
    head_hash: str
    schema: str
    seconds: float


def backup(source: Path, target: Path, *, busy_timeout: float = 30.0) -> Backup:
    """Copy ``source`` to ``target`` (which must not exist), check the copy, and describe it."""
    started = time.monotonic()
    if not source.is_file():
        raise BackupFailed(f"no database at {source}; nothing was copied")
    if target.exists():
        raise BackupFailed(f"{target} already exists; a backup never overwrites a file, name a new one")
    if not target.parent.is_dir():
        raise BackupFailed(f"no folder {target.parent} for the backup")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(source, partial, busy_timeout)
        checked = _check(partial, target)
        _flush(partial)
        os.replace(partial, target)
        _flush(target.parent)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"backup of {source} failed: {error}; nothing was written to {target}") from None
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"cannot write {target}: {error.strerror or error}") from None
    except BackupFailed:
        partial.unlink(missing_ok=True)
        raise
    return replace(checked, size=target.stat().st_size, seconds=time.monotonic() - started)


def _copy(source: Path, partial: Path, busy_timeout: float) -> None:
    # mode=rw: a source that vanished is an error rather than a new empty file; query_only: never written.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=busy_timeout)
    try:
        src.execute("PRAGMA query_only = ON")
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one moment of the database
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _check(partial: Path, target: Path) -> Backup:
    conn = sqlite3.connect(f"file:{partial}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupFailed(
                f"the copy fails PRAGMA integrity_check ({problems[0]}), so the database itself is damaged; "
                f"nothing was written to {target}"
            )
        db = Database(conn)
        if not db.table("events").exists():
            raise BackupFailed(f"this is not a purgebot database (no event log); nothing was written to {target}")
        chain = events.verify_chain(db)
        if not chain.intact:
            raise BackupFailed(
                f"the event chain is broken at event {chain.first_bad} (see purgebot audit verify); "
                f"nothing was written to {target}"
            )
        applied = migrations.applied(db)
        return Backup(
            path=target,
            size=0,
            requests=_count(conn, "requests"),
            events=_count(conn, "events"),
            head_seq=chain.head_seq,
            head_hash=chain.head_hash,
            schema=applied[-1].name if applied else "none",
            seconds=0.0,
        )
    finally:
        conn.close()


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _flush(path: Path) -> None:
    """fsync a file, or a folder (so a rename in it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
