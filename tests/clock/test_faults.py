"""Faults: the scheduler fails closed (nothing is dispatched while the hold state cannot be read
or trusted), says so in /healthz and the log, and recovers by itself when the fault clears.

Each test drives the scheduler's own dispatch job (``build_scheduler``'s "dispatch" job: the
real tick, wrapped as APScheduler runs it) against a real SQLite file, a real local webhook
receiver and the app's /healthz.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlite_utils import Database

import lockdown.posting.dispatch
from lockdown.app import create_app
from lockdown.clock.scheduler import build_scheduler
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.notify import delivery as notify_delivery
from lockdown.people.users import User, add_user
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.timeutil import to_iso
from tests.clock.test_crash import STAMP, SlowReceiver
from tests.conftest import LOOPBACK, SECRET, free_port

KEY = audit.audit_key(SECRET.encode())


@dataclass
class Faults:
    """What the dispatcher's new connections suffer from (see ``faulty_connect``)."""

    full: bool = False
    read_only: bool = False


@dataclass
class World:
    settings: Settings
    dispatcher: Dispatcher
    dispatch_job: Callable[[], None]
    notification_job: Callable[[], None]
    client: FlaskClient
    ctx: Context
    receiver: SlowReceiver
    press: User
    faults: Faults
    on_request: list[Callable[[], None]] = field(default_factory=list)

    def tick(self) -> None:
        """One run of the scheduler's dispatch job, as APScheduler would run it."""
        self.dispatch_job()

    def health(self) -> tuple[int, dict[str, Any]]:
        response = self.client.get("/healthz")
        body: dict[str, Any] = response.json
        return response.status_code, body

    def states(self, *post_ids: int) -> list[str]:
        return [self.post(post_id)["state"] for post_id in post_ids]

    def post(self, post_id: int) -> dict[str, Any]:
        row = self.ctx.db.conn.execute(
            "SELECT state, attempts, error, idempotency_key FROM posts WHERE id = ?", [post_id]
        ).fetchone()
        return dict(zip(("state", "attempts", "error", "key"), row, strict=True))

    def received(self) -> Counter[int]:
        return Counter(post_id for _, post_id, _ in self.receiver.received)

    def account(self, central: bool = False) -> int:
        """An account whose connector posts to the receiver."""
        connector = json.dumps({"kind": "webhook", "url": self.receiver.url})
        with self.ctx.change() as change:
            account_id = int(
                self.ctx.db.conn.execute(
                    "INSERT INTO accounts (handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
                    "central, connector, created_at, updated_at) "
                    "VALUES ('@livuni_x', 'livuni_x' || random(), 'other', 'U', 'P', '24/7', ?, ?, ?, ?, ?)",
                    [self.press.id, int(central), connector, STAMP, STAMP],
                ).lastrowid
                or 0
            )
            change.audit("test", "test.account", f"account:{account_id}")
        return account_id

    def due_post(self, account_id: int) -> int:
        """An approved post on the account that fell due a moment ago."""
        due = to_iso(datetime.now(UTC) - timedelta(seconds=5))
        with self.ctx.change() as change:
            post_id = int(
                self.ctx.db.conn.execute(
                    "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
                    "created_at, updated_at) VALUES (?, 'Open day', ?, ?, 'scheduled', ?, hex(randomblob(16)), ?, ?)",
                    [account_id, due, due, self.press.id, STAMP, STAMP],
                ).lastrowid
                or 0
            )
            change.audit("test", "test.post", f"post:{post_id}")
        return post_id


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    settings = Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "faults.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK,
            # Far shorter than the 5 s default, so a locked database fails the tick quickly.
            "LOCKDOWN_BUSY_TIMEOUT": "0.3",
            # Nowhere listens: the notification job fails fast and stays out of the way.
            "LOCKDOWN_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        }
    )
    faults = Faults()
    real_connect = lockdown.posting.dispatch.connect

    def faulty_connect(path: Path | str, *, busy_timeout: float = 5.0) -> Database:
        """The dispatcher's connections, with the simulated fault of the moment."""
        if faults.read_only:
            # What SQLite does on a read-only file system (or a file it may not write): it
            # opens the file read-only, and every write fails with SQLITE_READONLY.
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_timeout)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            return Database(conn)
        db = real_connect(path, busy_timeout=busy_timeout)
        if faults.full:
            # The file may not grow past its current size: any write needing a new page fails
            # with SQLITE_FULL, "database or disk is full", as on a full disk.
            db.execute("PRAGMA max_page_count = 1")
        return db

    monkeypatch.setattr(lockdown.posting.dispatch, "connect", faulty_connect)
    app = create_app(settings)
    app.config["TESTING"] = True
    db = connect(settings.db_path)
    # No free pages: a write that needs room must grow the file (and meet a full disk).
    db.execute("VACUUM")
    ctx = Context(db, KEY)
    press, _ = add_user(ctx, "t", name="Press", email="press@livuni.ac.uk", roles=["press"])
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    hooks: list[Callable[[], None]] = []

    def on_request() -> None:
        while hooks:
            hooks.pop(0)()

    with SlowReceiver(random.Random(7), delay=(0.0, 0.0), on_request=on_request) as receiver:
        yield World(
            settings,
            dispatcher,
            scheduler.get_job("dispatch").func,
            scheduler.get_job("notifications").func,
            app.test_client(),
            ctx,
            receiver,
            press,
            faults,
            hooks,
        )
    dispatcher.close()
    db.close()


