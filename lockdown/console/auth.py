"""Console sessions: a signed cookie holding a server-side session's token, checked on every
request; CSRF tokens on every form."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, session, url_for

from lockdown.api.state import request_context
from lockdown.people.console_sessions import session_user_id
from lockdown.people.users import User, enabled_user

F = TypeVar("F", bound=Callable[..., Any])
# The key in the signed cookie under which the server-side session's token travels.
SESSION_TOKEN = "session_token"  # noqa: S105 - a name, not a secret


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    token: str = session["csrf"]
    return token


def check_csrf() -> None:
    """Refuse a form post whose token is missing or not this session's."""
    if request.method != "POST":
        return
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="The form expired or did not come from this site; go back and try again.")


def signed_in_user() -> User | None:
    """The user of this console session, if it is still open and they are still enabled."""
    if "console_user" not in g:
        token = session.get(SESSION_TOKEN)
        ctx = request_context()
        user_id = session_user_id(ctx.db, token, ctx.now()) if isinstance(token, str) else None
        g.console_user = enabled_user(ctx.db, user_id) if user_id is not None else None
    user: User | None = g.console_user
    return user


def login_required(view: F) -> F:
    """Send people who are not signed in to the sign-in page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if signed_in_user() is None:
            return redirect(url_for("console.sign_in", next=request.path))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
