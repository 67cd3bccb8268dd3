"""Connections to the one SQLite file, and the write transaction every change goes through."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database


def connect(path: Path | str, *, busy_timeout: float = 5.0) -> Database:
    """Open a connection for one thread: foreign keys on, a busy timeout, default transactions."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=busy_timeout)
    db = Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    # In WAL mode NORMAL is still safe against corruption; a power cut may lose the last
    # commits, which exactly-once tolerates (a lost "published" leaves the post unknown).
    db.execute("PRAGMA synchronous = NORMAL")
    return db


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
