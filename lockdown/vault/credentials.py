"""Shared account passwords (policy 2.2.5): deposited encrypted, one version at a time, revealed
to the press team only through audited out-of-hours sessions, and tracked for rotation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Conflict, Forbidden, InvalidInput, LockdownError, NotFound, RuleBroken
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import User
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso
from lockdown.vault.kit_staleness import mark_kits_stale
from lockdown.vault.totp_seeds import check_totp_seed, current_code, is_short

ROTATION_DAYS = 90
MAX_SECRET = 1000
MAX_JUSTIFICATION = 500
DEFAULT_MINUTES, MAX_MINUTES = 60, 240
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FIELDS = ("username", "password", "totp_secret", "notes")


def _seal(vault: Vault, account_id: int, version: int, field: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return vault.encrypt(value, binding("credential", account_id, field, version))
    except VaultError as exc:
        raise Conflict(str(exc), field="vault") from None


def _open(vault: Vault, account_id: int, version: int, field: str, value: str | None) -> str | None:
    return None if value is None else vault.decrypt(value, binding("credential", account_id, field, version))


def _account(db: Database, account_id: int) -> tuple[int, str]:
    row = db.conn.execute("SELECT manager_id, handle FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None:
        raise NotFound(f"no account {account_id}", field="id")
    return int(row[0]), str(row[1])


def _current_version(db: Database, account_id: int) -> int:
    row = db.conn.execute("SELECT MAX(version) FROM credentials WHERE account_id = ?", [account_id]).fetchone()
    return int(row[0] or 0)


def _text(data: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} is required and must not be blank", field=name)
    if len(value) > MAX_SECRET:
        raise InvalidInput(f"{name} is longer than {MAX_SECRET} characters", field=name)
    return value


def require_rotation(change: Changes, account_id: int, reason: str, **detail: Any) -> None:
    """Mark the account's current password as needing rotation, saying why."""
    version = _current_version(change.context.db, account_id)
    change.context.db.conn.execute(
        "INSERT INTO rotation_requirements (account_id, version, reason, detail, created_at) VALUES (?, ?, ?, ?, ?)",
        [account_id, version, reason, json.dumps(detail, sort_keys=True), to_iso(change.at)],
    )
    change.audit("lockdown", "credential.rotation_required", f"account:{account_id}", reason=reason, **detail)


def deposit(ctx: Context, vault: Vault, actor: User, account_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Deposit a new version of an account's shared password (its manager or ERMC)."""
    manager_id, handle = _account(ctx.db, account_id)
    if not (actor.has("ermc") or actor.id == manager_id):
        raise Forbidden(f"only account {account_id}'s manager or ERMC may deposit its password")
    username, password = _text(data, "username", True), _text(data, "password", True)
    notes = _text(data, "notes", False)
    seed, seed_bits = (
        check_totp_seed(data["totp_secret"]) if data.get("totp_secret") not in (None, "") else (None, None)
    )
    with ctx.change() as change:
        version = _current_version(ctx.db, account_id) + 1
        plain = {"username": username, "password": password, "totp_secret": seed, "notes": notes}
        sealed = {name: _seal(vault, account_id, version, name, value) for name, value in plain.items()}
        ctx.db.conn.execute(
            "INSERT INTO credentials (account_id, version, username, password, totp_secret, totp_seed_bits, notes, "
            "deposited_by, deposited_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [account_id, version, sealed["username"], sealed["password"], sealed["totp_secret"], seed_bits,
             sealed["notes"], actor.id, to_iso(change.at), data.get("reason")],
        )  # fmt: skip
        # Who knows it from the start: the depositor, and the people the account grants access.
        stamp = to_iso(change.at)
        ctx.db.conn.execute(
            "INSERT OR IGNORE INTO credential_knowers (account_id, version, user_id, how, at) VALUES (?, ?, ?, ?, ?)",
            [account_id, version, actor.id, "deposited", stamp],
        )
        ctx.db.conn.execute(
            "INSERT OR IGNORE INTO credential_knowers (account_id, version, user_id, how, at) "
            "SELECT ?, ?, user_id, 'granted', ? FROM (SELECT manager_id AS user_id FROM accounts WHERE id = ? "
            "UNION SELECT user_id FROM account_editors WHERE account_id = ?) WHERE user_id != ?",
            [account_id, version, stamp, account_id, account_id, actor.id],
        )
        cleared = ctx.db.conn.execute(
            "UPDATE rotation_requirements SET cleared_at = ? WHERE account_id = ? AND cleared_at IS NULL",
            [stamp, account_id],
        ).rowcount
        change.audit(
            actor.email, "credential.deposit", f"account:{account_id}",
            version=version, totp=seed is not None, totp_seed_bits=seed_bits, cleared_requirements=cleared,
        )  # fmt: skip
        # A sealed kit holding the old version would now hand out a dead password.
        mark_kits_stale(change, account_id, version, handle)
    return metadata(ctx.db, actor, account_id, ctx.now())


