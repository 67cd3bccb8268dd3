"""A primary killed during an incident, a standby promoted from its Litestream replica (issue 18).

Real processes on real files: `lockdown serve` (scheduler on, outbox connector) and `lockdown
replicate` (the real Litestream binary) on a primary database with a folder replica; both killed
with SIGKILL just after a second declaration; `lockdown standby promote` on another database
path; `lockdown serve` on the standby; then the old primary started again against the same
replica folder. The whole story runs once (a module-scoped fixture) and each test reads one part.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from lockdown.people.users import add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from lockdown.timeutil import parse_iso, to_iso
from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY, free_port

KEY = audit.audit_key(SECRET.encode())
STAMP = "2026-01-01T00:00:00.000000Z"
ACCOUNTS = 4  # account 1 is central (@livuni); 2 to 4 are departments


def environment(db: Path, replica: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCKDOWN_")}
    return env | {
        "LOCKDOWN_DB": str(db),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_REPLICA_URL": str(replica),
        "LOCKDOWN_TICK_SECONDS": "0.2",
        "LOCKDOWN_INCIDENT_BUSY_RETRY": "0",
    }


@dataclass
class Process:
    """A `lockdown` command running in its own folder, its output kept in a file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen([LOCKDOWN, *self.args], env=self.env, stdout=out, stderr=out)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_serving(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                requests.get(f"{self.base}/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("not serving: " + self.log.read_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def serve(db: Path, replica: Path, log: Path) -> Process:
    port = free_port()
    process = Process(["serve", "--port", str(port)], environment(db, replica), log, port)
    process.wait_serving()
    return process


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    """Poll until ``check()`` is truthy; the timeout only ends a hung test, nothing is timed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {what}")


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def seed(db: Path) -> dict[str, str]:
    """A press officer, a manager, one central and three department accounts on the outbox."""
    ctx = Context(connect(db), KEY)
    migrate(ctx.db)
    _, press = add_user(ctx, "t", name="Priya", email="press@livuni.ac.uk", roles=["press"])
    _, manager = add_user(ctx, "t", name="Dan", email="manager@livuni.ac.uk", roles=["manager"])
    with ctx.change() as change:
        ctx.db.conn.executemany(
            "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "central, connector, created_at, updated_at) VALUES (?, ?, ?, 'x', 'U', 'P', '24/7', 2, ?, "
            '\'{"kind": "outbox"}\', ?, ?)',
            [(n, f"@livuni_{n}", f"livuni_{n}", int(n == 1), STAMP, STAMP) for n in range(1, ACCOUNTS + 1)],
        )
        change.audit("test", "test.seed", "accounts", count=ACCOUNTS)
    ctx.db.close()
    return {"press": press, "manager": manager}


def add_posts(db: Path, account: int, dues: list[datetime]) -> list[int]:
    """Approved posts, scheduled at ``dues``, written with their audit entry."""
    ctx = Context(connect(db), KEY)
    try:
        with ctx.change() as change:
            ids = [
                int(
                    ctx.db.conn.execute(
                        "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, "
                        "idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, 'scheduled', 2, ?, ?, ?)",
                        [account, f"post due {to_iso(due)}", to_iso(due), to_iso(due), os.urandom(8).hex(), STAMP,
                         STAMP],
                    ).lastrowid
                    or 0
                )
                for due in dues
            ]  # fmt: skip
            change.audit("test", "test.seed", "posts", ids=ids)
    finally:
        ctx.db.close()
    return ids


def running_with(text: str) -> list[int]:
    """Processes whose command line names ``text`` (this test's own files)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and "litestream" in cmdline:
                found.append(int(entry.name))
    return found


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Story:
    folder: Path
    primary: Path
    replica: Path
    standby: Path
    tokens: dict[str, str]
    health_while_replicating: dict[str, Any]
    metrics_while_replicating: str
    first_incident: int
    last_incident: int
    last_declared_at: datetime
    published_on_primary: list[int]
    due_in_window: list[int]
    promote_output: str
    promote_status: int
    standby_base: str = ""
    standby_process: Process | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    folder = tmp_path_factory.mktemp("standby")
    primary, replica, standby = (
        folder / "primary" / "lockdown.db",
        folder / "replica",
        folder / "standby" / "lockdown.db",
    )
    replica.mkdir()
    tokens = seed(primary)
    now = datetime.now(UTC)
    published = add_posts(primary, 3, [now - timedelta(seconds=1)])  # goes out on the primary
    # Due after the kill: the standby must not send these before a press officer confirms.
    add_posts(primary, 4, [now + timedelta(minutes=5)])
    replicate = Process(["replicate"], environment(primary, replica), folder / "replicate.log")
    server = serve(primary, replica, folder / "primary.log")
    processes = [replicate, server]
    try:
        wait_for("the first post published", lambda: rows(primary, "SELECT 1 FROM posts WHERE state = 'published'"))
        health = wait_for(
            "the lag reported",
            lambda: (
                (h := requests.get(f"{server.base}/healthz", timeout=5).json())["replication"]["replica_heartbeat"]
                and h
            ),
        )
        metrics = requests.get(f"{server.base}/metrics", timeout=5).text
        # An incident, declared and known to be in the replica (a heartbeat after it reached it).
        first = requests.post(
            f"{server.base}/api/v1/incidents",
            json={"title": "Fire", "reason": "Library", "playbook": "compromised-account", "account_id": 2},
            headers=headers(tokens["press"]),
            timeout=10,
        ).json()
        wait_for(
            "the first declaration replicated",
            lambda: (
                (beat := requests.get(f"{server.base}/healthz", timeout=5).json()["replication"]["replica_heartbeat"])
                and parse_iso(beat) > parse_iso(first["declared_at"])
            ),
        )
        # Posts falling due in the window the replica may lack: the old primary might send them.
        window = add_posts(primary, 3, [datetime.now(UTC) + timedelta(seconds=0.5)])
        # A second declaration, then the machine dies at once: it may or may not have reached the replica.
        last = requests.post(
            f"{server.base}/api/v1/incidents",
            json={"title": "Gas leak", "reason": "Chemistry", "playbook": "live-incident"},
            headers=headers(tokens["press"]),
            timeout=10,
        ).json()
        for process in processes:
            process.kill()
        # Litestream dies with `lockdown replicate`: nothing goes on replicating the dead primary.
        wait_for("Litestream gone with its parent", lambda: not running_with(str(primary)), timeout=10)
        time.sleep(1)  # the window's post is due by the time the standby is promoted
        done = subprocess.run(
            [LOCKDOWN, "standby", "promote", "--as", "press@livuni.ac.uk"],
            env=environment(standby, replica),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        yield Story(
            folder, primary, replica, standby, tokens, health, metrics, first["id"], last["id"],
            parse_iso(last["declared_at"]), published, window, done.stdout + done.stderr, done.returncode,
        )  # fmt: skip
    finally:
        for process in processes:
            process.kill()


@pytest.fixture(scope="module")
def standby_server(story: Story) -> Iterator[Process]:
    """`lockdown serve` (scheduler on) on the promoted standby, with a post due now on a department account."""
    assert story.promote_status == 0, story.promote_output
    story.extra["due_on_standby"] = add_posts(story.standby, 4, [datetime.now(UTC) - timedelta(seconds=1)])
    process = serve(story.standby, story.replica, story.folder / "standby.log")
    try:
        yield process
    finally:
        process.stop()


def test_replication_lag_is_in_healthz_and_metrics_while_replicating(story: Story) -> None:
    replication = story.health_while_replicating["replication"]
    assert replication["replica"] == str(story.replica)
    assert replication["state"] in ("ok", "behind")
    assert replication["lag_seconds"] is not None
    assert replication["lag_seconds"] >= 0
    assert replication["max_lag_seconds"] == 30.0
    assert "lockdown_replication_lag_seconds " in story.metrics_while_replicating
    assert "lockdown_replication_behind " in story.metrics_while_replicating


def test_promote_restores_checks_and_holds_every_account(story: Story) -> None:
    assert story.promote_status == 0, story.promote_output
    assert "integrity ok; audit chain ok" in story.promote_output
    assert "promotion took" in story.promote_output
    promotion_incident = rows(story.standby, "SELECT incident_id FROM promotions WHERE confirmed_at IS NULL")[0][0]
    held_by_it = rows(story.standby, "SELECT account_id FROM account_holds WHERE incident_id = ?", promotion_incident)
    assert sorted(r[0] for r in held_by_it) == list(range(1, ACCOUNTS + 1))  # central account too
    assert rows(story.standby, "SELECT playbook, status FROM incidents WHERE id = ?", promotion_incident) == [
        ("standby-promotion", "active")
    ]
    kinds = [
        r[0] for r in rows(story.standby, "SELECT kind FROM incident_events WHERE incident_id = ?", promotion_incident)
    ]
    assert "promoted" in kinds
    assert "held" in kinds
    assert audit.verify(connect(story.standby), KEY).ok


def test_the_incident_replicated_before_the_kill_is_there_with_its_hold(story: Story) -> None:
    assert rows(story.standby, "SELECT status, playbook FROM incidents WHERE id = ?", story.first_incident) == [
        ("active", "compromised-account")
    ]
    held = rows(story.standby, "SELECT account_id FROM account_holds WHERE incident_id = ?", story.first_incident)
    assert held == [(2,)]


def test_the_declaration_just_before_the_kill_is_present_or_covered_by_the_promotion_hold(story: Story) -> None:
    present = rows(
        story.standby, "SELECT status FROM incidents WHERE id = ? AND playbook = 'live-incident'", story.last_incident
    )
    point = rows(story.standby, "SELECT replica_point FROM promotions")[0][0]
    if present:
        assert present == [("active",)]
    else:
        # Missing: the replica's last point is before it, and the promotion hold covers every account.
        assert parse_iso(point) < story.last_declared_at + timedelta(seconds=1)
        assert rows(story.standby, "SELECT COUNT(DISTINCT account_id) FROM account_holds")[0][0] == ACCOUNTS
    print(f"the last declaration {'was' if present else 'was not'} in the replica (last point {point})")


def test_posts_the_old_primary_may_have_sent_in_the_lost_window_are_unknown(story: Story) -> None:
    states = dict(rows(story.standby, "SELECT id, state FROM posts"))
    for post_id in story.due_in_window:
        assert states[post_id] == "unknown"
    # What the replica knew was published stays published; nothing else was touched.
    assert all(states[p] == "published" for p in story.published_on_primary)
    errors = rows(story.standby, "SELECT error FROM posts WHERE state = 'unknown'")
    assert all("standby took over" in e[0] for e in errors)


def test_nothing_is_dispatched_on_the_standby_before_confirmation(story: Story, standby_server: Process) -> None:
    due = story.extra["due_on_standby"][0]
    started = to_iso(datetime.now(UTC))
    wait_for(
        "the standby's scheduler ticked past the due post",
        lambda: rows(story.standby, "SELECT 1 FROM dispatchers WHERE last_tick_at > ?", started),
    )
    assert rows(story.standby, "SELECT state FROM posts WHERE id = ?", due) == [("scheduled",)]
    assert rows(
        story.standby, "SELECT COUNT(*) FROM audit_log WHERE action IN ('post.claim', 'post.send') AND at > ?", started
    ) == [(0,)]
    health = requests.get(f"{standby_server.base}/healthz", timeout=5).json()
    assert health["scheduler"]["state"] == "ok"  # held, not fenced: its own promotion is in the marker


def test_confirm_needs_what_was_checked_and_a_press_officer_then_lifts_the_hold(
    story: Story, standby_server: Process
) -> None:
    url = f"{standby_server.base}/api/v1/promotion/confirm"
    press = headers(story.tokens["press"])
    blank = requests.post(url, json={"checked": "  "}, headers=press, timeout=10)
    assert blank.status_code == 400
    assert blank.json()["error"]["field"] == "checked"
    manager = requests.post(url, json={"checked": "all fine"}, headers=headers(story.tokens["manager"]), timeout=10)
    assert manager.status_code == 403
    held_by = rows(story.standby, "SELECT incident_id FROM promotions")[0][0]
    resolve = f"{standby_server.base}/api/v1/incidents/{held_by}/resolve"
    by_hand = requests.post(resolve, json={}, headers=press, timeout=10)
    assert by_hand.status_code == 409
    done = requests.post(
        url, json={"checked": "Compared incidents with the last notices; @livuni_1 on X"}, headers=press, timeout=10
    )
    assert done.status_code == 200, done.text
    assert done.json()["resume_policy"] == "review"
    incident = done.json()["incident_id"]
    assert rows(story.standby, "SELECT status FROM incidents WHERE id = ?", incident) == [("resolved",)]
    kinds = [r[0] for r in rows(story.standby, "SELECT kind FROM incident_events WHERE incident_id = ?", incident)]
    assert "promotion_confirmed" in kinds
    assert "resolved" in kinds
    assert rows(story.standby, "SELECT COUNT(*) FROM audit_log WHERE action = 'promotion.confirm'") == [(1,)]
    again = requests.post(url, json={"checked": "twice"}, headers=press, timeout=10)
    assert again.status_code == 409
    assert audit.verify(connect(story.standby), KEY).ok


def test_the_old_primary_restarted_against_the_replica_refuses_to_dispatch(story: Story) -> None:
    old = serve(story.primary, story.replica, story.folder / "old-primary.log")
    try:
        health = wait_for(
            "the old primary's scheduler refusing",
            lambda: (
                (r := requests.get(f"{old.base}/healthz", timeout=5)).status_code == 503
                and r.json()["scheduler"]["state"] == "refusing"
                and r.json()
            ),
        )
    finally:
        old.stop()
    assert "superseded by the promotion of a standby" in health["scheduler"]["last_error"]
    assert rows(story.primary, "SELECT COUNT(*) FROM fences") == [(1,)]
    assert rows(story.primary, "SELECT COUNT(*) FROM audit_log WHERE action = 'database.superseded'") == [(1,)]
    # Nor does it replicate into the location the standby was promoted from.
    again = subprocess.run(
        [LOCKDOWN, "replicate"], env=environment(story.primary, story.replica), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode != 0
    assert "superseded" in again.stderr or "promoted" in again.stderr
    marker = json.loads((story.replica / "lockdown-promotion.json").read_text())
    assert len(marker["promotions"]) == 1


def test_settings_are_what_the_commands_used(story: Story) -> None:
    settings = Settings.from_env(environment(story.standby, story.replica))
    assert settings.replica_url == str(story.replica)


def test_a_replica_cut_short_of_a_kept_head_is_refused_and_nothing_is_put_in_place(story: Story) -> None:
    elsewhere = story.folder / "second-standby" / "lockdown.db"
    done = subprocess.run(
        [LOCKDOWN, "standby", "promote", "--as", "press@livuni.ac.uk", "--expect-head", "f" * 64],
        env=environment(elsewhere, story.replica), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is not in the chain" in done.stderr
    assert not elsewhere.exists()
    assert [p.name for p in elsewhere.parent.iterdir()] == []  # no staged file left either


def test_promote_never_replaces_a_database_without_force(story: Story) -> None:
    done = subprocess.run(
        [LOCKDOWN, "standby", "promote", "--as", "press@livuni.ac.uk"],
        env=environment(story.standby, story.replica), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "--force" in done.stderr
