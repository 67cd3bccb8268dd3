"""APScheduler is only the clock: a few interval jobs that read and claim work from the
database. Posts are never APScheduler jobs. Started by ``lockdown scheduler`` or inside
``lockdown serve``, never by the app factory."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from lockdown.clock.health import SchedulerHealth
from lockdown.escalations.actions import delete_expired
from lockdown.incidents.approval_requests import request_approvals
from lockdown.incidents.config import incident_config
from lockdown.incidents.native_schedules import process_native_schedules
from lockdown.notify.delivery import deliver_due
from lockdown.posting.dispatch import Dispatcher
from lockdown.posting.media_sweep import sweep_media
from lockdown.readiness.checks import CheckRunner, run_due_checks
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.dispatchers import LEASE_SECONDS
from lockdown.store.migrations import migrate
from lockdown.vault.credentials import expire_sessions
from lockdown.vault.rotation import end_takeovers, send_reminders
from lockdown.watch.checks import EscalationHook, WatchRunner, run_watch
from lockdown.watch.to_ermc import escalate_to_ermc

log = logging.getLogger(__name__)


def _safely(name: str, job: Any, dispatcher: Dispatcher, health: SchedulerHealth) -> Any:
    def run() -> None:
        try:
            job()
        except Exception as exc:
            # A failed tick is logged and the next one tries again; /healthz shows the fault
            # (for the dispatch tick: nothing is being dispatched) until a tick succeeds.
            log.exception("%s failed", name)
            if isinstance(exc, sqlite3.Error):
                dispatcher.renew_connections()
            health.job_failed(name, exc, dispatcher.clock())

    return run


class SideJobs:
    """The jobs beside the dispatch tick, each on its own thread's connection (the
    dispatcher's, renewed with them after a database error)."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher, escalate: EscalationHook | None = None) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        # What files an escalation for an out-of-band post seen outside an incident (#15):
        # ERMC's triage queue, unless a caller (a test) gives another.
        self.escalate = escalate if escalate is not None else escalate_to_ermc(settings.public_url)
        self.incidents = incident_config(settings)
        self.waiting_for_mail = 0

    def _context(self) -> Context:
        return self.dispatcher.context()

    def deliver_notifications(self) -> None:
        """Ask for waiting approvals, then send due notices (email, webhook); a failure is
        retried, never blocks anything."""
        ctx = self._context()
        request_approvals(ctx, self.incidents, timedelta(seconds=self.settings.approval_reminder_seconds))
        report = deliver_due(ctx, self.settings)
        # Said once when notices start to wait for mail, not on every run: /healthz and the
        # console show the count for as long as it lasts.
        if report.waiting_for_mail and not self.waiting_for_mail:
            log.warning(
                "mail is not configured (LOCKDOWN_SMTP_URL or LOCKDOWN_MAIL_MBOX): %d email notices wait "
                "and go out once it is; /healthz shows how many",
                report.waiting_for_mail,
            )
        self.waiting_for_mail = report.waiting_for_mail

    def vault_sweeps(self) -> None:
        """Expire access sessions, end takeovers, send quarterly rotation reminders."""
        ctx = self._context()
        expire_sessions(ctx)
        end_takeovers(ctx)
        send_reminders(ctx)

    def native_schedules(self) -> None:
        """Withdraw or restore posts scheduled on the platforms themselves."""
        process_native_schedules(self._context(), self.dispatcher.vault, self.dispatcher.connector_factory)

    def readiness(self) -> None:
        """Check the accounts whose slot in the readiness interval has come. A check publishes
        nothing and takes the write lock only to claim and to record, so it runs during an
        incident too: a central account found failing then is worth knowing at once."""
        runner = CheckRunner(
            self.dispatcher.vault,
            self.dispatcher.connector_factory,
            timedelta(seconds=self.settings.readiness_interval_seconds),
        )
        run_due_checks(self._context(), runner, limit=READINESS_BATCH)

    def escalation_retention(self) -> None:
        """Delete closed escalations older than LOCKDOWN_ESCALATION_RETENTION_DAYS (personal data)."""
        deleted = delete_expired(self._context(), timedelta(days=self.settings.escalation_retention_days))
        if deleted:
            log.info("deleted %d closed escalations past their retention", deleted)

    def media_sweep(self) -> None:
        """Remove uploads no post or message names after LOCKDOWN_MEDIA_GRACE_HOURS, and stray files."""
        swept = sweep_media(
            self._context(), self.dispatcher.media.store, timedelta(hours=self.settings.media_grace_hours)
        )
        if swept.media or swept.files or swept.strays:
            log.info("media sweep removed %d unused uploads, %d files, %d stray files", *vars(swept).values())

    def watch(self) -> None:
        """List the posts of each held account (and, when LOCKDOWN_WATCH_IDLE_SECONDS is set, of
        every account) whose interval has passed; record and tell what Lockdown did not send.
        It reads only, and takes the write lock only to claim and to record."""
        runner = WatchRunner(
            self.dispatcher.vault,
            self.dispatcher.connector_factory,
            self.settings.watch_intervals,
            self.settings.watch_idle_seconds,
            self.escalate,
        )
        run_watch(self._context(), runner, limit=WATCH_BATCH)