def metadata(db: Database, actor: User, account_id: int, now: datetime) -> dict[str, Any]:
    """Version, rotation dates and reasons, and who knows it; never the secret (the account's
    manager, ERMC and the press team)."""
    manager_id, _handle = _account(db, account_id)
    if not (actor.has("ermc", "press") or actor.id == manager_id):
        raise Forbidden(f"account {account_id}'s credentials are not yours to see")
    return read_metadata(db, account_id, now)


def read_metadata(db: Database, account_id: int, now: datetime) -> dict[str, Any]:
    """The metadata itself, for callers that have checked who may see it."""
    _manager_id, handle = _account(db, account_id)
    row = db.conn.execute(
        "SELECT c.version, c.deposited_at, u.email, c.totp_secret IS NOT NULL, c.totp_seed_bits, c.reason "
        "FROM credentials c "
        "JOIN users u ON u.id = c.deposited_by WHERE c.account_id = ? ORDER BY c.version DESC LIMIT 1",
        [account_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"no password has been deposited for account {account_id}", field="id")
    version, deposited_at, by, has_totp, seed_bits, reason = row
    due = parse_iso(deposited_at) + timedelta(days=ROTATION_DAYS)
    reasons = [
        {"reason": r, "detail": json.loads(d), "since": at}
        for r, d, at in db.conn.execute(
            "SELECT reason, detail, created_at FROM rotation_requirements WHERE account_id = ? AND cleared_at IS NULL "
            "ORDER BY id",
            [account_id],
        )
    ]
    if due <= now:
        reasons.append({"reason": "quarterly", "detail": {"due": to_iso(due)}, "since": to_iso(due)})
    known = [
        {"email": email, "how": how, "at": at}
        for email, how, at in db.conn.execute(
            "SELECT u.email, k.how, k.at FROM credential_knowers k JOIN users u ON u.id = k.user_id "
            "WHERE k.account_id = ? AND k.version = ? ORDER BY k.at, u.email",
            [account_id, version],
        )
    ]
    return {
        "account_id": account_id,
        "handle": handle,
        "version": version,
        "rotated_at": deposited_at,
        "deposited_by": by,
        "rotation_reason": reason,
        "rotation_due": to_iso(due),
        "rotation_required": bool(reasons),
        "reasons": reasons,
        "has_totp": bool(has_totp),
        # Platforms still issue 80-bit seeds; the vault keeps what was issued and says so.
        "totp_seed_bits": seed_bits,
        "totp_seed_short": is_short(seed_bits),
        "known_by": known,
    }


def open_session(
    ctx: Context, actor: User, data: Mapping[str, Any], *, out_of_hours: bool, why_not: str
) -> dict[str, Any]:
    """Open an access session (press): a justification and either an active incident or a time
    outside office hours; it covers named accounts for up to four hours."""
    actor.require("press")
    justification = data.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise InvalidInput("justification is required: say why you need the password", field="justification")
    justification = justification.strip()
    if len(justification) > MAX_JUSTIFICATION:
        raise InvalidInput(f"justification is longer than {MAX_JUSTIFICATION} characters", field="justification")
    if CONTROL.search(justification):
        raise InvalidInput("justification contains control characters", field="justification")
    accounts = data.get("account_ids")
    if (
        not isinstance(accounts, list)
        or not accounts
        or not all(isinstance(a, int) and not isinstance(a, bool) for a in accounts)
    ):
        raise InvalidInput("account_ids must be a non-empty list of account ids", field="account_ids")
    for account_id in accounts:
        if ctx.db.conn.execute("SELECT 1 FROM accounts WHERE id = ?", [account_id]).fetchone() is None:
            raise InvalidInput(f"account_ids: there is no account {account_id}", field="account_ids")
    minutes = data.get("minutes", DEFAULT_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"minutes must be between 1 and {MAX_MINUTES}", field="minutes")
    named = data.get("incident_id")
    if named is not None and (isinstance(named, bool) or not isinstance(named, int)):
        raise InvalidInput("incident_id must be an incident id", field="incident_id")
    with ctx.change() as change:
        # The grounds are read under the write lock, so an incident resolved a moment ago is
        # never the grounds of a session opened after it, nor left ending nothing.
        incident = _grounds_incident(ctx.db, named)
        if incident is None and not out_of_hours:
            raise Forbidden(
                f"an access session needs an active incident or a time outside office hours: {why_not}"
                f"{_drills_are_no_grounds(ctx.db)}. "
                "Declare an incident (or name one with incident_id), or ask the account's manager."
            )
        grounds = f"incident {incident}" if incident is not None else "out of hours"
        expires = change.at + timedelta(minutes=minutes)
        session_id = int(
            ctx.db.conn.execute(
                "INSERT INTO access_sessions (user_id, justification, grounds, incident_id, account_ids, opened_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [actor.id, justification, grounds, incident, json.dumps(sorted(set(accounts))), to_iso(change.at),
                 to_iso(expires)],
            ).lastrowid or 0
        )  # fmt: skip
        change.audit(
            actor.email, "access_session.open", f"access_session:{session_id}",
            justification=justification, grounds=grounds, account_ids=sorted(set(accounts)), expires_at=to_iso(expires),
        )  # fmt: skip
    return get_session(ctx.db, actor, session_id)


