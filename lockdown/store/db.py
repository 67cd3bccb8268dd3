"""Connections to the one SQLite file, and the write transaction every change goes through."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlite_utils import Database


def connect(path: Path | str, *, busy_timeout: float = 5.0) -> Database:
    """Open a connection for one thread: foreign keys on, a busy timeout, default transactions."""
    if str(path) != ":memory:":
        create_private(Path(path))
    conn = sqlite3.connect(str(path), timeout=busy_timeout)
    db = Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    # In WAL mode NORMAL is still safe against corruption; a power cut may lose the last
    # commits, which exactly-once tolerates (a lost "published" leaves the post unknown).
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def create_private(path: Path) -> None:
    """Create a database file readable by its owner only, if there is none yet.

    The database holds the register, the audit trail and sealed secrets; SQLite gives its -wal
    and -shm files the main file's mode, so creating this one 0600 keeps all three private. A
    new folder for it is 0700 too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def db_file(db: Database) -> str:
    """The file a connection is open on, to open another for a worker thread."""
    return str(db.conn.execute("PRAGMA database_list").fetchone()[2])


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """``BEGIN IMMEDIATE`` ... commit, or roll back on any error.

    Every change reads before it writes (at least the audit chain's head), so the write lock is
    taken first: a deferred BEGIN would fail with "database is locked" instead of waiting. Read
    and check what you can before it: every other writer waits while the lock is held.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.commit()
    except BaseException:
        # Also when the commit itself fails: the connection is left with no transaction open,
        # so a retry of the whole change starts clean.
        db.rollback()
        raise
