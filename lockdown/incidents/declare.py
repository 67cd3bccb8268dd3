"""Declaring and resolving incidents: the hold (policy 2.2.7), its timeline, who is told.

A hold is a rule kept in ``incidents`` and read through the ``account_holds`` view; the
dispatcher's claim statement evaluates it, so once the declaring transaction commits no held
post can be claimed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from lockdown.errors import Conflict, InvalidInput, NotFound
from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.messages import draft_from_template
from lockdown.incidents.playbooks import RESUME_POLICIES, Playbook, render
from lockdown.incidents.timeline import EventKind, event, incident_row, timeline
from lockdown.notify.outbox import Notice, queue
from lockdown.pagination import check_limit, decode_cursor, page
from lockdown.people.users import User
from lockdown.store.busy import retry_when_busy
from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso
from lockdown.vault.credentials import end_incident_sessions, require_rotation

NATIVE_KINDS = ("mastodon", "facebook")
# Declared only by ``lockdown standby promote`` and lifted only by confirming the promotion
# (lockdown.incidents.promotion): a person may neither declare nor resolve it by hand.
PROMOTION_PLAYBOOK = "standby-promotion"
MAX_TEXT = {"title": 200, "reason": 2000}
RESUME_HINTS = {
    "review": "each waits in needs_review for you to reschedule or cancel it",
    "skip": "they were cancelled; reschedule any that still matter",
    "resume": "they go out again, staggered so that each account sends one at a time",
}


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} is required and must not be blank", field=name)
    if len(value) > MAX_TEXT[name]:
        raise InvalidInput(f"{name} is longer than {MAX_TEXT[name]} characters", field=name)
    return value.strip()


def _named_account(playbook: Playbook, raw: Any) -> int | None:
    """The account_id a playbook needs (or refuses), checked for shape before any lock is taken."""
    if raw is None:
        if playbook.named_account == "required":
            raise InvalidInput(
                f"the {playbook.name} playbook needs account_id: the account to hold",
                field="account_id",
            )
        return None
    if playbook.named_account == "none":
        raise InvalidInput(
            f"the {playbook.name} playbook holds no named account; leave out account_id",
            field="account_id",
        )
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput("account_id must be an account id", field="account_id")
    return raw


def _require_active_account(db: Database, account_id: int) -> None:
    row = db.conn.execute("SELECT archived_at FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None or row[0] is not None:
        raise InvalidInput(f"account_id: there is no active account {account_id}", field="account_id")


def check_named_account(db: Database, playbook: Playbook, raw: Any) -> int | None:
    """The account a declaration with this playbook would name, checked as declaring checks it
    (a 400 naming ``account_id`` when it is missing, refused, not an id, archived or unknown)."""
    named = _named_account(playbook, raw)
    if named is not None:
        _require_active_account(db, named)
    return named


def declare_incident(ctx: Context, config: IncidentConfig, actor: User, data: Mapping[str, Any]) -> dict[str, Any]:
    """Declare an incident (press): hold its accounts in one BEGIN IMMEDIATE transaction, and
    in the same transaction record what was in flight, queue the notices and the native
    schedule withdrawals, and draft the holding statement."""
    actor.require("press")
    title, reason = _text(data, "title"), _text(data, "reason")
    name = data.get("playbook") or "live-incident"
    playbook = config.playbooks.get(name) if isinstance(name, str) else None
    if playbook is None or playbook.name == PROMOTION_PLAYBOOK:
        names = sorted(set(config.playbooks) - {PROMOTION_PLAYBOOK})
        raise InvalidInput(f"playbook must be one of {', '.join(names)}", field="playbook")
    named = check_named_account(ctx.db, playbook, data.get("account_id"))  # a clear 400 before the lock
    # Everything above reads or checks input; the lock is taken only for the writes below, and
    # a busy database is waited out rather than failing the declaration.
    return retry_when_busy(
        ctx.db,
        lambda: _declare(ctx, config, actor, playbook, title, reason, named),
        retry_seconds=config.busy_retry_seconds,
    )


def declare_within(
    ctx: Context, config: IncidentConfig, actor: User, playbook: Playbook, title: str, reason: str
) -> dict[str, Any]:
    """The declaring transaction for a declaration the system makes itself (a standby's
    promotion), inside the caller's change: no role check, no busy retry, no named account."""
    return _declare(ctx, config, actor, playbook, title, reason, None)


