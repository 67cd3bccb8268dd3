"""Console pages of one account: what it is, whether it is on hold, its readiness, and a Check
now button for those who may run a check (ERMC, the press team, its manager)."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.errors import Forbidden, LockdownError
from lockdown.people.users import User
from lockdown.posting.dispatch import connectors_for
from lockdown.readiness.checks import CheckRunner, check_now, may_check
from lockdown.readiness.status import how_long, readiness_for
from lockdown.register.accounts import PLATFORM_NAMES, get_account
from lockdown.timeutil import parse_iso


def _me() -> User:
    user = signed_in_user()
    assert user is not None  # login_required ran first
    return user


@bp.get("/accounts/<int:account_id>")
@login_required
def account(account_id: int) -> str:
    """One account: its unit, manager, hold and readiness (the reason as the viewer may read it)."""
    ctx = request_context()
    found = get_account(ctx.db, account_id)
    user = _me()
    try:
        may_check(user, found)
        checkable = not found["archived_at"]
    except Forbidden:
        checkable = False
    now = ctx.now()
    readiness = readiness_for(ctx.db, found, user, app_state().settings.api_versions, now)
    return render_template(
        "account.html",
        account=found,
        platform=PLATFORM_NAMES.get(found["platform"], found["platform"]),
        readiness=readiness,
        lasted=how_long(readiness["since"], now),
        checked_ago=how_long(readiness["checked_at"], now),
        checkable=checkable,
        overdue=bool(readiness["next_check_at"]) and parse_iso(readiness["next_check_at"]) <= now,
    )


@bp.post("/accounts/<int:account_id>/check")
@login_required
def check_account(account_id: int) -> BaseResponse:
    """Run the account's readiness check now, then show the account again."""
    settings = app_state().settings
    runner = CheckRunner(
        app_state().vault, connectors_for(settings), timedelta(seconds=settings.readiness_interval_seconds)
    )
    try:
        state = check_now(request_context(), runner, _me(), account_id)
    except LockdownError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(f"Checked now: {'ready' if state == 'ready' else 'not ready, see why below'}.",
              "ok" if state == "ready" else "error")  # fmt: skip
    return redirect(url_for("console.account", account_id=account_id))
