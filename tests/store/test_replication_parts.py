"""The parts of replication and promotion, each alone: the settings and the Litestream
configuration they generate, the binary, the lag, the fence a promotion marker raises on the
dispatcher, the m029 upgrade, and the promotion hold that no person may declare or resolve."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings, SettingsError
from lockdown.store import fence
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.litestream import litestream_binary, replica_address, replica_config
from lockdown.store.migrations import migrate
from lockdown.store.replication import lag_seconds, replication_status, write_status
from lockdown.timeutil import to_iso
from tests.conftest import SECRET, VAULT_KEY, Login
from tests.store.old_database import database_before

BASE = {"LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({**BASE, "LOCKDOWN_DB": str(tmp_path / "p.db"), **env})


# -- settings and configuration --------------------------------------------------------------------


def test_a_folder_replica_becomes_a_file_replica_in_litestreams_configuration(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, LOCKDOWN_REPLICA_URL=str(tmp_path / "replica"))
    config = replica_config(settings, settings.db_path)
    assert config == {
        "dbs": [
            {
                "path": str(settings.db_path.absolute()),
                "replica": {"type": "file", "path": str(tmp_path / "replica"), "sync-interval": "1s"},
            }
        ]
    }
    assert replica_address(settings) == (tmp_path / "replica").as_uri()


def test_a_file_url_is_the_same_folder(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, LOCKDOWN_REPLICA_URL=(tmp_path / "r").as_uri())
    assert settings.replica_url == str(tmp_path / "r")


@pytest.mark.parametrize("url", ["s3://lockdown-backups/primary", "sftp://lockdown@standby.example/srv/replica"])
def test_s3_and_sftp_urls_are_passed_to_litestream_as_they_are(tmp_path: Path, url: str) -> None:
    settings = settings_with(tmp_path, LOCKDOWN_REPLICA_URL=url)
    replica = replica_config(settings, settings.db_path)["dbs"][0]["replica"]
    assert replica == {"url": url, "sync-interval": "1s"}
    assert replica_address(settings) == url


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LOCKDOWN_REPLICA_URL": "replica"}, "LOCKDOWN_REPLICA_URL"),
        ({"LOCKDOWN_REPLICA_URL": "ftp://host/path"}, "LOCKDOWN_REPLICA_URL"),
        ({"LOCKDOWN_REPLICA_URL": "s3://bucket"}, "LOCKDOWN_REPLICA_URL"),
        ({"LOCKDOWN_REPLICA_URL": "sftp:///path"}, "LOCKDOWN_REPLICA_URL"),
        ({"LOCKDOWN_REPLICA_MAX_LAG_SECONDS": "-1"}, "LOCKDOWN_REPLICA_MAX_LAG_SECONDS"),
        ({"LOCKDOWN_REPLICA_MAX_LAG_SECONDS": "soon"}, "LOCKDOWN_REPLICA_MAX_LAG_SECONDS"),
        ({"LOCKDOWN_LITESTREAM": "/nonexistent/litestream"}, "LOCKDOWN_LITESTREAM"),
    ],
)
def test_bad_replication_settings_are_refused_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        settings_with(tmp_path, **env)


def test_the_binary_the_package_installed_is_found_and_is_litestream_0_5(tmp_path: Path) -> None:
    binary = litestream_binary(settings_with(tmp_path))
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("0.5.")


# -- the lag -----------------------------------------------------------------------------------------


def test_the_lag_is_the_age_of_the_newest_heartbeat_in_the_replica(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    report = {"started_at": to_iso(now - timedelta(minutes=5)), "replica_beat_at": to_iso(now - timedelta(seconds=2))}
    assert lag_seconds(report, now) == 2.0
    # Before any heartbeat reached the replica: the time since replication started.
    assert lag_seconds({"started_at": to_iso(now - timedelta(seconds=40))}, now) == 40.0
    assert lag_seconds(None, now) is None


def test_healthz_reports_a_replica_behind_and_a_replicate_not_running(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, LOCKDOWN_REPLICA_URL=str(tmp_path / "r"), LOCKDOWN_REPLICA_MAX_LAG_SECONDS="10")
    now = datetime.now(UTC)
    assert replication_status(settings, now)["state"] == "not running"  # type: ignore[index]
    beat = {"state": "ok", "pid": os.getpid(), "started_at": to_iso(now), "checked_at": to_iso(now)}
    write_status(settings.db_path, {**beat, "replica_beat_at": to_iso(now - timedelta(seconds=3))})
    fresh = replication_status(settings, now)
    assert fresh is not None
    assert (fresh["state"], fresh["behind"], fresh["lag_seconds"]) == ("ok", False, 3.0)
    write_status(settings.db_path, {**beat, "replica_beat_at": to_iso(now - timedelta(seconds=11))})
    late = replication_status(settings, now)
    assert late is not None
    assert (late["state"], late["behind"]) == ("behind", True)
    assert replication_status(settings_with(tmp_path), now) is None  # no replica configured


def test_healthz_and_metrics_without_a_replica_say_nothing_of_it(client: FlaskClient) -> None:
    assert client.get("/healthz").json["replication"] is None
    assert "lockdown_replication_lag_seconds" not in client.get("/metrics").get_data(as_text=True)


# -- the fence ---------------------------------------------------------------------------------------


def fenced_setup(tmp_path: Path) -> tuple[Settings, Context, int]:
    """A database with one free account and a post due now, replicated to a folder."""
    settings = settings_with(tmp_path, LOCKDOWN_REPLICA_URL=str(tmp_path / "replica"))
    (tmp_path / "replica").mkdir()
    db = connect(settings.db_path)
    migrate(db)
    ctx = Context(db, fence_key(settings))
    stamp, due = "2026-01-01T00:00:00.000000Z", to_iso(datetime.now(UTC) - timedelta(seconds=1))
    with ctx.change() as change:
        db.conn.execute(
            "INSERT INTO users (id, name, email, token_hash, created_at) VALUES (1, 'M', 'm@x', 'h', ?)",
            [stamp],
        )
        db.conn.execute(
            "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, "
            "created_at, updated_at) VALUES (1, '@livuni_a', 'livuni_a', 'x', 'U', 'P', '24/7', 1, ?, ?)",
            [stamp, stamp],
        )
        post = db.conn.execute(
            "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
            "created_at, updated_at) VALUES (1, 'hello', ?, ?, 'scheduled', 1, 'k', ?, ?)",
            [due, due, stamp, stamp],
        ).lastrowid
        change.audit("test", "test.seed", "posts")
    return settings, ctx, int(post or 0)


def fence_key(settings: Settings) -> bytes:
    from lockdown.store.audit import audit_key

    return audit_key(settings.require_secret_key())


def tick(settings: Settings, ctx: Context) -> Any:
    dispatcher = Dispatcher(settings, ctx.audit_key)
    try:
        return dispatcher.tick()
    finally:
        dispatcher.close()


def test_a_newer_promotion_in_the_replica_folder_fences_the_dispatcher(tmp_path: Path) -> None:
    settings, ctx, post = fenced_setup(tmp_path)
    marker = {"uid": "abc123", "promoted_at": "2026-12-01T09:00:00.000000Z", "host": "standby"}
    fence.write_marker(tmp_path / "replica", marker)
    report = tick(settings, ctx)
    assert report.refused is not None
    assert "superseded by the promotion of a standby (abc123" in report.refused
    assert ctx.db.conn.execute("SELECT state FROM posts WHERE id = ?", [post]).fetchone()[0] == "scheduled"
    # The fence is kept in the database: gone from the folder, it still refuses.
    (tmp_path / "replica" / fence.MARKER).unlink()
    assert tick(settings, ctx).refused is not None
    actions = [r[0] for r in ctx.db.conn.execute("SELECT action FROM audit_log WHERE action = 'database.superseded'")]
    assert actions == ["database.superseded"]


def test_the_promoted_database_is_not_fenced_by_its_own_promotion(tmp_path: Path) -> None:
    settings, ctx, post = fenced_setup(tmp_path)
    fence.write_marker(tmp_path / "replica", {"uid": "ours"})
    with ctx.change() as change:
        ctx.db.conn.execute(
            "INSERT INTO incidents (id, title, playbook, reason, status, scope, hold_central, resume_policy, "
            "declared_by, declared_at, resolved_at) VALUES (9, 't', 'standby-promotion', 'r', 'resolved', 'all', 1, "
            "'review', 1, 'x', 'y')"
        )
        ctx.db.conn.execute(
            "INSERT INTO promotions (uid, promoted_at, promoted_by, host, replica, restored_entries, restored_head, "
            "incident_id) VALUES ('ours', 'x', 1, 'h', 'r', 1, 'h', 9)"
        )
        change.audit("test", "test.seed", "promotion")
    report = tick(settings, ctx)
    assert report.refused is None
    assert report.published == 1
    assert ctx.db.conn.execute("SELECT state FROM posts WHERE id = ?", [post]).fetchone()[0] == "published"


def test_a_marker_that_cannot_be_read_refuses_dispatch(tmp_path: Path) -> None:
    settings, ctx, post = fenced_setup(tmp_path)
    (tmp_path / "replica" / fence.MARKER).write_text("not json")
    report = tick(settings, ctx)
    assert report.refused is not None
    assert "cannot be read" in report.refused
    assert ctx.db.conn.execute("SELECT state FROM posts WHERE id = ?", [post]).fetchone()[0] == "scheduled"


# -- the migration and the promotion hold's guards ---------------------------------------------------------


def test_an_older_database_gains_the_standby_tables_keeping_its_rows(tmp_path: Path) -> None:
    old = database_before(tmp_path / "old.db", "m029_standby")
    old.conn.execute("INSERT INTO users (id, name, email, token_hash, created_at) VALUES (1, 'A', 'a@x', 'h', 'x')")
    old.conn.commit()
    applied = migrate(old)
    assert "m029_standby" in applied
    tables = {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"promotions", "fences", "replication_heartbeat"} <= tables
    assert old.conn.execute("SELECT email FROM users").fetchall() == [("a@x",)]
    old.close()


def test_no_one_declares_the_promotion_hold_by_hand(client: FlaskClient, press: Login) -> None:
    response = client.post(
        "/api/v1/incidents",
        json={"title": "t", "reason": "r", "playbook": "standby-promotion"},
        headers=press.headers,
    )
    assert response.status_code == 400
    assert response.json["error"]["field"] == "playbook"


def test_confirming_without_a_promotion_waiting_is_a_conflict(client: FlaskClient, press: Login) -> None:
    blank = client.post("/api/v1/promotion/confirm", json={"checked": ""}, headers=press.headers)
    assert blank.status_code == 400
    assert blank.json["error"]["field"] == "checked"
    missing = client.post("/api/v1/promotion/confirm", json={}, headers=press.headers)
    assert missing.status_code == 400
    none = client.post("/api/v1/promotion/confirm", json={"checked": "the last notices"}, headers=press.headers)
    assert none.status_code == 409
    assert json.loads(none.get_data())["error"]["field"] == "promotion"


def test_replicate_stops_for_good_when_a_standby_is_promoted_from_its_replica(tmp_path: Path) -> None:
    """`lockdown replicate` on a real database with the real Litestream: once the replica folder
    names a promotion this database does not hold, it records the fence and exits, reporting why."""
    from lockdown.store.replication import read_status
    from tests.conftest import LOCKDOWN

    settings, ctx, _post = fenced_setup(tmp_path)
    ctx.db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKDOWN_")}
    env |= {**BASE, "LOCKDOWN_DB": str(settings.db_path), "LOCKDOWN_REPLICA_URL": str(tmp_path / "replica")}
    process = subprocess.Popen([LOCKDOWN, "replicate"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            report = read_status(settings.db_path)
            if report and report.get("replica_beat_at"):
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
        fence.write_marker(tmp_path / "replica", {"uid": "newer", "promoted_at": "2026-12-01T09:00:00.000000Z"})
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert "superseded by the promotion of a standby (newer" in err
    assert (read_status(settings.db_path) or {})["state"] == "superseded"
    db = connect(settings.db_path)
    try:
        assert db.conn.execute("SELECT promotion_uid FROM fences").fetchall() == [("newer",)]
    finally:
        db.close()


def test_a_superseded_primary_sends_no_incident_message_either(
    client: FlaskClient, ctx: Context, make_user: Any, register: Any
) -> None:
    press, press2, manager = make_user("press"), make_user("press"), make_user("manager")
    register(manager, central=True, handle="@livuni", connector={"kind": "outbox"})
    declared = client.post("/api/v1/incidents", json={"title": "Fire", "reason": "Library"}, headers=press.headers).json
    with ctx.change() as change:
        ctx.db.conn.execute(
            "INSERT INTO fences (promotion_uid, promoted_at, host, replica, seen_at) VALUES ('p1', 'x', 'h', 'r', 'x')"
        )
        change.audit("test", "database.superseded", "database")
    approve = f"/api/v1/incidents/{declared['id']}/messages/{declared['holding_statement_id']}/approve"
    refused = client.post(approve, headers=press2.headers)
    assert refused.status_code == 409
    assert "superseded by the promotion of a standby" in refused.json["error"]["message"]
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM message_deliveries").fetchone()[0] == 0
