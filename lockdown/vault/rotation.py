"""Password rotation (policy 2.2.5): what is due and why, quarterly reminders, offboarding,
temporary takeovers, and re-encrypting everything under a new vault key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Forbidden, InvalidInput
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import User, disable_user, normalise_email, role_holders, user_by_email
from lockdown.register.connector_binding import secret_binding
from lockdown.store.context import Context
from lockdown.timeutil import parse_iso, to_iso
from lockdown.vault.credentials import FIELDS, ROTATION_DAYS, _account, _close, read_metadata, require_rotation


def rotations(ctx: Context, actor: User) -> list[dict[str, Any]]:
    """Passwords due or required to rotate, with reasons: all for ERMC, their own for managers."""
    if not actor.has("ermc", "manager"):
        raise Forbidden("this needs the ermc or manager role")
    where = "" if actor.has("ermc") else "WHERE a.manager_id = ?"
    params = [] if actor.has("ermc") else [actor.id]
    ids = [
        row[0]
        for row in ctx.db.conn.execute(
            f"SELECT DISTINCT c.account_id FROM credentials c JOIN accounts a ON a.id = c.account_id {where} "
            "ORDER BY c.account_id",
            params,
        )
    ]
    # The query above already limits a manager to their own accounts.
    due = [read_metadata(ctx.db, account_id, ctx.now()) for account_id in ids]
    return [item for item in due if item["rotation_required"]]


def offboard(ctx: Context, actor: User, email: str) -> dict[str, Any]:
    """Someone leaves: disable them, end their sessions, and mark every password they knew."""
    actor.require("ermc")
    email = normalise_email(email)
    person = user_by_email(ctx.db, email)
    with ctx.change() as change:
        if person.disabled_at is None:
            disable_user(ctx, actor.email, email)
        sessions = [
            row[0]
            for row in ctx.db.conn.execute(
                "SELECT id FROM access_sessions WHERE user_id = ? AND closed_at IS NULL", [person.id]
            )
        ]
        for session_id in sessions:
            _close(change, session_id, "owner offboarded")
        known = [
            row[0]
            for row in ctx.db.conn.execute(
                "SELECT DISTINCT k.account_id FROM credential_knowers k WHERE k.user_id = ? AND k.version = "
                "(SELECT MAX(version) FROM credentials c WHERE c.account_id = k.account_id)",
                [person.id],
            )
        ]
        for account_id in known:
            require_rotation(change, account_id, "offboarded", person=email)
        change.audit(actor.email, "user.offboard", f"user:{person.id}", sessions_closed=len(sessions), accounts=known)
    return {"email": email, "disabled": True, "sessions_closed": len(sessions), "rotation_required": known}


def add_takeover(ctx: Context, actor: User, account_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Record a temporary takeover (e.g. students running the account for a week); its end
    marks the password for rotation."""
    manager_id, _handle = _account(ctx.db, account_id)
    if not (actor.has("ermc") or actor.id == manager_id):
        raise Forbidden(f"only account {account_id}'s manager or ERMC may record a takeover")
    who = data.get("who")
    if not isinstance(who, str) or not who.strip() or len(who) > 200:
        raise InvalidInput("who is required: the person or group taking over", field="who")
    try:
        starts, ends = parse_iso(str(data.get("from"))), parse_iso(str(data.get("until")))
    except ValueError as exc:
        raise InvalidInput(f"from/until: {exc}", field="until") from None
    if ends <= starts:
        raise InvalidInput("until must be after from", field="until")
    with ctx.change() as change:
        takeover_id = int(
            ctx.db.conn.execute(
                "INSERT INTO takeovers (account_id, who, starts_at, ends_at, created_by) VALUES (?, ?, ?, ?, ?)",
                [account_id, who.strip(), to_iso(starts), to_iso(ends), actor.id],
            ).lastrowid
            or 0
        )
        change.audit(actor.email, "takeover.add", f"account:{account_id}", who=who.strip(), until=to_iso(ends))
    return {
        "id": takeover_id,
        "account_id": account_id,
        "who": who.strip(),
        "from": to_iso(starts),
        "until": to_iso(ends),
    }


def end_takeovers(ctx: Context) -> int:
    """Takeovers past their end: the temporary password must be changed back."""
    with ctx.change(allow_empty=True) as change:
        rows = ctx.db.conn.execute(
            "UPDATE takeovers SET ended_at = ? WHERE ended_at IS NULL AND ends_at <= ? RETURNING id, account_id, who",
            [to_iso(change.at), to_iso(change.at)],
        ).fetchall()
        for takeover_id, account_id, who in rows:
            require_rotation(change, account_id, "takeover_ended", takeover_id=takeover_id, who=who)
    return len(rows)


