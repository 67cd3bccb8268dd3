"""Break-glass accounts: the few people who may sign in with a local password while the
university's identity provider is configured, so that its outage at 2 a.m. does not lock the
press team out. Marking one is ERMC's (``lockdown users break-glass``); every sign-in with one is
told to ERMC, in the sign-in's own transaction."""

from __future__ import annotations

from lockdown.errors import NotFound
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import User, normalise_email, role_holders
from lockdown.store.context import Changes, Context


def set_break_glass(ctx: Context, actor: str, email: str, on: bool) -> None:
    """Mark (or unmark) a user as break-glass; audited."""
    email = normalise_email(email)
    with ctx.change() as change:
        row = ctx.db.conn.execute(
            "UPDATE users SET break_glass = ? WHERE email = ? RETURNING id", [int(on), email]
        ).fetchone()
        if row is None:
            raise NotFound(f"no user {email}", field="email")
        change.audit(actor, "user.break_glass", f"user:{row[0]}", on=on)


def tell_ermc_of_break_glass(change: Changes, user: User, address: str) -> None:
    """Queue an email to every ERMC member: someone used a break-glass account."""
    subject = f"Break-glass sign-in to Lockdown by {user.email}"
    body = (
        f"{user.name} ({user.email}) signed in to the Lockdown console with a local break-glass password "
        f"at {change.at:%d %b %Y %H:%M} UTC from {address}, while sign-in through the university's "
        "identity provider is configured.\n\nIf this was not expected (no provider outage), treat it as a "
        "compromised account: disable it with `lockdown users disable` and review the audit trail."
    )
    queue(
        change,
        [
            Notice("break_glass_sign_in", email, subject, body, user_id=ermc_id)
            for ermc_id, _name, email in role_holders(change.context.db, "ermc")
        ],
    )
