"""Console sign-in: an argon2 password and, for the press team and ERMC, a TOTP second factor
(policy 2.2.5 asks for 2FA); failed attempts are limited per email and per address."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Conflict, InvalidInput, TooManyAttempts, Unauthorized
from lockdown.people.users import User, normalise_email, user_by_email
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

HASHER = PasswordHasher()
MIN_PASSWORD = 12
MAX_PASSWORD = 1000
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
SECOND_FACTOR_ROLES = ("press", "ermc")
# One dummy hash, so an unknown email costs the same time as a wrong password.
_DUMMY = HASHER.hash("not a real password, only for timing")


def needs_second_factor(user: User) -> bool:
    """Press and ERMC sign in with a TOTP code as well."""
    return user.has(*SECOND_FACTOR_ROLES)


def set_password(ctx: Context, actor: str, email: str, password: str) -> None:
    """Set a user's console password (stored as an argon2 hash)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password is longer than {MAX_PASSWORD} characters", field="password")
    user = user_by_email(ctx.db, normalise_email(email))
    with ctx.change() as change:
        ctx.db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", [HASHER.hash(password), user.id])
        change.audit(actor, "user.set_password", f"user:{user.id}")


def enroll_totp(ctx: Context, vault: Vault, actor: str, email: str) -> str:
    """Give a user a new TOTP seed (encrypted at rest); return its otpauth:// URI, shown once."""
    user = user_by_email(ctx.db, normalise_email(email))
    seed = pyotp.random_base32(32)
    try:
        sealed = vault.encrypt(seed, binding("user-totp", user.id))
    except VaultError as exc:
        raise Conflict(str(exc), field="vault") from None
    with ctx.change() as change:
        ctx.db.conn.execute("UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE id = ?", [sealed, user.id])
        change.audit(actor, "user.enroll_totp", f"user:{user.id}")
    return pyotp.TOTP(seed).provisioning_uri(name=user.email, issuer_name="Lockdown")


def _failures(ctx: Context, column: str, value: str, since: datetime) -> int:
    row = ctx.db.conn.execute(
        f"SELECT COUNT(*) FROM sign_in_attempts WHERE {column} = ? AND ok = 0 AND at > ?", [value, to_iso(since)]
    ).fetchone()
    return int(row[0])


def _record(ctx: Context, email: str, address: str, ok: bool, user_id: int | None) -> None:
    with ctx.change() as change:
        ctx.db.conn.execute(
            "INSERT INTO sign_in_attempts (email, address, at, ok) VALUES (?, ?, ?, ?)",
            [email, address, to_iso(change.at), int(ok)],
        )
        change.audit(email, "user.sign_in" if ok else "user.sign_in_failed", f"user:{user_id or 0}", address=address)


def sign_in(ctx: Context, vault: Vault, email: str, password: str, code: str | None, address: str) -> User:
    """The user these credentials belong to, or 401; 429 after too many recent failures."""
    email = (email or "").strip().lower()
    since = ctx.now() - WINDOW
    if _failures(ctx, "email", email, since) >= MAX_FAILURES_PER_EMAIL or (
        _failures(ctx, "address", address, since) >= MAX_FAILURES_PER_ADDRESS
    ):
        raise TooManyAttempts("too many failed sign-ins; wait 15 minutes and try again")
    row = ctx.db.conn.execute(
        "SELECT id, password_hash, totp_secret, totp_last_step FROM users WHERE email = ? AND disabled_at IS NULL",
        [email],
    ).fetchone()
    try:
        HASHER.verify(row[1] if row and row[1] else _DUMMY, password or "")
        if not row or not row[1]:
            raise VerificationError("no such user")
    except (VerificationError, InvalidHashError):
        _record(ctx, email, address, False, row[0] if row else None)
        raise Unauthorized("the email or password is wrong") from None
    user = user_by_email(ctx.db, email)
    if needs_second_factor(user):
        _check_code(ctx, vault, user, row[2], row[3], code, address)
    _record(ctx, email, address, True, user.id)
    return user


def _check_code(
    ctx: Context, vault: Vault, user: User, sealed: str | None, last_step: int | None, code: str | None, address: str
) -> None:
    if not sealed:
        _record(ctx, user.email, address, False, user.id)
        raise Unauthorized("your role needs a second factor: ask ERMC to run `lockdown users enroll-totp`")
    totp = pyotp.TOTP(vault.decrypt(sealed, binding("user-totp", user.id)))
    now = ctx.now()
    # The code for this 30-second step or the one either side (clock drift); each step once.
    step = int(now.timestamp()) // totp.interval
    matched = next(
        (s for s in (step - 1, step, step + 1) if code and code.strip() == totp.at(s * totp.interval)),
        None,
    )
    if matched is None or (last_step is not None and matched <= last_step):
        _record(ctx, user.email, address, False, user.id)
        raise Unauthorized("the authenticator code is wrong or was used already")
    with ctx.change() as change:
        ctx.db.conn.execute("UPDATE users SET totp_last_step = ? WHERE id = ?", [matched, user.id])
        change.audit(user.email, "user.second_factor", f"user:{user.id}")
