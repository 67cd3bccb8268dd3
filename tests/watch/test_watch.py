"""The watch as a service: a post made on a held account's platform is recorded once, put on the
timeline, told to the press team, ERMC and the manager; Lockdown's own posts (sent before the
declaration, or on the wire at it) never are; accounts that cannot be listed are named with the
reason; two watchers racing (real threads, real SQLite file) record a post once; outside an
incident the escalation hook is offered each post once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.base import ConnectorError
from lockdown.crypto import Vault
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.incidents.watch_record import incident_watch
from lockdown.ops.metrics import render_metrics
from lockdown.posting import posts
from lockdown.posting.dispatch import Dispatcher
from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Changes, Context
from lockdown.store.db import connect
from lockdown.watch import to_ermc
from lockdown.watch.checks import MARGIN, UNWATCHABLE_RETRY, WatchRunner, run_watch
from lockdown.watch.to_ermc import escalate_to_ermc
from tests.conftest import Login, account_payload
from tests.ops.test_metrics import parse, value
from tests.watch.fakes import FakePlatform

# The default interval of the accounts made here (platform "x").
INTERVAL = 300.0


class Clock:
    """A context on the test's database whose clock the test moves."""

    def __init__(self, ctx: Context) -> None:
        self.now = ctx.now()
        self.ctx = Context(ctx.db, ctx.audit_key, lambda: self.now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(ctx: Context) -> Clock:
    return Clock(ctx)


@pytest.fixture
def platform(clock: Clock) -> FakePlatform:
    return FakePlatform(clock)


def runner(settings: Settings, platform: FakePlatform, **kwargs: Any) -> WatchRunner:
    return WatchRunner(Vault(settings.vault_keys), platform.factory, settings.watch_intervals, **kwargs)


@pytest.fixture
def account(ctx: Context, ermc: Login, manager: Login) -> dict[str, Any]:
    return register_account(ctx, ermc.user, account_payload(manager.email))


def declare(clock: Clock, settings: Settings, press: Login) -> dict[str, Any]:
    """Declare, then move to the end of the first interval: each account's first listing falls
    at its slot in it (a declaration does not list every account in one burst)."""
    declared = declare_incident(clock.ctx, incident_config(settings), press.user, {"title": "Fire", "reason": "drill"})
    clock.advance(seconds=INTERVAL)
    return declared


def out_of_band(ctx: Context) -> list[tuple[Any, ...]]:
    return ctx.db.conn.execute(
        "SELECT remote_id, text, incident_id, seen_at FROM out_of_band_posts ORDER BY id"
    ).fetchall()


def test_a_post_made_on_a_held_accounts_platform_is_recorded_once_timelined_and_told(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any],
    press: Login, ermc: Login, manager: Login, make_user: Any,
) -> None:  # fmt: skip
    make_user("manager")  # another account's manager: not told
    incident = declare(clock, settings, press)
    watch = runner(settings, platform)
    assert run_watch(clock.ctx, watch)["ok"] == 1
    clock.advance(seconds=20)
    native = platform.post_natively("Posting from the app, policy or not")
    clock.advance(seconds=INTERVAL)

    assert run_watch(clock.ctx, watch)["out_of_band"] == 1
    clock.advance(seconds=INTERVAL)
    assert run_watch(clock.ctx, watch)["out_of_band"] == 0  # seen once, recorded once

    assert out_of_band(ctx) == [(native.remote_id, native.text, incident["id"], ctx.db.conn.execute(
        "SELECT seen_at FROM out_of_band_posts").fetchone()[0])]  # fmt: skip
    told = ctx.db.conn.execute(
        "SELECT recipient, incident_id FROM notifications WHERE event = 'out_of_band_post' ORDER BY recipient"
    ).fetchall()
    assert told == sorted((email, incident["id"]) for email in (press.email, ermc.email, manager.email))
    body = ctx.db.conn.execute("SELECT body FROM notifications WHERE recipient = ?", [manager.email]).fetchall()[-1][0]
    assert native.text in body
    assert str(native.url) in body
    kinds = [row[0] for row in ctx.db.conn.execute("SELECT kind FROM incident_events WHERE incident_id = ?",
                                                     [incident["id"]])]  # fmt: skip
    assert kinds.count("out_of_band_post") == 1
    entries = audit.list_entries(ctx.db, subject=f"account:{account['id']}")
    assert [e["action"] for e in entries].count("account.out_of_band_post") == 1
    assert audit.verify(ctx.db, ctx.audit_key).ok
    seen = incident_watch(ctx.db, incident["id"])
    assert seen["accounts"][0]["checks"] == 3
    assert seen["accounts"][0]["status"] == "ok"


