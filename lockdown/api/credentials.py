"""Shared passwords: deposit, metadata, access sessions and reveals, rotation, takeovers."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from lockdown.api.auth import auth
from lockdown.api.credential_schemas import (
    CredentialIn,
    CredentialMeta,
    OffboardIn,
    OffboardOut,
    RevealIn,
    RevealOut,
    RotationList,
    SessionIn,
    SessionOut,
    TakeoverIn,
    TakeoverOut,
)
from lockdown.api.state import app_state, current_user, request_context
from lockdown.vault import credentials as vault
from lockdown.vault import rotation
from lockdown.vault.office_hours import access_window

bp = APIBlueprint("credentials", __name__, url_prefix="/api/v1", tag="Credentials")


@bp.put("/accounts/<int:account_id>/credentials")
@bp.auth_required(auth)
@bp.input(CredentialIn, arg_name="body")
@bp.output({}, status_code=204)
@bp.doc(responses=[400, 401, 403, 404, 409])
def deposit(account_id: int, body: dict[str, Any]) -> tuple[str, int]:
    """Deposit a new version of the account's shared password (its manager or ERMC)."""
    vault.deposit(request_context(), app_state().vault, current_user(), account_id, body)
    return "", 204


@bp.get("/accounts/<int:account_id>/credentials")
@bp.auth_required(auth)
@bp.output(CredentialMeta)
@bp.doc(responses=[401, 403, 404])
def credential_metadata(account_id: int) -> dict[str, Any]:
    """Version, rotation dates and reasons, who knows it; never the secret."""
    ctx = request_context()
    return vault.metadata(ctx.db, current_user(), account_id, ctx.now())


@bp.post("/access-sessions")
@bp.auth_required(auth)
@bp.input(SessionIn, arg_name="body")
@bp.output(SessionOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 422])
def open_session(body: dict[str, Any]) -> dict[str, Any]:
    """Open an out-of-hours (or incident) access session (press), with a justification.

    An exercise is no grounds (422 naming incident_id); a session on an incident ends with it.
    """
    ctx = request_context()
    settings = app_state().settings
    allowed, why_not = access_window(ctx.now(), settings.office_hours, settings.timezone)
    return vault.open_session(ctx, current_user(), body, out_of_hours=allowed, why_not=why_not)


@bp.get("/access-sessions/<int:session_id>")
@bp.auth_required(auth)
@bp.output(SessionOut)
@bp.doc(responses=[401, 404])
def get_session(session_id: int) -> dict[str, Any]:
    """One of your own sessions."""
    return vault.get_session(request_context().db, current_user(), session_id)


@bp.post("/access-sessions/<int:session_id>/reveal")
@bp.auth_required(auth)
@bp.input(RevealIn, arg_name="body")
@bp.output(RevealOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def reveal(session_id: int, body: dict[str, Any]) -> Response:
    """Reveal the current password and 2FA code (the session's owner); audited, never cached."""
    revealed = vault.reveal(request_context(), app_state().vault, current_user(), session_id, body["account_id"])
    response = jsonify(revealed)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/access-sessions/<int:session_id>/close")
@bp.auth_required(auth)
@bp.output(SessionOut)
@bp.doc(responses=[401, 404, 409])
def close_session(session_id: int) -> dict[str, Any]:
    """End your session before it expires."""
    return vault.close_session(request_context(), current_user(), session_id)


@bp.get("/rotations")
@bp.auth_required(auth)
@bp.output(RotationList)
@bp.doc(responses=[401, 403])
def rotations() -> dict[str, Any]:
    """Passwords due or required to rotate, with reasons (ERMC: all; managers: their own)."""
    return {"items": rotation.rotations(request_context(), current_user())}


@bp.post("/accounts/<int:account_id>/takeovers")
@bp.auth_required(auth)
@bp.input(TakeoverIn, arg_name="body")
@bp.output(TakeoverOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 404])
def add_takeover(account_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Record a temporary takeover; when it ends the password must be changed."""
    data = {"who": body["who"], "from": body["from_"], "until": body["until"]}
    created = rotation.add_takeover(request_context(), current_user(), account_id, data)
    return {**created, "from_": created.pop("from")}


@bp.post("/users/offboard")
@bp.auth_required(auth)
@bp.input(OffboardIn, arg_name="body")
@bp.output(OffboardOut)
@bp.doc(responses=[400, 401, 403, 404])
def offboard(body: dict[str, Any]) -> dict[str, Any]:
    """Someone leaves (ERMC): disable them, end their sessions, mark what they knew for rotation."""
    return rotation.offboard(request_context(), current_user(), body["email"])
