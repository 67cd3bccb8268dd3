"""Media in backups: ``lockdown backup PATH`` copies the files its database copy names into
``PATH.media/`` (the store's own layout), and ``lockdown restore`` brings back any the media
folder lacks. Files are content-addressed, so a file already in the target is the same file
and is not copied again, and every copy is checked against its name (its SHA-256)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from lockdown.posting.media_store import MediaStore, file_digest


@dataclass(frozen=True)
class MediaCopy:
    """What a media copy did."""

    folder: Path
    copied: int = 0
    present: int = 0
    bytes: int = 0
    # Files the database names that the source does not have (named by sha256.extension).
    missing: list[str] = field(default_factory=list)


def media_folder_of(backup: Path) -> Path:
    """Where a backup's media files are kept: beside it, named after it."""
    return backup.with_name(backup.name + ".media")


def named_files(database: Path) -> list[tuple[str, str]]:
    """The (sha256, extension) of every file a database's media rows name."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        has_media = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'media'").fetchone()
        if not has_media:
            return []
        return [(row[0], row[1]) for row in db.execute("SELECT DISTINCT sha256, extension FROM media ORDER BY 1")]


def copy_media(database: Path, source: MediaStore, target: MediaStore) -> MediaCopy:
    """Copy the files ``database`` names from ``source`` to ``target``, each checked."""
    copied = present = size = 0
    missing = []
    for sha256, extension in named_files(database):
        origin, destination = source.path_for(sha256, extension), target.path_for(sha256, extension)
        if destination.is_file() and file_digest(destination) == sha256:
            present += 1
            continue
        if not origin.is_file():
            missing.append(f"{sha256}.{extension}")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(origin, partial)
        if file_digest(partial) != sha256:
            partial.unlink()
            missing.append(f"{sha256}.{extension}")
            continue
        os.chmod(partial, 0o600)
        os.replace(partial, destination)
        copied += 1
        size += destination.stat().st_size
    return MediaCopy(target.root, copied, present, size, missing)
