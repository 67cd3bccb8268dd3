"""Backups of the one SQLite file, taken while the service keeps writing.

A backup is copied with SQLite's online backup API (never a file copy, which could catch a page
half written or leave the -wal behind) and checked before it is kept: ``PRAGMA integrity_check``
and the audit chain with this installation's key. ``lockdown.store.restore`` copies and checks the same way.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from lockdown.errors import LockdownError
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect, create_private, db_file

PAGES_PER_STEP = 1024  # 4 MiB at SQLite's default page size
PAUSE_SECONDS = 0.005  # between steps, so the copy never monopolises the disk
COUNTED = ("users", "accounts", "posts", "incidents")
SIDE_FILES = ("-wal", "-shm")


class BackupError(LockdownError):
    """A backup or restore that was refused or failed its check; nothing was put in place."""

    status, code = 409, "backup_failed"


@dataclass(frozen=True)
class Copy:
    """What a checked database holds."""

    path: Path
    size: int
    entries: int
    head: str
    counts: dict[str, int] = field(default_factory=dict)


def copy_database(
    source: sqlite3.Connection, target: Path, *, pages: int = PAGES_PER_STEP, pause: float = PAUSE_SECONDS
) -> None:
    """Copy ``source`` page by page into the new file ``target``, as one self-contained file."""
    # One read snapshot across all steps: without it, each write by another connection restarts
    # the copy from its first page, and a busy service would never let it finish. In WAL mode a
    # reader does not block writers, so the service keeps writing meanwhile.
    source.execute("BEGIN")
    try:
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        create_private(target)
        with closing(sqlite3.connect(target)) as dest:
            source.backup(dest, pages=pages, progress=lambda *_: time.sleep(pause))
            # The copy carries the source's WAL flag; a backup is better one file with no -wal to lose.
            dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        source.rollback()
    _fsync(target)


def check_database(db: Database, key: bytes, path: Path, *, what: str) -> Copy:
    """Integrity and audit chain of an open database, or a BackupError saying which failed."""
    try:
        problems = [str(row[0]) for row in db.conn.execute("PRAGMA integrity_check").fetchall()]
        tables = {row[0] for row in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database: {exc}") from None
    if problems != ["ok"]:
        raise BackupError(f"{what} fails SQLite's integrity check: {'; '.join(problems[:5])}")
    if "audit_log" not in tables:
        raise BackupError(f"{what} is not a Lockdown database: it has no audit trail")
    chain = audit.verify(db, key)
    if not chain.ok:
        raise BackupError(
            f"{what}: its audit trail does not verify with this installation's LOCKDOWN_SECRET_KEY "
            f"({chain.reason}); it is from another installation, or it was altered"
        )
    counts = {
        name: int(db.conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]) for name in COUNTED if name in tables
    }
    return Copy(path, path.stat().st_size, chain.entries, chain.head, counts)


def check_file(path: Path, key: bytes, *, what: str) -> Copy:
    """``check_database`` on a file, opened only for the check."""
    db = connect(path)
    try:
        return check_database(db, key, path, what=what)
    finally:
        db.close()


def backup_database(
    ctx: Context,
    target: Path,
    *,
    actor: str,
    force: bool = False,
    pages: int = PAGES_PER_STEP,
    pause: float = PAUSE_SECONDS,
) -> Copy:
    """Copy the context's database to ``target`` (checked, then renamed into place) and audit it."""
    target = target.absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give the backup file's path")
    if target.exists() and not force:
        raise BackupError(f"{target} exists already; choose another path, or pass --force to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    live = Path(db_file(ctx.db))
    if target.exists() and target.samefile(live):
        raise BackupError(f"{target} is the live database itself")
    temporary = temporary_beside(target)
    try:
        try:
            copy_database(ctx.db.conn, temporary, pages=pages, pause=pause)
        except (sqlite3.Error, OSError) as exc:
            raise BackupError(f"copying to {target} failed ({exc}); nothing was written there") from None
        try:
            copy = check_file(temporary, ctx.audit_key, what=f"the copy of {live}")
        except BackupError as exc:
            # The copy is one faithful snapshot, so the fault is the live database's own.
            raise BackupError(
                f"{exc.message}. The live database has this fault too (check it with `lockdown audit verify`); "
                f"nothing was written to {target}"
            ) from None
        _put_in_place(temporary, target, replace=force)
    finally:
        remove_files(temporary)
    with ctx.change() as change:
        change.audit(
            actor, "database.backup", "database",
            path=str(target), bytes=copy.size, entries=copy.entries, head=copy.head,
        )  # fmt: skip
    return Copy(target, copy.size, copy.entries, copy.head, copy.counts)


def temporary_beside(path: Path) -> Path:
    """A new file name in ``path``'s folder, so the final rename stays on one file system."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _put_in_place(temporary: Path, target: Path, *, replace: bool) -> None:
    """Rename atomically; without ``replace``, never over a file that appeared meanwhile."""
    if replace:
        os.replace(temporary, target)
    else:
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise BackupError(f"{target} exists already; choose another path, or pass --force to replace it") from None
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                raise BackupError(f"{target} exists already; pass --force to replace it") from None
            os.replace(temporary, target)
    _fsync(target.parent)


def remove_files(path: Path) -> None:
    """Delete a database file and any journal, -wal or -shm beside it."""
    for suffix in ("", "-journal", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so a backup reported as made survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
