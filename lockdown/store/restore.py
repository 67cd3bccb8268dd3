"""Restoring a backup: check it, keep the current database aside, put the backup in place,
migrate it and check it again. A restore never deletes anything; a failure puts things back."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.backup import (
    SIDE_FILES,
    BackupError,
    Copy,
    check_database,
    check_file,
    copy_database,
    remove_files,
    temporary_beside,
)
from lockdown.store.context import Changes, Context
from lockdown.store.db import connect
from lockdown.store.dispatchers import LEASE_SECONDS, pid_domain, process_gone
from lockdown.store.migrations import migrate
from lockdown.timeutil import Clock, to_iso, utcnow


@dataclass(frozen=True)
class Restored:
    """What a restore put in place and where the previous database went."""

    backup: Copy
    database: Copy
    set_aside: Path | None
    migrations: list[str]
    held_back_posts: list[int]


def restore_database(
    settings: Settings,
    backup: Path,
    *,
    actor: str,
    force: bool = False,
    clock: Clock = utcnow,
) -> Restored:
    """Put a checked backup in place of the database, keeping the current one aside."""
    key = audit.audit_key(settings.require_secret_key())
    backup, live = backup.absolute(), settings.db_path.absolute()
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup file")
    if live.exists() and live.samefile(backup):
        raise BackupError(f"{backup} is the live database itself")
    now = clock()
    if live.exists() and not force:
        _refuse_while_running(live, now)
    live.parent.mkdir(parents=True, exist_ok=True)
    staged = temporary_beside(live)
    try:
        try:
            with closing(sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True)) as source:
                copy_database(source, staged)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the backup {backup} cannot be read as a SQLite database: {exc}") from None
        checked = replace(check_file(staged, key, what=f"the backup {backup}"), path=backup, size=backup.stat().st_size)
        if live.exists() and not force:
            _refuse_lifting_holds(live, staged)
        aside = set_aside(live, now)
        try:
            os.replace(staged, live)
            return _finish_restore(settings, key, clock, actor, checked, aside)
        except BaseException:
            _bring_back(live, aside)
            raise
    finally:
        remove_files(staged)


def _finish_restore(
    settings: Settings, key: bytes, clock: Clock, actor: str, backup: Copy, aside: Path | None
) -> Restored:
    """Migrate the restored database, hold back posts it may have sent since, record and check it."""
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        applied = migrate(db)
        ctx = Context(db, key, clock)
        with ctx.change() as change:
            held_back = _hold_back_posts(ctx, change, actor)
            change.audit(
                actor, "database.restore", "database",
                backup=str(backup.path), backup_entries=backup.entries, backup_head=backup.head,
                set_aside=str(aside) if aside else None, migrations=applied, held_back_posts=len(held_back),
            )  # fmt: skip
        restored = check_database(db, key, settings.db_path.absolute(), what=f"the restored {settings.db_path}")
    finally:
        db.close()
    return Restored(backup, restored, aside, applied, held_back)


def _hold_back_posts(ctx: Context, change: Changes, actor: str) -> list[int]:
    """Posts the replaced database may have published after the backup was taken wait for a
    person, as after a crash: never a blind second send."""
    stamp = to_iso(change.at)
    unknown = ctx.db.conn.execute(
        "UPDATE posts SET state = 'unknown', updated_at = ?, error = 'restored from a backup while it was being "
        "sent; check the platform, then mark it published or reschedule it' WHERE state = 'publishing' RETURNING id",
        [stamp],
    ).fetchall()
    missed = ctx.db.conn.execute(
        "UPDATE posts SET state = 'needs_review', updated_at = ?, error = 'restored from a backup after it fell due; "
        "the replaced database may have published it: check the platform, then reschedule or cancel it' "
        "WHERE state = 'scheduled' AND due_at <= ? RETURNING id",
        [stamp, stamp],
    ).fetchall()
    for (post_id,) in unknown:
        change.audit(actor, "post.unknown", f"post:{post_id}", reason="restored from a backup")
    for (post_id,) in missed:
        change.audit(actor, "post.missed", f"post:{post_id}", reason="restored from a backup")
    return sorted(row[0] for row in [*unknown, *missed])


def _query(path: Path, sql: str, params: list[Any]) -> list[tuple[Any, ...]] | None:
    """A read-only query's rows, or None when the file cannot be read as a Lockdown database."""
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            return [tuple(row) for row in conn.execute(sql, params)]
    except sqlite3.Error:
        return None


def _refuse_while_running(live: Path, now: datetime) -> None:
    """Refuse while a scheduler beats on the database: it would keep writing to the set-aside file."""
    # A heartbeat within the dispatcher's lease is a live scheduler, as its own crash recovery reads it.
    cutoff = to_iso(now - timedelta(seconds=LEASE_SECONDS))
    sql = "SELECT id, host, pid, heartbeat_at FROM dispatchers WHERE heartbeat_at > ? ORDER BY heartbeat_at DESC"
    # A damaged or unmigrated database shows no scheduler (None): that is a database to restore.
    rows = _query(live, sql, [cutoff]) or []
    # On this host (and pid namespace) the kernel says at once whether a beating process still exists.
    here = pid_domain()
    alive = [row for row in rows if not (row[1] == here and process_gone(row[2]))]
    if alive:
        name, host, pid, beat = alive[0]
        raise BackupError(
            f"a scheduler is running on {live} (dispatcher {name}, pid {pid} on {host}, heartbeat {beat}): "
            "stop `lockdown serve` and `lockdown scheduler` first, or pass --force"
        )


def _refuse_lifting_holds(live: Path, staged: Path) -> None:
    """Refuse a backup that lacks an incident active now: restoring it would release held accounts."""
    sql = "SELECT id, declared_at FROM incidents WHERE status = 'active'"
    now_active, kept = _query(live, sql, []), _query(staged, sql, [])
    if now_active is None or kept is None:
        return  # the current database cannot be read: nothing to compare, restore it
    lost = sorted(set(now_active) - set(kept))
    if lost:
        ids = ", ".join(str(row[0]) for row in lost)
        raise BackupError(
            f"incidents {ids} are active now but not in the backup: restoring it would lift their holds. "
            "Pass --force to restore anyway, then declare them again at once"
        )


def set_aside(live: Path, now: datetime) -> Path | None:
    """Move the current database and its -wal and -shm to ``<db>.before-restore-<time>``."""
    if not any(Path(f"{live}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        return None
    stem = f"{live.name}.before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}"
    aside, number = live.with_name(stem), 1
    while any(Path(f"{aside}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        number += 1
        aside = live.with_name(f"{stem}-{number}")
    # Fold the WAL into the main file where possible, so the set-aside file is whole by itself.
    try:
        with closing(sqlite3.connect(live)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError:
        pass
    # Side files first: a -wal left beside the restored file would be replayed into it.
    for suffix in (*SIDE_FILES, ""):
        if Path(f"{live}{suffix}").exists():
            os.replace(f"{live}{suffix}", f"{aside}{suffix}")
    return aside


def _bring_back(live: Path, aside: Path | None) -> None:
    """Undo a restore that failed after the current database was set aside."""
    if aside is None:
        return
    remove_files(live)
    for suffix in ("", *SIDE_FILES):
        if Path(f"{aside}{suffix}").exists():
            os.replace(f"{aside}{suffix}", f"{live}{suffix}")
