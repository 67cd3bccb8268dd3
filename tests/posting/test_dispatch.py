"""The dispatcher with an injected clock: on time, exactly once, retries, failures, crashes."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready
from lockdown.posting import posts
from lockdown.posting.dispatch import MAX_ATTEMPTS, Dispatcher, backoff_seconds
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import Login

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakePlatform:
    """A connector factory whose connector records sends and fails as scripted."""

    def __init__(self) -> None:
        self.sent: list[OutgoingPost] = []
        self.script: list[ConnectorError] = []
        self.lock = threading.Lock()
        # How long the fake platform de-duplicates a repeated publish (None: it does not).
        self.window: timedelta | None = None

    def __call__(self, kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
        platform = self

        class Fake(Connector):
            kind = "fake"
            deduplicates_publish_for = platform.window

            def publish(self, post: OutgoingPost) -> Published:
                with platform.lock:
                    platform.sent.append(post)
                    if platform.script:
                        raise platform.script.pop(0)
                return Published(remote_id=f"remote-{post.post_id}")

            def delete(self, remote_id: str) -> None:
                pass

            def check(self) -> Ready:
                return Ready(account="fake")

        return Fake(settings, secrets)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def dispatcher(settings: Settings, app: Any, clock: Clock, platform: FakePlatform) -> Iterator[Dispatcher]:
    worker = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        clock=clock,
        connector_factory=platform,
        rng=random.Random(1),
    )
    yield worker
    worker.close()


@pytest.fixture
def schedule(
    ctx: Context,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    clock: Clock,
) -> Callable[..., int]:
    """Create and approve a post due at START + minutes, as two colleagues would."""
    manager, editor = make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email])

    def make(minutes: float = 10, body: str = "Open day on Saturday") -> int:
        ctx.clock = lambda: clock.now - timedelta(days=1)  # drafted the day before
        when = (START + timedelta(minutes=minutes)).isoformat()
        post = posts.create_post(ctx, editor.user, {"account_id": account["id"], "body": body, "scheduled_at": when})
        posts.approve_post(ctx, manager.user, post["id"])
        return int(post["id"])

    return make


def state(ctx: Context, post_id: int) -> dict[str, Any]:
    return posts.get_post(ctx.db, post_id)


def test_nothing_goes_out_before_its_time_and_it_goes_out_once_at_its_time(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=10)
    clock.advance(minutes=9, seconds=59)
    assert dispatcher.tick().claimed == 0
    assert platform.sent == []
    clock.advance(seconds=1)
    report = dispatcher.tick()
    assert (report.claimed, report.published) == (1, 1)
    post = state(ctx, post_id)
    assert post["state"] == "published"
    assert post["remote_id"] == f"remote-{post_id}"
    assert post["dispatched_at"] == "2026-12-01T09:10:00.000000Z"
    clock.advance(minutes=5)
    dispatcher.tick()
    assert [sent.post_id for sent in platform.sent] == [post_id]


def test_posts_awaiting_review_or_cancelled_never_go_out(
    dispatcher: Dispatcher,
    ctx: Context,
    schedule: Callable[..., int],
    clock: Clock,
    platform: FakePlatform,
    ermc: Login,
) -> None:
    cancelled = schedule(minutes=1)
    posts.cancel_post(ctx, ermc.user, cancelled)
    pending = posts.create_post(
        ctx,
        ermc.user,
        {
            "account_id": 1,
            "body": "Draft",
            "scheduled_at": (START + timedelta(minutes=1)).isoformat(),
        },
    )
    clock.advance(minutes=2)
    dispatcher.tick()
    assert platform.sent == []
    assert state(ctx, pending["id"])["state"] == "pending_review"


def test_a_transient_failure_is_retried_later_with_backoff_then_published(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=0.5)
    # A 429: the platform did not act (a 5xx might have: see the test after the next).
    platform.script = [ConnectorError("HTTP 429: slow down", permanent=False, status=429, retry_after=120)]
    clock.advance(minutes=1)
    assert dispatcher.tick().retried == 1
    post = state(ctx, post_id)
    assert post["state"] == "scheduled"
    assert "attempt 1 failed: HTTP 429: slow down" in post["error"]
    due = datetime.fromisoformat(post["due_at"])
    assert due >= clock.now + timedelta(seconds=120), "Retry-After is honoured"
    clock.now = due - timedelta(seconds=1)
    assert dispatcher.tick().claimed == 0
    clock.now = due
    assert dispatcher.tick().published == 1
    assert state(ctx, post_id)["attempts"] == 2
    assert state(ctx, post_id)["error"] is None


def test_transient_failures_give_up_after_the_limit(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=0.5)
    platform.script = [ConnectorError("connection refused", permanent=False) for _ in range(MAX_ATTEMPTS)]
    clock.advance(minutes=1)
    for _ in range(MAX_ATTEMPTS):
        dispatcher.tick()
        due = datetime.fromisoformat(state(ctx, post_id)["due_at"])
        clock.now = max(clock.now, due)
    post = state(ctx, post_id)
    assert post["state"] == "failed"
    assert f"gave up after {MAX_ATTEMPTS} attempts" in post["error"]
    assert len(platform.sent) == MAX_ATTEMPTS


def test_a_permanent_failure_fails_at_once_with_the_platforms_message(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=0.5)
    platform.script = [ConnectorError("HTTP 403: You are not allowed to create a Tweet", permanent=True, status=403)]
    clock.advance(minutes=1)
    assert dispatcher.tick().failed == 1
    post = state(ctx, post_id)
    assert post["state"] == "failed"
    assert post["error"] == "HTTP 403: You are not allowed to create a Tweet"


def test_an_unanswered_send_becomes_unknown_and_waits_for_a_person(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
    ermc: Login,
) -> None:
    post_id = schedule(minutes=0.5)
    platform.script = [ConnectorError("read timed out", permanent=False, ambiguous=True)]
    clock.advance(minutes=1)
    assert dispatcher.tick().unknown == 1
    assert state(ctx, post_id)["state"] == "unknown"
    clock.advance(hours=1)
    dispatcher.tick()
    assert len(platform.sent) == 1, "an unknown post is never retried blindly"
    ctx.clock = clock
    published = posts.mark_published(ctx, ermc.user, post_id, {"remote_id": "1850000000000000000"})
    assert (published["state"], published["remote_id"]) == ("published", "1850000000000000000")


def test_a_server_error_after_sending_makes_the_post_unknown_never_a_second_publish(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    # #13: a platform without an idempotency key may have posted it; X and LinkedIn refuse the
    # repeat, Facebook and Bluesky post it twice.
    post_id = schedule(minutes=0.5)
    platform.script = [ConnectorError("HTTP 503: busy", permanent=False, status=503, retry_after=120)]
    clock.advance(minutes=1)
    assert dispatcher.tick().unknown == 1
    post = state(ctx, post_id)
    assert post["state"] == "unknown"
    assert "it may have been published" in post["error"]
    clock.advance(hours=2)
    dispatcher.tick()
    assert len(platform.sent) == 1, "never a second publish"


def test_giving_up_on_a_deduplicated_publish_that_never_got_a_clear_answer_leaves_it_unknown(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    # Each 5xx was retried because the platform de-duplicates; any one of them may have posted it,
    # so running out of attempts is no proof that it failed.
    post_id = schedule(minutes=0.5)
    platform.window = timedelta(days=1)
    platform.script = [
        ConnectorError("HTTP 502: bad gateway", permanent=False, status=502, retry_after=60) for _ in range(6)
    ]
    clock.advance(minutes=1)
    for _ in range(6):
        dispatcher.tick()
        clock.now = max(clock.now, datetime.fromisoformat(state(ctx, post_id)["due_at"]))
    post = state(ctx, post_id)
    assert post["state"] == "unknown", post
    assert "it may have been published" in post["error"]


def test_a_deduplicating_platform_gets_the_first_attempts_time_and_a_retry_within_its_window(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=0.5)
    platform.window = timedelta(hours=1)
    platform.script = [ConnectorError("HTTP 502: bad gateway", permanent=False, status=502, retry_after=600)]
    clock.advance(minutes=1)
    first_sent = clock.now
    assert dispatcher.tick().retried == 1
    clock.now = datetime.fromisoformat(state(ctx, post_id)["due_at"])
    assert dispatcher.tick().published == 1
    first, second = platform.sent
    assert (first.first_sent_at, first.sending_at) == (first_sent, first_sent)
    assert (second.first_sent_at, second.sending_at) == (first_sent, clock.now)


def test_a_deduplicating_platform_is_not_asked_again_after_its_window(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    # Mastodon keeps an Idempotency-Key one hour: a later repeat of an unanswered publish could
    # post it twice, so the post waits for a person instead.
    post_id = schedule(minutes=0.5)
    platform.window = timedelta(hours=1)
    platform.script = [ConnectorError("HTTP 503: busy", permanent=False, status=503, retry_after=7200)]
    clock.advance(minutes=1)
    assert dispatcher.tick().retried == 1
    clock.now = datetime.fromisoformat(state(ctx, post_id)["due_at"])
    assert dispatcher.tick().unknown == 1
    assert state(ctx, post_id)["state"] == "unknown"
    assert len(platform.sent) == 1, "the late repeat is never sent"


def test_backoff_grows_with_jitter_and_respects_the_cap() -> None:
    rng = random.Random(7)
    waits = [backoff_seconds(attempt, None, rng) for attempt in range(1, 12)]
    assert all(15 <= wait <= 3600 for wait in waits)
    assert waits[3] > waits[0]
    assert backoff_seconds(1, 900, rng) == 900


def test_a_post_claimed_by_a_crashed_dispatcher_becomes_unknown(
    settings: Settings,
    app: Any,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
    ermc: Login,
) -> None:
    key = audit.audit_key(settings.require_secret_key())
    post_id = schedule(minutes=0.5)
    clock.advance(minutes=1)
    crashed = Dispatcher(settings, key, clock=clock, connector_factory=platform)
    crashed.heartbeat()
    # Claimed and marked for sending, then the process dies: the platform may have the post.
    # (A claim that was never marked is released instead: see tests/clock/test_crash.py.)
    (claimed,) = crashed._claim(crashed.context())
    assert crashed._still_ours(crashed.context(), claimed)
    assert state(ctx, post_id)["state"] == "publishing"
    survivor = Dispatcher(settings, key, clock=clock, connector_factory=platform)
    try:
        survivor.tick()
        assert state(ctx, post_id)["state"] == "publishing", "the crashed one's lease has not run out"
        clock.advance(minutes=3)
        report = survivor.tick()
        assert report.recovered == 1
        post = state(ctx, post_id)
        assert post["state"] == "unknown"
        assert "stopped" in post["error"]
        assert platform.sent == []
        ctx.clock = clock
        rescheduled = posts.reschedule_post(
            ctx,
            ermc.user,
            post_id,
            {"scheduled_at": (clock.now + timedelta(minutes=5)).isoformat()},
        )
        assert rescheduled["state"] == "scheduled"
        clock.advance(minutes=5)
        survivor.tick()
        assert state(ctx, post_id)["state"] == "published"
        assert len(platform.sent) == 1
    finally:
        crashed.close()
        survivor.close()


def test_after_downtime_stale_posts_wait_for_review_and_recent_ones_go_out(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    stale = [schedule(minutes=1), schedule(minutes=2)]
    recent = schedule(minutes=50)
    clock.advance(minutes=55)  # the scheduler was down; the grace is 15 minutes
    report = dispatcher.tick()
    assert report.parked == 2
    assert [sent.post_id for sent in platform.sent] == [recent]
    for post_id in stale:
        post = state(ctx, post_id)
        assert post["state"] == "needs_review"
        assert "missed its time" in post["error"]


def test_a_change_between_claim_and_send_sends_nothing(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    post_id = schedule(minutes=0.5)
    clock.advance(minutes=1)
    claimed = dispatcher._claim(dispatcher.context())
    ctx.db.conn.execute("UPDATE posts SET claimed_by = 'someone-else' WHERE id = ?", [post_id])
    ctx.db.conn.commit()
    assert dispatcher._send(claimed[0]) == "returned"
    assert platform.sent == []


def test_healthz_shows_the_last_tick(client: Any, dispatcher: Dispatcher, clock: Clock) -> None:
    assert client.get("/healthz").json["scheduler"]["last_tick"] is None
    dispatcher.tick()
    assert client.get("/healthz").json["scheduler"]["last_tick"] == "2026-12-01T09:00:00.000000Z"


def test_the_audit_chain_holds_after_dispatching(
    dispatcher: Dispatcher,
    schedule: Callable[..., int],
    ctx: Context,
    clock: Clock,
    platform: FakePlatform,
) -> None:
    for minutes in range(1, 6):
        schedule(minutes=minutes)
    platform.script = [ConnectorError("busy", permanent=False)]
    clock.advance(minutes=10)
    dispatcher.tick()
    actions = [r[0] for r in ctx.db.conn.execute("SELECT action FROM audit_log WHERE actor = 'scheduler'")]
    assert actions.count("post.claim") == 5
    assert actions.count("post.published") == 4
    assert actions.count("post.retried") == 1
    assert audit.verify(ctx.db, ctx.audit_key).ok


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that fails first with 500, then answers with an id."""

    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.calls.append({"key": self.headers["Idempotency-Key"], "body": json.loads(self.rfile.read(length))})
        status, answer = (500, b'{"error": "warming up"}') if len(Receiver.calls) == 1 else (201, b'{"id": "hook-77"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_webhook_post_goes_out_through_a_real_receiver_with_one_idempotency_key(
    settings: Settings,
    app: Any,
    client: Any,
    ermc: Login,
    make_user: Callable[..., Login],
    clock: Clock,
    ctx: Context,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.calls = []
    manager = make_user("manager")
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    account = client.post(
        "/api/v1/accounts",
        json={
            "handle": "@livuni_hook",
            "platform": "other",
            "unit": "IT",
            "purpose": "Relay",
            "monitored_hours": "24/7",
            "manager": manager.email,
            "connector": {"kind": "webhook", "url": url},
        },
        headers=ermc.headers,
    ).json
    ctx.clock = lambda: clock.now - timedelta(hours=1)
    post = posts.create_post(
        ctx,
        manager.user,
        {
            "account_id": account["id"],
            "body": "Hello",
            "scheduled_at": (START + timedelta(seconds=30)).isoformat(),
        },
    )
    posts.approve_post(ctx, ermc.user, post["id"])
    worker = Dispatcher(settings, audit.audit_key(settings.require_secret_key()), clock=clock)
    try:
        clock.advance(minutes=1)
        assert worker.tick().retried == 1
        clock.now = datetime.fromisoformat(state(ctx, post["id"])["due_at"])
        assert worker.tick().published == 1
    finally:
        worker.close()
        server.shutdown()
        server.server_close()
    assert state(ctx, post["id"])["remote_id"] == "hook-77"
    assert len(Receiver.calls) == 2
    assert Receiver.calls[0]["key"] == Receiver.calls[1]["key"]
    assert Receiver.calls[1]["body"] == {
        "post_id": post["id"],
        "account_id": account["id"],
        "handle": "@livuni_hook",
        "platform": "other",
        "body": "Hello",
        "scheduled_at": post["scheduled_at"],
    }


def test_with_a_lookahead_a_tick_waits_for_a_post_falling_due_before_the_next_tick(
    settings: Settings,
    app: Any,
    ctx: Context,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    manager, editor = make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email])
    when = datetime.now(UTC) + timedelta(seconds=0.5)
    post = posts.create_post(
        ctx,
        editor.user,
        {"account_id": account["id"], "body": "Now", "scheduled_at": when.isoformat()},
    )
    posts.approve_post(ctx, manager.user, post["id"])
    worker = Dispatcher(settings, audit.audit_key(settings.require_secret_key()), lookahead_seconds=1.0)
    try:
        report = worker.tick()
    finally:
        worker.close()
    assert report.published == 1
    sent = state(ctx, post["id"])
    assert sent["dispatched_at"] >= sent["scheduled_at"], "never early"


def test_an_unexpected_error_in_a_connector_leaves_the_post_unknown_not_stuck(
    settings: Settings, app: Any, schedule: Callable[..., int], ctx: Context, clock: Clock
) -> None:
    def broken(kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
        raise KeyError("a bug")

    post_id = schedule(minutes=0.5)
    clock.advance(minutes=1)
    worker = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        clock=clock,
        connector_factory=broken,
    )
    try:
        assert worker.tick().unknown == 1
    finally:
        worker.close()
    post = state(ctx, post_id)
    assert post["state"] == "unknown"
    assert "internal error" in post["error"]
