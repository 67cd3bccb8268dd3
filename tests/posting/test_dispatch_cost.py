"""What a dispatch tick costs follows the posts that are due, not every post that is scheduled:
its claim runs under the write lock every tick, so reading 70,000 scheduled posts there held
every other writer up (#12, finding 14)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.timeutil import to_iso
from tests.conftest import Login

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STEPS_PER_CALL = 10


@pytest.fixture
def dispatcher(settings: Settings, app: Any) -> Iterator[Dispatcher]:
    key = audit.audit_key(settings.require_secret_key())
    worker = Dispatcher(settings, key, clock=lambda: NOW, rng=random.Random(1))
    yield worker
    worker.close()


def schedule_tomorrow(ctx: Context, account_id: int, author: int, count: int) -> None:
    """Approved posts due tomorrow, written in bulk as a large register has them."""
    due, stamp = to_iso(NOW + timedelta(days=1)), to_iso(NOW)
    with ctx.change() as change:
        ctx.db.conn.executemany(
            "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, idempotency_key, "
            "created_at, updated_at) VALUES (?, 'Open day', ?, ?, 'scheduled', ?, ?, ?, ?)",
            [(account_id, due, due, author, uuid.uuid4().hex, stamp, stamp) for _ in range(count)],
        )
        change.audit("test", "test.seed", "posts", count=count)


def steps_of_a_tick(dispatcher: Dispatcher) -> int:
    """SQLite virtual-machine steps one tick takes on the dispatcher's connection (in tens)."""
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0

    conn = dispatcher.context().db.conn
    conn.set_progress_handler(count, STEPS_PER_CALL)
    try:
        report = dispatcher.tick()
    finally:
        conn.set_progress_handler(None, STEPS_PER_CALL)
    assert report.claimed == 0, "nothing was due"
    return calls


def test_a_tick_with_nothing_due_reads_no_scheduled_post(
    dispatcher: Dispatcher, ctx: Context, register: Any, manager: Login
) -> None:
    account = register(manager)
    schedule_tomorrow(ctx, account["id"], manager.user.id, 10)
    dispatcher.tick()  # the first tick registers the dispatcher
    few = steps_of_a_tick(dispatcher) * STEPS_PER_CALL
    extra = 20_000
    schedule_tomorrow(ctx, account["id"], manager.user.id, extra)
    many = steps_of_a_tick(dispatcher) * STEPS_PER_CALL
    # Reading a row takes several steps: fewer extra steps than extra posts means none was read.
    assert many - few < extra, f"{few:,} steps with 10 posts scheduled, {many:,} with {extra + 10:,}"
