"""CAP 1.2 out, public and token-less: the Atom feed of alerts and one document per alert."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from lockdown.api.state import app_state, request_context
from lockdown.errors import NotFound
from lockdown.incidents import cap_out

public = APIBlueprint("cap_out", __name__, url_prefix="/cap", tag="CAP")


@public.get("/alerts.atom")
@public.output({}, content_type=cap_out.ATOM_MEDIA_TYPE, description="an Atom 1.0 feed, newest alert first")
def alerts_feed() -> Response:
    """The Atom feed of CAP 1.2 alerts, newest first. No sign-in.
    Every approved incident message is an alert (`Alert`, then `Update`), and a resolved incident
    that had alerts ends with a `Cancel`; exercise alerts are included, with status `Exercise`.
    Drafts never appear, nor the incident's internal reason."""
    state = app_state()
    alerts = cap_out.all_alerts(request_context().db, state.incidents)
    body = cap_out.feed_xml(state.incidents, alerts, state.clock())
    return Response(body, mimetype=cap_out.ATOM_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@public.get("/alerts/<string:identifier>.xml")
@public.output({}, content_type=cap_out.CAP_MEDIA_TYPE, description="a CAP 1.2 alert")
@public.doc(responses=[404])
def alert_document(identifier: str) -> Response:
    """One CAP 1.2 alert, by its identifier (as the feed links it). No sign-in."""
    state = app_state()
    alert = cap_out.find_alert(request_context().db, state.incidents, identifier)
    if alert is None:
        raise NotFound(f"no CAP alert {identifier}", field="identifier")
    return Response(cap_out.alert_xml(alert), mimetype=cap_out.CAP_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})
