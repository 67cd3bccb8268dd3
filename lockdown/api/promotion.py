"""A press officer confirms a promoted standby's state, lifting the promotion hold."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from lockdown.api.auth import auth
from lockdown.api.promotion_schemas import ConfirmedOut, ConfirmIn
from lockdown.api.state import app_state, current_user, request_context
from lockdown.incidents.promotion import confirm_promotion

bp = APIBlueprint("promotion", __name__, url_prefix="/api/v1", tag="Incidents")


@bp.post("/promotion/confirm")
@bp.auth_required(auth)
@bp.input(ConfirmIn, arg_name="body")
@bp.output(ConfirmedOut)
@bp.doc(
    responses={400: "Bad input", 401: "Authentication error", 403: "Not a press officer", 409: "No promotion waits"}
)
def confirm(body: dict[str, Any]) -> dict[str, Any]:
    """Confirm a promoted standby's state (press): the promotion hold is lifted, audited and on the
    timeline; posts that fell due meanwhile follow the resume policy (review unless named)."""
    return confirm_promotion(request_context(), app_state().incidents, current_user(), body)
