"""The scheduler's readiness job: registered beside the dispatch tick, and checking through the
dispatcher's own connector factory and vault, at each account's slot."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lockdown.clock.scheduler import SideJobs, build_scheduler
from lockdown.posting.dispatch import Dispatcher
from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import Login, account_payload
from tests.readiness.test_checks import Platform


def test_the_scheduler_has_a_readiness_job_every_minute(settings: Settings, app: Any) -> None:
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    try:
        job = scheduler.get_job("readiness")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=60)
    finally:
        dispatcher.close()


def test_the_readiness_job_checks_each_account_at_its_slot_with_the_dispatchers_connectors(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    made = [register_account(ctx, ermc.user, account_payload(manager.email)) for _ in range(3)]
    platform = Platform()
    now = [ctx.now()]
    dispatcher = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        clock=lambda: now[0],
        connector_factory=platform.factory,
    )
    jobs = SideJobs(settings, dispatcher)
    try:
        jobs.readiness()  # every account gets its slot in the next six hours
        first = platform.checks
        now[0] += timedelta(hours=6, minutes=1)
        jobs.readiness()
    finally:
        dispatcher.close()

    assert first <= len(made)
    assert platform.checks == len(made)
    due = [datetime.fromisoformat(row[0]) for row in ctx.db.conn.execute("SELECT next_check_at FROM account_readiness")]
    assert all(moment > now[0] for moment in due)
