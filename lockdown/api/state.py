"""Per-app state and the per-request service context (one connection per request)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from lockdown.crypto import Vault
from lockdown.incidents.config import IncidentConfig
from lockdown.people.users import User
from lockdown.settings import Settings
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.timeutil import Clock


@dataclass(frozen=True)
class AppState:
    """What create_app fixed for the app's lifetime."""

    settings: Settings
    audit_key: bytes
    clock: Clock
    vault: Vault
    incidents: IncidentConfig


def app_state() -> AppState:
    """The running app's state."""
    state: AppState = current_app.extensions["lockdown"]
    return state


def request_context() -> Context:
    """This request's service context, opened on first use and closed at teardown."""
    if "lockdown_ctx" not in g:
        state = app_state()
        db = connect(state.settings.db_path, busy_timeout=state.settings.busy_timeout_seconds)
        g.lockdown_ctx = Context(db, state.audit_key, state.clock)
    ctx: Context = g.lockdown_ctx
    return ctx


def close_request_context(_exc: BaseException | None = None) -> None:
    """Close the request's connection, if one was opened."""
    ctx = g.pop("lockdown_ctx", None)
    if ctx is not None:
        ctx.db.close()


def current_user() -> User:
    """The user the request's token belongs to (set by the auth check)."""
    user: User = g.lockdown_user
    return user
