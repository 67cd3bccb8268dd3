"""Console sessions: a signed cookie holding the user id, CSRF tokens on every form."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, session, url_for

from lockdown.api.state import request_context
from lockdown.people.users import User, enabled_user

F = TypeVar("F", bound=Callable[..., Any])


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
    """The user of this console session, if any and still enabled."""
    if "console_user" not in g:
        user_id = session.get("user_id")
        g.console_user = enabled_user(request_context().db, int(user_id)) if user_id else None
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
