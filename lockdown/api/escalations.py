"""Escalations to ERMC: file, read (ERMC and the reporter), declare from (press), close (ERMC)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from marshmallow import RAISE

from lockdown.api.auth import auth
from lockdown.api.escalation_schemas import (
    ClosedOut,
    CloseIn,
    EscalationIn,
    EscalationOut,
    EscalationPage,
    EscalationQuery,
)
from lockdown.api.incident_schemas import DeclaredOut
from lockdown.api.state import app_state, current_user, request_context
from lockdown.escalations import actions, reports

ESCALATION = "/escalations/<int:escalation_id>"
bp = APIBlueprint("escalations", __name__, url_prefix="/api/v1", tag="Escalations")


@bp.post("/escalations")
@bp.auth_required(auth)
@bp.input(EscalationIn, arg_name="body")
@bp.output(EscalationOut, status_code=201)
@bp.doc(responses=[400, 401])
def file(body: dict[str, Any]) -> dict[str, Any]:
    """Report to ERMC (anyone): a hacked account, hostile comments, a policy breach, a welfare concern."""
    return reports.report_concern(request_context(), current_user(), body, public_url=app_state().settings.public_url)


@bp.get("/escalations")
@bp.auth_required(auth)
@bp.input(EscalationQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(EscalationPage)
@bp.doc(responses=[400, 401])
def list_escalations(query: dict[str, Any]) -> dict[str, Any]:
    """ERMC's triage queue, open reports first with their age; anyone else: the reports they filed."""
    ctx = request_context()
    return reports.list_escalations(ctx.db, current_user(), ctx.now(), **query)


@bp.get(ESCALATION)
@bp.auth_required(auth)
@bp.output(EscalationOut)
@bp.doc(responses=[401, 404])
def get_escalation(escalation_id: int) -> dict[str, Any]:
    """One report (ERMC and its reporter; 404 for anyone else)."""
    ctx = request_context()
    return reports.get_escalation(ctx.db, current_user(), escalation_id, ctx.now())


@bp.post(f"{ESCALATION}/declare")
@bp.auth_required(auth)
@bp.output(DeclaredOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 404, 409, 422])
def declare(escalation_id: int) -> dict[str, Any]:
    """Declare the compromised-account playbook on the report's account (press); answers the incident only."""
    return actions.declare_from_escalation(request_context(), app_state().incidents, current_user(), escalation_id)


@bp.post(f"{ESCALATION}/close")
@bp.auth_required(auth)
@bp.input(CloseIn, arg_name="body")
@bp.output(ClosedOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def close(escalation_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Close an open report with a reason (ERMC)."""
    return actions.close_escalation(request_context(), current_user(), escalation_id, body)
