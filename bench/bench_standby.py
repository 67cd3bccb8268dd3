"""Replication lag under a steady write load, and the time from `promote` to a serving, held
standby, beside the naive way: a `lockdown backup` copy every minute.

    .venv/bin/python bench/bench_standby.py [WRITES_PER_SECOND] [SECONDS] [ACCOUNTS]   (default 20 30 250)

Seeds a register (ACCOUNTS accounts, ten posts each), starts `lockdown replicate` (the real
Litestream binary) to a folder replica, then commits WRITES_PER_SECOND audited changes a second
for SECONDS. Two lags are read:

- per write: from its commit to the moment it is in Litestream's own restore of the replica
  (the follower copy `lockdown replicate` keeps, polled every 50 ms): p50, p95, max;
- reported: what /healthz and /metrics would say (`lockdown.store.replication`), sampled every
  0.25 s during the load: p50, p95, max.

Then `lockdown replicate` is killed with SIGKILL, `lockdown standby promote` restores the replica
into a new database and `lockdown serve` starts on it; the clock stops when /healthz answers and
the API shows every account held. The naive way is timed in the same run: one `lockdown backup`
of the same database, whose worst-case loss window is the minute between two copies plus the copy
itself, and a `lockdown restore` of it followed by `lockdown serve` (which starts unheld).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from common import LOCKDOWN, Served, Table, ratio, seed

from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.replication import check_copy_path, replication_status

BACKUP_EVERY_SECONDS = 60.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def replicated_seq(copy: Path) -> int:
    """The newest audit entry in the follower's restored copy of the replica."""
    try:
        conn = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def write_load(path: Path, key: bytes, rate: float, seconds: float, commits: list[tuple[int, float]]) -> None:
    """Audited changes at a steady rate, on this thread's own connection; each commit's seq and time."""
    ctx = Context(connect(path), key)
    interval, start = 1.0 / rate, time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        with ctx.change() as change:
            ctx.db.conn.execute("UPDATE accounts SET purpose = ? WHERE id = ?", [f"purpose {n}", 1 + n % 50])
            change.audit("bench", "bench.write", f"account:{1 + n % 50}", n=n)
        seq = int(ctx.db.conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0])
        commits.append((seq, time.monotonic()))
        n += 1
        time.sleep(max(0.0, start + n * interval - time.monotonic()))
    ctx.db.close()


