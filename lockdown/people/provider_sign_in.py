"""Console sign-in through the university's identity provider (OpenID Connect): who the
provider's checked ID token names, which Lockdown roles its claims give, and the console
session it opens. The token itself is checked by Authlib in the console (``lockdown.console``);
this module starts from its claims.

Roles are the provider's: at every sign-in the person's press, ERMC and manager roles are set to
what the mapped claims say (LOCKDOWN_OIDC_ROLE_MAP), so a role removed at the provider stops at
the next sign-in, and their other console sessions end when a role was taken away. Which
accounts a manager manages stays in the register. Press and ERMC need a second factor: the
provider's ``amr`` (or a configured ``acr``) proves one; otherwise Lockdown's own TOTP is asked
for after the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lockdown.crypto import Vault
from lockdown.errors import Forbidden, Unauthorized
from lockdown.people.console_sessions import end_user_sessions, open_provider_session
from lockdown.people.sign_in_limits import attempt_succeeded, begin_attempt
from lockdown.people.signin import SECOND_FACTOR_ROLES, SignedIn, code_step
from lockdown.people.users import enabled_user, hash_token, new_token, normalise_email
from lockdown.settings import ROLE_NAMES, OidcSettings
from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso

NO_ACCESS = (
    "you signed in, but Lockdown has no role for you and you manage no account in its register: "
    "ask ERMC (or the press office) to give you a Lockdown role at the university's sign-in"
)


@dataclass(frozen=True)
class ProviderIdentity:
    """What a checked ID token says of its person."""

    subject: str  # "<issuer> <sub>": the provider's own, never reassigned, name for them
    email: str
    name: str
    roles: frozenset[str]
    second_factor: bool
    amr: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeNeeded:
    """The provider signed the person in without a second factor their role needs: Lockdown's
    own authenticator code is asked for before a session opens."""

    user_id: int
    email: str


def identity_from_claims(claims: Mapping[str, Any], oidc: OidcSettings) -> ProviderIdentity:
    """The person an ID token's claims name; 401 naming the claim when one is missing."""
    email = claims.get(oidc.email_claim)
    if not isinstance(email, str) or "@" not in email:
        raise Unauthorized(
            f"the provider's token has no email in the claim {oidc.email_claim!r} (LOCKDOWN_OIDC_EMAIL_CLAIM)",
            field=oidc.email_claim,
        )
    if claims.get("email_verified") is False:
        raise Unauthorized("the provider says this email address is not verified", field="email_verified")
    values = claims.get(oidc.roles_claim) or []
    values = [values] if isinstance(values, str) else values
    roles = {role for value in values if isinstance(value, str) for role in oidc.role_map.get(value, ())}
    amr = tuple(str(v) for v in claims.get("amr") or [] if isinstance(v, str))
    second = bool(set(amr) & set(oidc.mfa_amr)) or (oidc.mfa_acr is not None and claims.get("acr") == oidc.mfa_acr)
    name = claims.get("name") if isinstance(claims.get("name"), str) else email
    return ProviderIdentity(
        subject=f"{claims['iss']} {claims['sub']}",
        email=normalise_email(email),
        name=str(name).strip() or email,
        roles=frozenset(roles),
        second_factor=second,
        amr=amr,
    )


def sign_in_with_provider(
    ctx: Context, identity: ProviderIdentity, address: str, *, lifetime: timedelta
) -> SignedIn | CodeNeeded:
    """Bind, refresh and sign in the person the provider vouched for, in one write transaction:
    403 when Lockdown has nothing for them, 401 when their Lockdown account is disabled or bound
    to another identity, or their role needs a second factor they cannot give. A refusal is
    audited, and raised once that entry has committed."""
    refused: Exception | None = None
    with ctx.change() as change:
        try:
            user_id = _bound_user(change, identity)
        except Unauthorized as exc:
            user_id, refused = None, exc
        if user_id is not None:
            _refresh_roles(change, user_id, identity)
        user = enabled_user(ctx.db, user_id) if user_id is not None else None
        if refused is not None:
            pass
        elif user is None or (not user.roles and not _has_accounts(change, user.id)):
            refused = Forbidden(NO_ACCESS)
        elif user.has(*SECOND_FACTOR_ROLES) and not identity.second_factor and not _has_totp(change, user.id):
            refused = Unauthorized(
                "your role needs a second factor: sign in to the university with MFA, or ask ERMC to run "
                "`lockdown users enroll-totp` for you",
                field="code",
            )
        elif user.has(*SECOND_FACTOR_ROLES) and not identity.second_factor:
            change.audit(
                identity.email, "user.sign_in_incomplete", f"user:{user.id}", address=address, missing="code",
                method="provider", amr=list(identity.amr),
            )  # fmt: skip
            return CodeNeeded(user.id, identity.email)
        else:
            token = open_provider_session(change, user.id, address, lifetime)
            if token is not None:
                change.audit(
                    identity.email, "user.sign_in", f"user:{user.id}", address=address, method="provider",
                    second_factor=identity.second_factor, amr=list(identity.amr),
                )  # fmt: skip
                return SignedIn(user, token)
            refused = Unauthorized("your Lockdown account is disabled; ask ERMC")
        change.audit(
            identity.email, "user.sign_in_refused", f"user:{user_id or 0}", address=address,
            reason=str(refused), method="provider",
        )  # fmt: skip
    assert refused is not None
    raise refused