def send_reminders(ctx: Context, now: datetime | None = None) -> int:
    """Once per version past its 90 days: remind the manager, and send ERMC one summary."""
    now = now or ctx.now()
    cutoff = to_iso(now - timedelta(days=ROTATION_DAYS))
    with ctx.change(allow_empty=True) as change:
        due = ctx.db.conn.execute(
            "SELECT c.account_id, c.version, c.deposited_at, a.handle, a.platform, u.id, u.name, u.email "
            "FROM credentials c JOIN accounts a ON a.id = c.account_id JOIN users u ON u.id = a.manager_id "
            "WHERE c.version = (SELECT MAX(version) FROM credentials x WHERE x.account_id = c.account_id) "
            "AND c.deposited_at <= ? AND a.archived_at IS NULL AND NOT EXISTS (SELECT 1 FROM rotation_reminders r "
            "WHERE r.account_id = c.account_id AND r.version = c.version) ORDER BY c.account_id",
            [cutoff],
        ).fetchall()
        if not due:
            return 0
        stamp = to_iso(change.at)
        rows = []
        for account_id, version, deposited, handle, platform, user_id, name, email in due:
            body = (
                f"Dear {name},\n\nThe password of {handle} ({platform}) was last changed on {deposited[:10]}. "
                f"Policy 2.2.5 asks for a change every quarter: please change it on the platform and deposit "
                "the new version in Lockdown.\n"
            )
            rows.append(("rotation_due", user_id, email, f"Lockdown: time to change the password of {handle}", body))
            ctx.db.conn.execute(
                "INSERT INTO rotation_reminders (account_id, version, sent_at) VALUES (?, ?, ?)",
                [account_id, version, stamp],
            )
        summary = "\n".join(f"  - {row[3]} ({row[4]}), last changed {row[2][:10]}, manager {row[7]}" for row in due)
        for user_id, _name, email in role_holders(ctx.db, "ermc"):
            rows.append(("rotation_summary", user_id, email, f"Lockdown: {len(due)} passwords are due for rotation",
                         f"These passwords are due for their quarterly change:\n\n{summary}\n"))  # fmt: skip
        queue(change, (Notice(event, email, subject, body, user_id) for event, user_id, email, subject, body in rows))
        change.audit("scheduler", "credential.reminders", "vault", accounts=[row[0] for row in due])
    return len(due)


def rotate_key(ctx: Context, vault: Vault) -> dict[str, int]:
    """Re-encrypt every stored secret under the current (first) key in one transaction; values
    already under it are left alone, so running it twice changes nothing the second time."""
    counts = {"credentials": 0, "connector_secrets": 0, "already_current": 0}
    with ctx.change(allow_empty=True) as change:
        for row_id, account_id, version, *values in ctx.db.conn.execute(
            "SELECT id, account_id, version, username, password, totp_secret, notes FROM credentials"
        ).fetchall():
            updates = {}
            for field, value in zip(FIELDS, values, strict=True):
                if value is None:
                    continue
                if not vault.needs_rekey(value):
                    counts["already_current"] += 1
                    continue
                bound = binding("credential", account_id, field, version)
                updates[field] = vault.encrypt(vault.decrypt(value, bound), bound)
            if updates:
                sets = ", ".join(f"{field} = ?" for field in updates)
                ctx.db.conn.execute(f"UPDATE credentials SET {sets} WHERE id = ?", [*updates.values(), row_id])
                counts["credentials"] += len(updates)
        for account_id, name, value, kind, host, bound in ctx.db.conn.execute(
            "SELECT account_id, name, ciphertext, kind, host, bound FROM connector_secrets"
        ).fetchall():
            if bound and not vault.needs_rekey(value):
                counts["already_current"] += 1
                continue
            # A value sealed before secrets were bound to kind and host is sealed again with them.
            was = secret_binding(account_id, name, kind, host, bound=bool(bound))
            now = secret_binding(account_id, name, kind, host)
            ctx.db.conn.execute(
                "UPDATE connector_secrets SET ciphertext = ?, bound = 1 WHERE account_id = ? AND name = ?",
                [vault.encrypt(vault.decrypt(value, was), now), account_id, name],
            )
            counts["connector_secrets"] += 1
        if counts["credentials"] or counts["connector_secrets"]:
            change.audit("cli", "vault.rotate_key", "vault", **counts)
    return counts


def check_key(vault: Vault) -> None:
    """Refuse to rotate without a key to rotate to."""
    if vault.current is None:
        raise VaultError("no vault key is configured: set LOCKDOWN_VAULT_KEY or LOCKDOWN_VAULT_KEY_FILE")
