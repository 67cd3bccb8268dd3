"""Telling a busy database from other failures, and retrying only the first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lockdown.store.busy import busy_timeout, is_busy, retry_when_busy
from lockdown.store.db import connect, write_transaction
from tests.api.test_busy_database import write_lock


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("database is busy"), True),
        (sqlite3.OperationalError("database or disk is full"), False),
        (sqlite3.OperationalError("attempt to write a readonly database"), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed: accounts.id"), False),
        (RuntimeError("database is locked"), False),
    ],
)
def test_only_a_lock_timeout_counts_as_busy(error: Exception, busy: bool) -> None:
    assert is_busy(error) is busy


def test_sqlites_own_lock_timeout_counts_as_busy(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db", busy_timeout=0.05)
    db.enable_wal()
    with write_lock(tmp_path / "x.db"), pytest.raises(sqlite3.OperationalError) as raised:
        db.execute("BEGIN IMMEDIATE")
    assert is_busy(raised.value)


def test_another_failure_is_not_retried_and_the_busy_timeout_is_put_back(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db", busy_timeout=3)
    calls = 0

    def change() -> None:
        nonlocal calls
        calls += 1
        with write_transaction(db):
            raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(sqlite3.OperationalError, match="full"):
        retry_when_busy(db, change, retry_seconds=10)
    assert calls == 1
    assert busy_timeout(db) == 3
    assert not db.conn.in_transaction


def test_a_table_locked_within_one_connection_is_a_bug_not_busy(tmp_path: Path) -> None:
    # SQLITE_LOCKED: waiting never clears it, so it must not become a 503 nor be retried.
    db = connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (a)")
    db.conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(3)])
    db.conn.commit()
    reading = db.conn.execute("SELECT a FROM t")
    reading.fetchone()
    with pytest.raises(sqlite3.OperationalError) as raised:
        db.conn.execute("DROP TABLE t")
    assert "locked" in str(raised.value)
    assert not is_busy(raised.value)