def finish_with_code(
    ctx: Context, vault: Vault, pending: CodeNeeded, code: str | None, address: str, *, lifetime: timedelta
) -> SignedIn:
    """The second step for a provider sign-in without MFA: Lockdown's TOTP code, limited and
    used once like a local sign-in's."""
    attempt = begin_attempt(ctx, pending.email, address)
    user = enabled_user(ctx.db, pending.user_id)
    row = ctx.db.conn.execute("SELECT totp_secret FROM users WHERE id = ?", [pending.user_id]).fetchone()
    if user is None or row is None:
        raise Unauthorized("your Lockdown account is disabled; ask ERMC")
    step = code_step(ctx, vault, user, row[0], code, attempt)
    with ctx.change() as change:
        fresh = ctx.db.conn.execute(
            "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
            [step, user.id, step],
        ).rowcount
        token = open_provider_session(change, user.id, address, lifetime) if fresh else None
        if token is None:
            change.audit(pending.email, "user.sign_in_failed", f"user:{user.id}", address=address)
        else:
            attempt_succeeded(change, attempt)
            change.audit(
                pending.email, "user.sign_in", f"user:{user.id}", address=address, method="provider",
                second_factor=True,
            )  # fmt: skip
    if token is None:
        raise Unauthorized("the authenticator code is wrong or was used already", field="code")
    return SignedIn(user, token)


def _bound_user(change: Changes, identity: ProviderIdentity) -> int | None:
    """The user bound to this identity, bound now by email on a first sign-in, or made now when
    the provider gives them a role (None when it gives none); 401 for a disabled user or an
    email already bound to another identity."""
    db = change.context.db
    row = db.conn.execute(
        "SELECT id, disabled_at, oidc_subject FROM users WHERE oidc_subject = ? OR email = ? "
        "ORDER BY oidc_subject = ? DESC LIMIT 1",
        [identity.subject, identity.email, identity.subject],
    ).fetchone()
    if row is None:
        return _provision(change, identity) if identity.roles else None
    user_id, disabled, subject = row
    if disabled is not None:
        raise Unauthorized("your Lockdown account is disabled; ask ERMC")
    if subject is not None and subject != identity.subject:
        raise Unauthorized(
            f"{identity.email} is bound to another identity at the provider; ask ERMC to look at it", field="email"
        )
    if subject is None:
        db.conn.execute("UPDATE users SET oidc_subject = ? WHERE id = ?", [identity.subject, user_id])
        change.audit(identity.email, "user.bound_to_provider", f"user:{user_id}", provider_subject=identity.subject)
    return int(user_id)


def _provision(change: Changes, identity: ProviderIdentity) -> int:
    """A person the provider gives a Lockdown role to, seen for the first time: a user with no
    password (they sign in through the provider) and an API token nobody holds (ERMC issues one
    with `lockdown users token` if they need the API)."""
    db = change.context.db
    cursor = db.conn.execute(
        "INSERT INTO users (name, email, token_hash, created_at, oidc_subject) VALUES (?, ?, ?, ?, ?)",
        [identity.name, identity.email, hash_token(new_token()), to_iso(change.at), identity.subject],
    )
    user_id = int(cursor.lastrowid or 0)
    change.audit("provider", "user.add", f"user:{user_id}", email=identity.email, roles=sorted(identity.roles))
    return user_id


def _refresh_roles(change: Changes, user_id: int, identity: ProviderIdentity) -> None:
    """Set the user's press, ERMC and manager roles to the provider's; other roles stay."""
    db = change.context.db
    before = {row[0] for row in db.conn.execute("SELECT role FROM user_roles WHERE user_id = ?", [user_id])}
    managed = before & set(ROLE_NAMES)
    if managed == identity.roles:
        return
    marks = ",".join("?" * len(ROLE_NAMES))
    db.conn.execute(f"DELETE FROM user_roles WHERE user_id = ? AND role IN ({marks})", [user_id, *ROLE_NAMES])
    db.conn.executemany(
        "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", [(user_id, role) for role in sorted(identity.roles)]
    )
    removed = sorted(managed - identity.roles)
    ended = end_user_sessions(change, user_id, "a role was removed at the provider") if removed else 0
    change.audit(
        "provider", "user.roles_from_provider", f"user:{user_id}",
        before=sorted(managed), after=sorted(identity.roles), console_sessions_ended=ended,
    )  # fmt: skip


def _has_accounts(change: Changes, user_id: int) -> bool:
    row = change.context.db.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE manager_id = :u AND archived_at IS NULL) "
        "OR EXISTS (SELECT 1 FROM account_editors WHERE user_id = :u)",
        {"u": user_id},
    ).fetchone()
    return bool(row[0])


def _has_totp(change: Changes, user_id: int) -> bool:
    row = change.context.db.conn.execute("SELECT totp_secret FROM users WHERE id = ?", [user_id]).fetchone()
    return bool(row and row[0])
