"""Incident messages: drafted from the playbook's templates, approved by a second press officer,
published only through the central accounts, every delivery recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from connectors.base import UNANSWERED, Connector, ConnectorError, OutgoingPost
from connectors.outbox import OutboxConnector
from lockdown.crypto import Vault, VaultError
from lockdown.errors import AccountHeld, Conflict, Forbidden, InvalidInput, NotFound, RuleBroken
from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.playbooks import TEMPLATES, Playbook, render
from lockdown.incidents.timeline import event, incident_row
from lockdown.people.users import User
from lockdown.posting import media
from lockdown.posting.connector_secrets import load_secrets
from lockdown.posting.dispatch import ConnectorFactory, build_connector
from lockdown.posting.length import over_limit
from lockdown.posting.media_limits import check_media_limits
from lockdown.posting.post_errors import capped
from lockdown.store.context import Changes, Context
from lockdown.store.db import connect, db_file
from lockdown.store.fence import NOT_FENCED, fence_fault
from lockdown.timeutil import Clock, to_iso

# An account that may speak in an incident: central, active, and not held as compromised.
SPEAKS = (
    "a.central = 1 AND a.archived_at IS NULL AND NOT EXISTS "
    "(SELECT 1 FROM incidents i WHERE i.status = 'active' AND i.named_account_id = a.id)"
)


def central_targets(db: Database) -> list[int]:
    """The active central accounts that no named-account hold (a compromise) has taken."""
    return [row[0] for row in db.conn.execute(f"SELECT a.id FROM accounts a WHERE {SPEAKS} ORDER BY a.id")]


def _template_values(db: Database, incident: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    from lockdown.timeutil import parse_iso

    declared = parse_iso(incident["declared_at"]).astimezone(ZoneInfo(timezone))
    central = db.conn.execute(
        "SELECT handle FROM accounts WHERE central = 1 AND archived_at IS NULL AND handle LIKE '@%' ORDER BY id LIMIT 1"
    ).fetchone()
    named = incident.get("named_account_id")
    account = db.conn.execute("SELECT handle FROM accounts WHERE id = ?", [named]).fetchone() if named else None
    return {
        "title": incident["title"],
        "time": declared.strftime("%H:%M"),
        "declared_at": declared.strftime("%d %b %Y %H:%M"),
        "central_handle": central[0] if central else "@livuni",
        "account": account[0] if account else "",
    }


def _check_targets(db: Database, account_ids: list[int], body: str) -> None:
    if not account_ids:
        raise RuleBroken("there is no central account to publish through", field="account_ids")
    marks = ",".join("?" * len(account_ids))
    found = {
        row[0]: row[1:]
        for row in db.conn.execute(
            f"SELECT id, central, platform, archived_at, handle FROM accounts WHERE id IN ({marks})",
            account_ids,
        )
    }
    for account_id in account_ids:
        if account_id not in found or found[account_id][2] is not None:
            raise InvalidInput(f"account_ids: there is no active account {account_id}", field="account_ids")
        central, platform, _archived, handle = found[account_id]
        if not central:
            raise RuleBroken(
                f"{handle} (account {account_id}) is not a central account: in an emergency only the "
                "central @livuni accounts speak (policy 2.2.7)",
                field="account_ids",
            )
        problem = over_limit(platform, body)
        if problem:
            raise InvalidInput(f"{problem} (for {handle} on {platform})", field="body")


def _insert_draft(
    change: Changes,
    actor: User,
    incident: Mapping[str, Any],
    template: str | None,
    body: str,
    targets: list[int],
    *,
    media_ids: list[int] | None = None,
) -> int:
    cursor = change.context.db.conn.execute(
        "INSERT INTO incident_messages (incident_id, template, body, account_ids, state, exercise, "
        "author_id, created_at) VALUES (?, ?, ?, ?, 'draft', ?, ?, ?)",
        [
            incident["id"],
            template,
            body,
            json.dumps(targets),
            int(incident["exercise"]),
            actor.id,
            to_iso(change.at),
        ],
    )
    message_id = int(cursor.lastrowid or 0)
    event(
        change,
        incident["id"],
        "message_drafted",
        actor.email,
        message_id=message_id,
        template=template,
    )
    change.audit(
        actor.email,
        "incident.message_draft",
        f"message:{message_id}",
        incident_id=incident["id"],
        body=body,
        account_ids=targets,
        media_ids=media_ids or [],
    )
    return message_id


def draft_from_template(
    change: Changes, actor: User, incident: Mapping[str, Any], playbook: Playbook, template: str, timezone: str
) -> int | None:
    """Draft a message from one of the playbook's templates, to every available central account."""
    db = change.context.db
    targets = central_targets(db)
    if not targets:
        return None
    body = render(playbook.templates[template], **_template_values(db, incident, timezone))
    return _insert_draft(change, actor, incident, template, body, targets)


