"""An incident's report: per account what was held and what was in flight, every message and
its deliveries, who acknowledged, and the proof that nothing else was published meanwhile."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from connectors.registry import CONNECTORS
from lockdown.incidents.declare import get_incident
from lockdown.incidents.delivery_errors import delivery_errors_as_seen_by
from lockdown.incidents.messages import list_messages
from lockdown.people.users import User
from lockdown.posting.post_errors import errors_as_seen_by
from lockdown.store import audit
from lockdown.timeutil import to_iso, utcnow


def report_for(db: Database, audit_key: bytes, incident_id: int, viewer: User) -> dict[str, Any]:
    """The report as ``viewer`` may read it: a platform's own answer to a failed post or message
    only for those who may read it there (post_errors, delivery_errors), the rest in short."""
    report = build_report(db, audit_key, incident_id)
    posts = [post for account in report["accounts"] for post in (*account["held_posts"], *account["in_flight"])]
    errors_as_seen_by(db, viewer, [*posts, *report["proof"]["published_on_held_accounts_outside_in_flight"]])
    report["messages"] = delivery_errors_as_seen_by(db, viewer, report["messages"])
    return report


def build_report(db: Database, audit_key: bytes, incident_id: int) -> dict[str, Any]:
    """The report as a dictionary (the JSON form)."""
    incident = get_incident(db, incident_id)
    start = incident["declared_at"]
    end = incident["resolved_at"] or to_iso(utcnow())
    in_flight = set(incident["in_flight"])
    accounts = []
    leaks = []
    for account_id, handle, platform, central, connector in db.conn.execute(
        "SELECT a.id, a.handle, a.platform, a.central, a.connector FROM incident_scope s "
        "JOIN accounts a ON a.id = s.account_id WHERE s.incident_id = ? ORDER BY a.id",
        [incident_id],
    ):
        kind = json.loads(connector)["kind"]
        rows = db.conn.execute(
            "SELECT id, account_id, state, scheduled_at, due_at, sending_at, published_at, remote_id, error, "
            "error_code, error_status FROM posts "
            "WHERE account_id = ? AND ((scheduled_at >= ? AND scheduled_at <= ?) OR id IN "
            "(SELECT post_id FROM incident_in_flight WHERE incident_id = ?)) ORDER BY id",
            [account_id, start, end, incident_id],
        ).fetchall()
        keys = (
            "id", "account_id", "state", "scheduled_at", "due_at", "sending_at", "published_at", "remote_id",
            "error", "error_code", "error_status",
        )  # fmt: skip
        held, flying = [], []
        for row in rows:
            post = dict(zip(keys, row, strict=True))
            if post["id"] in in_flight:
                deletable = can_delete(kind) and post["remote_id"] is not None
                post["delete"] = f"POST /api/v1/posts/{post['id']}/delete-remote" if deletable else None
                flying.append(post)
                continue
            if post["sending_at"] and start < post["sending_at"] <= end:
                leaks.append(dict(post))
            held.append(post)
        accounts.append(
            {
                "account_id": account_id, "handle": handle, "platform": platform, "central": bool(central),
                "connector": kind, "held_posts": held, "in_flight": flying,
                "can_delete": can_delete(kind),
            }
        )  # fmt: skip
    check = audit.verify(db, audit_key)
    return {
        "incident": {k: v for k, v in incident.items() if k not in ("timeline",)},
        "period": {"from": start, "to": end},
        "accounts": accounts,
        "messages": list_messages(db, incident_id),
        "timeline": incident["timeline"],
        "proof": {
            "published_on_held_accounts_outside_in_flight": leaks,
            "statement": (
                f"No post on the {len(accounts)} accounts covered was sent between {start} and {end}, "
                f"except the {len(in_flight)} in flight at the declaration."
                if not leaks
                else f"{len(leaks)} posts were sent on covered accounts during the incident: see the list."
            ),
            "audit_chain": {"ok": check.ok, "entries": check.entries, "head": check.head},
        },
    }


def can_delete(kind: str) -> bool:
    """Whether a connector kind can take back what it published (the outbox published nothing;
    Instagram's API cannot delete)."""
    return kind in CONNECTORS and kind not in ("outbox", "instagram")


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown, for people and for the file the incident leaves behind."""
    incident = report["incident"]
    lines = [
        f"# Incident {incident['id']}: {incident['title']}" + (" (EXERCISE)" if incident["exercise"] else ""),
        "",
        f"- Playbook: {incident['playbook']}; status: {incident['status']}",
        f"- Declared {incident['declared_at']} by {incident['declared_by']}; reason: {incident['reason']}",
        f"- Resolved {incident['resolved_at'] or '-'} by {incident['resolved_by'] or '-'}; "
        f"resume policy {incident['resume_policy']}",
        "",
        "## Proof",
        "",
        report["proof"]["statement"],
        f"Audit chain: {'verified' if report['proof']['audit_chain']['ok'] else 'BROKEN'}, "
        f"{report['proof']['audit_chain']['entries']} entries, head `{report['proof']['audit_chain']['head']}`.",
        "",
        "## Accounts",
        "",
        "| account | platform | held posts | in flight |",
        "|---|---|---|---|",
    ]
    for account in report["accounts"]:
        flying = ", ".join(
            f"post {p['id']} (remote {p['remote_id'] or '?'}{'; delete: ' + p['delete'] if p['delete'] else ''})"
            for p in account["in_flight"]
        )
        lines.append(
            f"| {account['handle']} | {account['platform']} | {len(account['held_posts'])} | {flying or '-'} |"
        )
    lines += ["", "## Messages", ""]
    for message in report["messages"]:
        lines.append(
            f"- Message {message['id']} ({message['state']}), by {message['author']}, approved by "
            f"{message['approved_by'] or '-'}: {message['body']}"
        )
        for delivery in message["deliveries"]:
            lines.append(
                f"  - {delivery['handle']} ({delivery['platform']}): {delivery['state']} {delivery['remote_id'] or ''}"
            )
    acks = report["incident"]["acknowledgements"]
    lines += [
        "",
        "## Acknowledgements",
        "",
        f"Acknowledged: {', '.join(a['email'] for a in acks['acknowledged']) or 'nobody'}",
        f"Not acknowledged: {', '.join(a['email'] for a in acks['not_acknowledged']) or 'nobody'}",
        "",
        "## Timeline",
        "",
    ]
    lines += [f"- {e['at']} {e['kind']} ({e['actor']}) {json.dumps(e['details'])}" for e in report["timeline"]]
    return "\n".join(lines) + "\n"
