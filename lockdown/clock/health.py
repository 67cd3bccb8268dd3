"""What the scheduler last said about itself, for /healthz.

It is kept in a small file beside the database, not in it: the faults worth reporting (a
locked, full or read-only database) are the ones that stop the scheduler writing to the
database. The file is written in place at a fixed size, so once it exists even a full disk does
not stop the report (no new block is needed), and /healthz in another process (``serve
--no-scheduler``) reads it. Processes sharing the database share one host, so they share the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from lockdown.timeutil import to_iso

log = logging.getLogger(__name__)

SIZE = 4096
MAX_ERROR = 1500  # characters of an error message kept; the whole object must fit in SIZE
STATES = ("ok", "failing", "refusing")


def health_path(db_path: Path | str) -> Path | None:
    """Where the report for a database lives (none for an in-memory database)."""
    text = str(db_path)
    return None if text == ":memory:" else Path(text + "-health.json")


class SchedulerHealth:
    """The dispatch state (``ok``, ``failing``: its tick raises, ``refusing``: it will not
    dispatch because the hold state is not trustworthy) and the last error of any job."""

    def __init__(self, db_path: Path | str) -> None:
        self.path = health_path(db_path)
        self._lock = threading.Lock()
        self._report: dict[str, Any] = {
            "state": None,
            "since": None,
            "last_error": None,
            "last_error_at": None,
            "pid": os.getpid(),
        }
        self._written = ""

    def dispatch_ok(self, at: datetime) -> None:
        """The dispatch tick completed."""
        self._update(at, "ok", None)

    def refusing(self, reason: str, at: datetime) -> None:
        """The dispatch tick refused to dispatch anything."""
        self._update(at, "refusing", reason)

    def job_failed(self, job: str, exc: BaseException, at: datetime) -> None:
        """A job raised; if it is the dispatch tick, dispatch is failing."""
        self._update(at, "failing" if job == "dispatch tick" else None, f"{job}: {exc}")

    def _update(self, at: datetime, state: str | None, error: str | None) -> None:
        with self._lock:
            report = self._report
            if state is not None and state != report["state"]:
                report["state"], report["since"] = state, to_iso(at)
            if error is not None:
                report["last_error"], report["last_error_at"] = error[:MAX_ERROR], to_iso(at)
            text = json.dumps(report, sort_keys=True)
            if text != self._written:
                self._write(text)

    def _write(self, text: str) -> None:
        if self.path is None:
            return
        data = text.encode().ljust(SIZE)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                # One write at offset 0 over the same blocks: nothing to allocate on a full disk.
                os.pwrite(fd, data[:SIZE], 0)
            finally:
                os.close(fd)
        except OSError as exc:
            # The log is the last place left to say it.
            log.error("cannot write the scheduler health report %s: %s", self.path, exc)
            return
        self._written = text


def read_health(db_path: Path | str) -> dict[str, Any] | None:
    """The scheduler's last report, or None if no scheduler has reported on this database."""
    path = health_path(db_path)
    if path is None:
        return None
    for _ in range(3):  # a read racing a write may see half of it; the next read will not
        try:
            text = path.read_bytes()[:SIZE].decode("utf-8", "replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return {"state": "unreadable", "last_error": f"cannot read {path.name}: {exc}"}
        if not text:
            return None
        try:
            report = json.loads(text)
        except ValueError:
            continue
        if isinstance(report, dict):
            return report
    return {"state": "unreadable", "last_error": f"{path.name} is not a health report"}


def last_tick(db: Database) -> str | None:
    """When any dispatcher last finished a tick (for /healthz)."""
    row = db.conn.execute("SELECT MAX(last_tick_at) FROM dispatchers").fetchone()
    return row[0] if row else None