def draft_message(
    ctx: Context, config: IncidentConfig, actor: User, incident_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Draft an incident message (press): a body, or a template of the incident's playbook."""
    actor.require("press")
    incident = incident_row(ctx.db, incident_id)
    template, body = data.get("template"), data.get("body")
    if template is not None:
        if template not in TEMPLATES:
            raise InvalidInput(f"template must be one of {', '.join(TEMPLATES)}", field="template")
        playbook = config.playbooks[incident["playbook"]]
        filled = render(playbook.templates[template], **_template_values(ctx.db, incident, config.timezone))
        body = filled + (f" {body.strip()}" if isinstance(body, str) and body.strip() else "")
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("give body, or template (holding_statement, update, all_clear)", field="body")
    raw_targets = data.get("account_ids")
    if raw_targets is None:
        targets = central_targets(ctx.db)
    elif (
        isinstance(raw_targets, list)
        and raw_targets
        and all(isinstance(a, int) and not isinstance(a, bool) for a in raw_targets)
    ):
        targets = sorted(set(raw_targets))
    else:
        raise InvalidInput("account_ids must be a non-empty list of account ids", field="account_ids")
    _check_targets(ctx.db, targets, body.strip())
    ids = media.media_ids_of(data.get("media_ids", []))
    with ctx.change() as change:
        # Checked under the write lock: the media sweep removes unused uploads under it too.
        chosen = media.usable_media(
            ctx.db, actor, ids, platforms=_platforms(ctx.db, targets),
            alt_text_rule=config.media.alt_text_rule if config.media else "required",
        )  # fmt: skip
        message_id = _insert_draft(change, actor, incident, template, body.strip(), targets, media_ids=ids)
        media.attach(ctx.db, "message", message_id, chosen)
    return get_message(ctx.db, incident_id, message_id)


def _platforms(db: Database, account_ids: list[int]) -> list[str]:
    marks = ",".join("?" * len(account_ids))
    return [row[0] for row in db.conn.execute(f"SELECT platform FROM accounts WHERE id IN ({marks})", account_ids)]


# Deliveries of one approved message run side by side, each on its own thread and connection:
# seven central accounts whose platforms answer in 0.3-0.8 s are all delivered in under a second
# rather than in four (bench/bench_approval.py).
DELIVERY_THREADS = 8


def approve_message(
    ctx: Context, vault: Vault, actor: User, incident_id: int, message_id: int,
    connector_factory: ConnectorFactory = build_connector, *, threads: int = DELIVERY_THREADS,
    media_config: media.MediaConfig | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A second press officer approves: the message is published through its central accounts
    now (``threads`` at a time), and each delivery is recorded."""
    actor.require("press")
    get_message(ctx.db, incident_id, message_id)  # 404 before taking the write lock
    with ctx.change() as change:
        # Every check under the write lock: a compromise declared at the same moment is either
        # seen here or declared after the deliveries exist (and then stopped by their send mark).
        message = get_message(ctx.db, incident_id, message_id)
        if message["author"] == actor.email:
            raise Forbidden("a second press officer must approve this message, not its author")
        if message["state"] != "draft":
            raise Conflict(f"message {message_id} is {message['state']}", field="state")
        superseded = fence_fault(ctx.db)
        if superseded:  # an old primary whose standby was promoted speaks no more
            raise Conflict(superseded, field="state")
        targets = message["account_ids"]
        _check_targets(ctx.db, targets, message["body"])
        compromised = [a for a in targets if a not in central_targets(ctx.db)]
        if compromised:
            raise AccountHeld(
                f"account {compromised[0]} is held as compromised; remove it from the message",
                field="account_ids",
            )
        chosen = media.media_of(ctx.db, "message", [message_id]).get(message_id, [])
        _media_still_fit(ctx.db, chosen, targets, media_config)
        done = ctx.db.conn.execute(
            "UPDATE incident_messages SET state = 'approved', approved_by = ?, approved_at = ? "
            "WHERE id = ? AND state = 'draft'",
            [actor.id, to_iso(change.at), message_id],
        ).rowcount
        if not done:
            raise Conflict(f"message {message_id} was approved by someone else meanwhile", field="state")
        ctx.db.conn.executemany(
            "INSERT INTO message_deliveries (message_id, account_id, state, started_at) VALUES (?, ?, 'sending', ?)",
            [(message_id, account_id, to_iso(change.at)) for account_id in targets],
        )
        event(change, incident_id, "message_approved", actor.email, message_id=message_id)
        change.audit(
            actor.email,
            "incident.message_approve",
            f"message:{message_id}",
            incident_id=incident_id,
        )
    factory = _exercise_factory if message["exercise"] else connector_factory
    sent_media = media.outgoing(chosen, media_config.store, media_config.links, ctx.now()) if media_config else ()
    message = {**message, "outgoing_media": sent_media}
    path = db_file(ctx.db)  # each sending thread opens its own connection
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(targets)))) as pool:
        results = list(
            pool.map(
                lambda account_id: _deliver(path, ctx.audit_key, ctx.clock, vault, factory, message, account_id),
                targets,
            )
        )
    _record_deliveries(ctx, incident_id, message_id, results)
    return get_message(ctx.db, incident_id, message_id)


def _media_still_fit(
    db: Database, chosen: list[media.Medium], targets: list[int], media_config: media.MediaConfig | None
) -> None:
    """Policy 2.2.4 and each target platform's limits, checked again at approval."""
    if not chosen:
        return
    if media_config is None:
        raise Conflict("this message has media but the service has no media store", field="media_ids")
    media.check_accessibility(chosen, media_config.alt_text_rule)
    for platform in sorted(set(_platforms(db, targets))):
        check_media_limits(platform, chosen)


def _exercise_factory(kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
    """An exercise never reaches a platform: its messages go to the outbox."""
    return OutboxConnector({}, {})


def _mark_sending(ctx: Context, message_id: int, account_id: int) -> bool:
    """Commit the send mark for one delivery, only while its account may still speak (the rule
    posts follow: the hold is re-read in the same statement, right before the connector call)."""
    with ctx.change(allow_empty=True) as change:
        marked = ctx.db.conn.execute(
            "UPDATE message_deliveries SET sending_at = ? WHERE message_id = ? AND account_id = ? "
            f"AND state = 'sending' AND sending_at IS NULL AND {NOT_FENCED} "
            f"AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = message_deliveries.account_id AND {SPEAKS}) "
            "RETURNING id",
            [to_iso(change.at), message_id, account_id],
        ).fetchone()
        if marked:
            change.audit("lockdown", "incident.message_send", f"message:{message_id}", account_id=account_id)
    return marked is not None


def _deliver(
    db_path: str,
    audit_key: bytes,
    clock: Clock,
    vault: Vault,
    factory: Callable[..., Connector],
    message: Mapping[str, Any],
    account_id: int,
) -> dict[str, Any]:
    """In a pool thread (its own connection): publish through one central account."""
    db = connect(db_path)
    try:
        handle, platform, connector = db.conn.execute(
            "SELECT handle, platform, connector FROM accounts WHERE id = ?", [account_id]
        ).fetchone()
        if not _mark_sending(Context(db, audit_key, clock), message["id"], account_id):
            return {
                "account_id": account_id,
                "state": "failed",
                "error": f"{handle} was declared compromised (or archived) before this message was sent; "
                "nothing was sent to it",
                "remote_id": None,
            }
        settings = json.loads(connector)
        kind = settings.pop("kind")
        try:
            secrets = {} if message["exercise"] else load_secrets(db, vault, account_id, {"kind": kind, **settings})
            client = factory(kind, settings, secrets)
            try:
                published = client.publish(
                    OutgoingPost(
                        post_id=message["id"], account_id=account_id, handle=handle, platform=platform,
                        body=message["body"], scheduled_at=message["created_at"],
                        idempotency_key=f"incident-message-{message['id']}-{account_id}",
                        media=message.get("outgoing_media", ()),
                    )
                )  # fmt: skip
            finally:
                client.close()
        except (ConnectorError, VaultError) as exc:
            # A message is sent once, never retried: a de-duplicating platform that gave no clear
            # answer (marked UNANSWERED) may have posted it as surely as any other.
            ambiguous = isinstance(exc, ConnectorError) and (exc.ambiguous or UNANSWERED in exc.progress)
            return {
                "account_id": account_id,
                "state": "unknown" if ambiguous else "failed",
                # A platform may answer at length: kept as a post's error is, capped.
                "error": capped(exc).message if isinstance(exc, ConnectorError) else str(exc),
                "remote_id": None,
            }
        return {
            "account_id": account_id,
            "state": "delivered",
            "remote_id": published.remote_id,
            "error": None,
        }
    finally:
        db.close()


def _record_deliveries(ctx: Context, incident_id: int, message_id: int, results: list[dict[str, Any]]) -> None:
    with ctx.change() as change:
        for result in results:
            ctx.db.conn.execute(
                "UPDATE message_deliveries SET state = ?, remote_id = ?, error = ?, finished_at = ? "
                "WHERE message_id = ? AND account_id = ? AND state = 'sending'",
                [
                    result["state"],
                    result["remote_id"],
                    result["error"],
                    to_iso(change.at),
                    message_id,
                    result["account_id"],
                ],
            )
            change.audit("lockdown", f"incident.message_{result['state']}", f"message:{message_id}", **result)
        delivered = sum(result["state"] == "delivered" for result in results)
        state = "delivered" if delivered == len(results) else "partly_delivered" if delivered else "failed"
        ctx.db.conn.execute("UPDATE incident_messages SET state = ? WHERE id = ?", [state, message_id])
        event(
            change,
            incident_id,
            "message_delivered",
            "lockdown",
            message_id=message_id,
            delivered=delivered,
            of=len(results),
        )


def get_message(db: Database, incident_id: int, message_id: int) -> dict[str, Any]:
    """One incident message with its deliveries."""
    row = db.conn.execute(
        "SELECT m.id, m.incident_id, m.template, m.body, m.account_ids, m.state, m.exercise, a.email, p.email, "
        "m.created_at, m.approved_at FROM incident_messages m JOIN users a ON a.id = m.author_id "
        "LEFT JOIN users p ON p.id = m.approved_by WHERE m.id = ? AND m.incident_id = ?",
        [message_id, incident_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"incident {incident_id} has no message {message_id}", field="id")
    keys = (
        "id",
        "incident_id",
        "template",
        "body",
        "account_ids",
        "state",
        "exercise",
        "author",
        "approved_by",
        "created_at",
        "approved_at",
    )
    message = dict(zip(keys, row, strict=True))
    message["account_ids"] = json.loads(message["account_ids"])
    message["exercise"] = bool(message["exercise"])
    message["media"] = [m.public() for m in media.media_of(db, "message", [message_id]).get(message_id, [])]
    message["deliveries"] = [
        dict(
            zip(
                (
                    "account_id",
                    "handle",
                    "platform",
                    "state",
                    "remote_id",
                    "error",
                    "started_at",
                    "finished_at",
                ),
                r,
                strict=True,
            )
        )
        for r in db.conn.execute(
            "SELECT d.account_id, a.handle, a.platform, d.state, d.remote_id, d.error, d.started_at, d.finished_at "
            "FROM message_deliveries d JOIN accounts a ON a.id = d.account_id WHERE d.message_id = ? "
            "ORDER BY d.account_id",
            [message_id],
        )
    ]
    return message


def list_messages(db: Database, incident_id: int) -> list[dict[str, Any]]:
    """Every message of an incident, oldest first."""
    incident_row(db, incident_id)
    ids = [
        r[0]
        for r in db.conn.execute("SELECT id FROM incident_messages WHERE incident_id = ? ORDER BY id", [incident_id])
    ]
    return [get_message(db, incident_id, message_id) for message_id in ids]
