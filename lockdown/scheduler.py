"""APScheduler is only the clock: a few interval jobs that read and claim work from the
database. Posts are never APScheduler jobs. Started by ``lockdown scheduler`` or inside
``lockdown serve``, never by the app factory."""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from lockdown import audit
from lockdown.db import connect
from lockdown.dispatch import LEASE_SECONDS, Dispatcher
from lockdown.migrations import migrate
from lockdown.settings import Settings

log = logging.getLogger(__name__)


def _safely(name: str, job: Any) -> Any:
    def run() -> None:
        try:
            job()
        except Exception:
            # A failed tick is logged and the next one tries again; /healthz shows the gap.
            log.exception("%s failed", name)

    return run


def build_scheduler(settings: Settings, *, blocking: bool) -> tuple[BaseScheduler, Dispatcher]:
    """A scheduler with the dispatch tick and the heartbeat, and the dispatcher it drives."""
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)
    finally:
        db.close()
    dispatcher = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        lookahead_seconds=settings.tick_seconds,
    )
    # A tick still sending when the next is due is skipped by design (coalesce, one at a
    # time); APScheduler would log each skip as a warning.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(
        _safely("dispatch tick", dispatcher.tick),
        "interval",
        seconds=settings.tick_seconds,
        id="dispatch",
        name="claim and send due posts",
    )
    # A heartbeat of its own, so a long tick (slow platforms) does not look like a crash.
    scheduler.add_job(
        _safely("heartbeat", dispatcher.heartbeat),
        "interval",
        seconds=LEASE_SECONDS / 4,
        id="heartbeat",
        name="say this dispatcher is alive",
    )
    return scheduler, dispatcher
