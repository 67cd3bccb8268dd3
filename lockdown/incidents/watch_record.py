"""What the platforms showed during an incident, as the watch recorded it (lockdown.watch):
per covered account how often its posts were listed and how that went, and every post seen on
it that Lockdown did not send. Read by the report (its second side), the incident page and
``GET /api/v1/incidents/{id}/watch``; written only by the watch."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from connectors.registry import CONNECTORS
from lockdown.errors import NotFound
from lockdown.incidents.timeline import incident_row


def can_delete(kind: str) -> bool:
    """Whether a connector kind can take back what is on the platform (the outbox published
    nothing; Instagram's API cannot delete)."""
    return kind in CONNECTORS and kind not in ("outbox", "instagram")


STATUSES = ("unchecked", "ok", "failing", "unwatchable")
_OOB_COLUMNS = (
    "id", "account_id", "incident_id", "remote_id", "url", "text", "posted_at", "seen_at", "deleted_at",
    "deleted_by", "delete_error", "escalated_at",
)  # fmt: skip
_OOB_SELECT = (
    f"SELECT {', '.join('o.' + c for c in _OOB_COLUMNS)}, a.handle, a.platform, a.connector "
    "FROM out_of_band_posts o JOIN accounts a ON a.id = o.account_id"
)


def _oob(row: tuple[Any, ...]) -> dict[str, Any]:
    post = dict(zip(_OOB_COLUMNS, row[: len(_OOB_COLUMNS)], strict=True))
    handle, platform, connector = row[len(_OOB_COLUMNS) :]
    kind = json.loads(connector).get("kind", "outbox")
    return {**post, "handle": handle, "platform": platform, "can_delete": can_delete(kind)}


def out_of_band_post(db: Database, oob_id: int) -> dict[str, Any]:
    """One out-of-band post, or NotFound naming its id."""
    row = db.conn.execute(f"{_OOB_SELECT} WHERE o.id = ?", [oob_id]).fetchone()
    if row is None:
        raise NotFound(f"no out-of-band post {oob_id}", field="oob_id")
    return _oob(row)


def incident_watch(db: Database, incident_id: int) -> dict[str, Any]:
    """Each account the incident covers with how often its platform was listed during the hold,
    and every out-of-band post seen on them during it (newest first)."""
    incident = incident_row(db, incident_id)
    accounts = [
        {
            "account_id": account_id,
            "handle": handle,
            "platform": platform,
            "checks": checks or 0,
            "first_checked_at": first,
            "last_checked_at": last,
            "status": status or "unchecked",
            "reason": reason,
            "failures": failures or 0,
        }
        for account_id, handle, platform, checks, first, last, status, reason, failures in db.conn.execute(
            "SELECT a.id, a.handle, a.platform, w.checks, w.first_checked_at, w.last_checked_at, w.status, "
            "w.reason, w.failures FROM incident_scope s JOIN accounts a ON a.id = s.account_id "
            "LEFT JOIN incident_watch w ON w.incident_id = s.incident_id AND w.account_id = s.account_id "
            "WHERE s.incident_id = ? ORDER BY a.id",
            [incident_id],
        )
    ]
    # Seen on a covered account while the incident was active (a post seen on an account held by
    # two incidents belongs to both).
    rows = db.conn.execute(
        f"{_OOB_SELECT} WHERE o.incident_id = ? OR (o.account_id IN "
        "(SELECT account_id FROM incident_scope WHERE incident_id = ?) AND o.seen_at >= ? "
        "AND (? IS NULL OR o.seen_at <= ?)) ORDER BY o.seen_at DESC, o.id DESC",
        [incident_id, incident_id, incident["declared_at"], incident["resolved_at"], incident["resolved_at"]],
    ).fetchall()
    return {"accounts": accounts, "out_of_band": [_oob(row) for row in rows]}
