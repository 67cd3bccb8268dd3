"""Issue 19's "done when", end to end through the API: a CAP alert posted by the campus system's
script becomes a proposed declaration, a press officer confirms it in one call, a second approves
the holding statement, and that statement is in the public Atom feed as a valid CAP 1.2 alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xmlschema
from flask.testing import FlaskClient

from tests.api.test_cap_out import CAP, documents
from tests.conftest import Login
from tests.escalations.test_cap_in import EXAMPLE, SPECS, post


def test_a_posted_alert_ends_as_a_valid_cap_holding_statement_in_the_feed(
    client: FlaskClient, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    rave = make_user("alerting", email="rave@livuni.ac.uk")
    press, press2, manager = make_user("press"), make_user("press"), make_user("manager")
    register(manager, handle="@livuni", platform="x", central=True)
    register(manager, handle="@livuni_chem", platform="mastodon")

    proposal = post(client, rave, EXAMPLE)
    assert proposal.status_code == 201, proposal.json
    declared = client.post(f"/api/v1/cap/proposals/{proposal.json['proposal_id']}/declare", headers=press.headers)
    assert declared.status_code in (200, 201), declared.json
    incident_id = declared.json.get("incident_id") or declared.json["incident"]["id"]
    messages = client.get(f"/api/v1/incidents/{incident_id}/messages", headers=press.headers).json["items"]
    (holding,) = [m for m in messages if m["template"] == "holding_statement"]
    approved = client.post(f"/api/v1/incidents/{incident_id}/messages/{holding['id']}/approve", headers=press2.headers)
    assert approved.status_code == 200, approved.json

    (alert,) = documents(client, xmlschema.XMLSchema(SPECS / "cap12.xsd"))
    assert alert.findtext(f"{CAP}msgType") == "Alert"
    assert alert.findtext(f"{CAP}status") == "Actual"
    assert alert.findtext(f"{CAP}info/{CAP}description") == holding["body"]
