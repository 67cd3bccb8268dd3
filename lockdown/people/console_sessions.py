"""Console sessions kept by the server: the cookie carries a random token, the database a hash of
it, and each request checks the row, so a session can be ended (signed out, password changed,
user disabled) wherever a copy of its cookie went."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlite_utils import Database

from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso

LIFETIME = timedelta(hours=12)


def _hash(token: str) -> str:
    # The token is 256 random bits, so one SHA-256 keeps a leaked database from opening sessions.
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    change: Changes, user_id: int, password_hash: str, address: str, lifetime: timedelta = LIFETIME
) -> str | None:
    """Start a session for a user who is still enabled with this password hash; its token, or None."""
    token = secrets.token_urlsafe(32)
    # Compare-and-set: a password change or a disable committed since the password was checked
    # leaves no row to insert from, so no session outlives what it was granted on.
    opened = change.context.db.conn.execute(
        "INSERT INTO console_sessions (token_hash, user_id, address, created_at, expires_at) "
        "SELECT ?, id, ?, ?, ? FROM users WHERE id = ? AND disabled_at IS NULL AND password_hash = ?",
        [_hash(token), address, to_iso(change.at), to_iso(change.at + lifetime), user_id, password_hash],
    ).rowcount
    return token if opened == 1 else None


def open_provider_session(change: Changes, user_id: int, address: str, lifetime: timedelta) -> str | None:
    """Start a session for a user the identity provider vouched for, if they are still enabled;
    it ends after ``lifetime`` (LOCKDOWN_CONSOLE_SESSION_HOURS), when they sign in afresh and
    their roles are read again."""
    token = secrets.token_urlsafe(32)
    opened = change.context.db.conn.execute(
        "INSERT INTO console_sessions (token_hash, user_id, address, created_at, expires_at, method) "
        "SELECT ?, id, ?, ?, ?, 'provider' FROM users WHERE id = ? AND disabled_at IS NULL",
        [_hash(token), address, to_iso(change.at), to_iso(change.at + lifetime), user_id],
    ).rowcount
    return token if opened == 1 else None


def session_user_id(db: Database, token: str, now: datetime) -> int | None:
    """The user whose open, unexpired session this token is, if they are still enabled."""
    row = db.conn.execute(
        "SELECT s.user_id FROM console_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.ended_at IS NULL AND s.expires_at > ? AND u.disabled_at IS NULL",
        [_hash(token), to_iso(now)],
    ).fetchone()
    return int(row[0]) if row else None


def end_session(ctx: Context, token: str) -> bool:
    """Sign out: end this one session (audited); whether it was open."""
    with ctx.change(allow_empty=True) as change:
        row = ctx.db.conn.execute(
            "UPDATE console_sessions SET ended_at = ?, ended_why = 'signed out' "
            "WHERE token_hash = ? AND ended_at IS NULL RETURNING user_id",
            [to_iso(change.at), _hash(token)],
        ).fetchone()
        if row:
            email = ctx.db.conn.execute("SELECT email FROM users WHERE id = ?", [row[0]]).fetchone()[0]
            change.audit(email, "user.sign_out", f"user:{row[0]}")
    return row is not None


def end_user_sessions(change: Changes, user_id: int, why: str) -> int:
    """End every open console session of a user, inside the caller's change; how many."""
    return change.context.db.conn.execute(
        "UPDATE console_sessions SET ended_at = ?, ended_why = ? WHERE user_id = ? AND ended_at IS NULL",
        [to_iso(change.at), why, user_id],
    ).rowcount
