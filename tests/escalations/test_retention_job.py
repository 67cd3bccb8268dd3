"""The scheduler's escalation retention job: registered hourly, and deleting closed reports past
LOCKDOWN_ESCALATION_RETENTION_DAYS by the dispatcher's clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from lockdown.clock.scheduler import SideJobs, build_scheduler
from lockdown.escalations.actions import close_escalation
from lockdown.escalations.reports import file_escalation
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import Login, count_rows


def test_the_scheduler_has_an_hourly_retention_job(settings: Settings, app: Any) -> None:
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    try:
        job = scheduler.get_job("escalation_retention")
        assert job is not None
        assert job.trigger.interval == timedelta(hours=1)
    finally:
        dispatcher.close()


def test_the_retention_job_deletes_closed_reports_past_the_setting(
    ctx: Context, settings: Settings, ermc: Login
) -> None:
    filed = file_escalation(
        ctx, reporter=None, kind="other", account_id=None, url="https://x.example", details="d",
        public_url="https://l.example",
    )  # fmt: skip
    close_escalation(ctx, ermc.user, filed, {"reason": "done"})
    now = [ctx.now()]
    dispatcher = Dispatcher(
        replace(settings, escalation_retention_days=7), audit.audit_key(settings.require_secret_key()),
        clock=lambda: now[0],
    )  # fmt: skip
    jobs = SideJobs(replace(settings, escalation_retention_days=7), dispatcher)
    try:
        now[0] += timedelta(days=6)
        jobs.escalation_retention()
        assert count_rows(ctx, "escalations") == 1
        now[0] += timedelta(days=1, minutes=1)
        jobs.escalation_retention()
    finally:
        dispatcher.close()
    assert count_rows(ctx, "escalations") == 0
