"""Console pages: sign-in, the dashboard with the Declare button, and a manager's accounts."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import SESSION_TOKEN, login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.console.incident_pages import action_cards
from lockdown.console.provider_pages import provider_logout_url
from lockdown.console.redirects import console_page
from lockdown.console.wording import plural
from lockdown.errors import InvalidInput, LockdownError
from lockdown.escalations.cap_alerts import waiting as cap_waiting
from lockdown.incidents.account_picker import account_to_name, find_accounts_to_name
from lockdown.incidents.declare import (
    PROMOTION_PLAYBOOK,
    acknowledgements,
    check_named_account,
    declare_incident,
    get_incident,
    hold_status,
    list_incidents,
    preview_held,
)
from lockdown.people.console_sessions import end_session
from lockdown.people.users import User
from lockdown.posting.posts import list_posts
from lockdown.readiness.status import central_summary
from lockdown.register.accounts import PLATFORM_NAMES, list_accounts
from lockdown.vault.break_glass import tell_ermc_of_break_glass


def _active() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = list_incidents(request_context().db, status="active", limit=50)["items"]
    return items


@bp.get("/")
@login_required
def dashboard() -> str:
    """Active incidents as a banner; the Declare form for the press team."""
    ctx = request_context()
    # The promotion hold is declared by `lockdown standby promote` alone: not offered to declare.
    playbooks = {n: p for n, p in app_state().incidents.playbooks.items() if n != PROMOTION_PLAYBOOK}
    scope = {name: _scope_count(name) for name in playbooks}
    active = _active()
    me = signed_in_user()
    proposals = cap_waiting(ctx.db) if me is not None and me.has("press") else []
    return render_template(
        "dashboard.html", incidents=active, proposals=proposals, playbooks=playbooks,
        scope=scope, db=ctx.db, central=_central_readiness(),
        steps_of={incident["id"]: action_cards(incident["id"]) for incident in active},
    )  # fmt: skip


def _central_readiness() -> dict[str, Any] | None:
    """The central accounts' readiness, for whoever may declare (shown above the Declare form)."""
    user = signed_in_user()
    if user is None or not user.has("press"):
        return None
    ctx = request_context()
    return central_summary(ctx.db, user, app_state().settings.api_versions, ctx.now())


def _scope_count(name: str) -> int:
    """How many accounts a declaration with this playbook would hold now."""
    user = signed_in_user()
    assert user is not None
    return preview_held(request_context().db, app_state().incidents.playbooks[name], user)


@bp.post("/declare")
@login_required
def declare() -> BaseResponse | str | tuple[str, int]:
    """Declare, after the confirmation step shows how many accounts will be held (and, for a
    playbook that names one, which)."""
    user = signed_in_user()
    assert user is not None
    form: dict[str, Any] = {
        "playbook": request.form.get("playbook", "live-incident"),
        "title": request.form.get("title", ""),
        "reason": request.form.get("reason", ""),
    }
    playbook = app_state().incidents.playbooks.get(form["playbook"])
    chosen = None
    if playbook is not None and playbook.named_account != "none":
        form["account_id"] = _account_id(request.form.get("account_id", ""))
        try:
            named = check_named_account(request_context().db, playbook, form["account_id"])
        except InvalidInput as exc:
            return _account_picker(user, form=form, error=exc.message.removeprefix("account_id: ")), exc.status
        chosen = account_to_name(request_context().db, user, named) if named is not None else None
    if request.form.get("confirmed") != "yes":
        return render_template("confirm_declare.html", form=form, chosen=chosen, held=_scope_count(form["playbook"])
                               if playbook is not None else 0, central=_central_readiness())  # fmt: skip
    try:
        declared = declare_incident(request_context(), app_state().incidents, user, form)
    except LockdownError as exc:
        if exc.field == "account_id":  # archived since it was confirmed
            return _account_picker(user, form=form, error=exc.message.removeprefix("account_id: ")), exc.status
        flash(exc.message, "error")
        return redirect(url_for("console.dashboard"))
    flash(f"Incident {declared['id']} declared: {plural(declared['held_accounts'], 'account')} held.", "ok")
    return redirect(url_for("console.incident", incident_id=declared["id"]))


def _account_id(raw: str) -> int | str | None:
    """The form's account id as the service takes it: a number, or what was sent for it to refuse."""
    raw = raw.strip()
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() else raw


