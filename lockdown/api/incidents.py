"""Incidents, their messages and acknowledgements, playbooks, and hold status."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response
from marshmallow import RAISE

from lockdown.api.auth import auth
from lockdown.api.incident_schemas import (
    AckOut,
    DeclaredOut,
    HoldOut,
    IncidentIn,
    IncidentOut,
    IncidentPage,
    IncidentQuery,
    MessageIn,
    MessageList,
    MessageOut,
    MyAccounts,
    OutOfBandDeletedOut,
    PlaybookList,
    ReportQuery,
    ResolvedOut,
    ResolveIn,
    WatchOut,
)
from lockdown.api.state import app_state, current_user, request_context
from lockdown.incidents import declare as incidents
from lockdown.incidents import messages as incident_messages
from lockdown.incidents.delivery_errors import delivery_errors_as_seen_by
from lockdown.incidents.report import report_for, report_markdown
from lockdown.incidents.watch_record import incident_watch
from lockdown.posting.dispatch import connectors_for
from lockdown.register.accounts import list_accounts
from lockdown.watch import status as watch

INCIDENT = "/<int:incident_id>"
REPORT_RESPONSES: Any = {
    200: {
        "description": "The report: JSON, or Markdown with format=md",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    },
    400: "Bad input",
    401: "Authentication error",
    404: "Not found",
}
bp = APIBlueprint("incidents", __name__, url_prefix="/api/v1", tag="Incidents")


@bp.post("/incidents")
@bp.auth_required(auth)
@bp.input(IncidentIn, arg_name="body")
@bp.output(DeclaredOut, status_code=201)
@bp.doc(responses=[400, 401, 403])
def declare(body: dict[str, Any]) -> dict[str, Any]:
    """Declare an incident (press): every account in its scope is held at once."""
    return incidents.declare_incident(request_context(), app_state().incidents, current_user(), body)


@bp.get("/incidents")
@bp.auth_required(auth)
@bp.input(IncidentQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(IncidentPage)
@bp.doc(responses=[400, 401])
def list_incidents(query: dict[str, Any]) -> dict[str, Any]:
    """Incidents with their timelines (any role)."""
    return incidents.list_incidents(request_context().db, **query)


@bp.get(f"/incidents{INCIDENT}")
@bp.auth_required(auth)
@bp.output(IncidentOut)
@bp.doc(responses=[401, 404])
def get_incident(incident_id: int) -> dict[str, Any]:
    """One incident: timeline, held count, posts in flight, who has acknowledged (any role)."""
    return incidents.get_incident(request_context().db, incident_id)


@bp.post(f"/incidents{INCIDENT}/resolve")
@bp.auth_required(auth)
@bp.input(ResolveIn, arg_name="body")
@bp.output(ResolvedOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def resolve(incident_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Resolve (press): lift the holds; missed posts follow the resume policy."""
    return incidents.resolve_incident(request_context(), app_state().incidents, current_user(), incident_id, body)


