"""Prometheus metrics, read from the database at scrape time.

The scheduler may be another process, so in-process counters would miss its work: every value
here is a query on the one SQLite file, and connector failures are rows written by the
dispatcher in its failure transaction (``record_connector_failure``).

Nothing here is called by the services: the dispatcher records failures through
``lockdown.posting.connector_failures`` and this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlite_utils import Database

from lockdown.clock.health import last_tick
from lockdown.escalations.reports import open_by_age
from lockdown.notify.delivery import notification_backlog
from lockdown.posting.media_sweep import UNREFERENCED
from lockdown.store import audit
from lockdown.timeutil import parse_iso, to_iso

LATENESS_WINDOW = timedelta(hours=1)
# From "on time" (the tick is 1 s) to "missed by a quarter of an hour" (LOCKDOWN_LATE_GRACE).
LATENESS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_LATENESS = "(julianday(sending_at) - julianday(due_at)) * 86400.0"


class DatabaseCollector:
    """A prometheus_client collector that reads every metric from one connection at ``now``."""

    def __init__(self, db: Database, now: datetime, replication: Mapping[str, Any] | None = None) -> None:
        self.db = db
        self.now = now
        # lockdown.store.replication's report (from its status file, not the database); None: not set up.
        self.replication = replication

    def collect(self) -> Iterator[Metric]:
        """Yield each metric family, queried afresh."""
        yield self._held_accounts()
        yield self._active_incidents()
        yield self._gauge("lockdown_notification_backlog", "Notifications not yet sent", notification_backlog(self.db))
        yield self._posts()
        yield self._lateness()
        yield self._connector_failures()
        yield self._last_tick_age()
        yield from self._readiness()
        yield self._escalations_open()
        yield from self._watch()
        yield from self._media()
        yield self._gauge("lockdown_audit_entries", "Entries in the audit trail", audit.head(self.db)[0])
        yield from self._replication()

    def _replication(self) -> Iterator[Metric]:
        """Present only when LOCKDOWN_REPLICA_URL is set; +Inf before any heartbeat reached the replica."""
        if self.replication is None:
            return
        lag = self.replication.get("lag_seconds")
        yield self._gauge(
            "lockdown_replication_lag_seconds",
            "Seconds since the newest heartbeat the replica holds: the most a promotion would lose",
            float("inf") if lag is None else float(lag),
        )
        yield self._gauge(
            "lockdown_replication_behind",
            "1 when the replica is behind LOCKDOWN_REPLICA_MAX_LAG_SECONDS, not replicating, or superseded",
            1.0 if self.replication.get("behind") else 0.0,
        )

    def _one(self, sql: str, params: list[object] | None = None) -> float:
        return float(self.db.conn.execute(sql, params or []).fetchone()[0] or 0)

    @staticmethod
    def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, value=value)

    def _held_accounts(self) -> GaugeMetricFamily:
        held = self._one("SELECT COUNT(DISTINCT account_id) FROM account_holds")
        return self._gauge("lockdown_held_accounts", "Accounts held by at least one active incident", held)

    def _active_incidents(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("lockdown_active_incidents", "Active incidents", labels=["exercise"])
        counts = dict(
            self.db.conn.execute("SELECT exercise, COUNT(*) FROM incidents WHERE status = 'active' GROUP BY exercise")
        )
        for exercise, label in ((0, "false"), (1, "true")):
            family.add_metric([label], counts.get(exercise, 0))
        return family

    def _posts(self) -> GaugeMetricFamily:
        from lockdown.posting.posts import STATES

        family = GaugeMetricFamily("lockdown_posts", "Posts by state", labels=["state"])
        counts = dict(self.db.conn.execute("SELECT state, COUNT(*) FROM posts GROUP BY state"))
        for state in STATES:
            family.add_metric([state], counts.get(state, 0))
        return family

    def _lateness(self) -> HistogramMetricFamily:
        """Seconds from due to the platform call, over posts published in the last hour."""
        within = ", ".join(f"SUM({_LATENESS} <= {bound})" for bound in LATENESS_BUCKETS)
        # The index posts_published (state, published_at) bounds this to the window.
        row = self.db.conn.execute(
            f"SELECT COUNT(*), TOTAL({_LATENESS}), {within} FROM posts "
            "WHERE state = 'published' AND published_at >= ? AND sending_at IS NOT NULL",
            [to_iso(self.now - LATENESS_WINDOW)],
        ).fetchone()
        count, total, cumulative = row[0], row[1], row[2:]
        buckets = [(str(bound), float(n or 0)) for bound, n in zip(LATENESS_BUCKETS, cumulative, strict=True)]
        return HistogramMetricFamily(
            "lockdown_dispatch_lateness_seconds",
            "Seconds from a post's due time to its platform call, over posts published in the last hour",
            buckets=[*buckets, ("+Inf", float(count))],
            sum_value=float(total),
        )

    def _connector_failures(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "lockdown_connector_failures", "Failed connector calls by kind and platform", labels=["kind", "platform"]
        )
        rows = self.db.conn.execute(
            "SELECT kind, platform, COUNT(*) FROM connector_failures GROUP BY kind, platform ORDER BY kind, platform"
        )
        for kind, platform, count in rows:
            family.add_metric([kind, platform], count)
        return family

    def _escalations_open(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "lockdown_escalations_open", "Open escalations to ERMC by how long they have waited", labels=["age"]
        )
        for age, count in open_by_age(self.db, self.now).items():
            family.add_metric([age], count)
        return family

    def _last_tick_age(self) -> GaugeMetricFamily:
        tick = last_tick(self.db)
        # A scheduler that never ticked is infinitely late, so an "age > N" alert fires for it too.
        age = (self.now - parse_iso(tick)).total_seconds() if tick else float("inf")
        return self._gauge(
            "lockdown_scheduler_last_tick_age_seconds", "Seconds since any scheduler last finished a tick", age
        )

    def _readiness(self) -> Iterator[GaugeMetricFamily]:
        """Active accounts by readiness state, platform and central; the oldest last check's age."""
        from lockdown.readiness.status import STATES

        family = GaugeMetricFamily(
            "lockdown_accounts_readiness",
            "Active accounts by the state of their last readiness check (unchecked: never checked)",
            labels=["state", "platform", "central"],
        )
        rows = self.db.conn.execute(
            "SELECT COALESCE(r.state, 'unchecked'), a.platform, a.central, COUNT(*) FROM accounts a "
            "LEFT JOIN account_readiness r ON r.account_id = a.id WHERE a.archived_at IS NULL "
            "GROUP BY 1, 2, 3"
        ).fetchall()
        counts = {(state, platform, bool(central)): n for state, platform, central, n in rows}
        # Every state of every (platform, central) that has accounts, so a state that empties
        # reads 0 rather than vanishing from the scrape.
        for platform, central in sorted({(platform, central) for _, platform, central in counts}):
            for state in STATES:
                family.add_metric(
                    [state, platform, "true" if central else "false"], counts.get((state, platform, central), 0)
                )
        yield family
        not_ready = sum(n for (state, _, central), n in counts.items() if central and state != "ready")
        yield self._gauge(
            "lockdown_central_accounts_not_ready",
            "Active central accounts whose last check failed or never ran",
            not_ready,
        )
        oldest, never = self.db.conn.execute(
            "SELECT MIN(r.checked_at), SUM(r.checked_at IS NULL) + SUM(r.account_id IS NULL) FROM accounts a "
            "LEFT JOIN account_readiness r ON r.account_id = a.id WHERE a.archived_at IS NULL"
        ).fetchone()
        # The oldest check among active accounts: above twice the interval, the job is not running.
        # Accounts but none ever checked is infinitely old, as for the tick.
        age = (self.now - parse_iso(oldest)).total_seconds() if oldest else (float("inf") if never else 0.0)
        yield self._gauge(
            "lockdown_readiness_oldest_check_age_seconds",
            "Seconds since the least recently checked active account was checked (accounts never checked aside)",
            age,
        )

    def _watch(self) -> Iterator[Metric]:
        """Out-of-band posts seen (by platform and whether an incident held the account), and
        per platform the age of the least recently listed watched account's last listing."""
        seen = CounterMetricFamily(
            "lockdown_out_of_band_posts",
            "Posts seen on an account's platform that Lockdown did not send",
            labels=["platform", "during_incident"],
        )
        for platform, during, count in self.db.conn.execute(
            "SELECT a.platform, o.incident_id IS NOT NULL, COUNT(*) FROM out_of_band_posts o "
            "JOIN accounts a ON a.id = o.account_id GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            seen.add_metric([platform, "true" if during else "false"], count)
        yield seen
        lag = GaugeMetricFamily(
            "lockdown_watch_lag_seconds",
            "Per platform, seconds since the least recently listed held account was listed (or its hold began)",
            labels=["platform"],
        )
        # Held accounts only: outside incidents the watch is optional and slow by design. An
        # account never listed since its hold began counts from the hold's start, so a watch
        # that is not running shows as a growing lag rather than as nothing.
        for platform, oldest in self.db.conn.execute(
            "SELECT a.platform, MIN(CASE WHEN w.last_checked_at >= h.since THEN w.last_checked_at ELSE h.since END) "
            "FROM (SELECT account_id, MIN(since) AS since FROM account_holds GROUP BY account_id) h "
            "JOIN accounts a ON a.id = h.account_id LEFT JOIN account_watch w ON w.account_id = a.id "
            "WHERE a.archived_at IS NULL AND COALESCE(w.status, '') != 'unwatchable' GROUP BY a.platform ORDER BY 1"
        ):
            lag.add_metric([platform], max(0.0, (self.now - parse_iso(oldest)).total_seconds()))
        yield lag

    def _media(self) -> Iterator[Metric]:
        """The media store's size (one file per distinct content, as the rows record it) and the
        uploads no post or message names yet (removed after the grace period)."""
        files, size = self.db.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM (SELECT DISTINCT sha256, extension, bytes FROM media)"
        ).fetchone()
        yield self._gauge("lockdown_media_store_bytes", "Bytes of the media files the store keeps", size)
        yield self._gauge("lockdown_media_files", "Media files the store keeps (one per distinct content)", files)
        yield self._gauge(
            "lockdown_media_unused",
            "Uploads no post or incident message names (removed after LOCKDOWN_MEDIA_GRACE_HOURS)",
            self._one(f"SELECT COUNT(*) FROM media WHERE {UNREFERENCED}"),
        )


def render_metrics(db: Database, now: datetime, replication: Mapping[str, Any] | None = None) -> bytes:
    """The Prometheus text exposition of every metric, read in one snapshot of the database."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db, now, replication))
    # One read transaction, so the numbers agree with each other (WAL: writers are not blocked).
    db.conn.execute("BEGIN")
    try:
        return generate_latest(registry)
    finally:
        db.conn.rollback()