def assert_failing(world: World, message: str) -> dict[str, Any]:
    status, body = world.health()
    assert status == 503, body
    assert body["ok"] is False
    scheduler = body["scheduler"]
    assert scheduler["state"] == "failing"
    assert scheduler["refusing"] is False
    assert message in scheduler["last_error"]
    assert scheduler["last_error"].startswith("dispatch tick: ")
    return scheduler


def assert_healthy(world: World) -> dict[str, Any]:
    status, body = world.health()
    assert status == 200, body
    assert body["ok"] is True
    assert body["database"] == "ok"
    assert body["scheduler"]["state"] == "ok"
    scheduler: dict[str, Any] = body["scheduler"]
    return scheduler


def test_a_locked_database_stops_dispatch_until_the_lock_is_released(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Another connection holds ``BEGIN EXCLUSIVE`` for longer than the busy timeout."""
    account = world.account()
    posts = [world.due_post(account) for _ in range(3)]
    locker = sqlite3.connect(world.settings.db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.ERROR, logger="lockdown.clock.scheduler"):
            world.tick()
        assert "dispatch tick failed" in caplog.text
        assert "database is locked" in caplog.text
        assert world.receiver.received == []
        # /healthz can still read (WAL readers are not blocked) and says dispatch is failing.
        assert_failing(world, "database is locked")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert world.states(*posts) == ["scheduled"] * 3
    world.tick()
    assert world.states(*posts) == ["published"] * 3
    assert world.received() == Counter(posts)
    healthy = assert_healthy(world)
    assert "database is locked" in healthy["last_error"], "the last error stays visible, with its time"
    assert healthy["since"] >= healthy["last_error_at"]


def test_a_lock_taken_mid_send_loses_no_post_and_sends_none_twice(world: World) -> None:
    """The lock arrives while posts are on the wire: their results cannot be recorded. Once the
    lock is gone, a post that was sent becomes unknown (never sent again); one not yet marked
    for sending is released and sent."""
    account = world.account()
    posts = [world.due_post(account) for _ in range(6)]
    locker = sqlite3.connect(world.settings.db_path, isolation_level=None, check_same_thread=False)
    world.on_request.append(lambda: locker.execute("BEGIN EXCLUSIVE"))
    world.tick()
    sent_under_lock = set(world.received())
    assert sent_under_lock, "the first request took the lock"
    assert_failing(world, "database is locked")
    locker.execute("ROLLBACK")
    locker.close()
    world.tick()
    states = dict(zip(posts, world.states(*posts), strict=True))
    assert max(world.received().values()) == 1, "no post reached the receiver twice"
    assert set(world.received()) == set(posts), "none lost"
    for post_id, state in states.items():
        # Sent but not recorded under the lock: nobody knows if it arrived; a person decides.
        # Not sent under the lock (its sending mark could not be written): released and sent.
        assert state in (("unknown", "published") if post_id in sent_under_lock else ("published",)), state
    first = world.receiver.received[0][1]
    assert states[first] == "unknown", "the request that met the lock could not record its answer"
    assert_healthy(world)
    assert audit.verify(world.ctx.db, KEY).ok


def test_a_full_disk_fails_the_tick_cleanly_and_nothing_is_sent_twice_when_space_returns(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk, simulated with ``PRAGMA max_page_count`` on every connection the dispatcher
    opens (a tmpfs of a few kilobytes needs root and a mount, which CI does not give; and SQLite
    reports both the same way, SQLITE_FULL). The claim of a batch needs new pages for its audit
    entries, so it fails whole: nothing is claimed, nothing is sent."""
    account = world.account()
    posts = [world.due_post(account) for _ in range(60)]
    world.faults.full = True
    world.dispatcher.renew_connections()
    with caplog.at_level(logging.ERROR, logger="lockdown.clock.scheduler"):
        world.tick()
        world.tick()
    assert "database or disk is full" in caplog.text
    assert world.receiver.received == []
    assert set(world.states(*posts)) == {"scheduled"}, "no claim survived the failed transaction"
    assert_failing(world, "database or disk is full")
    world.faults.full = False  # space returns; the failed tick renewed the connections
    world.tick()
    assert set(world.states(*posts)) == {"published"}
    assert world.received() == Counter(posts), "each post sent exactly once"
    assert_healthy(world)
    assert audit.verify(world.ctx.db, KEY).ok


def test_a_read_only_database_stops_dispatch_and_recovers_on_fresh_connections(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only database, simulated by opening the dispatcher's connections with SQLite's
    ``mode=ro``. That is exactly what SQLite does on a read-only file system: a file it cannot
    open for writing is opened read-only, and every write fails with SQLITE_READONLY. (A real
    read-only remount is refused while any process has the file open for writing, so a
    scheduler meets one when it opens, or reopens, the file; file permissions do not stop root.)
    Such a connection stays read-only after the file system is writable again: the tick renews
    its connections after any database error, or it would never recover."""
    account = world.account()
    posts = [world.due_post(account) for _ in range(3)]
    world.faults.read_only = True
    world.dispatcher.renew_connections()
    with caplog.at_level(logging.ERROR, logger="lockdown.clock.scheduler"):
        world.tick()
    assert "attempt to write a readonly database" in caplog.text
    assert world.receiver.received == []
    assert world.states(*posts) == ["scheduled"] * 3
    assert_failing(world, "readonly database")
    world.faults.read_only = False
    world.tick()
    assert world.states(*posts) == ["published"] * 3
    assert world.received() == Counter(posts)
    assert_healthy(world)


def plant(db_path: Path, statement: str) -> None:
    """Write a row the schema's CHECK constraints would refuse (as corruption or a careless
    manual edit would)."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("corruption", "repair", "leaks"),
    [
        # leaks: without the check, the held account's post would go out.
        ("UPDATE incidents SET status = 'Active'", "UPDATE incidents SET status = 'active'", True),
        ("UPDATE incidents SET status = 'active '", "UPDATE incidents SET status = 'active'", True),
        ("UPDATE incidents SET scope = 'everything'", "UPDATE incidents SET scope = 'all'", True),
        ("UPDATE incidents SET scope = 'tagged', scope_tag = NULL", "UPDATE incidents SET scope = 'all'", True),
        ("UPDATE incidents SET scope = 'named', named_account_id = NULL", "UPDATE incidents SET scope = 'all'", True),
        ("UPDATE incidents SET hold_central = 2", "UPDATE incidents SET hold_central = 0", False),
        (
            "UPDATE accounts SET central = 7 WHERE central = 0",
            "UPDATE accounts SET central = 0 WHERE central = 7",
            True,
        ),
        ("UPDATE accounts SET tags = '{not json' WHERE central = 1", "UPDATE accounts SET tags = '[]'", False),
        ("UPDATE accounts SET tags = '\"drill\"' WHERE central = 1", "UPDATE accounts SET tags = '[]'", False),
    ],
)
def test_a_corrupt_hold_row_stops_all_dispatch_until_repaired(
    world: World, caplog: pytest.LogCaptureFixture, corruption: str, repair: str, leaks: bool
) -> None:
    """A severe-weather incident holds every account but the central one. A row the hold views
    cannot read as intended must stop everything, not quietly lift a hold."""
    held_account, central_account = world.account(), world.account(central=True)
    held = world.due_post(held_account)
    declare_incident(world.ctx, incident_config(world.settings), world.press,
                     {"title": "Storm", "reason": "Red warning", "playbook": "severe-weather"})  # fmt: skip
    world.tick()
    central = world.due_post(central_account)
    plant(world.settings.db_path, corruption)
    if leaks:
        still_held = world.ctx.db.conn.execute(
            "SELECT COUNT(*) FROM account_holds WHERE account_id = ?", [held_account]
        ).fetchone()[0]
        assert still_held == 0, "the views alone would have lifted the hold"
    with caplog.at_level(logging.ERROR, logger="lockdown.posting.dispatch"):
        world.tick()
    assert "hold state not trustworthy" in caplog.text
    assert world.receiver.received == [], "fail closed: not even the central account's post"
    assert world.states(held, central) == ["scheduled", "scheduled"]
    status, body = world.health()
    assert status == 503
    assert body["scheduler"]["state"] == "refusing"
    assert body["scheduler"]["refusing"] is True
    assert "hold state not trustworthy" in body["scheduler"]["last_error"]
    plant(world.settings.db_path, repair)
    world.tick()
    assert world.states(held, central) == ["scheduled", "published"], "dispatch resumes; the hold stands"
    assert world.received() == Counter([central])
    assert_healthy(world)