def _declare(
    ctx: Context, config: IncidentConfig, actor: User, playbook: Playbook, title: str, reason: str, named: int | None
) -> dict[str, Any]:
    """The declaring transaction itself."""
    with ctx.change() as change:
        db = ctx.db.conn
        if named is not None:
            # Checked again under the write lock: an account archived meanwhile is not held.
            _require_active_account(ctx.db, named)
        incident_id = int(
            db.execute(
                "INSERT INTO incidents (title, playbook, reason, status, exercise, scope, scope_tag, "
                "named_account_id, hold_central, resume_policy, declared_by, declared_at) "
                "VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    title,
                    playbook.name,
                    reason,
                    int(playbook.exercise),
                    playbook.scope,
                    playbook.tag,
                    named,
                    int(playbook.hold_central),
                    playbook.resume_policy,
                    actor.id,
                    to_iso(change.at),
                ],
            ).lastrowid
            or 0
        )
        held = held_count(ctx.db, incident_id)
        in_flight = [
            row[0]
            for row in db.execute(
                "SELECT p.id FROM posts p JOIN account_holds h ON h.account_id = p.account_id "
                "WHERE h.incident_id = ? AND p.state = 'publishing' AND p.sending_at IS NOT NULL "
                # A mark older than the claim is an earlier attempt's: this one has not started sending.
                "AND p.sending_at >= p.dispatched_at "
                "ORDER BY p.id",
                [incident_id],
            )
        ]
        db.executemany(
            "INSERT INTO incident_in_flight (incident_id, post_id) VALUES (?, ?)",
            [(incident_id, post_id) for post_id in in_flight],
        )
        event(
            change,
            incident_id,
            "declared",
            actor.email,
            playbook=playbook.name,
            title=title,
            reason=reason,
        )
        event(change, incident_id, "held", "lockdown", accounts=held)
        if in_flight:
            event(change, incident_id, "in_flight", "lockdown", posts=in_flight)
        if playbook.require_rotation and named is not None:
            # A compromised account's password must change before it is trusted again.
            require_rotation(change, named, "compromised", incident_id=incident_id)
            event(change, incident_id, "rotation_required", "lockdown", account_id=named)
        _queue_native_withdrawals(change, incident_id, held, playbook)
        incident = incident_row(ctx.db, incident_id)
        queue_notices(change, config, incident, playbook, "declared", held)

        statement = draft_from_template(change, actor, incident, playbook, "holding_statement", config.timezone)
        change.audit(
            actor.email, "incident.declare", f"incident:{incident_id}",
            playbook=playbook.name, title=title, reason=reason, held_accounts=held,
            in_flight=in_flight, named_account_id=named,
        )  # fmt: skip
    return {
        "id": incident_id,
        "status": "active",
        "playbook": playbook.name,
        "exercise": playbook.exercise,
        "declared_at": to_iso(change.at),
        "held_accounts": held,
        "in_flight": in_flight,
        "holding_statement_id": statement,
    }


def preview_held(db: Database, playbook: Playbook, actor: User) -> int:
    """How many accounts declaring with this playbook would hold now. It asks the same
    ``incident_scope`` view the hold itself uses, for an incident written in a savepoint and
    rolled back, so the rule lives in one place."""
    if playbook.scope == "named":
        return 1
    conn = db.conn
    if conn.in_transaction:
        raise RuntimeError("preview_held runs outside any transaction")
    conn.execute("SAVEPOINT preview_held")
    try:
        incident_id = conn.execute(
            "INSERT INTO incidents (title, playbook, reason, status, exercise, scope, scope_tag, hold_central, "
            "resume_policy, declared_by, declared_at) "
            "VALUES ('preview', ?, 'preview', 'resolved', ?, ?, ?, ?, ?, ?, '')",
            [playbook.name, int(playbook.exercise), playbook.scope, playbook.tag, int(playbook.hold_central),
             playbook.resume_policy, actor.id],
        ).lastrowid  # fmt: skip
        count = conn.execute(
            "SELECT COUNT(*) FROM incident_scope s JOIN accounts a ON a.id = s.account_id "
            "WHERE s.incident_id = ? AND a.archived_at IS NULL",
            [incident_id],
        ).fetchone()[0]
    finally:
        conn.execute("ROLLBACK TO preview_held")
        conn.execute("RELEASE preview_held")
    return int(count)


