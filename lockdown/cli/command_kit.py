"""What every command uses: service errors as one-line messages, the acting user, a migrated context."""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from lockdown.errors import DatabaseBusy, LockdownError
from lockdown.people.users import (
    User,
    user_by_email,
)
from lockdown.settings import Settings, SettingsError
from lockdown.store import audit
from lockdown.store.busy import is_busy
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """Turn service and settings errors, and a busy database, into a one-line message and exit status 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LockdownError as exc:
            raise click.ClickException(exc.message) from exc
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise click.ClickException(DatabaseBusy().message) from exc

    return run  # type: ignore[return-value]


def cli_actor() -> str:
    """Who the audit trail names for a command run at the terminal."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def open_context(settings: Settings | None = None) -> Iterator[Context]:
    """Settings from the environment, a migrated database and the audit key."""
    settings = settings or Settings.from_env()
    key = audit.audit_key(settings.require_secret_key())
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)
        yield Context(db, key)
    finally:
        db.close()


def acting_user(ctx: Context, email: str) -> User:
    """The named user, refused if disabled."""
    user = user_by_email(ctx.db, email)
    if user.disabled_at:
        raise click.ClickException(f"{email} is disabled")
    return user


def press_user(ctx: Context, email: str | None) -> User:
    """The press officer named by --as, which a press command requires."""
    if not email:
        raise click.ClickException("say who you are: --as EMAIL (a press officer)")
    return acting_user(ctx, email)