def test_a_row_corrupted_between_claim_and_send_stops_the_send(world: World) -> None:
    """The claim and the sending mark ask the same questions in their own statements, under the
    write lock: corruption that lands mid-tick, after the tick's check, still stops a send."""
    post = world.due_post(world.account())
    (claimed,) = world.dispatcher._claim(world.dispatcher.context())
    plant(
        world.settings.db_path,
        "INSERT INTO incidents (title, playbook, reason, status, scope, hold_central, resume_policy, "
        "declared_by, declared_at) "
        f"VALUES ('Storm', 'live-incident', 'R', 'ACTIVE', 'all', 1, 'review', {world.press.id}, '{STAMP}')",
    )
    assert world.dispatcher._send(claimed) == "returned"
    assert world.states(post) == ["scheduled"]
    assert world.dispatcher._claim(world.dispatcher.context()) == [], "nor is it claimed again"
    assert world.receiver.received == []


def test_the_hold_check_costs_little_and_sees_a_sound_register_as_sound(world: World) -> None:
    account = world.account()
    for _ in range(200):
        world.due_post(account)
    declare_incident(world.ctx, incident_config(world.settings), world.press, {"title": "T", "reason": "R"})
    from lockdown.posting.hold_check import hold_state_fault

    started = time.perf_counter()
    assert hold_state_fault(world.ctx.db, to_iso(datetime.now(UTC))) is None
    assert time.perf_counter() - started < 0.5


