"""Posts scheduled on the platforms themselves (Mastodon, Facebook): listed and withdrawn right
after a declaration commits, put back on resolve. Work rows in ``native_schedules`` are written
in the declaring / resolving transaction and carried out here, by the scheduler, with retries;
every outcome goes on the incident's timeline."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from connectors.base import ConnectorError
from connectors.native import NativeScheduled, SupportsNativeSchedules
from lockdown.crypto import Vault, VaultError
from lockdown.incidents.timeline import EventKind, event
from lockdown.posting.connector_secrets import load_secrets
from lockdown.posting.dispatch import ConnectorFactory, build_connector
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
ACTOR = "scheduler"


@dataclass
class NativeReport:
    """What one pass did."""

    listed: int = 0
    withdrawn: int = 0
    restored: int = 0
    retried: int = 0
    failed: int = 0


def _backoff(attempts: int) -> timedelta:
    seconds = min(1800.0, 15.0 * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
    return timedelta(seconds=seconds)


def process_native_schedules(
    ctx: Context, vault: Vault, factory: ConnectorFactory = build_connector, limit: int = 20
) -> NativeReport:
    """Carry out due native-schedule work: list, withdraw, restore."""
    report = NativeReport()
    rows = ctx.db.conn.execute(
        "SELECT n.id, n.incident_id, n.account_id, n.state, n.attempts, n.content, a.connector "
        "FROM native_schedules n JOIN accounts a ON a.id = n.account_id "
        "WHERE n.state IN ('to_list', 'to_withdraw', 'to_restore') AND n.next_attempt_at <= ? "
        "ORDER BY n.next_attempt_at, n.id LIMIT ?",
        [to_iso(ctx.now()), limit],
    ).fetchall()
    for row_id, incident_id, account_id, state, attempts, content, connector_json in rows:
        settings = json.loads(connector_json)
        kind = settings.pop("kind")
        try:
            connector = factory(kind, settings, load_secrets(ctx.db, vault, account_id, {"kind": kind, **settings}))
            try:
                if not isinstance(connector, SupportsNativeSchedules):
                    raise ConnectorError(f"the {kind} connector has no native schedules", permanent=True)
                _step(ctx, connector, row_id, incident_id, account_id, state, content, report)
            finally:
                connector.close()
        except (ConnectorError, VaultError) as exc:
            _failed_step(ctx, row_id, incident_id, account_id, state, attempts, exc, report)
    return report


def _step(
    ctx: Context, connector: Any, row_id: int, incident_id: int, account_id: int, state: str,
    content: str, report: NativeReport,
) -> None:  # fmt: skip
    if state == "to_list":
        items = connector.list_native_scheduled()
        with ctx.change() as change:
            ctx.db.conn.executemany(
                "INSERT INTO native_schedules (incident_id, account_id, remote_id, original_at, content, "
                "state, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'to_withdraw', ?)",
                [
                    (incident_id, account_id, item.remote_id, item.scheduled_at, item.to_json(), to_iso(change.at))
                    for item in items
                ],
            )
            ctx.db.conn.execute("UPDATE native_schedules SET state = 'listing', error = NULL WHERE id = ?", [row_id])
            event(change, incident_id, "native_listed", ACTOR, account_id=account_id, found=len(items))
            change.audit(ACTOR, "native.listed", f"account:{account_id}", incident_id=incident_id, found=len(items))
        report.listed += 1
        # Withdraw at once: waiting for the next pass would let a post due now slip out.
        for item in items:
            new_id = ctx.db.conn.execute(
                "SELECT id FROM native_schedules WHERE incident_id = ? AND account_id = ? AND remote_id = ? "
                "AND state = 'to_withdraw'",
                [incident_id, account_id, item.remote_id],
            ).fetchone()
            if new_id:
                _withdraw(ctx, connector, new_id[0], incident_id, account_id, item, report)
        return
    item = NativeScheduled.from_json(content)
    if state == "to_withdraw":
        _withdraw(ctx, connector, row_id, incident_id, account_id, item, report)
        return
    remote_id = connector.restore_native(item)
    with ctx.change() as change:
        ctx.db.conn.execute(
            "UPDATE native_schedules SET state = 'restored', remote_id = ?, error = NULL WHERE id = ?",
            [remote_id, row_id],
        )
        event(change, incident_id, "native_restored", ACTOR, account_id=account_id, remote_id=remote_id)
        change.audit(ACTOR, "native.restored", f"account:{account_id}", incident_id=incident_id, remote_id=remote_id)
    report.restored += 1


def _withdraw(
    ctx: Context, connector: Any, row_id: int, incident_id: int, account_id: int, item: NativeScheduled,
    report: NativeReport,
) -> None:  # fmt: skip
    kept = connector.withdraw_native(item)
    with ctx.change() as change:
        ctx.db.conn.execute(
            "UPDATE native_schedules SET state = 'withdrawn', content = ?, error = NULL WHERE id = ?",
            [kept.to_json(), row_id],
        )
        event(change, incident_id, "native_withdrawn", ACTOR, account_id=account_id, remote_id=item.remote_id)
        change.audit(
            ACTOR, "native.withdrawn", f"account:{account_id}", incident_id=incident_id, remote_id=item.remote_id
        )
    report.withdrawn += 1


def _failed_step(
    ctx: Context, row_id: int, incident_id: int, account_id: int, state: str, attempts: int,
    exc: Exception, report: NativeReport,
) -> None:  # fmt: skip
    permanent = getattr(exc, "permanent", True)
    give_up = permanent or attempts + 1 >= MAX_ATTEMPTS
    with ctx.change() as change:
        ctx.db.conn.execute(
            "UPDATE native_schedules SET attempts = attempts + 1, error = ?, next_attempt_at = ?, "
            "state = CASE WHEN ? THEN 'failed' ELSE state END WHERE id = ?",
            [str(exc), to_iso(change.at + _backoff(attempts + 1)), give_up, row_id],
        )
        kind: EventKind = "native_failed" if give_up else "native_retry"
        event(change, incident_id, kind, ACTOR, account_id=account_id, step=state, error=str(exc))
        change.audit(
            ACTOR, f"native.{kind}", f"account:{account_id}", incident_id=incident_id, step=state, error=str(exc)
        )
    if give_up:
        report.failed += 1
        log.warning("native schedule %s for account %s failed: %s", state, account_id, exc)
    else:
        report.retried += 1
