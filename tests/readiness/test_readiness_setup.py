"""The readiness setting, the m022 upgrade of a database that has notices, and the warnings an
account's readiness carries (an API version ending, a token ending)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from connectors.base import Ready
from connectors.versions import ApiVersions
from lockdown.readiness.checks import check_now
from lockdown.readiness.status import readiness_for
from lockdown.register.accounts import register_account
from lockdown.settings import Settings, SettingsError
from lockdown.store.context import Context
from lockdown.store.migrations import migrate, migrations
from tests.conftest import Login, account_payload
from tests.readiness.test_checks import Platform, runner


@pytest.mark.parametrize(("raw", "seconds"), [(None, 6 * 3600.0), ("0.25", 900.0), ("12", 43200.0), ("168", 604800.0)])
def test_the_readiness_interval_is_read_in_hours(raw: str | None, seconds: float) -> None:
    env = {"LOCKDOWN_READINESS_INTERVAL_HOURS": raw} if raw is not None else {}

    assert Settings.from_env(env).readiness_interval_seconds == seconds


@pytest.mark.parametrize("raw", ["0", "0.1", "169", "six", "-1", "nan"])
def test_a_readiness_interval_out_of_bounds_stops_the_start_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_READINESS_INTERVAL_HOURS"):
        Settings.from_env({"LOCKDOWN_READINESS_INTERVAL_HOURS": raw})


def test_m022_keeps_every_notice_and_accepts_the_readiness_events(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    before = [m for m in migrations._migrations if m.name < "m022"]
    for step in before:
        step.fn(db)
    db.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('rotation_due', 'email', 'a@livuni.ac.uk', 'S', 'B', 'pending', 'x', 'x')"
    )
    db.conn.commit()
    migrations._migrations = [m for m in migrations._migrations]
    db.execute("CREATE TABLE IF NOT EXISTS _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)")
    for step in before:
        db.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('lockdown', ?, 'x')", [step.name]
        )
    db.conn.commit()

    assert migrate(db)[0] == "m022_account_readiness"  # and every later one

    assert db.conn.execute("SELECT event, recipient FROM notifications").fetchall() == [
        ("rotation_due", "a@livuni.ac.uk")
    ]
    db.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('readiness_failing', 'email', 'a@livuni.ac.uk', 'S', 'B', 'pending', 'x', 'x')"
    )


def test_readiness_warns_of_a_graph_version_ending_and_a_token_ending(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    connector: dict[str, Any] = {"kind": "facebook", "page_id": "1"}
    account = register_account(ctx, ermc.user, account_payload(manager.email, platform="facebook", connector=connector))
    soon = datetime.now(UTC) + timedelta(days=5)
    check_now(ctx, runner(settings, Platform(Ready(account="Liverpool", expires_at=soon))), manager.user, account["id"])

    when = datetime(2026, 12, 1, tzinfo=UTC)
    ctx.db.conn.execute(
        "UPDATE account_readiness SET expires_at = ? WHERE account_id = ?",
        [(when + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), account["id"]],
    )
    ctx.db.conn.commit()
    seen = readiness_for(ctx.db, account, manager.user, ApiVersions(graph="v21.0"), when)

    assert seen["status"] == "ready"
    assert any(w.startswith("Graph API v21.0 ends 2027-01-21") for w in seen["warnings"])
    assert any(w.startswith("the token ends") for w in seen["warnings"]), seen["warnings"]


def test_a_ready_webhook_says_only_its_configuration_was_checked(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    account = register_account(ctx, ermc.user, account_payload(manager.email))
    check_now(ctx, runner(settings, Platform()), manager.user, account["id"])
    webhook = {**account, "connector": {"kind": "webhook", "url": "https://hooks.example/…"}}

    seen = readiness_for(ctx.db, webhook, manager.user, ApiVersions(), datetime.now(UTC))

    assert seen["status"] == "ready"
    assert seen["warnings"] == [
        "a webhook cannot be checked without sending a message: only its configuration was checked"
    ]