def test_posts_lockdown_sent_before_and_at_the_declaration_are_never_flagged(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, ermc: Login,
    press: Login, manager: Login, make_user: Any,
) -> None:  # fmt: skip
    editor = make_user("manager")
    account = register_account(ctx, ermc.user, account_payload(manager.email, editors=[editor.email]))

    def lockdown_post(body: str) -> int:
        when = (clock.now + timedelta(seconds=1)).isoformat()
        post = posts.create_post(clock.ctx, editor.user, {"account_id": account["id"], "body": body,
                                                          "scheduled_at": when})  # fmt: skip
        posts.approve_post(clock.ctx, manager.user, post["id"])
        return int(post["id"])

    dispatcher = Dispatcher(
        settings, audit.audit_key(settings.require_secret_key()), clock=clock, connector_factory=platform.factory
    )
    try:
        lockdown_post("Open day on Saturday")
        clock.advance(seconds=2)
        dispatcher.tick()  # published a minute before the declaration, inside the margin
    finally:
        dispatcher.close()
    assert ctx.db.conn.execute("SELECT state FROM posts").fetchone()[0] == "published"
    # On the wire at the declaration: the platform has it, Lockdown has no id for it yet.
    on_the_wire = lockdown_post("Lab  tour\nat 2")
    # Claimed and sent; the platform has it, the answer (its id) is not recorded yet.
    ctx.db.conn.execute("UPDATE posts SET state = 'publishing' WHERE id = ?", [on_the_wire])
    ctx.db.conn.commit()
    platform.post_natively("Lab tour at 2")
    clock.advance(seconds=30)
    incident = declare(clock, settings, press)
    watch = runner(settings, platform)

    for _ in range(3):
        run_watch(clock.ctx, watch)
        clock.advance(seconds=INTERVAL)

    assert out_of_band(ctx) == []
    assert incident_watch(ctx.db, incident["id"])["accounts"][0]["checks"] == 3


def test_the_listing_reads_from_the_start_of_the_hold_less_the_margin_every_time(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any], press: Login
) -> None:
    asked: list[datetime] = []
    original = platform.factory

    def spying(kind: str, settings_: dict[str, Any], secrets: dict[str, str]) -> Any:
        connector = original(kind, settings_, secrets)
        listing = connector.recent_posts  # type: ignore[attr-defined]
        connector.recent_posts = lambda since: asked.append(since) or listing(since)  # type: ignore[attr-defined]
        return connector

    incident = declare(clock, settings, press)
    watch = WatchRunner(Vault(settings.vault_keys), spying, settings.watch_intervals)
    for _ in range(2):
        run_watch(clock.ctx, watch)
        clock.advance(seconds=INTERVAL)

    start = datetime.fromisoformat(incident["declared_at"])
    assert asked == [start - MARGIN, start - MARGIN]


def test_an_account_that_cannot_be_listed_is_named_with_its_reason_and_tried_hourly(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any], press: Login
) -> None:
    platform.list_error = ConnectorError("reads on X are billed per post: this account has not opted in",
                                         permanent=True)  # fmt: skip
    incident = declare(clock, settings, press)
    watch = runner(settings, platform)

    assert run_watch(clock.ctx, watch)["unwatchable"] == 1
    clock.advance(minutes=10)
    assert run_watch(clock.ctx, watch)["unwatchable"] == 0  # not again until the hour is up
    clock.advance(seconds=UNWATCHABLE_RETRY.total_seconds())
    assert run_watch(clock.ctx, watch)["unwatchable"] == 1

    (seen,) = incident_watch(ctx.db, incident["id"])["accounts"]
    assert seen["status"] == "unwatchable"
    assert "not opted in" in seen["reason"]
    assert seen["checks"] == 2


def test_a_transient_failure_is_failing_and_tried_again_at_the_interval(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any], press: Login
) -> None:
    platform.list_error = ConnectorError("HTTP 429: slow down", permanent=False, status=429)
    incident = declare(clock, settings, press)
    watch = runner(settings, platform)
    run_watch(clock.ctx, watch)
    platform.list_error = None
    clock.advance(seconds=INTERVAL)
    run_watch(clock.ctx, watch)

    (seen,) = incident_watch(ctx.db, incident["id"])["accounts"]
    assert (seen["status"], seen["checks"], seen["failures"]) == ("ok", 2, 1)
    changes = [e["details"]["status"] for e in audit.list_entries(ctx.db, subject=f"account:{account['id']}")
               if e["action"] == "account.watch_status"]  # fmt: skip
    assert changes == ["failing", "ok"]


def test_accounts_not_held_are_not_watched_unless_the_idle_watch_is_on(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any]
) -> None:
    platform.post_natively("ordinary Tuesday post")
    assert run_watch(clock.ctx, runner(settings, platform)) == {
        "ok": 0, "failing": 0, "unwatchable": 0, "skipped": 0, "out_of_band": 0,
    }  # fmt: skip
    assert sum(platform.requests.values()) == 0


