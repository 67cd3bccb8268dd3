"""Bearer-token authentication for the API."""

from __future__ import annotations

from apiflask import HTTPTokenAuth
from flask import g

from lockdown.api.state import request_context
from lockdown.errors import Unauthorized
from lockdown.people.users import User, authenticate

auth = HTTPTokenAuth(scheme="Bearer", description="An API token from `lockdown users add`.")


@auth.verify_token
def verify_token(token: str) -> User:
    """Resolve the token to an enabled user, or answer 401 with the reason."""
    user = authenticate(request_context().db, token)
    g.lockdown_user = user
    return user


@auth.error_handler
def auth_error(status: int) -> None:
    """Flask-HTTPAuth lands here only when no token was sent at all."""
    raise Unauthorized("send 'Authorization: Bearer TOKEN'")
