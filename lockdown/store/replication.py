"""How far the replica is behind the primary: a heartbeat written here, read back from there.

Why this way: the only true answer to "what would a standby get if this machine died now" is
what a restore of the replica gives. So ``lockdown replicate`` writes a heartbeat (the time, in
the one-row ``replication_heartbeat`` table) into the primary every second, and keeps a copy of
the replica restored by Litestream itself in follow mode (``litestream restore -f``, beside the
database as ``<db>-replica-check.db``), and reads the newest heartbeat in that copy. The lag is

    now - the newest heartbeat found in the replica

an upper bound on what a promotion would lose: every commit older than that heartbeat is in the
replica. It is 1 to 3 s when all is well (heartbeat, Litestream's sync and follow intervals, each
1 s), and it keeps growing, truthfully, when Litestream, the follower or this command stops, or
the replica location goes away. File times and Litestream's own counters were not used: a file
time says when something was written, not which commits it holds, and Litestream 0.5's metrics
carry the local transaction id but not the replica's.

The figures reach /healthz and /metrics (other processes) through a small status file beside
the database, ``<db>-replication.json``, as the scheduler's own health does; the lag is computed
at read time from the heartbeat time it records, so a stopped ``replicate`` shows a growing lag.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from lockdown.settings import Settings
from lockdown.store.db import write_transaction
from lockdown.timeutil import parse_iso, to_iso

STATES = ("ok", "behind", "not running", "superseded", "failing")


def status_path(db_path: Path) -> Path:
    """Where ``lockdown replicate`` reports on a database."""
    return Path(f"{db_path}-replication.json")


def check_copy_path(db_path: Path) -> Path:
    """The follower's restored copy of the replica, read for its newest heartbeat."""
    return Path(f"{db_path}-replica-check.db")


def beat(db: Database, at: datetime, host: str) -> None:
    """Write the heartbeat into the primary (one row, overwritten: no growth)."""
    with write_transaction(db):
        db.conn.execute(
            "INSERT INTO replication_heartbeat (id, beat_at, host) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, host = excluded.host",
            [to_iso(at), host],
        )


def newest_beat(path: Path) -> str | None:
    """The newest heartbeat in a database file (read-only), or None when it has none yet."""
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=1.0)) as conn:
            row = conn.execute("SELECT beat_at FROM replication_heartbeat WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def write_status(db_path: Path, report: dict[str, Any]) -> None:
    """Replace the status file (written beside, then renamed: a reader never sees half)."""
    path = status_path(db_path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(report, sort_keys=True))
    os.replace(temporary, path)


def read_status(db_path: Path) -> dict[str, Any] | None:
    """What ``lockdown replicate`` last reported, or None if it never ran on this database."""
    try:
        found = json.loads(status_path(db_path).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def lag_seconds(report: dict[str, Any] | None, now: datetime) -> float | None:
    """Seconds the replica is behind now: since the newest heartbeat it holds, or, before any
    reached it, since replication started. None when replication never ran."""
    if report is None:
        return None
    since = report.get("replica_beat_at") or report.get("started_at")
    try:
        return max(0.0, (now - parse_iso(str(since))).total_seconds())
    except (TypeError, ValueError):
        return None


def replication_status(settings: Settings, now: datetime) -> dict[str, Any] | None:
    """The ``replication`` object of /healthz; None when no replica is configured."""
    if settings.replica_url is None:
        return None
    report = read_status(settings.db_path)
    lag = lag_seconds(report, now)
    limit = settings.replica_max_lag_seconds
    if report is None:
        state = "not running"
    elif report.get("state") in ("superseded", "failing"):
        state = str(report["state"])
    elif report.get("pid") and not _alive(int(report["pid"])):
        state = "not running"
    else:
        state = "behind" if lag is None or lag > limit else "ok"
    return {
        "replica": _shown(settings.replica_url),
        "state": state,
        "behind": state != "ok",
        "lag_seconds": None if lag is None else round(lag, 3),
        "max_lag_seconds": limit,
        "replica_heartbeat": (report or {}).get("replica_beat_at"),
        "checked_at": (report or {}).get("checked_at"),
        "last_error": (report or {}).get("error"),
    }


def _shown(url: str) -> str:
    """The replica location without any password an s3/sftp URL may carry."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://[redacted]@{rest.split('@', 1)[1]}"
    return url


def _alive(pid: int) -> bool:
    """Whether the replicate process still exists here (the status file is per host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
