"""People, their roles and their API tokens (kept only as hashes)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from lockdown.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from lockdown.people.console_sessions import end_user_sessions
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

# ``alerting``: the campus alerting system's token, which posts CAP alerts and nothing else.
ROLES = ("ermc", "press", "manager", "alerting")
TOKEN_PREFIX = "ld_"  # noqa: S105 - a prefix, not a token
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class User:
    """A signed-in person and the roles they hold."""

    id: int
    name: str
    email: str
    roles: frozenset[str]
    disabled_at: str | None = None

    def has(self, *roles: str) -> bool:
        """Whether the user holds any of the roles."""
        return bool(self.roles.intersection(roles))

    def require(self, *roles: str) -> None:
        """Refuse with 403 unless the user holds one of the roles."""
        if not self.has(*roles):
            raise Forbidden(f"this needs the {' or '.join(roles)} role")

    def public(self) -> dict[str, Any]:
        """The user as the API shows them."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "roles": sorted(self.roles),
            "disabled": self.disabled_at is not None,
        }


def hash_token(token: str) -> str:
    """API tokens are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh API token; the prefix lets secret scanners recognise a leaked one."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def normalise_email(email: str) -> str:
    """Emails are compared without case or surrounding blanks; refuse what is not an email."""
    cleaned = (email or "").strip().lower()
    if not EMAIL.match(cleaned):
        raise InvalidInput(f"{email!r} is not an email address", field="email")
    return cleaned


def _roles_of(db: Database, user_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = list(user_ids)
    found: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for user_id, role in db.conn.execute(f"SELECT user_id, role FROM user_roles WHERE user_id IN ({marks})", ids):
            found[user_id].add(role)
    return found


def _users(db: Database, where: str, params: list[Any]) -> list[User]:
    rows = db.conn.execute(
        f"SELECT id, name, email, disabled_at FROM users WHERE {where} ORDER BY id", params
    ).fetchall()
    roles = _roles_of(db, (row[0] for row in rows))
    return [User(row[0], row[1], row[2], frozenset(roles[row[0]]), row[3]) for row in rows]


def role_holders(db: Database, role: str, *, except_user: int | None = None) -> list[tuple[int, str, str]]:
    """(id, name, email) of every enabled user with ``role``, by id: whom a notice to a role
    goes to (``except_user``: the one person who must not be asked, as a message's author)."""
    return db.conn.execute(
        "SELECT u.id, u.name, u.email FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = ? "
        "WHERE u.disabled_at IS NULL AND u.id IS NOT ? ORDER BY u.id",
        [role, except_user],
    ).fetchall()


def add_user(ctx: Context, actor: str, *, name: str, email: str, roles: Iterable[str]) -> tuple[User, str]:
    """Create a user with roles; return them and their API token, shown this once only."""
    if not (name or "").strip():
        raise InvalidInput("name must not be blank", field="name")
    email = normalise_email(email)
    wanted = sorted(set(roles))
    if not wanted:
        raise InvalidInput(f"give at least one role: {', '.join(ROLES)}", field="role")
    for role in wanted:
        if role not in ROLES:
            raise InvalidInput(f"{role!r} is not a role; roles: {', '.join(ROLES)}", field="role")
    token = new_token()
    with ctx.change() as change:
        if ctx.db.conn.execute("SELECT 1 FROM users WHERE email = ?", [email]).fetchone():
            raise Conflict(f"a user with email {email} exists already", field="email")
        cursor = ctx.db.conn.execute(
            "INSERT INTO users (name, email, token_hash, created_at) VALUES (?, ?, ?, ?)",
            [name.strip(), email, hash_token(token), to_iso(change.at)],
        )
        user_id = int(cursor.lastrowid or 0)
        ctx.db.conn.executemany("INSERT INTO user_roles (user_id, role) VALUES (?, ?)", [(user_id, r) for r in wanted])
        change.audit(actor, "user.add", f"user:{user_id}", email=email, roles=wanted)
    return User(user_id, name.strip(), email, frozenset(wanted)), token


def issue_token(ctx: Context, actor: str, email: str) -> str:
    """Replace a user's API token (the old one stops working) and return the new one."""
    email = normalise_email(email)
    token = new_token()
    with ctx.change() as change:
        user = user_by_email(ctx.db, email)
        ctx.db.conn.execute("UPDATE users SET token_hash = ? WHERE id = ?", [hash_token(token), user.id])
        change.audit(actor, "user.token_issued", f"user:{user.id}", email=email)
    return token


def disable_user(ctx: Context, actor: str, email: str) -> User:
    """Disable a user: their token stops working and their console sessions end, at once."""
    email = normalise_email(email)
    with ctx.change() as change:
        user = user_by_email(ctx.db, email)
        if user.disabled_at is not None:
            raise Conflict(f"{email} is disabled already", field="email")
        stamp = to_iso(change.at)
        ctx.db.conn.execute("UPDATE users SET disabled_at = ? WHERE id = ?", [stamp, user.id])
        ended = end_user_sessions(change, user.id, "user disabled")
        change.audit(actor, "user.disable", f"user:{user.id}", email=email, console_sessions_ended=ended)
    return User(user.id, user.name, user.email, user.roles, stamp)


def user_by_email(db: Database, email: str) -> User:
    """The user with this email, or 404."""
    found = _users(db, "email = ?", [email.strip().lower()])
    if not found:
        raise NotFound(f"no user with email {email}", field="email")
    return found[0]


def enabled_user(db: Database, user_id: int) -> User | None:
    """The enabled user with this id, or None."""
    found = _users(db, "id = ? AND disabled_at IS NULL", [user_id])
    return found[0] if found else None


def list_users(db: Database) -> list[User]:
    """Every user, oldest first."""
    return _users(db, "1 = 1", [])


def active_users_by_email(db: Database) -> dict[str, User]:
    """Enabled users keyed by lower-case email, for validating many rows at once."""
    return {user.email: user for user in _users(db, "disabled_at IS NULL", [])}


def authenticate(db: Database, token: str | None) -> User:
    """The enabled user who owns this token, or 401."""
    if not token:
        raise Unauthorized("send 'Authorization: Bearer TOKEN'")
    found = _users(db, "token_hash = ? AND disabled_at IS NULL", [hash_token(token)])
    if not found:
        raise Unauthorized("the token is not valid, or its user is disabled")
    return found[0]
