"""``lockdown replicate``: Litestream replicating the database, watched.

It runs two Litestream processes (``replicate`` with the generated configuration, and a
follower ``restore -f`` whose copy shows what the replica holds), writes the heartbeat every
second, reports the lag (``lockdown.store.replication``), logs when the replica falls behind
and when it catches up, and stops replicating, for good, once the replica location says a
standby was promoted from it (``lockdown.store.fence``): writing on would mix this old line
into the location the promoted one came from.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdown.settings import Settings
from lockdown.store import fence
from lockdown.store.backup import remove_files
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.dispatchers import pid_domain
from lockdown.store.litestream import (
    ReplicationError,
    litestream_binary,
    replica_address,
    replica_folder,
    require_replica_url,
    write_config,
)
from lockdown.store.replication import beat, check_copy_path, lag_seconds, newest_beat, write_status
from lockdown.timeutil import Clock, to_iso, utcnow

log = logging.getLogger(__name__)

BEAT_SECONDS = 1.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """In the child before exec (Linux): be sent SIGTERM when ``lockdown replicate`` dies, even by
    SIGKILL. An orphaned Litestream would go on replicating a primary that is supposed to be
    dead, or, after a promotion, one that is fenced."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def config_path(db_path: Path) -> Path:
    """The generated Litestream configuration, beside the database (JSON, which is YAML)."""
    return Path(f"{db_path}-litestream.yml")


@dataclass
class Replicator:
    """Runs and watches Litestream for one database until stopped (or superseded)."""

    settings: Settings
    audit_key: bytes
    clock: Clock = utcnow
    _stop: threading.Event = field(default_factory=threading.Event)
    _children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def stop(self) -> None:
        """Ask the loop to end (signal handlers call this)."""
        self._stop.set()

    def run(self) -> None:
        """Replicate until stopped; raise ReplicationError when it cannot go on."""
        require_replica_url(self.settings)
        db_path = self.settings.db_path
        ctx = Context(connect(db_path, busy_timeout=self.settings.busy_timeout_seconds), self.audit_key, self.clock)
        started = to_iso(self.clock())
        report: dict[str, Any] = {"state": "ok", "started_at": started, "pid": os.getpid(), "replica_beat_at": None}
        try:
            self._refuse_marked_location(ctx)
            binary = litestream_binary(self.settings)
            config = write_config(self.settings, db_path, config_path(db_path))
            self._children["replicate"] = subprocess.Popen(  # noqa: S603
                [str(binary), "replicate", "-config", str(config)], preexec_fn=die_with_parent
            )
            log.info("replicating %s to %s", db_path, self.settings.replica_url)
            self._loop(ctx, binary, report)
        except ReplicationError as exc:
            report.update(state="superseded" if "superseded" in exc.message else "failing", error=exc.message)
            write_status(db_path, report)
            raise
        finally:
            self._end_children()
            ctx.db.close()

    def _loop(self, ctx: Context, binary: Path, report: dict[str, Any]) -> None:
        db_path, behind, host = self.settings.db_path, False, pid_domain()
        copy = check_copy_path(db_path)
        remove_files(copy)
        Path(f"{copy}-txid").unlink(missing_ok=True)
        while not self._stop.is_set():
            now = self.clock()
            try:
                beat(ctx.db, now, host)
            except sqlite3.Error as exc:
                # A busy or failing database: no heartbeat this second, so the lag grows, truthfully.
                log.warning("cannot write the replication heartbeat: %s", exc)
            self._check_children(binary, copy)
            self._check_fence(ctx)
            report.update(checked_at=to_iso(now), replica_beat_at=newest_beat(copy) or report["replica_beat_at"])
            write_status(db_path, report)
            lag = lag_seconds(report, now)
            late = lag is not None and lag > self.settings.replica_max_lag_seconds
            if late != behind:
                behind = late
                if late:
                    log.warning(
                        "the replica is %.1f s behind the primary (more than LOCKDOWN_REPLICA_MAX_LAG_SECONDS=%g)",
                        lag or 0.0, self.settings.replica_max_lag_seconds,
                    )  # fmt: skip
                else:
                    log.info("the replica has caught up: %.1f s behind", lag or 0.0)
            self._stop.wait(BEAT_SECONDS)

    def _refuse_marked_location(self, ctx: Context) -> None:
        """A location a standby was promoted from is that promotion's record, not a replica to write."""
        folder = replica_folder(self.settings)
        if folder is None:
            return
        self._check_fence(ctx)
        if fence.read_marker(folder):
            raise ReplicationError(
                f"a standby was promoted from {folder} ({fence.MARKER}): replicate this database to a new, "
                "empty location (set LOCKDOWN_REPLICA_URL), and keep that one as it is"
            )

    def _check_fence(self, ctx: Context) -> None:
        folder = replica_folder(self.settings)
        if folder is None:
            return
        try:
            fence.record_fences(ctx, folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            log.warning("cannot read the promotion marker in %s: %s", folder, exc)
            return
        fault = fence.fence_fault(ctx.db)
        if fault:
            log.error("%s; replication stopped", fault)
            raise ReplicationError(fault)

    def _check_children(self, binary: Path, copy: Path) -> None:
        replicate = self._children["replicate"]
        if replicate.poll() is not None:
            raise ReplicationError(f"litestream replicate exited with status {replicate.returncode}")
        follower = self._children.get("follow")
        if follower is not None and follower.poll() is None:
            return
        # The follower starts once the replica has a snapshot, and again if it stopped.
        remove_files(copy)
        Path(f"{copy}-txid").unlink(missing_ok=True)
        self._children["follow"] = subprocess.Popen(  # noqa: S603
            [str(binary), "restore", "-f", "-follow-interval", "1s", "-o", str(copy), replica_address(self.settings)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    def _end_children(self) -> None:
        for child in self._children.values():
            if child.poll() is None:
                child.terminate()
        for child in self._children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
