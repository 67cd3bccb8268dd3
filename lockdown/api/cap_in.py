"""CAP in (issue 19): the campus alerting system posts CAP 1.2 alerts (role ``alerting``); press
reads the proposals and declares (or dismisses) them."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import request
from marshmallow import RAISE

from lockdown.api.auth import auth
from lockdown.api.cap_in_schemas import (
    CapConfirmed,
    CapDismissed,
    CapDismissIn,
    CapProposalOut,
    CapProposalPage,
    CapProposalQuery,
    CapReceived,
)
from lockdown.api.state import app_state, current_user, request_context
from lockdown.escalations import cap_alerts

CAP_PATH = "/api/v1/cap"
CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml")
PROPOSAL = "/cap/proposals/<int:proposal_id>"
bp = APIBlueprint("cap_in", __name__, url_prefix="/api/v1", tag="CAP alerts")


@bp.post("/cap")
@bp.auth_required(auth)
@bp.output(CapReceived, status_code=201)
@bp.doc(responses=[400, 401, 403, 422])  # and 200 for a repeat, documented by lockdown.app._finish_spec
def receive() -> tuple[dict[str, Any], int]:
    """Take a CAP 1.2 alert (role alerting) as application/cap+xml: a proposed declaration for press."""
    found, new = cap_alerts.receive_alert(request_context(), app_state().incidents, current_user(), request.get_data())
    return found, 201 if new else 200


@bp.get("/cap/proposals")
@bp.auth_required(auth)
@bp.input(CapProposalQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(CapProposalPage)
@bp.doc(responses=[400, 401, 403])
def list_proposals(query: dict[str, Any]) -> dict[str, Any]:
    """Proposals from CAP alerts, waiting ones first (press, ERMC)."""
    return cap_alerts.list_proposals(request_context().db, current_user(), **query)


@bp.get(PROPOSAL)
@bp.auth_required(auth)
@bp.output(CapProposalOut)
@bp.doc(responses=[401, 403, 404])
def get_proposal(proposal_id: int) -> dict[str, Any]:
    """One proposal (press, ERMC)."""
    return cap_alerts.get_proposal(request_context().db, app_state().incidents, current_user(), proposal_id)


@bp.post(f"{PROPOSAL}/declare")
@bp.auth_required(auth)
@bp.output(CapConfirmed, status_code=201)
@bp.doc(responses=[400, 401, 403, 404, 409, 422])
def declare(proposal_id: int) -> dict[str, Any]:
    """Confirm a proposal (press): declare with its playbook, or resolve the incident a Cancel names."""
    return cap_alerts.confirm_proposal(request_context(), app_state().incidents, current_user(), proposal_id)


@bp.post(f"{PROPOSAL}/dismiss")
@bp.auth_required(auth)
@bp.input(CapDismissIn, arg_name="body")
@bp.output(CapDismissed)
@bp.doc(responses=[400, 401, 403, 404, 409])
def dismiss(proposal_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Dismiss a waiting proposal with a reason (press)."""
    return cap_alerts.dismiss_proposal(request_context(), current_user(), proposal_id, body)
