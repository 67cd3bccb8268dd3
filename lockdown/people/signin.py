"""Console sign-in: an argon2 password and, for the press team and ERMC, a TOTP second factor
(policy 2.2.5 asks for 2FA), each code usable once; attempts are limited (sign_in_limits) and a
success opens a server-side console session (console_sessions)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Conflict, InvalidInput, Unauthorized
from lockdown.people.console_sessions import end_user_sessions, open_session
from lockdown.people.sign_in_limits import Attempt, attempt_succeeded, begin_attempt, forget_attempt
from lockdown.people.users import User, normalise_email, user_by_email
from lockdown.store.context import Changes, Context

HASHER = PasswordHasher()
MIN_PASSWORD = 12
MAX_PASSWORD = 1000
SECOND_FACTOR_ROLES = ("press", "ermc")
# One dummy hash, so an unknown email costs the same time as a wrong password.
_DUMMY = HASHER.hash("not a real password, only for timing")
CODE_REFUSED = "the authenticator code is wrong or was used already"
CODE_MISSING = "enter the 6-digit code from your authenticator app"
# An unknown email and a wrong password get the same answer (field "password": the pair), so it
# cannot tell who has an account.
CREDENTIALS_REFUSED = "the email or password is wrong"


def needs_second_factor(user: User) -> bool:
    """Press and ERMC sign in with a TOTP code as well."""
    return user.has(*SECOND_FACTOR_ROLES)


def set_password(ctx: Context, actor: str, email: str, password: str) -> None:
    """Set a user's console password (stored as an argon2 hash); their console sessions end."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password is longer than {MAX_PASSWORD} characters", field="password")
    user = user_by_email(ctx.db, normalise_email(email))
    hashed = HASHER.hash(password)  # slow on purpose, so before the write lock is taken
    with ctx.change() as change:
        ctx.db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hashed, user.id])
        ended = end_user_sessions(change, user.id, "password changed")
        change.audit(actor, "user.set_password", f"user:{user.id}", console_sessions_ended=ended)


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


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and the token of the console session it opened (for the cookie only)."""

    user: User
    session_token: str


BreakGlassHook = Callable[[Changes, User, str], None]


def sign_in(
    ctx: Context, vault: Vault, email: str, password: str, code: str | None, address: str,
    *, provider: str | None = None, on_break_glass: BreakGlassHook | None = None,
) -> SignedIn:  # fmt: skip
    """Check console credentials and open a session; 401 when wrong, 429 past the attempt limits.
    With an identity provider configured (``provider``, its name), only break-glass users sign in
    here; each such sign-in is audited and ``on_break_glass`` tells ERMC in the same transaction."""
    email = (email or "").strip().lower()
    attempt = begin_attempt(ctx, email, address)
    row = ctx.db.conn.execute(
        "SELECT id, password_hash, totp_secret, break_glass FROM users WHERE email = ? AND disabled_at IS NULL",
        [email],
    ).fetchone()
    try:
        HASHER.verify(row[1] if row and row[1] else _DUMMY, password or "")
        if not row or not row[1]:
            raise VerificationError("no such user")
    except (VerificationError, InvalidHashError):
        _failed(ctx, attempt, row[0] if row else None, CREDENTIALS_REFUSED, field="password")
    user = user_by_email(ctx.db, email)
    break_glass = provider is not None
    if break_glass and not row[3]:
        # Checked after the password, so it tells a stranger nothing about who has an account.
        _failed(
            ctx, attempt, user.id,
            f"sign in with {provider}: local passwords are kept for break-glass accounts, for when it is down",
        )  # fmt: skip
    step = code_step(ctx, vault, user, row[2], code, attempt) if needs_second_factor(user) else None
    refusal, field, token = CODE_REFUSED, "code", None
    with ctx.change() as change:
        # Compare-and-set: of several sign-ins sending one code at once, one moves the last
        # used step past it and the others find nothing to update.
        fresh = (
            step is None
            or ctx.db.conn.execute(
                "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
                [step, user.id, step],
            ).rowcount
            == 1
        )
        if fresh:
            # None when the password was changed or the user disabled since it was checked.
            refusal, field = CREDENTIALS_REFUSED, "password"
            token = open_session(change, user.id, row[1], address)
        if token is None:
            change.audit(email, "user.sign_in_failed", f"user:{user.id}", address=address)
        else:
            attempt_succeeded(change, attempt)
            change.audit(email, "user.sign_in", f"user:{user.id}", address=address, second_factor=step is not None)
            if break_glass:
                change.audit(email, "user.break_glass_sign_in", f"user:{user.id}", address=address)
                if on_break_glass is not None:
                    on_break_glass(change, user, address)
    if token is None:
        raise Unauthorized(refusal, field=field)
    return SignedIn(user, token)


def _failed(ctx: Context, attempt: Attempt, user_id: int | None, refusal: str, field: str | None = None) -> NoReturn:
    """Audit a refused attempt (it is counted already) and answer 401."""
    with ctx.change() as change:
        change.audit(attempt.email, "user.sign_in_failed", f"user:{user_id or 0}", address=attempt.address)
    raise Unauthorized(refusal, field=field)


def _code_missing(ctx: Context, attempt: Attempt, user_id: int) -> NoReturn:
    """Ask for the code the person left out. Reached only after the password was checked, so it
    tells nothing a wrong code would not (that the password is right), and it is not counted as
    a failure: it guessed nothing, and a tired person should not lose a try to an empty field.
    The attempt is forgotten rather than marked a success, which would make its address "known"
    and spare it the per-email delay."""
    with ctx.change() as change:
        forget_attempt(change, attempt)
        change.audit(
            attempt.email, "user.sign_in_incomplete", f"user:{user_id}", address=attempt.address, missing="code"
        )
    raise Unauthorized(CODE_MISSING, field="code")


def code_step(ctx: Context, vault: Vault, user: User, sealed: str | None, code: str | None, attempt: Attempt) -> int:
    """The 30-second step whose code was sent (this one or either side, for clock drift), or 401."""
    if not sealed:
        _failed(ctx, attempt, user.id, "your role needs a second factor: ask ERMC to run `lockdown users enroll-totp`")
    totp = pyotp.TOTP(vault.decrypt(sealed, binding("user-totp", user.id)))
    step = int(ctx.now().timestamp()) // totp.interval
    sent = (code or "").strip().encode()
    if not sent:
        _code_missing(ctx, attempt, user.id)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(sent, totp.at(candidate * totp.interval).encode()):
            return candidate
    _failed(ctx, attempt, user.id, CODE_REFUSED, field="code")
