"""Readiness checks as a service: what is recorded, who is told and when, who may check, that a
check already running is refused (real threads on a real SQLite file), that the schedule spreads
the accounts out, and that checks neither touch holds nor keep the write lock during a call."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready
from connectors.versions import ApiVersions
from lockdown.crypto import Vault
from lockdown.errors import Conflict, Forbidden, TooManyAttempts
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.readiness.checks import CheckRunner, check_now, run_due_checks, slot_offset
from lockdown.readiness.status import central_summary, readiness_for
from lockdown.register.accounts import get_account, register_account
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import Login, account_payload

Outcome = Ready | ConnectorError
VERSIONS = ApiVersions()


class Platform:
    """A scripted platform: each check takes the next outcome (or the last, repeated)."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes) or [Ready(account="@livuni")]
        self.checks = 0
        self.published = 0
        self.during_check: Callable[[], None] | None = None

    def factory(self, kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
        platform = self

        class Scripted(Connector):
            kind = "scripted"

            def publish(self, post: OutgoingPost) -> Published:
                platform.published += 1
                raise AssertionError("a readiness check publishes nothing")

            def delete(self, remote_id: str) -> None:
                raise AssertionError("a readiness check deletes nothing")

            def check(self) -> Ready:
                platform.checks += 1
                if platform.during_check:
                    platform.during_check()
                outcome = platform.outcomes.pop(0) if len(platform.outcomes) > 1 else platform.outcomes[0]
                if isinstance(outcome, ConnectorError):
                    raise outcome
                return outcome

        return Scripted(settings, secrets)


def runner(settings: Settings, platform: Platform, hours: float = 6) -> CheckRunner:
    return CheckRunner(Vault(settings.vault_keys), platform.factory, timedelta(hours=hours))


EXPIRED = ConnectorError("HTTP 401: token expired", permanent=True, status=401)
UNAVAILABLE = ConnectorError("HTTP 503: try later", permanent=False, status=503)


@pytest.fixture
def account(ctx: Context, ermc: Login, manager: Login) -> dict[str, Any]:
    return register_account(ctx, ermc.user, account_payload(manager.email))


@pytest.fixture
def central(ctx: Context, ermc: Login, manager: Login) -> dict[str, Any]:
    return register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))


def notices(ctx: Context) -> list[tuple[str, str]]:
    return [tuple(row) for row in ctx.db.conn.execute("SELECT event, recipient FROM notifications ORDER BY id")]


def test_an_account_never_checked_says_so(ctx: Context, account: dict[str, Any], ermc: Login) -> None:
    seen = readiness_for(ctx.db, account, ermc.user, VERSIONS, ctx.now())

    assert (seen["status"], seen["checked_at"], seen["reason"]) == ("unchecked", None, None)


def test_a_ready_check_records_who_the_platform_says_and_audits_it(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    ends = datetime(2027, 3, 1, tzinfo=UTC)
    platform = Platform(Ready(account="@livuni_chem", scopes=("read-write",), expires_at=ends))

    assert check_now(ctx, runner(settings, platform), manager.user, account["id"]) == "ready"

    seen = readiness_for(ctx.db, account, manager.user, VERSIONS, ctx.now())
    assert seen["status"] == "ready"
    assert seen["account"] == "@livuni_chem"
    assert seen["scopes"] == ["read-write"]
    assert seen["expires_at"] == "2027-03-01T00:00:00.000000Z"
    assert seen["since"] == seen["checked_at"] is not None
    entries = audit.list_entries(ctx.db, subject=f"account:{account['id']}")
    assert entries[-1]["action"] == "account.readiness_checked"
    assert entries[-1]["actor"] == manager.email
    assert audit.verify(ctx.db, ctx.audit_key).ok


def test_a_manager_is_told_once_when_their_account_stops_being_ready_and_once_when_it_is_back(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login, press: Login
) -> None:
    platform = Platform(Ready(account="@a"), EXPIRED, EXPIRED, EXPIRED, Ready(account="@a"))
    checks = runner(settings, platform)
    clock = Clock(ctx)

    for _ in range(5):
        check_now(clock.ctx, checks, manager.user, account["id"])
        clock.advance(minutes=2)

    assert notices(ctx) == [("readiness_failing", manager.email), ("readiness_ready", manager.email)]
    body = ctx.db.conn.execute("SELECT body FROM notifications ORDER BY id").fetchone()[0]
    assert "token expired" in body
    assert f"/api/v1/accounts/{account['id']}/connector-secrets" in body


def test_the_press_team_is_told_when_a_central_account_stops_being_ready(
    ctx: Context, settings: Settings, central: dict[str, Any], manager: Login, press: Login, make_user: Any
) -> None:
    other_press = make_user("press")
    make_user("ermc")

    check_now(ctx, runner(settings, Platform(EXPIRED)), press.user, central["id"])

    told = {email for _, email in notices(ctx)}
    assert told == {manager.email, press.email, other_press.email}
    assert {event for event, _ in notices(ctx)} == {"readiness_failing"}


def test_a_transient_failure_is_told_only_when_it_repeats(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    checks = runner(settings, Platform(UNAVAILABLE))
    clock = Clock(ctx)

    check_now(clock.ctx, checks, manager.user, account["id"])
    assert notices(ctx) == []
    assert readiness_for(ctx.db, account, manager.user, VERSIONS, clock.now)["status"] == "failing"

    clock.advance(minutes=2)
    check_now(clock.ctx, checks, manager.user, account["id"])
    assert notices(ctx) == [("readiness_failing", manager.email)]


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("ermc", True), ("press", True), ("own manager", True), ("other manager", False), ("editor", False)],
)
def test_who_may_check_an_account(
    ctx: Context, settings: Settings, ermc: Login, manager: Login, press: Login, make_user: Any, who: str, allowed: bool
) -> None:
    editor = make_user("manager")
    account = register_account(ctx, ermc.user, account_payload(manager.email, editors=[editor.email]))
    actor = {
        "ermc": ermc,
        "press": press,
        "own manager": manager,
        "other manager": make_user("manager"),
        "editor": editor,
    }[who]
    platform = Platform()

    if allowed:
        check_now(ctx, runner(settings, platform), actor.user, account["id"])
        assert platform.checks == 1
    else:
        with pytest.raises(Forbidden):
            check_now(ctx, runner(settings, platform), actor.user, account["id"])
        assert platform.checks == 0


