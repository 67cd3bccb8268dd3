"""Crashes: the scheduler and a declaration killed with SIGKILL at random moments, against a real
SQLite file and, for the scheduler, a real (slow) webhook receiver.

Afterwards no post reached the receiver twice, none is lost or stuck, every ``published`` post
really arrived, a declaration is there whole or not at all, and the audit chain verifies. The
kill moments come from a seeded generator: the seed is printed (``pytest -s``) and in every
failure message; set LOCKDOWN_CRASH_SEED to replay one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lockdown.people.users import add_user
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.dispatchers import process_gone
from lockdown.store.migrations import migrate
from lockdown.timeutil import to_iso
from tests.conftest import LOCKDOWN, LOOPBACK, SECRET, VAULT_KEY

SEED = int(os.environ.get("LOCKDOWN_CRASH_SEED") or random.SystemRandom().randrange(2**32))
KEY = audit.audit_key(SECRET.encode())
STAMP = "2026-01-01T00:00:00.000000Z"


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def new_database(path: Path) -> Context:
    db = connect(path)
    migrate(db)
    return Context(db, KEY)


# -- recovery of a dead dispatcher's claims (unit) -------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def seed_due_posts(ctx: Context, count: int) -> list[int]:
    """One manager, one account, ``count`` approved posts due a minute ago."""
    manager, _ = add_user(ctx, "t", name="M", email=f"m{time.monotonic_ns()}@livuni.ac.uk", roles=["manager"])
    due = to_iso(datetime.now(UTC) - timedelta(minutes=1))
    with ctx.change() as change:
        account = ctx.db.conn.execute(
            "INSERT INTO accounts (handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "connector, created_at, updated_at) VALUES (?, ?, 'other', 'U', 'P', '24/7', ?, ?, ?, ?)",
            [f"@livuni_{manager.id}", f"livuni_{manager.id}", manager.id, '{"kind": "outbox"}', STAMP, STAMP],
        ).lastrowid
        ctx.db.conn.executemany(
            "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
            [(account, f"post {n}", due, due, manager.id, f"key-{account}-{n}", STAMP, STAMP) for n in range(count)],
        )
        change.audit("test", "test.seed", "posts", count=count)
    return [row[0] for row in ctx.db.conn.execute("SELECT id FROM posts WHERE account_id = ? ORDER BY id", [account])]


def post_states(ctx: Context, ids: list[int]) -> list[str]:
    marks = ",".join("?" * len(ids))
    return [r[0] for r in ctx.db.conn.execute(f"SELECT state FROM posts WHERE id IN ({marks}) ORDER BY id", ids)]


@pytest.fixture
def crashed(tmp_path: Path) -> Iterator[tuple[Context, Settings, list[int]]]:
    """Two due posts claimed by a dispatcher that marked the first for sending, then died.
    (It ran in this process; its row is then given the pid of a process that is gone.)"""
    ctx = new_database(tmp_path / "c.db")
    settings = Settings.from_env({"LOCKDOWN_DB": str(tmp_path / "c.db"), "LOCKDOWN_SECRET_KEY": SECRET})
    ids = seed_due_posts(ctx, 2)
    victim = Dispatcher(settings, KEY)
    victim.heartbeat()
    first, _second = victim._claim(victim.context())
    assert victim._still_ours(victim.context(), first)
    victim.close()
    yield ctx, settings, ids
    ctx.db.close()


def set_dispatcher(ctx: Context, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    ctx.db.conn.execute(f"UPDATE dispatchers SET {assignments}", list(columns.values()))
    ctx.db.conn.commit()


def test_claims_of_a_dispatcher_whose_process_is_gone_are_recovered_at_once(
    crashed: tuple[Context, Settings, list[int]],
) -> None:
    ctx, settings, ids = crashed
    set_dispatcher(ctx, pid=dead_pid())
    # The second post was marked in an earlier attempt, before a retry: that says nothing
    # about this claim (every retry is claimed afresh).
    ctx.db.conn.execute("UPDATE posts SET sending_at = ? WHERE id = ?", [STAMP, ids[1]])
    ctx.db.conn.commit()
    survivor = Dispatcher(settings, KEY)
    try:
        report = survivor._recover_abandoned(survivor.context())
    finally:
        survivor.close()
    # Well inside the lease: the kernel said the process is gone.
    assert report == (1, 1)
    rows = ctx.db.conn.execute("SELECT state, attempts, claimed_by FROM posts ORDER BY id").fetchall()
    marked, unmarked = (dict(zip(("state", "attempts", "claimed_by"), row, strict=True)) for row in rows)
    assert marked["state"] == "unknown", "it may have reached the platform: a person decides"
    assert unmarked == {"state": "scheduled", "attempts": 0, "claimed_by": None}, "never sent: released as it was"
    actions = [r[0] for r in ctx.db.conn.execute("SELECT action FROM audit_log WHERE actor = 'scheduler'")]
    assert actions.count("post.unknown") == 1
    assert actions.count("post.released") == 1
    assert audit.verify(ctx.db, KEY).ok


@pytest.mark.parametrize(
    ("where", "pid"),
    [
        ("this host, process alive", os.getpid()),
        ("this host, pid 1 (alive; another user's if not root)", 1),
        ("another host", None),
    ],
)
def test_claims_of_a_live_or_remote_dispatcher_wait_for_the_lease(
    crashed: tuple[Context, Settings, list[int]], where: str, pid: int | None
) -> None:
    ctx, settings, ids = crashed
    if pid is None:
        # A dead pid on another host means nothing here: only the lease can tell.
        set_dispatcher(ctx, host="elsewhere", pid=dead_pid())
    else:
        set_dispatcher(ctx, pid=pid)
    survivor = Dispatcher(settings, KEY)
    try:
        assert survivor._recover_abandoned(survivor.context()) == (0, 0), where
        assert post_states(ctx, ids) == ["publishing", "publishing"]
        survivor.clock = lambda: datetime.now(UTC) + timedelta(minutes=3)  # the lease runs out
        assert survivor._recover_abandoned(survivor.context()) == (1, 1), where
    finally:
        survivor.close()
    assert post_states(ctx, ids) == ["unknown", "scheduled"]


def test_a_process_is_gone_only_when_the_kernel_says_so() -> None:
    assert not process_gone(os.getpid())
    assert not process_gone(1)
    assert not process_gone(0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        for _ in range(500):
            if not stat.exists() or stat.read_text().split(") ")[-1].startswith("Z"):
                break
            time.sleep(0.01)
        # Exited but not reaped: a zombie still holds its pid, so it counts as alive.
        assert not process_gone(child.pid)
    finally:
        child.wait()
    assert process_gone(child.pid)


# -- the scheduler killed while sending to a slow receiver ----------------------------------------

POSTS = 400
ACCOUNTS = 4
KILLS = 50


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a killed sender leaves the answer nowhere to go; that is the point


class SlowReceiver:
    """A real webhook receiver in threads: sleeps 50-300 ms (``delay``) per request and records
    every request it reads in full, with the id it answers (201). ``on_request`` runs before the
    answer (a test's fault injection)."""

    def __init__(
        self,
        rng: random.Random,
        delay: tuple[float, float] = (0.05, 0.3),
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.received: list[tuple[str, int, str]] = []  # Idempotency-Key, post id, our id
        self.active = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    remote = f"hook-{len(receiver.received)}"
                    receiver.received.append((self.headers["Idempotency-Key"], body["post_id"], remote))
                    receiver.active += 1
                    pause = rng.uniform(*delay)
                try:
                    if on_request is not None:
                        on_request()
                    time.sleep(pause)
                    answer = json.dumps({"id": remote}).encode()
                    self.send_response(201)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                finally:
                    with receiver.lock:
                        receiver.active -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def in_flight(self) -> int:
        with self.lock:
            return self.active

    def __enter__(self) -> SlowReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_command(args: list[str], env: dict[str, str], log_path: str) -> None:
    """In a child forked from the fork server: the ``lockdown`` command itself (its click entry
    point, so the same code as the installed script), output to a log file."""
    os.environ.update(env)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from lockdown.cli import main

    main(args)


def seed_webhook_posts(db_path: Path, url: str) -> None:
    ctx = new_database(db_path)
    manager, _ = add_user(ctx, "t", name="M", email="m@livuni.ac.uk", roles=["manager"])
    due = to_iso(datetime.now(UTC))
    connector = json.dumps({"kind": "webhook", "url": url})
    with ctx.change() as change:
        ctx.db.conn.executemany(
            "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "connector, created_at, updated_at) VALUES (?, ?, ?, 'other', 'U', 'P', '24/7', ?, ?, ?, ?)",
            [(n, f"@livuni_{n}", f"livuni_{n}", manager.id, connector, STAMP, STAMP) for n in range(1, ACCOUNTS + 1)],
        )
        ctx.db.conn.executemany(
            "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
            [
                (1 + n % ACCOUNTS, f"post {n}", due, due, manager.id, f"idem-{n:04d}", STAMP, STAMP)
                for n in range(POSTS)
            ],
        )
        change.audit("test", "test.seed", "posts", count=POSTS)
    ctx.db.close()


def wait_until_settled(db_path: Path, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(db_path, timeout=10)
        try:
            states = dict(conn.execute("SELECT state, COUNT(*) FROM posts GROUP BY state").fetchall())
        finally:
            conn.close()
        if (not states.get("scheduled") and not states.get("publishing")) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def test_the_scheduler_killed_fifty_times_mid_send_delivers_each_post_at_most_once(tmp_path: Path) -> None:
    print(f"\ncrash seed {SEED} (LOCKDOWN_CRASH_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    db_path = tmp_path / "crash.db"
    env = {
        "LOCKDOWN_DB": str(db_path),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_TICK_SECONDS": "0.1",
        "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK,
    }
    log_path = str(tmp_path / "scheduler.log")
    # The fork server is one clean process with lockdown imported: each scheduler starts in
    # milliseconds (the installed script takes most of a second), so fifty kills fit in CI.
    fork_server = multiprocessing.get_context("forkserver")
    fork_server.set_forkserver_preload(["lockdown.cli", "lockdown.clock.scheduler", "tests.clock.test_crash"])
    kills_mid_request = 0
    with SlowReceiver(random.Random(SEED + 1)) as receiver:
        seed_webhook_posts(db_path, receiver.url)
        for _ in range(KILLS):
            child = fork_server.Process(target=run_command, args=(["scheduler"], env, log_path))
            child.start()
            time.sleep(rng.uniform(0.1, 0.7))
            kills_mid_request += receiver.in_flight() > 0
            child.kill()
            child.join()  # reaped: its pid is gone, as under a service manager
            assert child.exitcode == -signal.SIGKILL, f"seed {SEED}: the scheduler stopped by itself"
        during_kills = wait_until_settled(db_path, 0)
        final = fork_server.Process(target=run_command, args=(["scheduler"], env, log_path))
        final.start()
        try:
            # Far less than the two-minute lease: the killed dispatchers' pids are gone.
            states = wait_until_settled(db_path, 60)
        finally:
            final.terminate()
            final.join()

    print(f"{KILLS} kills, {kills_mid_request} with requests on the wire; states after the kills {during_kills}, "
          f"at the end {states}; {len(receiver.received)} requests received")  # fmt: skip
    assert set(states) <= {"published", "failed", "unknown"}, f"seed {SEED}: {states}"
    assert sum(states.values()) == POSTS
    per_key = Counter(key for key, _, _ in receiver.received)
    twice = {key: n for key, n in per_key.items() if n > 1}
    assert not twice, f"seed {SEED}: delivered more than once: {twice}"
    answered = {key: remote for key, _, remote in receiver.received}
    db = connect(db_path)
    try:
        rows = db.conn.execute("SELECT id, idempotency_key, state, remote_id FROM posts").fetchall()
        for post_id, key, state, remote_id in rows:
            if state == "published":
                assert answered.get(key) == remote_id, f"seed {SEED}: post {post_id} published but not received"
            elif key in answered:
                assert state == "unknown", f"seed {SEED}: post {post_id} received but {state}"
        assert {post_id for _, post_id, _ in receiver.received} <= {row[0] for row in rows}
        released = db.conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'post.released'").fetchone()[0]
        assert audit.verify(db, KEY).ok, f"seed {SEED}"
    finally:
        db.close()
    assert integrity(db_path) == "ok"
    # The kills hit real work: posts on the wire, and claims a dead scheduler never sent.
    assert kills_mid_request >= KILLS // 4, f"seed {SEED}: only {kills_mid_request} kills landed mid-request"
    assert states.get("unknown", 0) > 0
    assert states.get("published", 0) > 0
    assert released > 0
    print(f"claims released after a kill (never sent): {released}")


# -- a declaration killed half way ----------------------------------------------------------------

ACCOUNTS_BIG = 25_000
MANAGERS = 8_000
DECLARE_KILLS = 22
PRESS = "press@livuni.ac.uk"


def seed_register(db_path: Path) -> None:
    """A large register, inserted in bulk: every account held and every manager told means a
    long declaring transaction."""
    ctx = new_database(db_path)
    add_user(ctx, "t", name="Press", email=PRESS, roles=["press"])
    with ctx.change() as change:
        conn = ctx.db.conn
        conn.executemany(
            "INSERT INTO users (id, name, email, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [(1000 + m, f"Manager {m}", f"m{m}@livuni.ac.uk", f"hash-{m}", STAMP) for m in range(MANAGERS)],
        )
        conn.executemany(
            "INSERT INTO user_roles (user_id, role) VALUES (?, 'manager')", [(1000 + m,) for m in range(MANAGERS)]
        )
        conn.executemany(
            "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "central, created_at, updated_at) VALUES (?, ?, ?, 'x', 'Unit', 'Purpose', '24/7', ?, ?, ?, ?)",
            [(n, f"@livuni_{n}", f"livuni_{n}", 1000 + n % MANAGERS, int(n == 1), STAMP, STAMP)
             for n in range(1, ACCOUNTS_BIG + 1)],
        )  # fmt: skip
        change.audit("test", "test.seed", "register", accounts=ACCOUNTS_BIG, managers=MANAGERS)
    ctx.db.close()


def check_declarations(db_path: Path, context: str, checked: set[int]) -> int:
    """Every incident whole (timeline, held scope, notices, draft, audit entry), nothing of a
    missing one left behind, the chain and the file sound. Returns how many incidents exist;
    ``checked`` holds the incidents found whole before (committed rows do not change)."""
    db = connect(db_path)
    try:
        conn = db.conn
        incidents = [row[0] for row in conn.execute("SELECT id FROM incidents ORDER BY id")]
        for incident_id in set(incidents) - checked:
            events = {
                kind: json.loads(details)
                for kind, details in conn.execute(
                    "SELECT kind, details FROM incident_events WHERE incident_id = ?", [incident_id]
                )
            }
            assert {"declared", "held", "notices_queued_declared"} <= set(events), f"{context}: {events}"
            held = conn.execute("SELECT COUNT(*) FROM account_holds WHERE incident_id = ?", [incident_id]).fetchone()[0]
            assert held == events["held"]["accounts"] == ACCOUNTS_BIG, context
            notices = conn.execute("SELECT COUNT(*) FROM notifications WHERE incident_id = ?", [incident_id]).fetchone()
            assert notices[0] == events["notices_queued_declared"]["recipients"] == MANAGERS, context
            drafts = conn.execute("SELECT COUNT(*) FROM incident_messages WHERE incident_id = ?", [incident_id])
            assert drafts.fetchone()[0] == 1, context
            entries = conn.execute(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'incident.declare' AND subject = ?",
                [f"incident:{incident_id}"],
            ).fetchone()[0]
            assert entries == 1, context
            checked.add(incident_id)
        for table in ("incident_events", "notifications", "incident_messages"):
            orphans = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE incident_id IS NOT NULL AND incident_id NOT IN "
                "(SELECT id FROM incidents)"
            ).fetchone()[0]
            assert orphans == 0, f"{context}: {orphans} rows of {table} without their incident"
        declared = conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'incident.declare'").fetchone()[0]
        assert declared == len(incidents), context
        assert audit.verify(db, KEY).ok, context
    finally:
        db.close()
    assert integrity(db_path) == "ok", context
    return len(incidents)


def holds_write_lock(db_path: Path) -> bool:
    """Whether someone is inside a write transaction (probed without waiting)."""
    conn = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def longest_locked_span(samples: list[tuple[float, bool]]) -> tuple[float, float]:
    """The longest run of samples that found the write lock held: the declaring transaction
    (start-up takes the lock briefly too, to check the migrations)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for at, locked in [*samples, (samples[-1][0], False)]:
        if locked and start is None:
            start = at
        elif not locked and start is not None:
            spans.append((start, at))
            start = None
    assert spans, "the declaration was too quick to see"
    return max(spans, key=lambda span: span[1] - span[0])


def test_a_declaration_killed_at_any_moment_leaves_a_whole_incident_or_none(tmp_path: Path) -> None:
    print(f"\ncrash seed {SEED} (LOCKDOWN_CRASH_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    db_path = tmp_path / "declare.db"
    seed_register(db_path)
    env = {"LOCKDOWN_DB": str(db_path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_USER": PRESS}
    installed = subprocess.run(
        [LOCKDOWN, "declare", "--title", "Whole", "--reason", "Crash test"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    checked: set[int] = set()
    assert check_declarations(db_path, "the installed command, uninterrupted", checked) == 1
    fork_server = multiprocessing.get_context("forkserver")
    fork_server.set_forkserver_preload(["lockdown.cli", "lockdown.incidents.declare", "tests.clock.test_crash"])
    log_path = str(tmp_path / "declare.log")

    def declare(title: str) -> Any:
        args = ["declare", "--title", title, "--reason", "Crash test"]
        child = fork_server.Process(target=run_command, args=(args, env, log_path))
        child.start()
        return child

    # Once more whole, watching when its transaction holds the write lock, to aim the kills.
    child, started, samples = declare("Timed"), time.monotonic(), []
    while child.is_alive():
        samples.append((time.monotonic() - started, holds_write_lock(db_path)))
        time.sleep(0.005)
    child.join()
    assert child.exitcode == 0
    assert check_declarations(db_path, "uninterrupted", checked) == 2
    first, last = longest_locked_span(samples)
    margin = (last - first) / 5
    outcomes: Counter[str] = Counter()
    before = 2
    for attempt in range(DECLARE_KILLS):
        child = declare(f"Killed {attempt}")
        # Mostly inside the transaction, some just before it begins or after it commits.
        time.sleep(max(0.0, rng.uniform(first - margin, last + margin)))
        inside = holds_write_lock(db_path)
        child.kill()
        child.join()
        after = check_declarations(
            db_path, f"seed {SEED}, kill {attempt} ({'inside' if inside else 'outside'})", checked
        )
        assert after in (before, before + 1)
        outcomes["committed" if after > before else "inside, rolled back" if inside else "not begun"] += 1
        before = after
    print(f"the transaction held the lock from {first:.2f} s to {last:.2f} s; {DECLARE_KILLS} kills: {dict(outcomes)}")
    assert outcomes["inside, rolled back"] >= DECLARE_KILLS // 4, f"seed {SEED}: too few kills mid-transaction"