def held_count(db: Database, incident_id: int) -> int:
    """How many accounts an active incident holds (counted by SQLite: no list of 100,000 ids)."""
    row = db.conn.execute("SELECT COUNT(*) FROM account_holds WHERE incident_id = ?", [incident_id]).fetchone()
    return int(row[0])


def _queue_native_withdrawals(change: Changes, incident_id: int, held: int, playbook: Playbook) -> None:
    """Work for the scheduler: list and withdraw what is scheduled on the platforms themselves."""
    if playbook.exercise or not held:
        return
    marks = ",".join("?" * len(NATIVE_KINDS))
    change.context.db.conn.execute(
        "INSERT INTO native_schedules (incident_id, account_id, state, next_attempt_at) "
        "SELECT ?, a.id, 'to_list', ? FROM account_holds h JOIN accounts a ON a.id = h.account_id "
        f"WHERE h.incident_id = ? AND json_extract(a.connector, '$.kind') IN ({marks})",
        [incident_id, to_iso(change.at), incident_id, *NATIVE_KINDS],
    )


def queue_notices(
    change: Changes, config: IncidentConfig, incident: Mapping[str, Any], playbook: Playbook,
    kind: str, account_count: int,
) -> int:  # fmt: skip
    """Write one email per manager or editor of the accounts (and the webhook) to the outbox,
    in the change's transaction; the scheduler delivers them."""
    db = change.context.db.conn
    # One row per person, their accounts gathered by SQLite: Python sees hundreds of managers,
    # not a hundred thousand accounts. On resolve, only accounts no other incident still holds.
    # Managers and editors are grouped apart: the managers' grouping streams in the order of
    # the manager index, where one grouping of both needed a sort of every account, in the lock.
    released_only = (
        "AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = a.id)" if kind == "resolved" else ""
    )
    listed = "group_concat('  - ' || a.handle || ' (' || a.platform || ')', char(10))"
    in_scope = (
        f"incident_scope s JOIN accounts a ON a.id = s.account_id WHERE s.incident_id = :incident {released_only}"
    )
    lines_of: dict[int, list[str]] = defaultdict(list)
    for statement in (
        f"SELECT a.manager_id, {listed} FROM {in_scope} GROUP BY a.manager_id",
        f"SELECT e.user_id, {listed} FROM account_editors e JOIN {in_scope} AND a.id = e.account_id GROUP BY e.user_id",
    ):
        for user_id, lines in db.execute(statement, {"incident": incident["id"]}):
            lines_of[user_id] += lines.split("\n")
    enabled = db.execute("SELECT id, name, email FROM users WHERE disabled_at IS NULL ORDER BY id")
    people = [(user_id, name, email, lines_of[user_id]) for user_id, name, email in enabled if user_id in lines_of]
    named = incident.get("named_account_id")
    handles = {
        row[0]: f"{row[1]} ({row[2]})"
        for row in db.execute("SELECT id, handle, platform FROM accounts WHERE id = ?", [named or 0])
    }
    values = _notice_values(config, incident, playbook, kind, handles)
    subject_t, body_t = playbook.notify[f"{kind}_subject"], playbook.notify[f"{kind}_body"]
    rows: list[tuple[str, int | None, str, str, str]] = []
    for user_id, name, email, lines in people:
        filled = {**values, "name": name, "accounts": "\n".join(sorted(set(lines)))}
        rows.append(("email", user_id, email, render(subject_t, **filled), render(body_t, **filled)))
    if config.notify_webhook_url:
        filled = {**values, "name": "team", "accounts": f"{account_count} accounts"}
        rows.append(
            (
                "webhook",
                None,
                config.notify_webhook_url,
                render(subject_t, **filled),
                render(body_t, **filled),
            )
        )
    queue(
        change,
        (
            Notice(kind, recipient, subject, body, user_id, channel, incident["id"])
            for channel, user_id, recipient, subject, body in rows
        ),
    )
    queued: EventKind = "notices_queued_resolved" if kind == "resolved" else "notices_queued_declared"
    event(change, incident["id"], queued, "lockdown", recipients=len(rows))
    return len(rows)


