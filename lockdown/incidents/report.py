"""An incident's report: per account what was held and what was in flight, every message and
its deliveries, who acknowledged, and the proof, two-sided: what Lockdown sent, and what each
held account's platform showed during the hold (the watch's listings and every post on it that
Lockdown did not send), naming the accounts that could not be watched and why."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from lockdown.incidents.declare import get_incident
from lockdown.incidents.delivery_errors import delivery_errors_as_seen_by
from lockdown.incidents.messages import list_messages
from lockdown.incidents.watch_record import can_delete, incident_watch
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
    platforms = platform_side(db, incident_id)
    for account in accounts:
        account["platform_record"] = platforms["accounts"].get(account["account_id"])
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
            "platforms": {k: v for k, v in platforms.items() if k != "accounts"},
        },
    }


def _line(text: str) -> str:
    """A platform's words on one Markdown line: a post's line breaks would start new blocks."""
    return " ".join(str(text).split())


def _cell(text: str) -> str:
    """A platform's words in one Markdown table cell: a pipe would end the cell."""
    return _line(text).replace("|", "\\|")


def _clock(stamp: str) -> str:
    """'2026-11-29T02:14:05.123456Z' as '02:14' (the report's times are UTC throughout)."""
    return stamp[11:16]


def _account_summary(row: dict[str, Any], posts: list[dict[str, Any]]) -> str:
    """'checked 38 times from 02:14 to 05:40; 1 post not sent by Lockdown, deleted at 02:31'."""
    if row["status"] == "unwatchable":
        said = f"could not be watched: {row['reason']}"
    elif not row["checks"]:
        said = "not listed during the hold"
    else:
        times = "once" if row["checks"] == 1 else f"{row['checks']} times"
        said = f"checked {times} from {_clock(row['first_checked_at'])} to {_clock(row['last_checked_at'])}"
        if row["failures"]:
            said += f" ({row['failures']} of them failed{': ' + row['reason'] if row['status'] == 'failing' else ''})"
    if not posts:
        return said + ("" if row["status"] == "unwatchable" or not row["checks"] else "; no post not sent by Lockdown")
    each = []
    for post in posts:
        fate = f"deleted at {_clock(post['deleted_at'])}" if post["deleted_at"] else "not deleted"
        each.append(f"posted {_clock(post['posted_at'])}, {fate}")
    count = f"{len(posts)} post{'s' if len(posts) != 1 else ''} not sent by Lockdown"
    return f"{said}; {count} ({'; '.join(each)})"


def platform_side(db: Database, incident_id: int) -> dict[str, Any]:
    """The proof's second side: per covered account what its platform showed during the hold,
    the accounts that could not be watched with the reason, and a statement."""
    watch = incident_watch(db, incident_id)
    posts_of: dict[int, list[dict[str, Any]]] = {}
    for post in sorted(watch["out_of_band"], key=lambda p: (p["posted_at"], p["id"])):
        posts_of.setdefault(post["account_id"], []).append(post)
    accounts, unwatched = {}, []
    for row in watch["accounts"]:
        posts = posts_of.get(row["account_id"], [])
        keys = ("checks", "first_checked_at", "last_checked_at", "status", "reason", "failures")
        accounts[row["account_id"]] = {
            **{k: row[k] for k in keys},
            "out_of_band": posts,
            "summary": _account_summary(row, posts),
        }
        if row["status"] == "unwatchable" or not row["checks"]:
            why = row["reason"] if row["status"] == "unwatchable" else "never listed during the hold"
            unwatched.append(
                {"account_id": row["account_id"], "handle": row["handle"], "platform": row["platform"], "reason": why}
            )
    posts = watch["out_of_band"]
    watched = len(accounts) - len(unwatched)
    checks = sum(a["checks"] for a in accounts.values())
    statement = (
        f"The platforms of {watched} of the {len(accounts)} accounts covered were listed {checks} times during "
        f"the hold; {len(posts)} post{'s' if len(posts) != 1 else ''} not sent by Lockdown "
        f"({sum(1 for p in posts if p['deleted_at'])} deleted)."
    )
    if unwatched:
        statement += (
            f" {len(unwatched)} account{'s' if len(unwatched) != 1 else ''} could not be watched: see the list."
        )
    return {
        "statement": statement,
        "out_of_band": len(posts),
        "not_deleted": sum(1 for p in posts if not p["deleted_at"]),
        "accounts_not_watched": unwatched,
        "accounts": accounts,
    }


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
        report["proof"]["platforms"]["statement"],
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
    lines += [
        "",
        "## What the platforms showed",
        "",
        "| account | platform | what the watch saw |",
        "|---|---|---|",
    ]
    for account in report["accounts"]:
        record = account.get("platform_record")
        lines.append(f"| {account['handle']} | {account['platform']} | {_cell(record['summary']) if record else '-'} |")
    not_watched = report["proof"]["platforms"]["accounts_not_watched"]
    if not_watched:
        lines += ["", "Accounts that could not be watched:", ""]
        lines += [f"- {a['handle']} ({a['platform']}): {_line(a['reason'])}" for a in not_watched]
    out_of_band = [p for account in report["accounts"] for p in (account.get("platform_record") or {}).get(
        "out_of_band", [])]  # fmt: skip
    if out_of_band:
        lines += ["", "Posts not sent by Lockdown:", ""]
        for post in out_of_band:
            fate = f"deleted {post['deleted_at']} by {post['deleted_by']}" if post["deleted_at"] else "NOT DELETED"
            lines.append(
                f"- {post['handle']} ({post['platform']}), posted {post['posted_at']}, seen {post['seen_at']}, "
                f"{post['url'] or post['remote_id']}: {fate}. Text: {_line(post['text'])}"
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
