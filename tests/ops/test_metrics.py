"""/metrics: Prometheus text read from the database at scrape time, optionally behind a token."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from connectors.base import ConnectorError
from lockdown.app import create_app
from lockdown.ops.metrics import DatabaseCollector, render_metrics
from lockdown.posting.connector_failures import failure_kind, record_connector_failure
from lockdown.settings import Settings
from lockdown.store.context import Context
from lockdown.timeutil import to_iso
from tests.conftest import Login

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOKEN = "metrics-token-0123456789abcdef"


def scrape(client: FlaskClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and sorted labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_fresh_installation_reports_zeros_and_a_scheduler_that_never_ticked(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(response.text)
    assert value(samples, "lockdown_held_accounts") == 0
    assert value(samples, "lockdown_active_incidents", exercise="false") == 0
    assert value(samples, "lockdown_active_incidents", exercise="true") == 0
    assert value(samples, "lockdown_notification_backlog") == 0
    assert value(samples, "lockdown_posts", state="scheduled") == 0
    assert value(samples, "lockdown_dispatch_lateness_seconds_count") == 0
    assert value(samples, "lockdown_scheduler_last_tick_age_seconds") == float("inf")
    assert value(samples, "lockdown_audit_entries") == 0
    assert not [key for key in samples if key[0] == "lockdown_connector_failures_total"]


def test_declaring_an_incident_shows_in_the_metrics(
    client: FlaskClient,
    ctx: Context,
    press: Login,
    manager: Login,
    register: Callable[..., dict[str, Any]],
) -> None:
    for _ in range(3):
        register(manager)
    register(manager, handle="@livuni", central=True)
    account = register(manager)
    post = client.post(
        "/api/v1/posts",
        json={"account_id": account["id"], "body": "Open day", "scheduled_at": "2030-01-01T09:00:00Z"},
        headers=manager.headers,
    )
    assert post.status_code == 201, post.json
    declared = client.post(
        "/api/v1/incidents", json={"title": "Fire", "reason": "Reported by security"}, headers=press.headers
    )
    assert declared.status_code == 201, declared.json
    samples = scrape(client)
    assert value(samples, "lockdown_held_accounts") == declared.json["held_accounts"] >= 4
    assert value(samples, "lockdown_active_incidents", exercise="false") == 1
    assert value(samples, "lockdown_active_incidents", exercise="true") == 0
    assert value(samples, "lockdown_posts", state="pending_review") == 1
    pending = ctx.db.conn.execute("SELECT COUNT(*) FROM notifications WHERE state = 'pending'").fetchone()[0]
    assert value(samples, "lockdown_notification_backlog") == pending > 0
    entries = ctx.db.conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    assert value(samples, "lockdown_audit_entries") == entries
    resolved = client.post(f"/api/v1/incidents/{declared.json['id']}/resolve", json={}, headers=press.headers)
    assert resolved.status_code == 200, resolved.json
    after = scrape(client)
    assert value(after, "lockdown_held_accounts") == 0
    assert value(after, "lockdown_active_incidents", exercise="false") == 0


def _published_posts(
    client: FlaskClient, ctx: Context, manager: Login, register: Callable[..., dict[str, Any]], lateness: list[float]
) -> None:
    """Published posts whose platform call came ``lateness`` seconds after they fell due."""
    account = register(manager)
    for seconds in lateness:
        created = client.post(
            "/api/v1/posts",
            json={"account_id": account["id"], "body": "News", "scheduled_at": "2030-01-01T09:00:00Z"},
            headers=manager.headers,
        )
        due = NOW - timedelta(minutes=10)
        ctx.db.conn.execute(
            "UPDATE posts SET state = 'published', due_at = ?, sending_at = ?, published_at = ? WHERE id = ?",
            [to_iso(due), to_iso(due + timedelta(seconds=seconds)), to_iso(NOW - timedelta(minutes=9)),
             created.json["id"]],
        )  # fmt: skip
        ctx.db.conn.commit()


def test_dispatch_lateness_is_a_histogram_over_the_last_hour(
    client: FlaskClient, ctx: Context, manager: Login, register: Callable[..., dict[str, Any]]
) -> None:
    _published_posts(client, ctx, manager, register, [0.25, 3.0, 100.0])
    # One published two hours ago is outside the window.
    ctx.db.conn.execute(
        "UPDATE posts SET published_at = ? WHERE id = (SELECT MAX(id) FROM posts)",
        [to_iso(NOW - timedelta(hours=2))],
    )
    ctx.db.conn.commit()
    samples = parse(render_metrics(ctx.db, NOW).decode())
    bucket = "lockdown_dispatch_lateness_seconds_bucket"
    assert value(samples, bucket, le="0.5") == 1
    assert value(samples, bucket, le="2.0") == 1
    assert value(samples, bucket, le="5.0") == 2
    assert value(samples, bucket, le="+Inf") == 2
    assert value(samples, "lockdown_dispatch_lateness_seconds_count") == 2
    assert value(samples, "lockdown_dispatch_lateness_seconds_sum") == pytest.approx(3.25, abs=0.01)
    assert value(samples, "lockdown_posts", state="published") == 3


def test_the_lateness_query_reads_the_published_index_not_every_post(ctx: Context) -> None:
    plan = " ".join(
        row[3]
        for row in ctx.db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM posts "
            "WHERE state = 'published' AND published_at >= ? AND sending_at IS NOT NULL",
            ["2026-01-01T00:00:00.000000Z"],
        )
    )
    assert "posts_published" in plan


def test_connector_failures_are_counted_by_kind_and_platform(
    client: FlaskClient, ctx: Context, manager: Login, register: Callable[..., dict[str, Any]]
) -> None:
    x, mastodon = register(manager), register(manager, platform="mastodon")
    failures = [(x, "transient"), (x, "transient"), (x, "permanent"), (mastodon, "ambiguous")]
    for account, kind in failures:
        record_connector_failure(
            ctx.db.conn, post_id=None, account_id=account["id"], platform=account["platform"],
            connector="outbox", kind=kind, at=NOW,
        )  # fmt: skip
    ctx.db.conn.commit()
    samples = scrape(client)
    total = "lockdown_connector_failures_total"
    assert value(samples, total, kind="transient", platform="x") == 2
    assert value(samples, total, kind="permanent", platform="x") == 1
    assert value(samples, total, kind="ambiguous", platform="mastodon") == 1
    assert sum(v for key, v in samples.items() if key[0] == total) == 4
    row = ctx.db.conn.execute("SELECT at, connector FROM connector_failures ORDER BY id LIMIT 1").fetchone()
    assert row == (to_iso(NOW), "outbox")


def test_an_unknown_failure_kind_is_refused(ctx: Context) -> None:
    with pytest.raises(ValueError, match="kind must be one of permanent, transient, ambiguous"):
        record_connector_failure(
            ctx.db.conn, post_id=None, account_id=1, platform="x", connector="x", kind="flaky", at=NOW
        )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectorError("bad token", permanent=True), "permanent"),
        (ConnectorError("503", permanent=False), "transient"),
        (ConnectorError("read timeout", permanent=False, ambiguous=True), "ambiguous"),
        # The dispatcher treats ambiguity first: the post may be out, whatever else is said.
        (ConnectorError("odd", permanent=True, ambiguous=True), "ambiguous"),
    ],
)
def test_failure_kinds_follow_the_dispatcher(error: ConnectorError, kind: str) -> None:
    assert failure_kind(error) == kind


def test_the_last_tick_age_comes_from_the_dispatchers_table(ctx: Context) -> None:
    tick = to_iso(NOW - timedelta(seconds=30))
    ctx.db.conn.execute(
        "INSERT INTO dispatchers (id, host, pid, started_at, last_tick_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
        ["elsewhere:1:abc", "elsewhere", 1, tick, tick, tick],
    )
    ctx.db.conn.commit()
    families = {family.name: family for family in DatabaseCollector(ctx.db, NOW).collect()}
    assert families["lockdown_scheduler_last_tick_age_seconds"].samples[0].value == pytest.approx(30.0)


def test_metrics_are_read_in_one_snapshot_and_leave_no_transaction_open(ctx: Context) -> None:
    render_metrics(ctx.db, NOW)
    assert not ctx.db.conn.in_transaction


def test_the_dispatcher_loads_neither_metrics_nor_the_clock() -> None:
    # Metrics only read what the dispatcher wrote, and the clock drives the dispatcher: an import
    # the other way (even one inside a function) would bring back the circle the layout removed.
    code = (
        "import sys, lockdown.posting.dispatch; "
        "sys.exit(sorted(m for m in sys.modules if m.startswith(('lockdown.ops', 'lockdown.clock'))) or 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, timeout=60, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_metrics_stay_out_of_the_api_document(client: FlaskClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


@pytest.fixture
def guarded(settings: Settings) -> FlaskClient:
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN))
    app.config["TESTING"] = True
    return app.test_client()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
def test_with_a_token_set_metrics_refuse_anything_else(guarded: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = guarded.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "LOCKDOWN_METRICS_TOKEN" in response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_with_a_token_set_metrics_answer_the_right_bearer(guarded: FlaskClient) -> None:
    samples = scrape(guarded, Authorization=f"Bearer {TOKEN}")
    assert value(samples, "lockdown_held_accounts") == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"LOCKDOWN_METRICS_TOKEN": TOKEN}, TOKEN),
    ],
)
def test_the_metrics_token_is_read_from_the_environment(env: dict[str, str], expected: str | None) -> None:
    settings = Settings.from_env(env)
    assert settings.metrics_token == expected
    assert TOKEN not in repr(settings)


def test_the_metrics_token_can_come_from_a_file(tmp_path: Any) -> None:
    path = tmp_path / "metrics.token"
    path.write_text(TOKEN + "\n")
    assert Settings.from_env({"LOCKDOWN_METRICS_TOKEN_FILE": str(path)}).metrics_token == TOKEN


def test_a_dispatcher_failure_is_counted_in_the_metrics(
    settings: Settings, ctx: Context, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    from lockdown.posting import posts
    from lockdown.posting.dispatch import Dispatcher
    from tests.posting.test_dispatch import Clock, FakePlatform

    clock, platform = Clock(NOW), FakePlatform()
    platform.script = [ConnectorError("503", permanent=False), ConnectorError("bad token", permanent=True)]
    manager, editor = make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email])
    ctx.clock = lambda: NOW - timedelta(days=1)
    when = (NOW + timedelta(minutes=10)).isoformat()
    post = posts.create_post(ctx, editor.user, {"account_id": account["id"], "body": "Open day", "scheduled_at": when})
    posts.approve_post(ctx, manager.user, post["id"])
    worker = Dispatcher(settings, ctx.audit_key, clock=clock, connector_factory=platform)
    try:
        clock.advance(minutes=10)
        assert worker.tick().retried == 1
        clock.advance(minutes=2)
        assert worker.tick().failed == 1
    finally:
        worker.close()
    samples = parse(render_metrics(ctx.db, clock.now).decode())
    total = "lockdown_connector_failures_total"
    assert value(samples, total, kind="transient", platform="x") == 1
    assert value(samples, total, kind="permanent", platform="x") == 1
