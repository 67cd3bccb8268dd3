"""What is done with a report: press declares the compromised-account playbook on its account,
ERMC closes it with a reason, and closed ones are deleted after the retention period. Each is a
compare-and-set on the open report, so a report is acted on once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from lockdown.errors import Conflict, InvalidInput, RuleBroken
from lockdown.escalations.reports import KIND_LABELS, escalation_row
from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.declare import declare_incident
from lockdown.people.users import User
from lockdown.register.accounts import PLATFORM_NAMES
from lockdown.store.busy import retry_when_busy
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

PLAYBOOK = "compromised-account"
MAX_REASON = 2000


def declare_from_escalation(ctx: Context, config: IncidentConfig, actor: User, escalation_id: int) -> dict[str, Any]:
    """Declare the compromised-account playbook on the report's account (press). The report is
    closed as 'declared' and linked to the incident in the declaring transaction itself, so a
    second declaration from it is a 409 and never a second incident. The answer is the incident
    only: press may act on a report without reading it."""
    actor.require("press")
    row = escalation_row(ctx.db, escalation_id)
    if row["account_id"] is None:
        raise RuleBroken(
            f"escalation {escalation_id} points at an address elsewhere, not a registered account: there is no "
            "account to hold. ERMC closes it with a reason instead",
            field="account_id",
        )
    if row["state"] != "open":
        raise Conflict(f"escalation {escalation_id} is closed already", field="state")
    if PLAYBOOK not in config.playbooks:
        raise RuleBroken(f"there is no {PLAYBOOK} playbook to declare with", field="playbook")
    handle, platform = ctx.db.conn.execute(
        "SELECT handle, platform FROM accounts WHERE id = ?", [row["account_id"]]
    ).fetchone()
    platform_name = PLATFORM_NAMES.get(platform, platform)
    # The incident is kept for ever and read by every role: it names the report, never its details.
    data = {
        "playbook": PLAYBOOK,
        "account_id": row["account_id"],
        "title": f"Escalation {escalation_id}: {KIND_LABELS[row['kind']]}, {handle} on {platform_name}"[:200],
        "reason": f"Declared from escalation {escalation_id} ({KIND_LABELS[row['kind']]}), as reported to ERMC.",
    }

    def declare() -> dict[str, Any]:
        with ctx.change() as change:
            claimed = ctx.db.conn.execute(
                "UPDATE escalations SET state = 'closed', closed_as = 'declared', closed_by = ?, closed_at = ? "
                "WHERE id = ? AND state = 'open'",
                [actor.id, to_iso(change.at), escalation_id],
            ).rowcount
            if not claimed:
                raise Conflict(f"escalation {escalation_id} is closed already", field="state")
            # declare_incident joins this change: the incident, the report's link and every audit
            # entry commit together, or none does.
            incident = declare_incident(ctx, config, actor, data)
            ctx.db.conn.execute("UPDATE escalations SET incident_id = ? WHERE id = ?", [incident["id"], escalation_id])
            change.audit(
                actor.email, "escalation.declare", f"escalation:{escalation_id}",
                kind=row["kind"], account_id=row["account_id"], incident_id=incident["id"],
            )  # fmt: skip
        return incident

    return retry_when_busy(ctx.db, declare, retry_seconds=config.busy_retry_seconds)


def close_escalation(ctx: Context, actor: User, escalation_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Close an open report with a reason (ERMC). The reason stays with the report and is deleted
    with it; the audit entry keeps only the id and kind."""
    actor.require("ermc")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason is required: say why the report is closed", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is longer than {MAX_REASON} characters", field="reason")
    row = escalation_row(ctx.db, escalation_id)
    with ctx.change() as change:
        closed = ctx.db.conn.execute(
            "UPDATE escalations SET state = 'closed', closed_as = 'dismissed', close_reason = ?, closed_by = ?, "
            "closed_at = ? WHERE id = ? AND state = 'open'",
            [reason.strip(), actor.id, to_iso(change.at), escalation_id],
        ).rowcount
        if not closed:
            raise Conflict(f"escalation {escalation_id} is closed already", field="state")
        change.audit(actor.email, "escalation.close", f"escalation:{escalation_id}", kind=row["kind"])
    return {"id": escalation_id, "state": "closed", "closed_as": "dismissed", "closed_at": to_iso(change.at)}


def delete_expired(ctx: Context, retention: timedelta) -> int:
    """Delete closed reports whose closing is older than ``retention``; each deletion is audited
    by id and kind only. Returns how many were deleted."""
    with ctx.change(allow_empty=True) as change:
        cutoff = to_iso(change.at - retention)
        expired = ctx.db.conn.execute(
            "SELECT id, kind, closed_as FROM escalations WHERE state = 'closed' AND closed_at < ? ORDER BY id",
            [cutoff],
        ).fetchall()
        ctx.db.conn.executemany(
            "DELETE FROM escalations WHERE id = ? AND state = 'closed'", [(i,) for i, _, _ in expired]
        )
        for escalation_id, kind, closed_as in expired:
            change.audit(
                "lockdown", "escalation.delete", f"escalation:{escalation_id}",
                kind=kind, closed_as=closed_as, retention_days=retention.days,
            )  # fmt: skip
    return len(expired)
