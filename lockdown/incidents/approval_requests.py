"""Asking for an incident message's approval: while a message waits as a draft in an active
incident, every other press officer gets a notice with a link straight to it (and the team's
webhook one), repeated every few minutes until someone approves it or the incident is resolved.

The scheduler calls ``request_approvals`` on every notification run; the notices go out through
the ordinary outbox. An officer never has more than one unsent request per message (a partial
unique index keeps it so), so a mail server that is down cannot pile reminders up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from lockdown.incidents.config import IncidentConfig
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import role_holders
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso

EVENT = "approval_requested"
TEMPLATE_NAMES = {"holding_statement": "holding statement", "update": "update", "all_clear": "all-clear"}


@dataclass(frozen=True)
class WaitingMessage:
    """A draft incident message of an active incident, with what a notice about it says."""

    id: int
    incident_id: int
    title: str
    exercise: bool
    template: str | None
    body: str
    author_id: int
    author: str


def approval_link(public_url: str, incident_id: int, message_id: int) -> str:
    """The console address that opens a message's approval (after sign-in if needed)."""
    return f"{public_url}/incidents/{incident_id}/messages/{message_id}"


def waiting_messages(ctx: Context) -> list[WaitingMessage]:
    """Draft messages of active incidents, oldest first."""
    rows = ctx.db.conn.execute(
        "SELECT m.id, m.incident_id, i.title, m.exercise, m.template, m.body, m.author_id, u.email "
        "FROM incident_messages m JOIN incidents i ON i.id = m.incident_id JOIN users u ON u.id = m.author_id "
        "WHERE m.state = 'draft' AND i.status = 'active' ORDER BY m.id"
    ).fetchall()
    return [WaitingMessage(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows]


def request_approvals(ctx: Context, config: IncidentConfig, every: timedelta) -> int:
    """Queue a request (or a reminder, ``every`` after the last went out) to each press officer
    who did not draft a waiting message; return how many notices were queued."""
    # The usual case, run every second: nothing waits, or nothing is due yet; no write lock taken.
    now = ctx.now()
    if not any(
        _due(ctx.db, now, message.id, channel, user_id, every)[0]
        for message in waiting_messages(ctx)
        for channel, user_id, _, _ in _targets(ctx.db, config, message)
    ):
        return 0
    queued = 0
    with ctx.change(allow_empty=True) as change:
        for message in waiting_messages(ctx):  # read again under the write lock
            queued += _request_one(change, config, message, every)
    return queued


def _targets(db: Database, config: IncidentConfig, message: WaitingMessage) -> list[tuple[str, int | None, str, str]]:
    """(channel, user id, recipient, name) of everyone to ask about a message."""
    # The two-person rule: whoever drafted the message cannot approve it, so is not asked.
    officers = role_holders(db, "press", except_user=message.author_id)
    targets: list[tuple[str, int | None, str, str]] = [
        ("email", user_id, email, name) for user_id, name, email in officers
    ]
    if config.notify_webhook_url and officers:
        targets.append(("webhook", None, config.notify_webhook_url, "press team"))
    return targets


def _request_one(change: Changes, config: IncidentConfig, message: WaitingMessage, every: timedelta) -> int:
    db = change.context.db
    rows = []
    reminders = 0
    for channel, user_id, recipient, name in _targets(db, config, message):
        due, reminder = _due(db, change.at, message.id, channel, user_id, every)
        if not due:
            continue
        reminders += reminder
        subject, body = _notice(config, message, name, reminder, every)
        rows.append(Notice(EVENT, recipient, subject, body, user_id, channel, message.incident_id, message.id))
    if not rows:
        return 0
    queue(change, rows)
    change.audit(
        "lockdown",
        "incident.approval_requested",
        f"message:{message.id}",
        incident_id=message.incident_id,
        recipients=[row.recipient if row.channel == "email" else "webhook" for row in rows],
        reminders=reminders,
    )
    return len(rows)


def _due(
    db: Database, now: datetime, message_id: int, channel: str, user_id: int | None, every: timedelta
) -> tuple[bool, bool]:
    """Whether to queue a request now, and whether it would be a reminder: none was ever queued,
    or the last one went out (or failed) at least ``every`` ago. One still unsent waits."""
    last = db.conn.execute(
        "SELECT state, COALESCE(sent_at, created_at) FROM notifications WHERE event = ? AND message_id = ? "
        "AND channel = ? AND user_id IS ? ORDER BY id DESC LIMIT 1",
        [EVENT, message_id, channel, user_id],
    ).fetchone()
    if last is None:
        return True, False
    state, at = last
    return state != "pending" and parse_iso(at) <= now - every, True


def _notice(
    config: IncidentConfig, message: WaitingMessage, name: str, reminder: bool, every: timedelta
) -> tuple[str, str]:
    what = TEMPLATE_NAMES.get(message.template or "", "message")
    prefix = "[EXERCISE] " if message.exercise else ""
    again = "Reminder: " if reminder else ""
    subject = f"{prefix}{again}Approval needed: {what} for {message.title}"
    minutes = max(1, round(every.total_seconds() / 60))
    values: Mapping[str, Any] = {
        "name": name,
        "author": message.author,
        "what": what,
        "incident": message.incident_id,
        "title": prefix + message.title,
        "body": "\n".join(f"    {line}" for line in message.body.splitlines()),
        "link": approval_link(config.public_url, message.incident_id, message.id),
        "minutes": minutes,
    }
    body = (
        "Dear {name},\n\n"
        "{author} drafted this {what} for incident {incident} ({title}). It goes out through the "
        "central accounts only once a second press officer approves it:\n\n"
        "{body}\n\n"
        "Read and approve it here (sign in first if asked):\n{link}\n\n"
        "This is repeated every {minutes} min until someone approves it or the incident is resolved."
    ).format(**values)
    return subject, body