def test_a_second_check_within_a_minute_is_refused(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    platform = Platform()
    check_now(ctx, runner(settings, platform), manager.user, account["id"])

    with pytest.raises(TooManyAttempts):
        check_now(ctx, runner(settings, platform), manager.user, account["id"])
    assert platform.checks == 1


def test_the_reason_is_hidden_from_who_may_not_read_the_platforms_answer(
    ctx: Context,
    settings: Settings,
    account: dict[str, Any],
    central: dict[str, Any],
    manager: Login,
    ermc: Login,
    press: Login,
    make_user: Any,
) -> None:
    secret = ConnectorError("HTTP 403: page admin jo.bloggs@liverpool.ac.uk removed", permanent=True, status=403)
    checks = runner(settings, Platform(secret))
    check_now(ctx, checks, ermc.user, account["id"])
    check_now(ctx, checks, ermc.user, central["id"])
    stranger = make_user("manager")

    def reason(viewer: Login, of: dict[str, Any]) -> str:
        return str(readiness_for(ctx.db, of, viewer.user, VERSIONS, ctx.now())["reason"])

    for viewer in (ermc, manager):
        assert "jo.bloggs" in reason(viewer, account)
    assert "jo.bloggs" in reason(press, central)  # the press team sends through central accounts
    for viewer, of in ((press, account), (stranger, account), (stranger, central)):
        shown = reason(viewer, of)
        assert "jo.bloggs" not in shown
        assert "HTTP 403" in shown


@pytest.mark.parametrize("round_number", range(5))
def test_a_check_already_running_is_refused_under_real_concurrency(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login, round_number: int
) -> None:
    """Twelve threads, each on its own connection to the same SQLite file, check one account at
    once while the first check is held inside the platform call: exactly one runs."""
    entered, release = threading.Event(), threading.Event()
    platform = Platform()

    def slow() -> None:
        entered.set()
        release.wait(10)

    platform.during_check = slow
    checks = runner(settings, platform)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def attempt() -> None:
        db = connect(settings.db_path)
        try:
            mine = Context(db, ctx.audit_key)
            start.wait()
            try:
                result = check_now(mine, checks, manager.user, account["id"])
            except Conflict:
                result = "refused"
            except TooManyAttempts:
                result = "too soon"
            with lock:
                outcomes.append(result)
        finally:
            db.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    # While the one check is inside the platform call, every other attempt has been refused.
    for _ in range(200):
        with lock:
            if len(outcomes) == 11:
                break
        threading.Event().wait(0.02)
    with lock:
        assert sorted(outcomes) == ["refused"] * 11
    release.set()
    for thread in threads:
        thread.join(10)

    assert sorted(outcomes) == ["ready"] + ["refused"] * 11
    assert platform.checks == 1


def test_a_check_keeps_no_write_lock_during_the_platform_call(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    """A declaration (a BEGIN IMMEDIATE writer) is never kept waiting by a slow platform."""
    took: list[bool] = []

    def write_meanwhile() -> None:
        other = sqlite3.connect(settings.db_path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            took.append(True)
        finally:
            other.close()

    platform = Platform()
    platform.during_check = write_meanwhile
    check_now(ctx, runner(settings, platform), manager.user, account["id"])

    assert took == [True]


def test_checks_during_an_incident_publish_nothing_and_leave_the_holds_alone(
    ctx: Context, settings: Settings, account: dict[str, Any], central: dict[str, Any], press: Login
) -> None:
    declared = declare_incident(ctx, incident_config(settings), press.user, {"title": "Fire", "reason": "drill"})
    holds = ctx.db.conn.execute("SELECT * FROM account_holds ORDER BY account_id").fetchall()
    platform = Platform(EXPIRED)
    clock = Clock(ctx)
    run_due_checks(clock.ctx, runner(settings, platform))  # gives each account its slot
    clock.advance(hours=7)

    counts = run_due_checks(clock.ctx, runner(settings, platform))

    assert counts["failing"] == 2
    assert platform.published == 0
    assert ctx.db.conn.execute("SELECT * FROM account_holds ORDER BY account_id").fetchall() == holds
    assert get_account(ctx.db, account["id"])["held"]
    assert declared["held_accounts"] >= 1


def test_the_schedule_spreads_250_accounts_over_the_interval_and_checks_each_once(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    ids = [register_account(ctx, ermc.user, account_payload(manager.email))["id"] for _ in range(250)]
    platform = Platform()
    checks = runner(settings, platform, hours=6)
    clock = Clock(ctx)
    per_minute = []

    for _ in range(6 * 60):
        before = platform.checks
        run_due_checks(clock.ctx, checks)
        per_minute.append(platform.checks - before)
        clock.advance(minutes=1)

    assert platform.checks == 250
    assert max(per_minute) <= 5, max(per_minute)
    checked = ctx.db.conn.execute("SELECT COUNT(*) FROM account_readiness WHERE state = 'ready'").fetchone()[0]
    assert checked == len(ids)
    # The next round starts again at each account's own slot.
    run_due_checks(clock.ctx, checks)
    assert platform.checks <= 255


def test_slots_are_within_the_interval_and_differ() -> None:
    interval = timedelta(hours=6)
    slots = {slot_offset(account_id, interval) for account_id in range(1, 251)}

    assert all(timedelta(0) <= slot < interval for slot in slots)
    assert len(slots) > 240


def test_the_declare_summary_counts_central_accounts_and_names_each_one_not_ready(
    ctx: Context, settings: Settings, ermc: Login, manager: Login, press: Login
) -> None:
    handles = ["@livuni", "@livuni_news", "@livuni_alerts"]
    made = [register_account(ctx, ermc.user, account_payload(manager.email, handle=h, central=True)) for h in handles]
    clock = Clock(ctx)
    check_now(clock.ctx, runner(settings, Platform()), press.user, made[0]["id"])
    expired = ConnectorError("token expired", permanent=True, status=401)
    check_now(clock.ctx, runner(settings, Platform(expired)), press.user, made[1]["id"])
    clock.advance(days=3)

    summary = central_summary(ctx.db, press.user, VERSIONS, clock.now)

    assert (summary["ready"], summary["total"]) == (1, 3)
    lines = {line["handle"]: line for line in summary["accounts"]}
    assert lines["@livuni_news"]["what"] == "token expired (for 3 days)"
    assert lines["@livuni_alerts"]["what"] == "never checked"


class Clock:
    """A context on the same database whose clock the test moves."""

    def __init__(self, ctx: Context, at: datetime | None = None) -> None:
        self.now = at or ctx.now()
        self.ctx = Context(ctx.db, ctx.audit_key, lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def test_the_scheduler_audits_a_change_of_state_and_a_person_every_check(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    platform = Platform(Ready(account="@a"), Ready(account="@a"), EXPIRED, Ready(account="@a"))
    checks = runner(settings, platform, hours=1)
    clock = Clock(ctx)
    run_due_checks(clock.ctx, checks)
    for _ in range(3):  # ready (unchecked -> ready), ready again, failing
        clock.advance(hours=1, minutes=1)
        run_due_checks(clock.ctx, checks)
    clock.advance(hours=2)
    check_now(clock.ctx, checks, manager.user, account["id"])  # a person: ready again

    entries = [
        (e["actor"], e["details"]["was"], e["details"]["state"])
        for e in audit.list_entries(ctx.db, subject=f"account:{account['id']}")
        if e["action"] == "account.readiness_checked"
    ]
    assert entries == [
        ("scheduler", "unchecked", "ready"),
        ("scheduler", "ready", "failing"),
        (manager.email, "failing", "ready"),
    ]
    assert platform.checks == 4


def test_a_check_abandoned_by_a_crash_is_taken_over_after_five_minutes_and_its_late_answer_dropped(
    ctx: Context, settings: Settings, account: dict[str, Any], manager: Login
) -> None:
    from lockdown.readiness.checks import _claim, _record  # the two halves a crash separates

    clock = Clock(ctx)
    lost = _claim(clock.ctx, account["id"], on_demand=False)  # then the process died
    clock.advance(minutes=2)
    with pytest.raises(Conflict):
        check_now(clock.ctx, runner(settings, Platform()), manager.user, account["id"])

    clock.advance(minutes=4)
    assert check_now(clock.ctx, runner(settings, Platform(EXPIRED)), manager.user, account["id"]) == "failing"
    late = _record(clock.ctx, runner(settings, Platform()), account, lost, Ready(account="@late"), "scheduler")

    assert late == "skipped"
    assert readiness_for(ctx.db, account, manager.user, VERSIONS, clock.now)["status"] == "failing"
