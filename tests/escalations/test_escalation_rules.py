"""Escalation rules below the API: filing inside another transaction (the watch), retention,
the age metric, the setting, and two press officers declaring from one report at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lockdown.errors import Conflict, InvalidInput
from lockdown.escalations.actions import close_escalation, declare_from_escalation, delete_expired
from lockdown.escalations.reports import file_escalation, get_escalation, list_escalations
from lockdown.incidents.config import incident_config
from lockdown.ops.metrics import render_metrics
from lockdown.settings import Settings, SettingsError
from lockdown.store import audit
from lockdown.store.audit import list_entries
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import Login, count_rows

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def account(register: Callable[..., dict[str, Any]], manager: Login) -> dict[str, Any]:
    return register(manager)


def at(ctx: Context, moment: datetime) -> Context:
    return Context(ctx.db, ctx.audit_key, lambda: moment)


def test_the_watch_files_inside_its_own_transaction_and_a_rollback_takes_the_report_back(
    ctx: Context, ermc: Login, press: Login, account: dict[str, Any]
) -> None:
    def watch_fails_after_filing() -> None:
        with ctx.change() as change:
            change.audit("lockdown-watch", "watch.out_of_band", f"account:{account['id']}")
            file_escalation(
                change, reporter="lockdown-watch", kind="hacked", account_id=account["id"], url=None,
                details="a post Lockdown did not send", public_url="https://lockdown.example",
            )  # fmt: skip
            raise RuntimeError("the watch's transaction fails")

    with pytest.raises(RuntimeError):
        watch_fails_after_filing()
    assert count_rows(ctx, "escalations") == 0
    assert count_rows(ctx, "notifications") == 0
    with ctx.change() as change:
        change.audit("lockdown-watch", "watch.out_of_band", f"account:{account['id']}")
        filed = file_escalation(
            change, reporter="lockdown-watch", kind="hacked", account_id=account["id"], url=None,
            details="a post Lockdown did not send", public_url="https://lockdown.example",
        )  # fmt: skip
    # No person filed it: only ERMC reads it.
    seen = get_escalation(ctx.db, ermc.user, filed, ctx.now())
    assert (seen["reporter"], seen["state"]) == ("lockdown-watch", "open")
    assert list_escalations(ctx.db, press.user, ctx.now())["items"] == []
    body = ctx.db.conn.execute("SELECT body FROM notifications WHERE event = 'escalation_filed'").fetchone()[0]
    assert f"https://lockdown.example/escalations/{filed}" in body


def test_file_escalation_checks_its_input_like_the_api(ctx: Context, account: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as raised:
        file_escalation(
            ctx, reporter=None, kind="hacked", account_id=account["id"], url="https://x.example",
            details="both", public_url="https://l.example",
        )  # fmt: skip
    assert raised.value.field == "account_id"
    assert count_rows(ctx, "escalations") == 0


def test_closed_reports_are_deleted_after_the_retention_period_open_ones_never(
    ctx: Context, ermc: Login, account: dict[str, Any]
) -> None:
    filed = at(ctx, T0)
    ids = [
        file_escalation(
            filed,
            reporter=None,
            kind=kind,
            account_id=None,
            url="https://x.example/p",
            details="words that must go",
            public_url="https://l.example",
        )
        for kind in ("welfare_concern", "other")
    ]
    close_escalation(at(ctx, T0 + timedelta(days=1)), ermc.user, ids[0], {"reason": "handed to HR"})
    retention = timedelta(days=90)
    assert delete_expired(at(ctx, T0 + timedelta(days=90)), retention) == 0
    assert delete_expired(at(ctx, T0 + timedelta(days=91, minutes=1)), retention) == 1
    assert [row[0] for row in ctx.db.conn.execute("SELECT id FROM escalations")] == [ids[1]]
    assert delete_expired(at(ctx, T0 + timedelta(days=400)), retention) == 0
    entries = [e for e in list_entries(ctx.db, limit=1000) if e["subject"] == f"escalation:{ids[0]}"]
    assert [e["action"] for e in entries] == ["escalation.file", "escalation.close", "escalation.delete"]
    assert entries[-1]["details"] == {"kind": "welfare_concern", "closed_as": "dismissed", "retention_days": 90}
    text = str(list_entries(ctx.db, limit=1000))
    for words in ("words that must go", "handed to HR", "x.example"):
        assert words not in text
    assert audit.verify(ctx.db, ctx.audit_key).ok


def test_open_reports_by_age_are_a_valid_prometheus_gauge(ctx: Context) -> None:
    for hours in (0, 2, 30, 50):
        file_escalation(
            at(ctx, T0 - timedelta(hours=hours, minutes=1)), reporter=None, kind="other", account_id=None,
            url="https://x.example", details="d", public_url="https://l.example",
        )  # fmt: skip
    text = render_metrics(ctx.db, T0).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.labels["age"]: s.value for s in families["lockdown_escalations_open"].samples}
    assert samples == {"<1h": 1, "1-24h": 1, ">24h": 2}


@pytest.mark.parametrize(("raw", "days"), [(None, 90), ("", 90), ("1", 1), ("30", 30), ("3650", 3650)])
def test_the_retention_setting(raw: str | None, days: int) -> None:
    env = {} if raw is None else {"LOCKDOWN_ESCALATION_RETENTION_DAYS": raw}
    assert Settings.from_env(env).escalation_retention_days == days


@pytest.mark.parametrize("raw", ["0", "3651", "-1", "1.5", "ninety", "٣"])
def test_a_bad_retention_setting_stops_the_start_naming_it(raw: str) -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_ESCALATION_RETENTION_DAYS"):
        Settings.from_env({"LOCKDOWN_ESCALATION_RETENTION_DAYS": raw})


def test_two_press_officers_declaring_from_one_report_at_once_make_one_incident(
    settings: Settings, ctx: Context, make_user: Callable[..., Login], manager: Login, account: dict[str, Any]
) -> None:
    """Real threads, each on its own connection to the one SQLite file."""
    filed = file_escalation(
        ctx, reporter=None, kind="hacked", account_id=account["id"], url=None, details="d",
        public_url="https://l.example",
    )  # fmt: skip
    officers = [make_user("press").user for _ in range(4)]
    config = incident_config(settings)
    barrier = threading.Barrier(len(officers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def declare(officer: Any) -> None:
        db = connect(settings.db_path)
        try:
            barrier.wait()
            try:
                declare_from_escalation(Context(db, ctx.audit_key), config, officer, filed)
                result = "declared"
            except Conflict:
                result = "conflict"
            with lock:
                outcomes.append(result)
        finally:
            db.close()

    threads = [threading.Thread(target=declare, args=(officer,)) for officer in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * 3 + ["declared"]
    assert count_rows(ctx, "incidents") == 1
    linked = ctx.db.conn.execute("SELECT incident_id FROM escalations WHERE id = ?", [filed]).fetchone()[0]
    assert linked == ctx.db.conn.execute("SELECT id FROM incidents").fetchone()[0]
    assert audit.verify(ctx.db, ctx.audit_key).ok
