"""Declaration and resolve latency, in process and over HTTP, beside the naive way.

    .venv/bin/python bench/lockdown.py [ACCOUNTS:POSTS ...]   (default 250:2500 10000:100000 100000:1000000)

For each size it seeds a fresh database (ACCOUNTS department accounts, 50 per manager, and POSTS
approved posts due tomorrow), then times, three times each:
  - declare_incident() in process (one BEGIN IMMEDIATE transaction: the incident, the in-flight
    list, the notices and the holding statement), then resolve_incident();
  - POST /api/v1/incidents against the app served by waitress on a local port;
  - the naive way: one APScheduler date job per post, paused one by one with pause_job()
    (which, besides, cannot stop a job already handed to its executor).
Prints the medians and the ratio naive / ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# lockdown package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import socket
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import requests
import waitress.server
from apscheduler.schedulers.background import BackgroundScheduler

from lockdown import audit
from lockdown.app import create_app
from lockdown.context import Context
from lockdown.db import connect
from lockdown.incidents import declare_incident, incident_config, resolve_incident
from lockdown.migrations import migrate
from lockdown.settings import Settings
from lockdown.timeutil import to_iso
from lockdown.users import add_user

SECRET = "bench-secret-" + "k" * 40
RUNS = 3


def seed(path: Path, accounts: int, posts: int) -> tuple[Settings, Context, str]:
    settings = Settings.from_env({"LOCKDOWN_DB": str(path), "LOCKDOWN_SECRET_KEY": SECRET})
    db = connect(path)
    migrate(db)
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    _, press_token = add_user(ctx, "bench", name="Press", email="press@livuni.ac.uk", roles=["press"])
    add_user(ctx, "bench", name="Press 2", email="press2@livuni.ac.uk", roles=["press"])
    stamp = to_iso(datetime.now(UTC))
    due = to_iso(datetime.now(UTC) + timedelta(days=1))
    with ctx.change() as change:
        managers = max(1, accounts // 50)
        db.conn.executemany(
            "INSERT INTO users (id, name, email, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [(1000 + n, f"M{n}", f"m{n}@livuni.ac.uk", uuid.uuid4().hex, stamp) for n in range(managers)],
        )
        db.conn.executemany(
            "INSERT INTO user_roles (user_id, role) VALUES (?, 'manager')", [(1000 + n,) for n in range(managers)]
        )
        db.conn.executemany(
            "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "central, created_at, updated_at) VALUES (?, ?, ?, 'x', 'U', 'P', '24/7', ?, ?, ?, ?)",
            [
                (n, f"@livuni_{n}", f"livuni_{n}", 1000 + n % managers, int(n <= 3), stamp, stamp)
                for n in range(1, accounts + 1)
            ],
        )
        batch = 100_000
        for start in range(0, posts, batch):
            db.conn.executemany(
                "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
                "created_at, updated_at) VALUES (?, 'Open day', ?, ?, 'scheduled', 1000, ?, ?, ?)",
                [
                    (1 + n % accounts, due, due, uuid.uuid4().hex, stamp, stamp)
                    for n in range(start, min(posts, start + batch))
                ],
            )
        change.audit("bench", "bench.seed", "all", accounts=accounts, posts=posts)
    return settings, ctx, press_token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def time_in_process(settings: Settings, ctx: Context) -> tuple[list[float], list[float], int]:
    config = incident_config(settings)
    users = {row[0]: row[1] for row in ctx.db.conn.execute("SELECT email, id FROM users")}
    from lockdown.users import user_by_email

    press, press2 = user_by_email(ctx.db, "press@livuni.ac.uk"), user_by_email(ctx.db, "press2@livuni.ac.uk")
    del users
    declares, resolves, held = [], [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        declared = declare_incident(ctx, config, press, {"title": "Bench", "reason": "bench"})
        declares.append(time.perf_counter() - start)
        held = declared["held_accounts"]
        start = time.perf_counter()
        resolve_incident(ctx, config, press2, declared["id"], {})
        resolves.append(time.perf_counter() - start)
    return declares, resolves, held


def time_over_http(settings: Settings, token: str) -> list[float]:
    app = create_app(settings)
    port = free_port()
    server = waitress.server.create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"
    for _ in range(50):
        try:
            session.get(f"{base}/healthz", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = session.post(f"{base}/api/v1/incidents", json={"title": "Bench", "reason": "bench"}, headers=headers)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 201, response.text
        incident = response.json()["id"]
        # The second press officer's token is not at hand here; resolve in process instead.
        db = connect(settings.db_path)
        db.conn.execute("UPDATE incidents SET status = 'resolved' WHERE id = ?", [incident])
        db.conn.commit()
        db.close()
    server.close()
    session.close()
    return timings


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


def main() -> None:
    sizes = [tuple(int(x) for x in arg.split(":")) for arg in sys.argv[1:]] or [
        (250, 2_500),
        (10_000, 100_000),
        (100_000, 1_000_000),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for accounts, posts in sizes:
            settings, ctx, token = seed(Path(folder) / f"bench-{accounts}.db", accounts, posts)
            declares, resolves, held = time_in_process(settings, ctx)
            http = time_over_http(settings, token)
            ctx.db.close()
            naive = time_naive(posts)
            rows.append((accounts, posts, held, statistics.median(declares), statistics.median(resolves),
                         statistics.median(http), naive))  # fmt: skip
    print(f"{'accounts':>9}{'posts':>10}{'held':>8}{'declare ms':>12}{'resolve ms':>12}{'HTTP ms':>10}"
          f"{'naive ms':>11}{'naive/ours':>12}")  # fmt: skip
    for accounts, posts, held, declare, resolve, http, naive in rows:
        print(
            f"{accounts:>9}{posts:>10}{held:>8}{declare * 1000:>12.1f}{resolve * 1000:>12.1f}{http * 1000:>10.1f}"
            f"{naive * 1000:>11.0f}{naive / declare:>11.0f}x"
        )


if __name__ == "__main__":
    main()