@bp.route("/declare/account", methods=["GET", "POST"])
@login_required
def declare_account() -> str:
    """The account picker for a playbook that names one account: search by handle and platform
    (GET with q; POST when it carries a title and reason already typed), then declare."""
    user = signed_in_user()
    assert user is not None
    source = request.form if request.method == "POST" else request.args
    form = {
        "playbook": source.get("playbook", ""),
        "title": source.get("title", ""),
        "reason": source.get("reason", ""),
    }
    return _account_picker(user, form=form, q=source.get("q", ""), platform=source.get("platform", ""))


def _account_picker(
    user: User, *, form: dict[str, Any], q: str = "", platform: str = "", error: str | None = None
) -> str:
    """The picker page: the search (checked and answered by the service: press only), its results
    as choices, and the declaration's title and reason, kept."""
    playbooks = app_state().incidents.playbooks
    naming = sorted(name for name, playbook in playbooks.items() if playbook.named_account != "none")
    if form.get("playbook") not in naming:
        form = {**form, "playbook": naming[0] if naming else ""}
    found = find_accounts_to_name(request_context().db, user, q, platform or None)
    return render_template(
        "declare_account.html", form=form, q=q, platform=platform, found=found, error=error,
        playbook=playbooks.get(form["playbook"]), platforms=PLATFORM_NAMES,
    )  # fmt: skip


@bp.get("/my-accounts")
@login_required
def my_accounts() -> str:
    """Each account I manage: on hold or not, why, since when, posts waiting."""
    ctx = request_context()
    user = signed_in_user()
    assert user is not None
    accounts = list_accounts(ctx.db, manager=user.email, limit=1000)["items"]
    rows = [
        (account, status, list_posts(ctx.db, account_id=account["id"], held=True, limit=20)["items"])
        for account in accounts
        for status in [hold_status(ctx.db, account["id"], ctx.now())]
    ]
    # Held accounts first: on a phone the first line shows what a hold has stopped.
    rows.sort(key=lambda row: not row[1]["held"])
    # One acknowledgement per incident, however many of my accounts it holds.
    holding = sorted({incident_id for _, status, _ in rows for incident_id in status["incidents"]})
    incidents = {i["id"]: i for i in _active()}
    affecting = [
        {
            "incident": incidents.get(incident_id) or get_incident(ctx.db, incident_id),
            "accounts": sum(incident_id in status["incidents"] for _, status, _ in rows),
            "acknowledged": next(
                (a["at"] for a in acknowledgements(ctx.db, incident_id)["acknowledged"] if a["email"] == user.email),
                None,
            ),
        }
        for incident_id in holding
    ]
    return render_template("my_accounts.html", rows=rows, affecting=affecting)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> BaseResponse | str:
    """Email, password and, for the press team and ERMC, an authenticator code."""
    from lockdown.people.signin import sign_in as check_sign_in

    if request.method == "GET":
        return render_template("sign_in.html", next=request.args.get("next", "/"))
    oidc = app_state().settings.oidc
    try:
        signed = check_sign_in(
            request_context(), app_state().vault, request.form.get("email", ""), request.form.get("password", ""),
            request.form.get("code"), request.remote_addr or "unknown",
            provider=oidc.name if oidc else None, on_break_glass=tell_ermc_of_break_glass,
        )  # fmt: skip
    except LockdownError as exc:
        # The email stays (retyping it on a phone is the slow part); the password never comes back.
        page = render_template(
            "sign_in.html", error=exc.message, field=exc.field, email=request.form.get("email", ""),
            next=request.form.get("next", "/"),
        )  # fmt: skip
        refused = Response(page, exc.status)
        if "retry_after" in exc.extra:
            refused.headers["Retry-After"] = str(exc.extra["retry_after"])
        return refused
    # A fresh cookie, so no one can plant a session id beforehand.
    session.clear()
    session[SESSION_TOKEN] = signed.session_token
    session.permanent = True
    return redirect(console_page(request.form.get("next"), url_for("console.dashboard")))


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    """End the console session, here and wherever a copy of its cookie went."""
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str):
        end_session(request_context(), token)
    through_provider = session.get("signed_in_with") == "provider"
    session.clear()
    logout = provider_logout_url() if through_provider else None
    if logout is None:
        return redirect(url_for("console.sign_in"))
    # Lockdown's session is over; the provider's may still be open on this device.
    return Response(render_template("signed_out.html", provider_logout=logout))
