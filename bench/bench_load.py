"""Hold-status reads under concurrent load against the production server, and declaring meanwhile.

    .venv/bin/python bench/bench_load.py [ACCOUNTS] [SECONDS]      (default 10000 accounts, 10 s per run)

Seeds ACCOUNTS accounts with 10 posts each and starts `lockdown serve` (waitress, 8 threads, the
scheduler inside) in its own process. Then, with wrk (Debian's `wrk`: 2 threads, 16 connections,
each request a random account's GET /api/v1/accounts/{id}/hold):
  - reads alone: requests per second, latency p50 and p99;
  - declaration latency alone: 5 declare + resolve cycles over HTTP, median declare;
  - the same reads while 5 declarations run in the middle of the load, and those declarations.
The figures to read are the ratios: what the read load costs a declaration, and what declaring
costs the reads. wrk and the server share this machine's cores, so absolute numbers are modest.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from common import Seeded, Served, Table, declare_and_resolve, seed

CYCLES = 5
CONNECTIONS = 16


def wrk_script(folder: Path, accounts: int, token: str) -> Path:
    """A wrk Lua script asking for a random account's hold status each request."""
    script = folder / "hold.lua"
    script.write_text(
        "math.randomseed(42)\n"
        "request = function()\n"
        f"  local id = math.random(1, {accounts})\n"
        '  return wrk.format("GET", "/api/v1/accounts/" .. id .. "/hold", '
        f'{{["Authorization"] = "Bearer {token}"}})\n'
        "end\n"
    )
    return script


def run_wrk(url: str, script: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"hold reads failed under load:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def declarations(url: str, seeded: Seeded, delay: float = 0.0) -> list[float]:
    time.sleep(delay)
    with requests.Session() as session:
        timings = []
        for _ in range(CYCLES):
            timings.append(declare_and_resolve(session, url, seeded)[0])
            time.sleep(0.3)
        return timings


def measure(accounts: int = 10_000, seconds: int = 10) -> Table:
    if shutil.which("wrk") is None:
        raise SystemExit("bench_load needs wrk: apt-get install wrk")
    table = Table(
        "Hold-status reads under load, and declaring meanwhile",
        f"bench/bench_load.py {accounts} {seconds}",
        ("run", "reads/s", "read p50 ms", "read p99 ms", "declare median ms"),
    )
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seeded = seed(folder / "load.db", accounts, accounts * 10)
        script = wrk_script(folder, accounts, seeded.press_token)
        server = Served(seeded.env, folder / "serve.log")
        try:
            alone = run_wrk(server.url, script, seconds)
            idle = declarations(server.url, seeded)
            found: list[float] = []
            worker = threading.Thread(target=lambda: found.extend(declarations(server.url, seeded, seconds / 4)))
            worker.start()
            loaded = run_wrk(server.url, script, seconds)
            worker.join()
            memory = server.memory_kib()
        finally:
            server.stop()
            seeded.ctx.db.close()
    idle_ms, loaded_ms = statistics.median(idle) * 1000, statistics.median(found) * 1000
    table.rows += [
        ("reads alone", alone["rps"], alone["p50"], alone["p99"], "-"),
        ("declarations alone", "-", "-", "-", idle_ms),
        ("reads while declaring", loaded["rps"], loaded["p50"], loaded["p99"], loaded_ms),
    ]
    table.notes += [
        f"{accounts:,} accounts, {accounts * 10:,} posts; wrk -t2 -c{CONNECTIONS}, {seconds} s per run; "
        f"{CYCLES} declare + resolve cycles per run. No read failed.",
        f"A declaration under read load took {loaded_ms / idle_ms:.1f}x its time alone; "
        f"reads kept {loaded['rps'] / alone['rps']:.0%} of their rate while declaring.",
        f"Server resident memory after the runs: {memory['VmRSS'] / 1024:.0f} MiB (peak {memory['VmHWM'] / 1024:.0f}).",
    ]
    return table


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    print(measure(*args).markdown())


if __name__ == "__main__":
    main()