@bp.post(f"/incidents{INCIDENT}/messages")
@bp.auth_required(auth)
@bp.input(MessageIn, arg_name="body")
@bp.output(MessageOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 404, 422])
def draft_message(incident_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Draft an incident message (press) from a body or a playbook template; central accounts only."""
    return incident_messages.draft_message(request_context(), app_state().incidents, current_user(), incident_id, body)


@bp.get(f"/incidents{INCIDENT}/messages")
@bp.auth_required(auth)
@bp.output(MessageList)
@bp.doc(responses=[401, 404])
def list_messages(incident_id: int) -> dict[str, Any]:
    """The incident's messages with their deliveries (any role)."""
    db = request_context().db
    return {"items": delivery_errors_as_seen_by(db, current_user(), incident_messages.list_messages(db, incident_id))}


@bp.post(f"/incidents{INCIDENT}/messages/<int:message_id>/approve")
@bp.auth_required(auth)
@bp.output(MessageOut)
@bp.doc(responses=[401, 403, 404, 409, 422, 423])
def approve_message(incident_id: int, message_id: int) -> dict[str, Any]:
    """A second press officer approves: it is published through the central accounts now."""
    return incident_messages.approve_message(
        request_context(),
        app_state().vault,
        current_user(),
        incident_id,
        message_id,
        connector_factory=connectors_for(app_state().settings),
        media_config=app_state().incidents.media,
    )


@bp.get(f"/incidents{INCIDENT}/report")
@bp.auth_required(auth)
@bp.input(ReportQuery, location="query", arg_name="query", unknown=RAISE)
@bp.doc(responses=REPORT_RESPONSES)
def report(incident_id: int, query: dict[str, Any]) -> Any:
    """What was held, what was in flight, every delivery, and the proof nothing else went out."""
    ctx = request_context()
    built = report_for(ctx.db, ctx.audit_key, incident_id, current_user())
    if query["format"] == "md":
        return Response(report_markdown(built), mimetype="text/markdown")
    return built


@bp.post(f"/incidents{INCIDENT}/ack")
@bp.auth_required(auth)
@bp.output(AckOut)
@bp.doc(responses=[401, 404, 409])
def acknowledge(incident_id: int) -> dict[str, Any]:
    """Acknowledge the incident's notice (any user; idempotent); 409 once it is resolved."""
    return incidents.acknowledge(request_context(), current_user(), incident_id)


@bp.get(f"/incidents{INCIDENT}/watch")
@bp.auth_required(auth)
@bp.output(WatchOut)
@bp.doc(responses=[401, 404])
def watch_of_incident(incident_id: int) -> dict[str, Any]:
    """What the platforms showed during the hold (any signed-in user, as the incident page):
    each covered account's listings, and every post on them that Lockdown did not send."""
    return incident_watch(request_context().db, incident_id)


@bp.post(f"/incidents{INCIDENT}/watch/<int:oob_id>/delete")
@bp.auth_required(auth)
@bp.output(OutOfBandDeletedOut)
@bp.doc(responses=[401, 403, 404, 409])
def delete_out_of_band(incident_id: int, oob_id: int) -> dict[str, Any]:
    """Delete an out-of-band post from its platform (the press team, the account's manager);
    409 when the platform refuses (the refusal is kept on the post) or cannot delete."""
    state = app_state()
    return watch.delete_out_of_band(
        request_context(), state.vault, connectors_for(state.settings), current_user(), incident_id, oob_id
    )


@bp.get("/playbooks")
@bp.auth_required(auth)
@bp.output(PlaybookList)
@bp.doc(responses=[401])
def playbooks() -> dict[str, Any]:
    """The playbooks on disk (any role)."""
    loaded = app_state().incidents.playbooks
    return {"items": [loaded[name].public() for name in sorted(loaded)]}


@bp.get("/accounts/<int:account_id>/hold")
@bp.auth_required(auth)
@bp.output(HoldOut)
@bp.doc(responses=[401, 404])
def hold(account_id: int) -> dict[str, Any]:
    """Whether the account is held, by which incidents, since when (any role)."""
    ctx = request_context()
    return incidents.hold_status(ctx.db, account_id, ctx.now())


@bp.get("/me/accounts")
@bp.auth_required(auth)
@bp.output(MyAccounts)
@bp.doc(responses=[401])
def my_accounts() -> dict[str, Any]:
    """The accounts you manage, each with its hold status and held posts."""
    ctx = request_context()
    me = current_user()
    items, cursor = [], None
    while True:
        found = list_accounts(ctx.db, manager=me.email, limit=1000, cursor=cursor)
        items += found["items"]
        cursor = found["next"]
        if cursor is None:
            break
    for account in items:
        account["hold"] = incidents.hold_status(ctx.db, account["id"], ctx.now())
    return {"items": items}
