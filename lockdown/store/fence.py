"""The fence: an old primary that comes back after its standby was promoted must not dispatch.

Two machines cannot share a transaction, so the promotion leaves word where both look: the
replica location. ``lockdown standby promote`` appends the promotion to a marker file in the
replica folder (``lockdown-promotion.json``: every promotion made from it, by uid). A database
that does not hold a promotion the marker lists is an older line than the promoted one: the
dispatcher (every tick) and ``lockdown replicate`` (every second) read the marker, and on
finding such a promotion record it in the database's ``fences`` table with an audit entry. From
then on the hold check refuses to dispatch (inside the claim and the sending mark too), and
/healthz says why. The fence is kept in the database, so it stays when the marker cannot be
read later; the promoted database holds its own promotion, so the marker never fences it.

Only a folder replica carries the marker. For s3:// and sftp:// replicas Lockdown writes no
marker: the old primary must be kept down (or its LOCKDOWN_DB moved away) by the operator
before promoting, as the README says.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from lockdown.store.context import Context
from lockdown.timeutil import to_iso

MARKER = "lockdown-promotion.json"


def marker_path(folder: Path) -> Path:
    """The marker file in a replica folder."""
    return folder / MARKER


def read_marker(folder: Path) -> list[dict[str, Any]]:
    """The promotions listed in a replica folder's marker; none when there is no marker.
    A marker that cannot be parsed is an OSError: the caller reports it, it is never taken as 'none'."""
    path = marker_path(folder)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    try:
        found = json.loads(text)
    except ValueError:
        raise OSError(f"{path} is not a promotion marker") from None
    promotions = found.get("promotions") if isinstance(found, dict) else None
    if not isinstance(promotions, list):
        raise OSError(f"{path} is not a promotion marker")
    return [p for p in promotions if isinstance(p, dict) and isinstance(p.get("uid"), str)]


def write_marker(folder: Path, promotion: dict[str, Any]) -> None:
    """Add a promotion to the folder's marker (written beside, synced, renamed into place)."""
    promotions = [*read_marker(folder), promotion]
    path = marker_path(folder)
    temporary = folder / f".{MARKER}.{uuid.uuid4().hex[:8]}.tmp"
    temporary.write_text(json.dumps({"promotions": promotions}, indent=2) + "\n")
    fd = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def newer_promotions(db: Database, folder: Path) -> list[dict[str, Any]]:
    """Promotions the marker lists that this database does not hold: it has been superseded."""
    listed = read_marker(folder)
    if not listed:
        return []
    ours = {row[0] for row in db.conn.execute("SELECT uid FROM promotions")}
    return [p for p in listed if p["uid"] not in ours]


def record_fences(ctx: Context, folder: Path) -> int:
    """Read the marker and record any promotion that supersedes this database; returns how many
    are new. Raises OSError when the marker exists but cannot be read."""
    newer = newer_promotions(ctx.db, folder)
    if not newer:
        return 0
    known = {row[0] for row in ctx.db.conn.execute("SELECT promotion_uid FROM fences")}
    fresh = [p for p in newer if p["uid"] not in known]
    if not fresh:
        return 0
    with ctx.change() as change:
        for promotion in fresh:
            ctx.db.conn.execute(
                "INSERT OR IGNORE INTO fences (promotion_uid, promoted_at, host, replica, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [promotion["uid"], promotion.get("promoted_at"), promotion.get("host"), str(folder), to_iso(change.at)],
            )
            change.audit(
                "lockdown", "database.superseded", "database",
                promotion=promotion["uid"], promoted_at=promotion.get("promoted_at"),
                host=promotion.get("host"), replica=str(folder),
            )  # fmt: skip
    return len(fresh)


# For the hold check: a fenced database dispatches nothing.
NOT_FENCED = "NOT EXISTS (SELECT 1 FROM fences)"


def fence_fault(db: Database) -> str | None:
    """Why this database must not dispatch (a newer promotion exists), or None."""
    row = db.conn.execute("SELECT promotion_uid, promoted_at, host FROM fences ORDER BY seen_at LIMIT 1").fetchone()
    if row is None:
        return None
    uid, at, host = row
    return (
        f"this database was superseded by the promotion of a standby ({uid}, {at or 'time unknown'} on "
        f"{host or 'another host'}): dispatch refused; the promoted standby is the primary now"
    )