def test_outside_an_incident_a_post_is_recorded_and_offered_to_the_escalation_hook_once(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any],
    manager: Login, ermc: Login,
) -> None:  # fmt: skip
    filed: list[Mapping[str, Any]] = []
    fail = [True]

    def escalate(change: Changes, post: Mapping[str, Any]) -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("escalations are down")
        filed.append(post)

    watch = runner(settings, platform, idle_seconds=900, escalate=escalate)
    run_watch(clock.ctx, watch)
    platform.post_natively("Buy cheap watches here")
    clock.advance(seconds=901)
    run_watch(clock.ctx, watch)  # recorded; the hook fails: offered again
    clock.advance(seconds=901)
    run_watch(clock.ctx, watch)
    clock.advance(seconds=901)
    run_watch(clock.ctx, watch)

    assert [p["text"] for p in filed] == ["Buy cheap watches here"]
    assert filed[0]["incident_id"] is None
    assert filed[0]["account_id"] == account["id"]
    assert ctx.db.conn.execute("SELECT escalated_at IS NOT NULL FROM out_of_band_posts").fetchone()[0] == 1
    told = {
        row[0] for row in ctx.db.conn.execute("SELECT recipient FROM notifications WHERE event = 'out_of_band_post'")
    }
    assert told == {manager.email, ermc.email}


def test_two_watchers_racing_record_each_post_once(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any], press: Login
) -> None:
    declare(clock, settings, press)
    platform.post_natively("from the app")
    both_listing = threading.Barrier(2, timeout=1)

    def wait_for_the_other() -> None:
        # The other is refused its claim, so it never lists: the barrier breaks, as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_listing.wait()

    platform.during_list = wait_for_the_other
    results: list[dict[str, int]] = []

    def watcher() -> None:
        db = connect(settings.db_path, busy_timeout=5)
        try:
            results.append(run_watch(Context(db, ctx.audit_key, clock), runner(settings, platform)))
        finally:
            db.close()

    threads = [threading.Thread(target=watcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r["out_of_band"] for r in results) == 1
    assert len(out_of_band(ctx)) == 1
    assert (
        ctx.db.conn.execute("SELECT COUNT(*) FROM incident_events WHERE kind = 'out_of_band_post'").fetchone()[0] == 1
    )


def test_the_metrics_count_out_of_band_posts_and_show_the_watch_lag_per_platform(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any], press: Login
) -> None:
    incident = declare(clock, settings, press)
    declared = datetime.fromisoformat(incident["declared_at"])
    samples = parse(render_metrics(ctx.db, clock.now).decode())
    assert value(samples, "lockdown_watch_lag_seconds", platform="x") == INTERVAL  # never listed: since the hold

    platform.post_natively("from the app")
    run_watch(clock.ctx, runner(settings, platform))
    clock.advance(seconds=45)
    samples = parse(render_metrics(ctx.db, clock.now).decode())

    assert value(samples, "lockdown_out_of_band_posts_total", platform="x", during_incident="true") == 1.0
    assert value(samples, "lockdown_watch_lag_seconds", platform="x") == 45.0
    assert clock.now - declared == timedelta(seconds=INTERVAL + 45)


def test_outside_an_incident_the_scheduler_files_one_hacked_escalation_for_ermc_with_the_mark(
    ctx: Context, clock: Clock, settings: Settings, platform: FakePlatform, account: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    watch = runner(settings, platform, idle_seconds=900, escalate=escalate_to_ermc("https://lockdown.example"))
    run_watch(clock.ctx, watch)
    platform.post_natively("Crypto giveaway, click here")

    # The escalation fails inside the transaction: the post is not marked, nothing is filed.
    def refused(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the escalations table is locked")

    monkeypatch.setattr(to_ermc, "file_escalation", refused)
    clock.advance(seconds=901)
    run_watch(clock.ctx, watch)
    assert ctx.db.conn.execute("SELECT escalated_at FROM out_of_band_posts").fetchone() == (None,)
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone() == (0,)

    monkeypatch.undo()
    for _ in range(2):
        clock.advance(seconds=901)
        run_watch(clock.ctx, watch)

    rows = ctx.db.conn.execute("SELECT kind, account_id, reporter, details FROM escalations").fetchall()
    assert len(rows) == 1, "once, however many runs see it"
    kind, account_id, reporter, details = rows[0]
    assert (kind, account_id, reporter) == ("hacked", account["id"], "lockdown-watch")
    assert "Crypto giveaway, click here" in details
    assert ctx.db.conn.execute("SELECT escalated_at IS NOT NULL FROM out_of_band_posts").fetchone() == (1,)
