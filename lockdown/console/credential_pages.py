"""Console pages for shared passwords: managers deposit and follow rotation; the press team opens
an access session and reveals a password inside it, with the session's end counted down."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required
from lockdown.console.blueprint import bp, local_time
from lockdown.console.post_pages import every_account, form_int, id_or_text, me
from lockdown.errors import Conflict, LockdownError, NotFound
from lockdown.incidents.declare import list_incidents
from lockdown.register.accounts import get_account
from lockdown.timeutil import parse_iso
from lockdown.vault import credentials as vault
from lockdown.vault import rotation
from lockdown.vault.office_hours import access_window

SESSION_MINUTES = (15, 30, 60, 120, 240)


def countdown(expires_at: str, now: datetime) -> dict[str, Any]:
    """The time left in a session, as the page first shows it (countdown.js then keeps it going)."""
    seconds = max(0, int((parse_iso(expires_at) - now).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    left = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
    return {"seconds": seconds, "left": left, "at": local_time(expires_at, "%H:%M"), "expires_at": expires_at}


def _credentials_page(error: str | None = None, status: int = 200) -> Response:
    ctx = request_context()
    user = me()
    user.require("press", "manager", "ermc")
    managed: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    due: list[dict[str, Any]] = []
    accounts = every_account(ctx.db)
    if user.has("ermc", "manager"):
        for account in accounts:
            if not (user.has("ermc") or account["manager"] == user.email):
                continue
            try:
                managed.append((account, vault.metadata(ctx.db, user, account["id"], ctx.now())))
            except NotFound:
                managed.append((account, None))
        due = rotation.rotations(ctx, user)
    active = list_incidents(ctx.db, status="active", limit=50)["items"] if user.has("press") else []
    # Only real incidents are offered as grounds: a drill opens no real credentials.
    incidents = [incident for incident in active if not incident["exercise"]]
    sessions = vault.open_sessions(ctx.db, user, ctx.now()) if user.has("press") else []
    page = render_template(
        "credentials.html",
        managed=managed,
        due=due,
        accounts=accounts,
        incidents=incidents,
        sessions=sessions,
        minutes=SESSION_MINUTES,
        error=error,
        form=request.form if request.method == "POST" else {},
        chosen_accounts={str(value) for value in request.form.getlist("account_ids")},
        zone=app_state().settings.timezone,
    )
    return Response(page, status)


@bp.get("/credentials")
@login_required
def credentials() -> Response:
    """Managers: rotation status and deposits. Press: open an access session."""
    return _credentials_page()


@bp.post("/credentials/accounts/<int:account_id>/deposit")
@login_required
def deposit_credential(account_id: int) -> BaseResponse:
    """Deposit a new version of an account's password (its manager or ERMC)."""
    data: dict[str, str | None] = {name: request.form.get(name, "") for name in ("username", "password")}
    # A blank optional field means "none", not an empty value.
    for name in ("totp_secret", "notes", "reason"):
        data[name] = request.form.get(name, "").strip() or None
    try:
        meta = vault.deposit(request_context(), app_state().vault, me(), account_id, data)
    except LockdownError as exc:
        # The services' messages name the field, never its value.
        flash(exc.message, "error")
    else:
        flash(f"Version {meta['version']} of the password of {meta['handle']} is deposited.", "ok")
    return redirect(url_for("console.credentials", _anchor=f"account-{account_id}"))


@bp.post("/credentials/sessions")
@login_required
def open_session() -> BaseResponse:
    """Open an access session (press) with a justification and grounds."""
    ctx = request_context()
    now = ctx.now()
    settings = app_state().settings
    data: dict[str, Any] = {
        "justification": request.form.get("justification", ""),
        "account_ids": [id_or_text(v) for v in request.form.getlist("account_ids")],
    }
    # Left out when blank, so the service's own default applies.
    for name in ("incident_id", "minutes"):
        if request.form.get(name):
            data[name] = form_int(name)
    try:
        allowed, why_not = access_window(now, settings.office_hours, settings.timezone)
        opened = vault.open_session(ctx, me(), data, out_of_hours=allowed, why_not=why_not)
    except LockdownError as exc:
        # Shown again with what was typed, so the justification is not lost.
        return _credentials_page(error=exc.message, status=exc.status)
    flash(f"Access session {opened['id']} is open until {local_time(opened['expires_at'], '%H:%M')}.", "ok")
    return redirect(url_for("console.access_session", session_id=opened["id"]))


@bp.get("/credentials/sessions/<int:session_id>")
@login_required
def access_session(session_id: int) -> str:
    """One of my access sessions: its grounds, its end, and the accounts it covers."""
    ctx = request_context()
    session = vault.get_session(ctx.db, me(), session_id)
    accounts = [get_account(ctx.db, account_id) for account_id in session["account_ids"]]
    is_open = not session["closed_at"] and parse_iso(session["expires_at"]) > ctx.now()
    return render_template(
        "session.html",
        session=session,
        accounts=accounts,
        is_open=is_open,
        timer=countdown(session["expires_at"], ctx.now()),
    )


@bp.post("/credentials/sessions/<int:session_id>/reveal")
@login_required
def reveal_credential(session_id: int) -> Response:
    """Show an account's password in the session: audited, the manager told, never cached."""
    ctx = request_context()
    revealed = vault.reveal(ctx, app_state().vault, me(), session_id, form_int("account_id"))
    # A page, not a redirect: redirecting would mean storing the secret somewhere to show it.
    response = make_response(
        render_template(
            "reveal.html",
            revealed=revealed,
            session_id=session_id,
            account=get_account(ctx.db, revealed["account_id"]),
            timer=countdown(revealed["session_expires_at"], ctx.now()),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/credentials/sessions/<int:session_id>/close")
@login_required
def close_session(session_id: int) -> BaseResponse:
    """End my session before it expires."""
    try:
        vault.close_session(request_context(), me(), session_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"Access session {session_id} is closed.", "ok")
    return redirect(url_for("console.access_session", session_id=session_id))
