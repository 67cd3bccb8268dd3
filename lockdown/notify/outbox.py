"""Writing to the notification outbox: every service that tells someone something puts a
``pending`` row in ``notifications`` inside its own write transaction, so the notice commits with
the change it is about or not at all; ``notify.delivery`` sends it later."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lockdown.store.context import Changes
from lockdown.timeutil import to_iso


@dataclass(frozen=True)
class Notice:
    """One message for one recipient: an email address, or the team webhook's URL."""

    event: str
    recipient: str
    subject: str
    body: str
    user_id: int | None = None
    channel: str = "email"
    incident_id: int | None = None
    message_id: int | None = None


def queue(change: Changes, notices: Iterable[Notice]) -> int:
    """Put the notices in the outbox, due now, in the caller's transaction; how many."""
    stamp = to_iso(change.at)
    rows = [
        (n.incident_id, n.event, n.channel, n.user_id, n.recipient, n.subject, n.body, n.message_id, stamp, stamp)
        for n in notices
    ]
    change.context.db.conn.executemany(
        "INSERT INTO notifications (incident_id, event, channel, user_id, recipient, subject, body, message_id, "
        "state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        rows,
    )
    return len(rows)
