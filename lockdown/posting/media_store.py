"""The media files on disk: content-addressed (named by the SHA-256 of the stored, cleaned
bytes) under one folder beside the database, so two uploads of one photo keep one file and a
file's name proves its content.

Files are written to a temporary name in the same folder and renamed into place, so a reader
never sees half a file; they are readable by the service's user only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

SPOOL = ".incoming"


class MediaStore:
    """One folder of media files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str, extension: str) -> Path:
        """Where a file with this content is kept (two levels of folders keep each one small)."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256) or not extension.isalnum():
            raise ValueError("not a stored media file name")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{extension}"

    def spool(self) -> Path:
        """A private folder for uploads being checked, on the same file system as the store."""
        folder = self.root / SPOOL
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def new_upload(self) -> Path:
        """A fresh, empty, private file in the spool for an upload to be written to."""
        handle, name = tempfile.mkstemp(dir=self.spool(), prefix="upload-")
        os.close(handle)
        return Path(name)

    def keep(self, cleaned: Path, sha256: str, extension: str) -> Path:
        """Move a checked file into its place (a file with the same content is kept as it is)."""
        target = self.path_for(sha256, extension)
        if file_digest(cleaned) != sha256:
            raise ValueError("the file changed after it was checked")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(cleaned, 0o600)
        os.replace(cleaned, target)
        return target

    def remove(self, sha256: str, extension: str) -> bool:
        """Remove a file; False if it was not there."""
        try:
            self.path_for(sha256, extension).unlink()
        except FileNotFoundError:
            return False
        return True

    def files(self) -> Iterator[Path]:
        """Every stored file (not the spool)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*.*"):
            if path.is_file():
                yield path

    def size(self) -> tuple[int, int]:
        """The number of stored files and their bytes."""
        count = total = 0
        for path in self.files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
                count += 1
        return count, total


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (a video may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
