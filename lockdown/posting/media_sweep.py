"""Removing media nobody uses: an upload that no post or incident message names, once the grace
period has passed (the author may still be writing the post), and files no upload names.

A medium's row and its file go in one write transaction with the audit entry, and an upload
keeps its file under the same write lock (``media.upload_media``), so the sweep never removes a
file that an upload has just named. Files with no row (an upload that failed after its file was
kept) and leftovers in the spool are removed once they are older than the grace period.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from lockdown.posting.media_store import SPOOL, MediaStore
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

ACTOR = "scheduler"
UNREFERENCED = (
    "NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = media.id) "
    "AND NOT EXISTS (SELECT 1 FROM message_media mm WHERE mm.media_id = media.id)"
)


@dataclass(frozen=True)
class Swept:
    """What one sweep removed."""

    media: int = 0
    files: int = 0
    strays: int = 0


def sweep_media(ctx: Context, store: MediaStore, grace: timedelta) -> Swept:
    """Remove unused media older than ``grace``, their files when no other upload shares them,
    and stray files older than ``grace``."""
    with ctx.change(allow_empty=True) as change:
        rows = ctx.db.conn.execute(
            f"DELETE FROM media WHERE created_at < ? AND {UNREFERENCED} RETURNING id, sha256, extension, bytes",
            [to_iso(change.at - grace)],
        ).fetchall()
        removed = 0
        for media_id, sha256, _extension, size in rows:
            change.audit(ACTOR, "media.remove", f"media:{media_id}", sha256=sha256, bytes=size, reason="unused")
        for sha256, extension in {(row[1], row[2]) for row in rows}:
            shared = ctx.db.conn.execute(
                "SELECT 1 FROM media WHERE sha256 = ? AND extension = ? LIMIT 1", [sha256, extension]
            ).fetchone()
            if shared is None and store.remove(sha256, extension):
                removed += 1
    return Swept(media=len(rows), files=removed, strays=_remove_strays(ctx, store, grace))


def _remove_strays(ctx: Context, store: MediaStore, grace: timedelta) -> int:
    cutoff = time.time() - grace.total_seconds()
    named = {f"{sha}.{ext}" for sha, ext in ctx.db.conn.execute("SELECT DISTINCT sha256, extension FROM media")}
    strays = [path for path in store.files() if path.name not in named and _older(path, cutoff)]
    spooled = [path for path in (store.root / SPOOL).glob("*") if _older(path, cutoff)]
    if not strays and not spooled:
        return 0
    with ctx.change(allow_empty=True):
        # Under the write lock, as an upload keeps its file: a row named meanwhile is seen here.
        for path in strays:
            sha256, _, extension = path.name.partition(".")
            if ctx.db.conn.execute(
                "SELECT 1 FROM media WHERE sha256 = ? AND extension = ? LIMIT 1", [sha256, extension]
            ).fetchone():
                continue
            path.unlink(missing_ok=True)
        for path in spooled:
            path.unlink(missing_ok=True)
    return len(strays) + len(spooled)


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.is_file() and path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
