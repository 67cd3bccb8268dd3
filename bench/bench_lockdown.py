"""Declaration and resolve latency, in process and over HTTP, beside the naive way.

    .venv/bin/python bench/bench_lockdown.py [ACCOUNTS:POSTS ...]   (default 250:2500 10000:100000 100000:1000000)

For each size it seeds a fresh database (ACCOUNTS department accounts, 50 per manager, and 10
approved posts per account due tomorrow), then times, three times each:
  - declare_incident() in process (one BEGIN IMMEDIATE transaction: the incident, the in-flight
    list, the notices and the holding statement), then resolve_incident();
  - POST /api/v1/incidents and its resolve against `lockdown serve` (waitress) in its own process;
  - the naive way: one APScheduler date job per post, paused one by one with pause_job()
    (which, besides, cannot stop a job already handed to its executor).
Prints the medians and the ratio naive / ours.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from common import Seeded, Served, Table, declare_and_resolve, ratio, seed

from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident, resolve_incident
from lockdown.people.users import user_by_email

RUNS = 3
SIZES = [(250, 2_500), (10_000, 100_000), (100_000, 1_000_000)]


def time_in_process(seeded: Seeded) -> tuple[list[float], list[float], int]:
    ctx, config = seeded.ctx, incident_config(seeded.settings)
    press, press2 = user_by_email(ctx.db, "press@livuni.ac.uk"), user_by_email(ctx.db, "press2@livuni.ac.uk")
    declares, resolves, held = [], [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        declared = declare_incident(ctx, config, press, {"title": "Bench", "reason": "bench"})
        declares.append(time.perf_counter() - start)
        held = declared["held_accounts"]
        start = time.perf_counter()
        resolve_incident(ctx, config, press2, declared["id"], {"resume_policy": "skip"})
        resolves.append(time.perf_counter() - start)
    return declares, resolves, held


def time_over_http(seeded: Seeded, folder: Path) -> list[float]:
    server = Served(seeded.env, folder / "serve.log", "--no-scheduler")
    try:
        with requests.Session() as session:
            return [declare_and_resolve(session, server.url, seeded)[0] for _ in range(RUNS)]
    finally:
        server.stop()


def time_naive(posts: int) -> float:
    """One APScheduler date job per post, paused one by one, as a naive hold would."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    run_at = datetime.now(UTC) + timedelta(days=1)
    ids = [scheduler.add_job(print, "date", run_date=run_at, args=[n]).id for n in range(posts)]
    start = time.perf_counter()
    for job_id in ids:
        scheduler.pause_job(job_id)
    elapsed = time.perf_counter() - start
    scheduler.shutdown(wait=False)
    return elapsed


def measure(sizes: list[tuple[int, int]]) -> Table:
    table = Table(
        "Declaring and resolving a lockdown",
        "bench/bench_lockdown.py " + " ".join(f"{a}:{p}" for a, p in sizes),
        ("accounts", "posts", "held", "declare ms", "resolve ms", "declare over HTTP ms", "naive pause ms",
         "naive / ours"),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for accounts, posts in sizes:
            seeded = seed(folder / f"bench-{accounts}.db", accounts, posts)
            declares, resolves, held = time_in_process(seeded)
            http = time_over_http(seeded, folder)
            seeded.ctx.db.close()
            naive = time_naive(posts)
            declare = statistics.median(declares)
            table.rows.append((accounts, posts, held, declare * 1000, statistics.median(resolves) * 1000,
                               statistics.median(http) * 1000, naive * 1000, ratio(naive, declare)))  # fmt: skip
    table.notes.append(
        f"Medians of {RUNS} runs. Declaring costs the same whatever the number of posts: a hold is a rule the "
        "claim reads, not a row per post; it grows with accounts (notices, counting)."
    )
    return table


def main() -> None:
    sizes = [(int(a), int(p)) for a, p in (arg.split(":") for arg in sys.argv[1:])] or SIZES
    print(measure(sizes).markdown())


if __name__ == "__main__":
    main()
