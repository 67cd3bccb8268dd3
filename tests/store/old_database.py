"""A database as an older release left it: every migration before a named one applied and
recorded, none after, so an upgrade test runs the migrations a real upgrade would, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils

from lockdown.store.migrations import migrations


def database_before(path: Path, first_new: str) -> sqlite_utils.Database:
    """A database at ``path`` with every migration named before ``first_new`` applied."""
    db = sqlite_utils.Database(path)
    before = [m for m in migrations._migrations if m.name < first_new]
    for step in before:
        step.fn(db)
    db.execute("CREATE TABLE IF NOT EXISTS _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)")
    for step in before:
        db.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, 'x')",
            [migrations.name, step.name],
        )
    db.conn.commit()
    return db


def copy_rows(source: sqlite_utils.Database, target: sqlite_utils.Database, table: str, where: str, *args: Any) -> int:
    """Copy the rows of ``table`` matching ``where`` into the older ``target``, by the columns
    the older table has (a newer column did not exist yet)."""
    columns = [c.name for c in target[table].columns]
    rows = source.conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", args).fetchall()
    marks = ", ".join("?" for _ in columns)
    target.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    target.conn.commit()
    return len(rows)