# An incident is grounds for real credentials while it is active and not an exercise: a drill
# declared in office hours must not open the real passwords. For sessions aliased ``s``.
GROUNDS_HOLD = (
    "(s.incident_id IS NULL OR EXISTS (SELECT 1 FROM incidents i WHERE i.id = s.incident_id "
    "AND i.status = 'active' AND i.exercise = 0))"
)


def _grounds_incident(db: Database, named: int | None) -> int | None:
    """The incident a session stands on: the one named, or else the oldest active real one."""
    if named is None:
        row = db.conn.execute("SELECT MIN(id) FROM incidents WHERE status = 'active' AND exercise = 0").fetchone()
        return int(row[0]) if row and row[0] is not None else None
    row = db.conn.execute("SELECT status, exercise FROM incidents WHERE id = ?", [named]).fetchone()
    if row is None or row[0] != "active":
        raise InvalidInput(f"incident_id: incident {named} is not active", field="incident_id")
    if row[1]:
        raise RuleBroken(
            f"incident_id: incident {named} is an exercise, and a drill is no grounds for real credentials; "
            "name a real incident, or open the session outside office hours",
            field="incident_id",
        )
    return named


def _drills_are_no_grounds(db: Database) -> str:
    """A note for the refusal when the only active incidents are exercises."""
    drills = [row[0] for row in db.conn.execute("SELECT id FROM incidents WHERE status = 'active' AND exercise = 1")]
    if not drills:
        return ""
    named = ", ".join(f"incident {drill} is an exercise" for drill in drills)
    return f" ({named}, and a drill is no grounds for real credentials)"


def end_incident_sessions(change: Changes, actor: str, incident_id: int) -> list[int]:
    """End the access sessions an incident was the grounds of, audited, in the transaction that
    resolves it: the grounds are gone, so is the access."""
    reason = f"incident {incident_id} resolved"
    ended = sorted(
        int(row[0])
        for row in change.context.db.conn.execute(
            "UPDATE access_sessions SET closed_at = ?, close_reason = ? WHERE incident_id = ? AND closed_at IS NULL "
            "RETURNING id",
            [to_iso(change.at), reason, incident_id],
        )
    )
    for session_id in ended:
        change.audit(actor, "access_session.ended", f"access_session:{session_id}", reason=reason)
    return ended


def get_session(db: Database, actor: User, session_id: int) -> dict[str, Any]:
    """A session, to its owner (another user's session is 404: its existence is not theirs)."""
    row = db.conn.execute(
        "SELECT id, user_id, justification, grounds, incident_id, account_ids, opened_at, expires_at, closed_at, "
        "close_reason FROM access_sessions WHERE id = ?",
        [session_id],
    ).fetchone()
    if row is None or row[1] != actor.id:
        raise NotFound(f"you have no access session {session_id}", field="id")
    keys = ("id", "user_id", "justification", "grounds", "incident_id", "account_ids", "opened_at", "expires_at",
            "closed_at", "close_reason")  # fmt: skip
    session = dict(zip(keys, row, strict=True))
    session["account_ids"] = json.loads(session["account_ids"])
    session.pop("user_id")
    return session