def measure(rate: float = 20.0, seconds: float = 30.0, accounts: int = 250) -> Table:
    folder = Path(tempfile.mkdtemp(prefix="bench-standby-"))
    primary, replica, standby = folder / "primary.db", folder / "replica", folder / "standby" / "lockdown.db"
    replica.mkdir()
    seeded = seed(primary, accounts, accounts * 10)
    env = {**os.environ, **seeded.env, "LOCKDOWN_REPLICA_URL": str(replica)}
    settings = seeded.settings.__class__.from_env(env)
    log = (folder / "replicate.log").open("w")
    replicate = subprocess.Popen([str(LOCKDOWN), "replicate"], env=env, stdout=log, stderr=subprocess.STDOUT)
    copy = check_copy_path(primary)
    for _ in range(600):  # the replica's first snapshot and the follower, before the load
        if replicated_seq(copy) > 0:
            break
        time.sleep(0.1)
    commits: list[tuple[int, float]] = []
    seen: dict[int, float] = {}
    reported: list[float] = []
    writer = threading.Thread(target=write_load, args=(primary, seeded.ctx.audit_key, rate, seconds, commits))
    writer.start()
    last_sample = 0.0
    while writer.is_alive() or (commits and max(seen, default=0) < commits[-1][0]):
        now = time.monotonic()
        newest = replicated_seq(copy)
        for seq, _ in commits:
            if seq <= newest and seq not in seen:
                seen[seq] = now
        if writer.is_alive() and now - last_sample >= 0.25:
            status = replication_status(settings, datetime.now(UTC))
            if status and status["lag_seconds"] is not None:
                reported.append(float(status["lag_seconds"]))
            last_sample = now
        if not writer.is_alive() and now - commits[-1][1] > 60:
            break  # never reached: a broken replica; the table then shows it
        time.sleep(0.05)
    writer.join()
    per_write = [seen[seq] - at for seq, at in commits if seq in seen]

    # The primary dies: replicate killed (Litestream dies with it), then the standby is promoted.
    replicate.send_signal(signal.SIGKILL)
    replicate.wait()
    log.close()
    standby_env = {**env, "LOCKDOWN_DB": str(standby)}
    started = time.monotonic()
    promoted = subprocess.run(
        [str(LOCKDOWN), "standby", "promote", "--as", "press@livuni.ac.uk"],
        env=standby_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if promoted.returncode != 0:
        raise RuntimeError(promoted.stdout + promoted.stderr)
    promote_only = time.monotonic() - started
    served = Served({k: v for k, v in standby_env.items() if k.startswith("LOCKDOWN_")}, folder / "standby.log")
    headers = {"Authorization": f"Bearer {seeded.press_token}"}
    active = requests.get(f"{served.url}/api/v1/incidents?status=active", headers=headers, timeout=10).json()
    held = max(item["held_accounts"] for item in active["items"])
    to_serving = time.monotonic() - started
    served.stop()

    # The naive way: one backup copy (made every minute), restored and served.
    started = time.monotonic()
    subprocess.run([str(LOCKDOWN), "backup", str(folder / "copy.db")], env=env, capture_output=True, check=True)
    backup_seconds = time.monotonic() - started
    naive_env = {**env, "LOCKDOWN_DB": str(folder / "naive" / "lockdown.db")}
    naive_env.pop("LOCKDOWN_REPLICA_URL")
    started = time.monotonic()
    subprocess.run([str(LOCKDOWN), "restore", str(folder / "copy.db")], env=naive_env, capture_output=True, check=True)
    naive_served = Served({k: v for k, v in naive_env.items() if k.startswith("LOCKDOWN_")}, folder / "naive.log")
    naive_to_serving = time.monotonic() - started
    naive_served.stop()

    naive_worst = BACKUP_EVERY_SECONDS + backup_seconds
    worst = max(per_write) if per_write else float("nan")
    table = Table(
        f"Standby: replication lag at {rate:g} writes/s for {seconds:g} s ({accounts} accounts), and promotion",
        f"bench/bench_standby.py {rate:g} {seconds:g} {accounts}",
        ("measure", "p50", "p95", "max", "naive: backup every minute", "ratio (naive / ours, max)"),
    )
    table.rows.append(
        (
            "a write's delay to the replica (s)",
            percentile(per_write, 0.5),
            percentile(per_write, 0.95),
            worst,
            f"up to {naive_worst:.1f} (60 + one copy of {backup_seconds:.2f})",
            ratio(naive_worst, worst),
        )
    )
    table.rows.append(
        (
            "lag reported in /healthz, /metrics (s)",
            percentile(reported, 0.5),
            percentile(reported, 0.95),
            max(reported) if reported else float("nan"),
            "-",
            "-",
        )
    )
    table.rows.append(
        (
            "promote to a serving, held standby (s)",
            to_serving,
            "-",
            "-",
            f"{naive_to_serving:.2f} (restore + serve, unheld)",
            ratio(naive_to_serving, to_serving),
        )
    )
    table.notes += [
        f"{len(per_write)} of {len(commits)} writes seen in Litestream's own restore of the replica (the follower "
        "copy `lockdown replicate` keeps); the delay includes Litestream's 1 s sync and the follower's 1 s poll.",
        f"`lockdown standby promote` alone took {promote_only:.2f} s; the standby then served with {held} of "
        f"{accounts} accounts held until a press officer confirms.",
        "The naive way loses up to a minute of declarations silently and serves them unheld; the standby loses at "
        "most the lag and holds every account until someone checks.",
    ]
    if promoted.stdout:
        point = [line for line in promoted.stdout.splitlines() if "last point" in line]
        table.notes += [f"promote said: {point[0]}" if point else ""]
    return table


def main() -> None:
    args = [float(a) for a in sys.argv[1:]]
    rate, seconds, accounts = (args + [20.0, 30.0, 250.0][len(args) :])[:3]
    print(measure(rate, seconds, int(accounts)).markdown())


if __name__ == "__main__":
    main()
