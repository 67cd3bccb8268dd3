"""A busy database: telling SQLite's lock timeout from other errors, and retrying a change that
must not fail because others were writing.

SQLite admits one writer at a time. A connection that cannot get the write lock within its busy
timeout raises ``OperationalError: database is locked`` (SQLITE_BUSY) and has changed nothing:
``write_transaction`` rolls back whatever it began.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlite_utils import Database

T = TypeVar("T")

SQLITE_BUSY = 5
# While retrying, each attempt waits this long at most. SQLite's own wait polls the lock less and
# less often (every 100 ms after the first third of a second), so a fresh short wait polls often
# again: a declaration is not starved by a stream of short writes that each poll early.
RETRY_POLL_SECONDS = 0.25


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is SQLite giving up on a lock another connection holds."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    # SQLITE_LOCKED ("database table is locked") is a conflict within one connection, a bug that
    # waiting never clears: only SQLITE_BUSY, another connection's lock, is worth coming back for.
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == SQLITE_BUSY)
    return str(error).startswith(("database is locked", "database is busy"))


def busy_timeout(db: Database) -> float:
    """The connection's busy timeout, in seconds."""
    return int(db.conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000


def retry_when_busy(db: Database, change: Callable[[], T], *, retry_seconds: float) -> T:
    """Run ``change`` (one whole write transaction on ``db``) and, while the database is busy,
    run it again, for up to ``retry_seconds`` beyond the connection's busy timeout. With 0 it
    runs once, as any other change does; when the time is spent the last busy error is raised."""
    if retry_seconds <= 0 or db.conn.in_transaction:
        # Inside a transaction that is already open the lock is held: nothing to wait for, and
        # nothing that could be run again on its own.
        return change()
    patience = busy_timeout(db)
    deadline = time.monotonic() + patience + retry_seconds
    try:
        while True:
            remaining = deadline - time.monotonic()
            _set_busy_timeout(db, max(0.001, min(patience, RETRY_POLL_SECONDS, remaining)))
            try:
                return change()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
    finally:
        _set_busy_timeout(db, patience)


def _set_busy_timeout(db: Database, seconds: float) -> None:
    db.conn.execute(f"PRAGMA busy_timeout = {max(1, round(seconds * 1000))}")
