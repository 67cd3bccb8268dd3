"""Every benchmark, one after the other, as one Markdown report.

    .venv/bin/python bench/run.py [--quick] [--write bench/RESULTS.md] [--only NAME ...]

NAME is one of: import, dispatch, lockdown, load, contention, memory, approval, watch, media, standby. --quick uses
sizes small enough for a minute or two (to check the scripts); the figures in RESULTS.md come from a full run. The load
benchmark needs Debian's wrk. Each benchmark compares with the naive way in the same run, so
read the ratios: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bench_approval
import bench_contention
import bench_dispatch
import bench_import
import bench_load
import bench_lockdown
import bench_media
import bench_memory
import bench_standby
import bench_watch
from common import Table

FULL: dict[str, Callable[[], Table]] = {
    "import": lambda: bench_import.measure(10_000),
    "dispatch": lambda: bench_dispatch.measure([1_000, 10_000]),
    "lockdown": lambda: bench_lockdown.measure(bench_lockdown.SIZES),
    "load": lambda: bench_load.measure(10_000, 10),
    "contention": lambda: bench_contention.measure(70_000, 30, 20),
    "memory": lambda: bench_memory.measure(100_000, 1_000_000),
    "approval": lambda: bench_approval.measure(30, 7),
    "watch": lambda: bench_watch.measure([250, 1_000]),
    "media": lambda: bench_media.measure([50, 200]),
    "standby": lambda: bench_standby.measure(20, 30, 250),
}
QUICK: dict[str, Callable[[], Table]] = {
    "import": lambda: bench_import.measure(500),
    "dispatch": lambda: bench_dispatch.measure([500]),
    "lockdown": lambda: bench_lockdown.measure([(250, 2_500)]),
    "load": lambda: bench_load.measure(1_000, 3),
    "contention": lambda: bench_contention.measure(2_000, 5, 8),
    "memory": lambda: bench_memory.measure(5_000, 50_000),
    "approval": lambda: bench_approval.measure(3, 7),
    "watch": lambda: bench_watch.measure([50]),
    "media": lambda: bench_media.measure([20]),
    "standby": lambda: bench_standby.measure(20, 5, 50),
}


def machine() -> str:
    """What the figures were measured on."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"commit {commit or 'unknown'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the scripts run")
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    parser.add_argument("--only", nargs="+", choices=sorted(FULL), help="run only these benchmarks")
    args = parser.parse_args()
    chosen = QUICK if args.quick else FULL
    names = args.only or list(chosen)
    started = time.monotonic()
    sections = []
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        sections.append(chosen[name]().markdown())
    command = (
        "python bench/run.py" + (" --quick" if args.quick else "") + (" --only " + " ".join(names) if args.only else "")
    )
    report = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, "
            f"by `.venv/bin/{command}` in {time.monotonic() - started:.0f} s.",
            "",
            *sections,
        ]
    )
    print(report)
    if args.write:
        args.write.write_text(report)


if __name__ == "__main__":
    main()