def open_sessions(db: Database, actor: User, now: datetime) -> list[dict[str, Any]]:
    """The actor's own sessions that are neither closed nor expired, newest first."""
    ids = [
        row[0]
        for row in db.conn.execute(
            "SELECT id FROM access_sessions WHERE user_id = ? AND closed_at IS NULL AND expires_at > ? "
            "ORDER BY id DESC",
            [actor.id, to_iso(now)],
        )
    ]
    return [get_session(db, actor, session_id) for session_id in ids]


def _close(change: Changes, session_id: int, reason: str) -> int:
    return int(
        change.context.db.conn.execute(
            "UPDATE access_sessions SET closed_at = ?, close_reason = ? WHERE id = ? AND closed_at IS NULL",
            [to_iso(change.at), reason, session_id],
        ).rowcount
    )


def close_session(ctx: Context, actor: User, session_id: int) -> dict[str, Any]:
    """The owner ends a session early."""
    get_session(ctx.db, actor, session_id)
    with ctx.change(allow_empty=True) as change:
        # Closed only if still open (compare-and-set): a close racing an expiry or an offboarding
        # records one end, not two.
        closed = _close(change, session_id, "closed by its owner")
        if closed:
            change.audit(actor.email, "access_session.close", f"access_session:{session_id}")
    if not closed:
        raise Conflict(f"access session {session_id} is closed already", field="state")
    return get_session(ctx.db, actor, session_id)


def reveal(ctx: Context, vault: Vault, actor: User, session_id: int, account_id: Any) -> dict[str, Any]:
    """Reveal an account's current password in a session. The reveal, its audit entry, the
    manager's notice and the rotation mark commit together before anything is shown."""
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise InvalidInput("account_id must be an account id", field="account_id")
    # Who owns a session and what it covers never change, so these may be read before the write.
    session = get_session(ctx.db, actor, session_id)
    if account_id not in session["account_ids"]:
        raise Forbidden(f"account {account_id} is not covered by access session {session_id}", field="account_id")
    with ctx.change(allow_empty=True) as change:
        version = _claim_reveal(change, actor, session_id, account_id)
        outcome = (
            _refuse_reveal(change, actor, session_id, account_id)
            if version is None
            else _record_reveal(change, vault, actor, session, account_id, version)
        )
    # Raised after the commit: a refusal may have recorded why (an expiry) and that must stay.
    if isinstance(outcome, LockdownError):
        raise outcome
    return outcome


def _claim_reveal(change: Changes, actor: User, session_id: int, account_id: int) -> int | None:
    """Record the reveal only if the session is still usable (open, unexpired, its owner enabled,
    its incident still real grounds), in one statement inside the write transaction (a
    compare-and-set): a close, an expiry, an offboarding or a resolution that committed first
    wins, and none can commit between the check and the reveal. The version revealed, or None."""
    row = change.context.db.conn.execute(
        "INSERT INTO reveals (session_id, account_id, version, user_id, at) "
        "SELECT s.id, :account, c.version, s.user_id, :at FROM access_sessions s "
        "JOIN users u ON u.id = s.user_id "
        "JOIN credentials c ON c.account_id = :account "
        "AND c.version = (SELECT MAX(version) FROM credentials WHERE account_id = :account) "
        "WHERE s.id = :session AND s.user_id = :user AND s.closed_at IS NULL AND s.expires_at > :at "
        f"AND u.disabled_at IS NULL AND {GROUNDS_HOLD} "
        "RETURNING version",
        {"account": account_id, "at": to_iso(change.at), "session": session_id, "user": actor.id},
    ).fetchone()
    return None if row is None else int(row[0])