# How often the readiness job looks for accounts whose slot has come, and how many it checks at
# most per look (one after another, so at most one platform call at a time from this job).
READINESS_EVERY_SECONDS = 60
READINESS_BATCH = 50
# Retention is counted in days: looking once an hour deletes a report at most an hour late.
ESCALATION_RETENTION_EVERY_SECONDS = 3600
# The media grace period is counted in hours: a sweep every ten minutes is late by at most that.
MEDIA_SWEEP_EVERY_SECONDS = 600
# The watch looks every 15 s (the shortest interval it allows), so an account is listed at most
# 15 s after its interval ends: within two intervals of a post even at the 15 s floor. At most
# this many listings per look, one after another; accounts left over are first at the next look.
WATCH_EVERY_SECONDS = 15
WATCH_BATCH = 100


def quiet_apscheduler() -> None:
    """Keep APScheduler's per-run lines out of the log: it logs two INFO lines per job per run
    (about six a second here), so an idle service would write thousands of lines an hour that
    say nothing. Lockdown's jobs log what they did themselves, only when they did something."""
    # "Running job ..." and "... executed successfully", at INFO on every run.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    # A tick still sending when the next is due is skipped by design (coalesce, one at a
    # time); APScheduler would log each skip as a warning.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


def build_scheduler(
    settings: Settings, *, blocking: bool, escalate: EscalationHook | None = None
) -> tuple[BaseScheduler, Dispatcher]:
    """A scheduler with the dispatch tick and the heartbeat, and the dispatcher it drives;
    ``escalate`` files an escalation for an out-of-band post seen outside an incident."""
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)
    finally:
        db.close()
    health = SchedulerHealth(settings.db_path)
    dispatcher = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        lookahead_seconds=settings.tick_seconds,
        health=health,
    )
    quiet_apscheduler()
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    jobs = SideJobs(settings, dispatcher, escalate)
    scheduler.add_job(
        _safely("notifications", jobs.deliver_notifications, dispatcher, health),
        "interval",
        seconds=max(1.0, settings.tick_seconds),
        id="notifications",
        name="deliver notices from the outbox",
    )
    scheduler.add_job(
        _safely("vault sweeps", jobs.vault_sweeps, dispatcher, health),
        "interval",
        seconds=30,
        id="vault",
        name="expire sessions, end takeovers, remind of rotations",
    )
    scheduler.add_job(
        _safely("native schedules", jobs.native_schedules, dispatcher, health),
        "interval",
        seconds=max(1.0, settings.tick_seconds),
        id="native",
        name="withdraw and restore posts scheduled on the platforms",
    )
    scheduler.add_job(
        _safely("readiness", jobs.readiness, dispatcher, health),
        "interval",
        seconds=READINESS_EVERY_SECONDS,
        id="readiness",
        name="check the accounts whose readiness check is due",
    )
    scheduler.add_job(
        _safely("escalation retention", jobs.escalation_retention, dispatcher, health),
        "interval",
        seconds=ESCALATION_RETENTION_EVERY_SECONDS,
        id="escalation_retention",
        name="delete closed escalations past their retention",
    )
    scheduler.add_job(
        _safely("media sweep", jobs.media_sweep, dispatcher, health),
        "interval",
        seconds=MEDIA_SWEEP_EVERY_SECONDS,
        id="media_sweep",
        name="remove uploads no post or message names, after the grace period",
    )
    scheduler.add_job(
        _safely("watch", jobs.watch, dispatcher, health),
        "interval",
        seconds=WATCH_EVERY_SECONDS,
        id="watch",
        name="list held accounts' posts on their platforms, record those Lockdown did not send",
    )
    scheduler.add_job(
        _safely("dispatch tick", dispatcher.tick, dispatcher, health),
        "interval",
        seconds=settings.tick_seconds,
        id="dispatch",
        name="claim and send due posts",
    )
    # A heartbeat of its own, so a long tick (slow platforms) does not look like a crash.
    scheduler.add_job(
        _safely("heartbeat", dispatcher.heartbeat, dispatcher, health),
        "interval",
        seconds=LEASE_SECONDS / 4,
        id="heartbeat",
        name="say this dispatcher is alive",
    )
    return scheduler, dispatcher
