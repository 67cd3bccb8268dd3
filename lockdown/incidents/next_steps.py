"""What each person must do next in an incident, for the first card of their first screen: a
press officer approves a colleague's message or waits for a second one, a manager acknowledges
for their held accounts, ERMC triages what went wrong; and what resolving would release.

Read-only: every action a card offers is checked again by the service that performs it, and a
card offers only what that service would allow the viewer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from lockdown.incidents.messages import list_messages
from lockdown.incidents.timeline import incident_row
from lockdown.people.users import User
from lockdown.timeutil import to_iso

# An account in the incident's scope (s) held by no other active incident: resolving frees it.
_ONLY_THIS_HOLDS = (
    "NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = s.account_id AND h.incident_id != s.incident_id)"
)
# The accounts a person manages or edits (a: accounts; :user the person's id).
_MINE = (
    "(a.manager_id = :user OR EXISTS (SELECT 1 FROM account_editors e WHERE e.account_id = a.id AND e.user_id = :user))"
)


def next_steps(db: Database, viewer: User, incident_id: int) -> dict[str, Any]:
    """The viewer's next steps in an active incident, most urgent first (an empty list once it is
    resolved): ``approve`` (a colleague's draft), ``waiting`` (their own draft), ``acknowledge``
    (their held accounts; last once acknowledged) and ``triage`` (ERMC)."""
    incident = incident_row(db, incident_id)
    steps: list[dict[str, Any]] = []
    if incident["status"] != "active":
        return {"incident_id": incident_id, "steps": steps}
    if viewer.has("press"):
        drafts = [m for m in list_messages(db, incident_id) if m["state"] == "draft"]
        theirs = [m for m in drafts if m["author"] != viewer.email]
        mine = [m for m in drafts if m["author"] == viewer.email]
        if theirs:
            steps.append({"kind": "approve", "messages": theirs})
        if mine:
            steps.append({"kind": "waiting", "messages": mine, "asked": second_officers(db, viewer)})
    held = held_accounts_of(db, viewer, incident_id)
    acknowledged = acknowledged_at(db, viewer, incident_id) if held else None
    if held and not acknowledged:
        steps.append({"kind": "acknowledge", "accounts": held, "acknowledged_at": None})
    if viewer.has("ermc"):
        steps.append({"kind": "triage", **triage(db, incident_id)})
    if held and acknowledged:
        # Done: still shown (their accounts stay held), but after anything left to do.
        steps.append({"kind": "acknowledge", "accounts": held, "acknowledged_at": acknowledged})
    return {"incident_id": incident_id, "steps": steps}


def second_officers(db: Database, author: User) -> list[dict[str, str]]:
    """The enabled press officers other than ``author``: any of them may approve their draft."""
    rows = db.conn.execute(
        "SELECT u.name, u.email FROM users u JOIN user_roles r ON r.user_id = u.id "
        "WHERE r.role = 'press' AND u.disabled_at IS NULL AND u.id != ? ORDER BY u.name, u.email",
        [author.id],
    ).fetchall()
    return [{"name": name, "email": email} for name, email in rows]


def held_accounts_of(db: Database, viewer: User, incident_id: int) -> list[dict[str, Any]]:
    """The accounts this incident holds that the viewer manages or edits."""
    rows = db.conn.execute(
        "SELECT a.id, a.handle, a.platform FROM incident_scope s JOIN accounts a ON a.id = s.account_id "
        f"WHERE s.incident_id = :incident AND {_MINE} ORDER BY a.handle, a.platform",
        {"incident": incident_id, "user": viewer.id},
    ).fetchall()
    return [{"id": i, "handle": handle, "platform": platform} for i, handle, platform in rows]


def acknowledged_at(db: Database, viewer: User, incident_id: int) -> str | None:
    """When the viewer acknowledged the incident, or None."""
    row = db.conn.execute(
        "SELECT at FROM acknowledgements WHERE incident_id = ? AND user_id = ?", [incident_id, viewer.id]
    ).fetchone()
    return row[0] if row else None


def triage(db: Database, incident_id: int) -> dict[str, Any]:
    """What needs a person (ERMC): posts whose sending is in doubt, account by account, and this
    incident's message deliveries that failed or are in doubt."""
    unknown = db.conn.execute(
        "SELECT a.id, a.handle, a.platform, COUNT(*) FROM posts p JOIN accounts a ON a.id = p.account_id "
        "WHERE p.state = 'unknown' GROUP BY a.id ORDER BY COUNT(*) DESC, a.handle LIMIT 20"
    ).fetchall()
    unknown_total = db.conn.execute("SELECT COUNT(*) FROM posts WHERE state = 'unknown'").fetchone()[0]
    failed = db.conn.execute(
        "SELECT COUNT(*) FROM message_deliveries d JOIN incident_messages m ON m.id = d.message_id "
        "WHERE m.incident_id = ? AND d.state IN ('failed', 'unknown')",
        [incident_id],
    ).fetchone()[0]
    return {
        "unknown_posts": int(unknown_total),
        "unknown_by_account": [
            {"id": i, "handle": handle, "platform": platform, "posts": count} for i, handle, platform, count in unknown
        ],
        "failed_deliveries": int(failed),
    }


def resolve_preview(db: Database, incident_id: int, now: datetime) -> dict[str, Any]:
    """What resolving now would do: how many accounts it releases (those no other incident also
    holds) and how many of their posts fell due during the hold (the resume policy's posts)."""
    incident = incident_row(db, incident_id)
    released = db.conn.execute(
        f"SELECT COUNT(*) FROM incident_scope s WHERE s.incident_id = ? AND {_ONLY_THIS_HOLDS}", [incident_id]
    ).fetchone()[0]
    missed = db.conn.execute(
        "SELECT COUNT(*) FROM posts p INDEXED BY posts_due WHERE p.state = 'scheduled' AND p.due_at <= ? AND EXISTS "
        "(SELECT 1 FROM incident_scope s WHERE s.incident_id = ? AND s.account_id = p.account_id "
        f"AND {_ONLY_THIS_HOLDS})",
        [to_iso(now), incident_id],
    ).fetchone()[0]
    return {
        "incident_id": incident_id,
        "status": incident["status"],
        "releases": int(released),
        "missed_posts": int(missed),
        "resume_policy": incident["resume_policy"],
    }
