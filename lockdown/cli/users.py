"""``lockdown users``: people, their API tokens, console passwords and authenticators, offboarding."""

from __future__ import annotations

import sys

import click

from lockdown.cli.command_kit import acting_user, cli_actor, friendly_errors, open_context
from lockdown.people.users import (
    ROLES,
    add_user,
    disable_user,
    issue_token,
    list_users,
)
from lockdown.settings import Settings


@click.group()
def users() -> None:
    """People and their API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--email", required=True, help="Their work email; also their identity.")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
    help="A role to grant; repeat for several.",
)  # fmt: skip
@friendly_errors
def users_add(name: str, email: str, roles: tuple[str, ...]) -> None:
    """Add a user and print their API token as the only line on stdout."""
    with open_context() as ctx:
        _user, token = add_user(ctx, cli_actor(), name=name, email=email, roles=roles)
    click.echo(token)


@users.command("list")
@friendly_errors
def users_list() -> None:
    """List users with their roles."""
    with open_context() as ctx:
        for user in list_users(ctx.db):
            state = "disabled" if user.disabled_at else "active"
            click.echo(f"{user.email}\t{user.name}\t{','.join(sorted(user.roles))}\t{state}")


@users.command("disable")
@click.argument("email")
@friendly_errors
def users_disable(email: str) -> None:
    """Disable a user; their token stops working at once."""
    with open_context() as ctx:
        user = disable_user(ctx, cli_actor(), email)
    click.echo(f"disabled {user.email}", err=True)


@users.command("token")
@click.argument("email")
@friendly_errors
def users_token(email: str) -> None:
    """Issue a new API token for a user (the old one stops working) and print it."""
    with open_context() as ctx:
        click.echo(issue_token(ctx, cli_actor(), email))


@users.command("offboard")
@click.argument("email")
@click.option("--as", "actor_email", envvar="LOCKDOWN_USER", required=True, help="The ERMC member doing it.")
@friendly_errors
def users_offboard(email: str, actor_email: str) -> None:
    """Someone leaves: disable them, end their sessions, mark every password they knew for rotation."""
    from lockdown.vault.rotation import offboard

    with open_context() as ctx:
        result = offboard(ctx, acting_user(ctx, actor_email), email)
    click.echo(
        f"{result['email']} disabled; {result['sessions_closed']} sessions closed; "
        f"passwords to rotate on accounts: {', '.join(map(str, result['rotation_required'])) or 'none'}"
    )


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@friendly_errors
def users_set_password(email: str, password_stdin: bool) -> None:
    """Set a user's console password (at least 12 characters; stored as an argon2 hash)."""
    from lockdown.people.signin import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with open_context() as ctx:
        set_password(ctx, cli_actor(), email, password)
    click.echo(f"password set for {email.strip().lower()}", err=True)


@users.command("enroll-totp")
@click.argument("email")
@friendly_errors
def users_enroll_totp(email: str) -> None:
    """Give a user a new authenticator seed; prints the otpauth:// URI once (scan it, then discard)."""
    from lockdown.crypto import Vault
    from lockdown.people.signin import enroll_totp

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        click.echo(enroll_totp(ctx, Vault(settings.require_vault_keys()), cli_actor(), email))


@users.command("break-glass")
@click.argument("email")
@click.option("--off", is_flag=True, help="Take the mark off.")
@friendly_errors
def users_break_glass(email: str, off: bool) -> None:
    """Let EMAIL sign in with a local password (and TOTP) while the identity provider is configured,
    for when it is down; every such sign-in is told to ERMC."""
    from lockdown.vault.break_glass import set_break_glass

    with open_context() as ctx:
        set_break_glass(ctx, cli_actor(), email, not off)
    click.echo(f"{email} is {'no longer ' if off else ''}a break-glass account")


COMMANDS = (users,)
