"""Console pages of escalations to ERMC: the short report form (anyone), each person's own
reports, ERMC's triage queue, and the minimal list press declares from (no details)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.errors import InvalidInput
from lockdown.escalations.actions import close_escalation, declare_from_escalation
from lockdown.escalations.reports import (
    KIND_LABELS,
    KINDS,
    declarable,
    get_escalation,
    list_escalations,
    report_concern,
)
from lockdown.people.users import User
from lockdown.register.accounts import list_accounts

# What each kind means to the person choosing it, in the policy's words (2.2.6).
KIND_HELP = {
    "hacked": "A Lockdown account is posting what its team did not write, or they cannot sign in",
    "hostile_comments": "A post from a Lockdown account draws negative comments and the reply is not clear",
    "policy_breach": "Something posted breaks the social media policy",
    "welfare_concern": "Activity on a staff or student account that raises a welfare concern",
    "other": "Anything else ERMC should know",
}
QUEUE_SIZE = 200


def _me() -> User:
    user = signed_in_user()
    assert user is not None  # login_required ran first
    return user


def _accounts() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = list_accounts(request_context().db, limit=1000)["items"]
    return found


def _form_page(form: dict[str, str], error: InvalidInput | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "escalation_form.html", form=form, error=error, kinds=KINDS, labels=KIND_LABELS, help=KIND_HELP,
        accounts=_accounts(),
    ), status  # fmt: skip


@bp.get("/escalations/new")
@login_required
def escalation_form() -> tuple[str, int]:
    """The short report form: what kind, which account or which address, what was seen."""
    return _form_page({"kind": request.args.get("kind", ""), "account_id": request.args.get("account_id", "")})


@bp.post("/escalations/new")
@login_required
def file_escalation_page() -> BaseResponse | tuple[str, int]:
    """File the report and tell ERMC; a mistake comes back with the form as typed and the field named."""
    form = {name: request.form.get(name, "") for name in ("kind", "where", "account_id", "url", "details")}
    data: dict[str, Any] = {"kind": form["kind"], "details": form["details"]}
    try:
        if form["where"] == "account":
            raw = form["account_id"].strip()
            if not (raw.isascii() and raw.isdigit()):
                raise InvalidInput("choose the account", field="account_id")
            data["account_id"] = int(raw)
        elif form["where"] == "url":
            data["url"] = form["url"]
        else:
            raise InvalidInput("say whether it is a Lockdown account or a link elsewhere", field="where")
        filed = report_concern(request_context(), _me(), data, public_url=app_state().settings.public_url)
    except InvalidInput as error:
        return _form_page(form, error, 400)
    flash(f"Report {filed['id']} was sent to ERMC. Only ERMC and you can read it.", "ok")
    return redirect(url_for("console.escalation", escalation_id=filed["id"]))


@bp.get("/escalations")
@login_required
def escalations() -> str:
    """ERMC's triage queue, the reports press may declare from, and the signed-in person's own."""
    ctx = request_context()
    me = _me()
    state = request.args.get("state") or None
    if state not in (None, "open", "closed"):
        state = None
    queue = list_escalations(ctx.db, me, ctx.now(), state=state, limit=QUEUE_SIZE)["items"] if me.has("ermc") else []
    to_declare = declarable(ctx.db, me, ctx.now()) if me.has("press") else []
    mine = list_escalations(ctx.db, me, ctx.now(), mine=True, limit=QUEUE_SIZE)["items"]
    return render_template(
        "escalations.html", queue=queue, to_declare=to_declare, mine=mine, state=state, labels=KIND_LABELS
    )


@bp.get("/escalations/<int:escalation_id>")
@login_required
def escalation(escalation_id: int) -> str:
    """One report, for ERMC and its reporter (anyone else: not found)."""
    ctx = request_context()
    found = get_escalation(ctx.db, _me(), escalation_id, ctx.now())
    return render_template("escalation.html", report=found, labels=KIND_LABELS)


@bp.post("/escalations/<int:escalation_id>/declare")
@login_required
def declare_from_report(escalation_id: int) -> BaseResponse | str:
    """Press declares the compromised-account playbook on the report's account, after a
    confirmation that names the account (and, as the line it came from, nothing of the report)."""
    ctx = request_context()
    me = _me()
    me.require("press")  # before the confirmation, so no one is asked to confirm what they may not do
    if request.form.get("confirmed") != "yes":
        line = next((item for item in declarable(ctx.db, me, ctx.now()) if item["id"] == escalation_id), None)
        if line is not None:
            return render_template("confirm_escalation_declare.html", item=line, labels=KIND_LABELS)
        # Closed, pointing at a link, or not there: the service says which.
    incident = declare_from_escalation(ctx, app_state().incidents, me, escalation_id)
    flash(f"Incident {incident['id']} declared from escalation {escalation_id}: its account is on hold.", "ok")
    return redirect(url_for("console.incident", incident_id=incident["id"]))


@bp.post("/escalations/<int:escalation_id>/close")
@login_required
def close_report(escalation_id: int) -> BaseResponse:
    """ERMC closes a report with a reason."""
    try:
        close_escalation(request_context(), _me(), escalation_id, {"reason": request.form.get("reason", "")})
    except InvalidInput as error:
        flash(f"Escalation {escalation_id} is still open: {error.message}.", "error")
        return redirect(url_for("console.escalation", escalation_id=escalation_id))
    flash(f"Escalation {escalation_id} closed.", "ok")
    return redirect(url_for("console.escalations"))
