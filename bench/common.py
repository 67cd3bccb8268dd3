"""What the benchmarks share: a results table, a seeded database, and `lockdown serve` as a process."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from lockdown.people.users import add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from lockdown.timeutil import to_iso

SECRET = "bench-secret-" + "k" * 40
VAULT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
LOCKDOWN = Path(sys.executable).with_name("lockdown")


@dataclass
class Table:
    """One benchmark's figures: a title, column names, rows, and what to read from them."""

    title: str
    command: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", f"`{self.command}`", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(naive: float, ours: float) -> str:
    """How many times ours beats the naive way (one decimal below ten)."""
    if ours <= 0:
        return "-"
    times = naive / ours
    return f"{times:.1f}x" if times < 10 else f"{times:,.0f}x"


@dataclass
class Seeded:
    settings: Settings
    ctx: Context
    press_token: str
    press2_token: str
    env: dict[str, str]


def seed(path: Path, accounts: int, posts: int) -> Seeded:
    """A register of ``accounts`` department accounts (50 per manager, 3 central) and ``posts``
    approved posts due tomorrow, written in bulk; two press officers with API tokens."""
    env = {"LOCKDOWN_DB": str(path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    settings = Settings.from_env(env)
    db = connect(path)
    migrate(db)
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    _, press_token = add_user(ctx, "bench", name="Press", email="press@livuni.ac.uk", roles=["press"])
    _, press2_token = add_user(ctx, "bench", name="Press 2", email="press2@livuni.ac.uk", roles=["press"])
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
    return Seeded(settings, ctx, press_token, press2_token, env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Served:
    """`lockdown serve` (waitress, with its scheduler) as its own process, as in production."""

    def __init__(self, env: dict[str, str], log: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [str(LOCKDOWN), "serve", "--port", str(self.port), *extra],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(600):
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("lockdown serve did not start: " + log.read_text())

    def memory_kib(self) -> dict[str, int]:
        """Resident memory now and at its peak, from /proc (VmRSS, VmHWM)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        values = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
        return values

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


def declare_and_resolve(session: requests.Session, url: str, seeded: Seeded) -> tuple[float, float]:
    """One declaration and its resolve over HTTP by two press officers; seconds each."""
    start = time.perf_counter()
    declared = session.post(
        f"{url}/api/v1/incidents",
        json={"title": "Bench", "reason": "bench"},
        headers={"Authorization": f"Bearer {seeded.press_token}"},
    )
    declare = time.perf_counter() - start
    assert declared.status_code == 201, declared.text
    start = time.perf_counter()
    resolved = session.post(
        f"{url}/api/v1/incidents/{declared.json()['id']}/resolve",
        json={"resume_policy": "skip"},
        headers={"Authorization": f"Bearer {seeded.press2_token}"},
    )
    assert resolved.status_code == 200, resolved.text
    return declare, time.perf_counter() - start
