"""Resident memory of `lockdown serve` with a large register, beside the naive in-memory schedule.

    .venv/bin/python bench/bench_memory.py [ACCOUNTS] [POSTS]      (default 100000 accounts, 1000000 posts)

Seeds the database, starts `lockdown serve` (waitress, the scheduler inside) in its own process,
reads its resident memory (VmRSS) once started, then after work that touches the whole register:
pages through every account, reads a thousand hold statuses, declares and resolves twice. Peak
is VmHWM. The naive design keeps one APScheduler date job per post in memory; its cost is measured
in a child process holding POSTS jobs (the same number of posts).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

import requests
from common import Served, Table, declare_and_resolve, ratio, seed

NAIVE = """
import resource, sys
from datetime import UTC, datetime, timedelta
from apscheduler.schedulers.background import BackgroundScheduler
scheduler = BackgroundScheduler(timezone="UTC")
scheduler.start(paused=True)
run_at = datetime.now(UTC) + timedelta(days=1)
for n in range(int(sys.argv[1])):
    scheduler.add_job(print, "date", run_date=run_at, args=[n])
print(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
"""


def naive_kib(posts: int) -> int:
    """Resident memory of a process holding one APScheduler date job per post."""
    out = subprocess.run([sys.executable, "-c", NAIVE, str(posts)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def exercise(server: Served, token: str, accounts: int, session: requests.Session) -> None:
    """Touch the whole register the way people and scripts do."""
    headers = {"Authorization": f"Bearer {token}"}
    cursor = None
    while True:
        page = session.get(
            f"{server.url}/api/v1/accounts", params={"limit": 500, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        ).json()  # fmt: skip
        cursor = page.get("next")
        if not cursor:
            break
    rng = random.Random(7)
    for _ in range(1000):
        assert session.get(f"{server.url}/api/v1/accounts/{rng.randint(1, accounts)}/hold", headers=headers).ok


def measure(accounts: int = 100_000, posts: int = 1_000_000) -> Table:
    table = Table(
        "Memory of the service with a large register",
        f"bench/bench_memory.py {accounts} {posts}",
        ("process", "accounts", "posts", "resident MiB", "peak MiB", "naive / ours"),
    )
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seeded = seed(folder / "memory.db", accounts, posts)
        server = Served(seeded.env, folder / "serve.log")
        try:
            started = server.memory_kib()
            with requests.Session() as session:
                exercise(server, seeded.press_token, accounts, session)
                for _ in range(2):
                    declare_and_resolve(session, server.url, seeded)
            after = server.memory_kib()
        finally:
            server.stop()
            seeded.ctx.db.close()
    naive = naive_kib(posts)
    table.rows += [
        ("lockdown serve, started", accounts, posts, started["VmRSS"] / 1024, started["VmHWM"] / 1024, "-"),
        ("lockdown serve, after work", accounts, posts, after["VmRSS"] / 1024, after["VmHWM"] / 1024,
         ratio(naive, after["VmHWM"])),
        ("naive: one APScheduler job per post", 0, posts, naive / 1024, naive / 1024, "1x"),
    ]  # fmt: skip
    table.notes.append(
        "The service keeps posts in SQLite, not in memory, so its size follows the pages it serves, not the "
        "register; SQLite's page cache is per connection and bounded."
    )
    return table


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    print(measure(*args).markdown())


if __name__ == "__main__":
    main()