def _refuse_reveal(change: Changes, actor: User, session_id: int, account_id: int) -> LockdownError:
    """Why a reveal was not recorded. A session found past its end is closed here, audited, in
    the reveal's transaction, so the reason is on record once."""
    db = change.context.db
    closed_at, close_reason, expires_at, disabled_at, incident_id, status, exercise = db.conn.execute(
        "SELECT s.closed_at, s.close_reason, s.expires_at, u.disabled_at, s.incident_id, i.status, i.exercise "
        "FROM access_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN incidents i ON i.id = s.incident_id "
        "WHERE s.id = ?",
        [session_id],
    ).fetchone()
    if closed_at:
        return Conflict(f"access session {session_id} is closed ({close_reason}); open a new one", field="state")
    ended = (
        "owner disabled" if disabled_at
        else f"incident {incident_id} is an exercise" if exercise
        else f"incident {incident_id} resolved" if incident_id is not None and status != "active"
        else None
    )  # fmt: skip
    if ended:
        # Sessions that outlived their owner or their grounds (e.g. opened before the rules said so).
        _close(change, session_id, ended)
        change.audit("lockdown", "access_session.ended", f"access_session:{session_id}", reason=ended)
        return Conflict(f"access session {session_id} is closed ({ended}); open a new one", field="state")
    if parse_iso(expires_at) <= change.at:
        _close(change, session_id, "expired")
        change.audit(actor.email, "access_session.expired", f"access_session:{session_id}")
        return Conflict(f"access session {session_id} expired at {expires_at}; open a new one", field="state")
    return NotFound(f"no password has been deposited for account {account_id}", field="account_id")


def _record_reveal(
    change: Changes, vault: Vault, actor: User, session: Mapping[str, Any], account_id: int, version: int
) -> dict[str, Any]:
    """Decrypt what the claimed reveal shows and record the rest of it: who now knows the
    password, the rotation mark, the manager's notice and the audit entry."""
    db = change.context.db
    session_id = session["id"]
    username, password, seed, handle, platform, manager_id, manager_name, manager_email = db.conn.execute(
        "SELECT c.username, c.password, c.totp_secret, a.handle, a.platform, u.id, u.name, u.email "
        "FROM credentials c JOIN accounts a ON a.id = c.account_id JOIN users u ON u.id = a.manager_id "
        "WHERE c.account_id = ? AND c.version = ?",
        [account_id, version],
    ).fetchone()
    try:
        plain_user = _open(vault, account_id, version, "username", username)
        plain_password = _open(vault, account_id, version, "password", password)
        plain_seed = _open(vault, account_id, version, "totp_secret", seed)
        totp_code = current_code(plain_seed, change.at) if plain_seed else None
    except (VaultError, ValueError) as exc:
        # Raised inside the transaction, so the claimed reveal is rolled back with it.
        raise Conflict(f"the stored password cannot be decrypted: {exc}", field="vault") from None
    stamp = to_iso(change.at)
    db.conn.execute(
        "INSERT OR IGNORE INTO credential_knowers (account_id, version, user_id, how, at) VALUES (?, ?, ?, ?, ?)",
        [account_id, version, actor.id, "revealed", stamp],
    )
    require_rotation(change, account_id, "revealed", by=actor.email, session_id=session_id)
    body = (
        f"Dear {manager_name},\n\n{actor.name} ({actor.email}) of the press team revealed the password of "
        f"{handle} ({platform}) at {stamp} in access session {session_id} ({session['grounds']}).\n"
        f"Their reason: {session['justification']}\n\nThe password must now be changed: deposit a new "
        "version in Lockdown once you have changed it on the platform (policy 2.2.5).\n"
    )
    subject = f"Lockdown: the password of {handle} was revealed"
    queue(change, [Notice("revealed", manager_email, subject, body, manager_id, incident_id=session["incident_id"])])
    change.audit(
        actor.email, "credential.reveal", f"account:{account_id}",
        session_id=session_id, version=version, justification=session["justification"],
    )  # fmt: skip
    return {
        "account_id": account_id,
        "version": version,
        "username": plain_user,
        "password": plain_password,
        "totp_code": totp_code,
        "session_expires_at": session["expires_at"],
    }


def expire_sessions(ctx: Context) -> int:
    """Close every session past its time (the scheduler's sweep)."""
    with ctx.change(allow_empty=True) as change:
        rows = ctx.db.conn.execute(
            "UPDATE access_sessions SET closed_at = ?, close_reason = 'expired' WHERE closed_at IS NULL "
            "AND expires_at <= ? RETURNING id",
            [to_iso(change.at), to_iso(change.at)],
        ).fetchall()
        for (session_id,) in rows:
            change.audit("scheduler", "access_session.expired", f"access_session:{session_id}")
    return len(rows)
