"""Console pages of CAP alerts (issue 19): the page a press officer opens from the notice, which
declares the proposed playbook in one confirmation (or resolves the incident a Cancel names), and
the dismissal with a reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.console.wording import plural
from lockdown.errors import InvalidInput, LockdownError
from lockdown.escalations.cap_alerts import confirm_proposal, dismiss_proposal, get_proposal
from lockdown.people.users import User


def _me() -> User:
    user = signed_in_user()
    assert user is not None  # login_required ran first
    return user


@bp.get("/cap/proposals/<int:proposal_id>")
@login_required
def cap_proposal(proposal_id: int) -> str:
    """The alert's headline, area and severity, the playbook and how many accounts it holds, and
    (for press, while it waits) the one button that declares it."""
    state = app_state()
    found = get_proposal(request_context().db, state.incidents, _me(), proposal_id)
    playbook = state.incidents.playbooks.get(found["playbook"] or "")
    return render_template("cap_proposal.html", proposal=found, playbook=playbook)


@bp.post("/cap/proposals/<int:proposal_id>/declare")
@login_required
def cap_declare(proposal_id: int) -> BaseResponse:
    """Press confirms the proposal: declared (or resolved) at once."""
    try:
        done = confirm_proposal(request_context(), app_state().incidents, _me(), proposal_id)
    except LockdownError as error:
        flash(f"Nothing was declared: {error.message}.", "error")
        return redirect(url_for("console.cap_proposal", proposal_id=proposal_id))
    if done["kind"] == "declare":
        held = plural(done["result"]["held_accounts"], "account")
        flash(f"Incident {done['incident_id']} declared from the CAP alert: {held} held.", "ok")
    else:
        flash(f"Incident {done['incident_id']} resolved: the CAP alert was cancelled.", "ok")
    return redirect(url_for("console.incident", incident_id=done["incident_id"]))


@bp.post("/cap/proposals/<int:proposal_id>/dismiss")
@login_required
def cap_dismiss(proposal_id: int) -> BaseResponse:
    """Press dismisses the proposal, saying why."""
    try:
        dismiss_proposal(request_context(), _me(), proposal_id, {"reason": request.form.get("reason", "")})
    except (InvalidInput, LockdownError) as error:
        flash(f"CAP proposal {proposal_id} is unchanged: {error.message}.", "error")
        return redirect(url_for("console.cap_proposal", proposal_id=proposal_id))
    flash(f"CAP proposal {proposal_id} dismissed: nothing was held.", "ok")
    return redirect(url_for("console.dashboard"))