def _notice_values(
    config: IncidentConfig,
    incident: Mapping[str, Any],
    playbook: Playbook,
    kind: str,
    handles: dict[int, str],
) -> dict[str, Any]:
    named = incident.get("named_account_id")
    prefix = "[EXERCISE] " if incident["exercise"] else ""
    return {
        "title": prefix + incident["title"],
        "reason": incident["reason"],
        "playbook": playbook.title,
        "incident_id": incident["id"],
        "declared_at": incident["declared_at"],
        "resolved_at": incident.get("resolved_at") or "",
        "account": handles.get(named, "") if named else "",
        "ack_hint": f"POST {config.public_url}/api/v1/incidents/{incident['id']}/ack with your API token",
        "resume_policy": incident.get("resume_policy") or playbook.resume_policy,
        "resume_hint": RESUME_HINTS.get(incident.get("resume_policy") or playbook.resume_policy, ""),
    }


def resolve_incident(
    ctx: Context, config: IncidentConfig, actor: User, incident_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Resolve an incident (press): lift its holds; posts that fell due during the hold on the
    accounts it released follow the resume policy; later posts simply go out on time."""
    actor.require("press")
    policy = data.get("resume_policy")
    if policy is not None and policy not in RESUME_POLICIES:
        raise InvalidInput(f"resume_policy must be one of {', '.join(RESUME_POLICIES)}", field="resume_policy")
    if incident_row(ctx.db, incident_id)["playbook"] == PROMOTION_PLAYBOOK:  # 404 before waiting for the lock
        raise Conflict(
            f"incident {incident_id} is a standby's promotion hold: confirm the promotion instead "
            "(POST /api/v1/promotion/confirm, saying what you checked)",
            field="id",
        )
    return retry_when_busy(
        ctx.db,
        lambda: _resolve(ctx, config, actor, incident_id, policy),
        retry_seconds=config.busy_retry_seconds,
    )


def resolve_within(
    ctx: Context, config: IncidentConfig, actor: User, incident_id: int, policy: str | None
) -> dict[str, Any]:
    """The resolving transaction, inside the caller's change (confirming a promotion)."""
    return _resolve(ctx, config, actor, incident_id, policy)


def _resolve(ctx: Context, config: IncidentConfig, actor: User, incident_id: int, policy: str | None) -> dict[str, Any]:
    """The resolving transaction itself."""
    with ctx.change() as change:
        incident = incident_row(ctx.db, incident_id)
        if incident["status"] != "active":
            raise Conflict(f"incident {incident_id} is resolved already", field="status")
        playbook = config.playbooks.get(incident["playbook"])
        policy = policy or incident["resume_policy"]
        before = held_count(ctx.db, incident_id)
        stamp = to_iso(change.at)
        ctx.db.conn.execute(
            "UPDATE incidents SET status = 'resolved', resolved_by = ?, resolved_at = ?, resume_policy = ? "
            "WHERE id = ? AND status = 'active'",
            [actor.id, stamp, policy, incident_id],
        )
        ended = end_incident_sessions(change, actor.email, incident_id)
        if ended:
            event(change, incident_id, "access_sessions_ended", actor.email, sessions=ended)
        # Counted by SQLite, now that this incident no longer holds: what no other incident holds.
        released = int(
            ctx.db.conn.execute(
                f"SELECT COUNT(*) FROM incident_scope s WHERE s.incident_id = ? AND {_RELEASED}", [incident_id]
            ).fetchone()[0]
        )
        counts = _resume(change, incident_id, policy, config.resume_interval)
        ctx.db.conn.execute(
            "UPDATE native_schedules SET state = 'to_restore', next_attempt_at = ?, attempts = 0 "
            "WHERE incident_id = ? AND state = 'withdrawn'",
            [stamp, incident_id],
        )
        ctx.db.conn.execute(
            "UPDATE native_schedules SET state = 'failed', error = 'the incident ended first' "
            "WHERE incident_id = ? AND state IN ('to_list', 'to_withdraw')",
            [incident_id],
        )
        resolution = {
            "released_accounts": released,
            "still_held": before - released,
            **counts,
        }
        ctx.db.conn.execute(
            "UPDATE incidents SET resolution = ? WHERE id = ?",
            [json.dumps(resolution), incident_id],
        )
        event(change, incident_id, "resolved", actor.email, resume_policy=policy, **resolution)
        if playbook is not None:
            queue_notices(change, config, incident_row(ctx.db, incident_id), playbook, "resolved", released)
        change.audit(
            actor.email,
            "incident.resolve",
            f"incident:{incident_id}",
            resume_policy=policy,
            **resolution,
        )
    return {
        "id": incident_id,
        "status": "resolved",
        "resolved_at": stamp,
        "resume_policy": policy,
        **resolution,
    }


# An account of the incident's scope (s) that no active incident holds any more.
_RELEASED = "NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = s.account_id)"


def _resume(change: Changes, incident_id: int, policy: str, interval: timedelta) -> dict[str, int]:
    """Apply the resume policy to posts that fell due during the hold on released accounts."""
    db = change.context.db.conn
    stamp = to_iso(change.at)
    missed: dict[int, list[int]] = defaultdict(list)
    # Only posts that fell due are candidates (the partial due index, named because SQLite
    # would otherwise read every scheduled post); the cost follows what was missed, not how
    # many posts or accounts there are.
    for post_id, account_id in db.execute(
        "SELECT p.id, p.account_id FROM posts p INDEXED BY posts_due "
        "WHERE p.state = 'scheduled' AND p.due_at <= ? AND EXISTS "
        f"(SELECT 1 FROM incident_scope s WHERE s.incident_id = ? AND s.account_id = p.account_id AND {_RELEASED}) "
        "ORDER BY p.account_id, p.due_at, p.id",
        [stamp, incident_id],
    ):
        missed[account_id].append(post_id)
    total = sum(len(ids) for ids in missed.values())
    note = f"fell due while incident {incident_id} held its account"
    if policy == "review":
        db.executemany(
            "UPDATE posts SET state = 'needs_review', error = ?, updated_at = ? WHERE id = ? AND state = 'scheduled'",
            [(f"{note}; reschedule or cancel it", stamp, post_id) for ids in missed.values() for post_id in ids],
        )
    elif policy == "skip":
        db.executemany(
            "UPDATE posts SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ? AND state = 'scheduled'",
            [(f"skipped: {note}", stamp, post_id) for ids in missed.values() for post_id in ids],
        )
    else:
        # One missed post per account per interval, so no audience is flooded at once.
        db.executemany(
            "UPDATE posts SET due_at = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'scheduled'",
            [
                (to_iso(change.at + interval * n), f"resumed: {note}", stamp, post_id)
                for ids in missed.values()
                for n, post_id in enumerate(ids)
            ],
        )
    for ids in missed.values():
        for post_id in ids:
            change.audit("lockdown", f"post.resume_{policy}", f"post:{post_id}", incident_id=incident_id)
    return {"missed_posts": total}


def get_incident(db: Database, incident_id: int) -> dict[str, Any]:
    """An incident with its timeline, held count, in-flight posts and acknowledgements."""
    incident = incident_row(db, incident_id)
    users = dict(db.conn.execute("SELECT id, email FROM users").fetchall())
    incident["declared_by"] = users.get(incident["declared_by"])
    incident["resolved_by"] = users.get(incident["resolved_by"]) if incident["resolved_by"] else None
    incident["held_accounts"] = held_count(db, incident_id) if incident["status"] == "active" else 0
    incident["in_flight"] = [
        row[0]
        for row in db.conn.execute(
            "SELECT post_id FROM incident_in_flight WHERE incident_id = ? ORDER BY post_id",
            [incident_id],
        )
    ]
    incident["timeline"] = timeline(db, incident_id)
    incident["acknowledgements"] = acknowledgements(db, incident_id)
    return incident


def list_incidents(
    db: Database, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    """Incidents, newest first is what people want, but pages go by id: oldest first."""
    size = check_limit(limit)
    where, params = ["id > ?"], [decode_cursor(cursor)]
    if status is not None:
        if status not in ("active", "resolved"):
            raise InvalidInput("status must be active or resolved", field="status")
        where.append("status = ?")
        params.append(status)  # type: ignore[arg-type]
    ids = [
        row[0]
        for row in db.conn.execute(
            f"SELECT id FROM incidents WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
            [*params, size + 1],
        )
    ]
    return page([get_incident(db, incident_id) for incident_id in ids], size)


def acknowledge(ctx: Context, actor: User, incident_id: int) -> dict[str, Any]:
    """Record that a user has read the incident's notice (idempotent); a resolved incident has
    nothing left to acknowledge (409), unless this user acknowledged it already."""
    incident_row(ctx.db, incident_id)
    with ctx.change(allow_empty=True) as change:
        # The incident's state is checked in the statement that writes, so a resolve cannot slip between.
        done = ctx.db.conn.execute(
            "INSERT OR IGNORE INTO acknowledgements (incident_id, user_id, at) "
            "SELECT id, ?, ? FROM incidents WHERE id = ? AND status = 'active'",
            [actor.id, to_iso(change.at), incident_id],
        ).rowcount
        if done:
            event(change, incident_id, "acknowledged", actor.email)
            change.audit(actor.email, "incident.acknowledge", f"incident:{incident_id}")
    found = ctx.db.conn.execute(
        "SELECT at FROM acknowledgements WHERE incident_id = ? AND user_id = ?",
        [incident_id, actor.id],
    ).fetchone()
    if found is None:
        raise Conflict(f"incident {incident_id} is resolved: there is nothing left to acknowledge", field="incident_id")
    return {"incident_id": incident_id, "user": actor.email, "acknowledged_at": found[0]}


def acknowledgements(db: Database, incident_id: int) -> dict[str, list[dict[str, Any]]]:
    """Who was told (by email) and who has acknowledged, for the press team."""
    rows = db.conn.execute(
        "SELECT u.email, u.name, MIN(n.state), k.at FROM notifications n JOIN users u ON u.id = n.user_id "
        "LEFT JOIN acknowledgements k ON k.incident_id = n.incident_id AND k.user_id = n.user_id "
        "WHERE n.incident_id = ? AND n.event = 'declared' GROUP BY u.id ORDER BY u.email",
        [incident_id],
    ).fetchall()
    done = [{"email": e, "name": n, "at": at} for e, n, _state, at in rows if at]
    waiting = [{"email": e, "name": n, "notice": state} for e, n, state, at in rows if not at]
    return {"acknowledged": done, "not_acknowledged": waiting}


def hold_status(db: Database, account_id: int, now: datetime) -> dict[str, Any]:
    """Whether an account is held, by which incidents since when, and how many posts wait."""
    if db.conn.execute("SELECT 1 FROM accounts WHERE id = ?", [account_id]).fetchone() is None:
        raise NotFound(f"no account {account_id}", field="id")
    holds = db.conn.execute(
        "SELECT incident_id, since FROM account_holds WHERE account_id = ? ORDER BY since",
        [account_id],
    ).fetchall()
    held_posts, scheduled = db.conn.execute(
        "SELECT COALESCE(SUM(due_at <= ?), 0), COUNT(*) FROM posts WHERE account_id = ? AND state = 'scheduled'",
        [to_iso(now), account_id],
    ).fetchone()
    return {
        "account_id": account_id,
        "held": bool(holds),
        "incidents": [incident for incident, _ in holds],
        "since": holds[0][1] if holds else None,
        "held_posts": int(held_posts) if holds else 0,
        "scheduled_posts": int(scheduled),
    }