class SilentMailServer:
    """Accepts connections and never says a word: the worst kind of mail server outage."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_silent_mail_server_neither_slows_a_declaration_nor_dispatch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notices are queued in the declaring transaction and sent by their own job, so a mail
    server that hangs delays nothing else; its notices are retried with backoff. (Retry
    mechanics in detail: tests/notify/test_notify_delivery.py, test_smtp_down_is_retried_then_delivered
    _when_back; notices per manager: tests/incidents/test_incident_side_effects.py.)"""
    mail = SilentMailServer()
    monkeypatch.setattr(notify_delivery, "SMTP_TIMEOUT_SECONDS", 1.0)
    world.settings = settings = Settings.from_env(
        {"LOCKDOWN_DB": str(world.settings.db_path), "LOCKDOWN_SECRET_KEY": SECRET,
         "LOCKDOWN_SMTP_URL": f"smtp://127.0.0.1:{mail.port}", "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK}
    )  # fmt: skip
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    try:
        held_account, central_account = world.account(), world.account(central=True)
        held = world.due_post(held_account)
        started = time.monotonic()
        storm = {"title": "Storm", "reason": "Red warning", "playbook": "severe-weather"}
        declared = declare_incident(world.ctx, incident_config(settings), world.press, storm)
        assert time.monotonic() - started < 1.0
        assert declared["held_accounts"] == 1
        central = world.due_post(central_account)
        mailing = threading.Thread(target=scheduler.get_job("notifications").func)
        mailing.start()
        started = time.monotonic()
        scheduler.get_job("dispatch").func()
        took = time.monotonic() - started
        assert mailing.is_alive(), "the notification job is still waiting for the mail server"
        mailing.join()
        assert took < 1.0
        assert world.states(held, central) == ["scheduled", "published"], "the hold stands; the rest goes out"
        first = notice(world.ctx)
        assert (first["state"], first["attempts"]) == ("pending", 1)
        assert first["next_attempt_at"] > to_iso(datetime.now(UTC))
        assert f"127.0.0.1:{mail.port}" in first["error"]
        # An hour on, the notice is due again and the server still silent: tried, and put off.
        later = Context(world.ctx.db, KEY, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
        notify_delivery.deliver_due(later, settings)
        second = notice(world.ctx)
        assert (second["state"], second["attempts"]) == ("pending", 2)
        assert second["next_attempt_at"] > first["next_attempt_at"]
        assert world.health()[0] == 200, "a mail outage is not a dispatch fault"
    finally:
        dispatcher.close()
        mail.close()


def notice(ctx: Context) -> dict[str, Any]:
    row = ctx.db.conn.execute(
        "SELECT state, attempts, next_attempt_at, error FROM notifications WHERE channel = 'email'"
    ).fetchone()
    return dict(zip(("state", "attempts", "next_attempt_at", "error"), row, strict=True))
