"""CAP 1.2 out: approved incident messages as CAP alerts, in an Atom feed and one document each,
every document valid against the OASIS schema (tests/specs/cap12.xsd), the reason never out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import xmlschema
from flask.testing import FlaskClient

from tests.api.test_incidents_api import declare, estate  # noqa: F401 (estate is a fixture)

SPECS = Path(__file__).resolve().parent.parent / "specs"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
REASON = "Reported 02:10 by security"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SPECS / "cap12.xsd")


def parse(data: bytes) -> ET.Element:
    """Lockdown's own answer, parsed (trusted here: no entities are declared in it)."""
    return ET.fromstring(data)  # noqa: S314


def feed(client: FlaskClient) -> list[ET.Element]:
    response = client.get("/cap/alerts.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = parse(response.data)
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


def documents(client: FlaskClient, schema: xmlschema.XMLSchema) -> list[ET.Element]:
    """Every alert the feed links to, each fetched, validated and parsed, newest first."""
    alerts = []
    for entry in feed(client):
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None
        assert link.get("type") == "application/cap+xml"
        response = client.get(urlsplit(link.attrib["href"]).path)
        assert response.status_code == 200, link.attrib["href"]
        assert response.mimetype == "application/cap+xml"
        schema.validate(response.data.decode())
        alert = parse(response.data)
        assert alert.findtext(f"{CAP}identifier") == entry.findtext(f"{ATOM}id")
        alerts.append(alert)
    return alerts


def approve(client: FlaskClient, estate: dict[str, Any], incident: int, message: int) -> None:  # noqa: F811
    response = client.post(f"/api/v1/incidents/{incident}/messages/{message}/approve", headers=estate["press2"].headers)
    assert response.status_code == 200, response.json


def text(alert: ET.Element, path: str) -> str:
    return alert.findtext(path.replace("cap:", CAP)) or ""


def test_the_example_alert_is_valid_against_the_schema(schema: xmlschema.XMLSchema) -> None:
    schema.validate(str(SPECS / "cap-example-thunderstorm.xml"))


def test_alert_update_and_cancel_are_valid_cap_and_reference_each_other(
    client: FlaskClient,
    estate: dict[str, Any],  # noqa: F811
    schema: xmlschema.XMLSchema,
) -> None:
    assert feed(client) == []
    declared = declare(client, estate["press"]).json
    incident = declared["id"]
    draft = client.post(
        f"/api/v1/incidents/{incident}/messages",
        json={"template": "update", "body": "The building has been evacuated."},
        headers=estate["press"].headers,
    ).json
    assert feed(client) == [], "drafts are never alerts"
    approve(client, estate, incident, declared["holding_statement_id"])
    [first] = documents(client, schema)
    assert (text(first, "cap:status"), text(first, "cap:msgType"), text(first, "cap:scope")) == (
        "Actual",
        "Alert",
        "Public",
    )
    assert first.find(f"{CAP}references") is None
    assert text(first, "cap:info/cap:headline") == "Fire at the Chemistry building"
    assert (text(first, "cap:info/cap:category"), text(first, "cap:info/cap:severity")) == ("Safety", "Severe")
    assert text(first, "cap:info/cap:web").startswith("http")
    assert text(first, "cap:sent").endswith("-00:00")

    approve(client, estate, incident, draft["id"])
    update, again = documents(client, schema)
    assert ET.tostring(again) == ET.tostring(first)
    assert text(update, "cap:msgType") == "Update"
    assert "evacuated" in text(update, "cap:info/cap:description")
    assert text(update, "cap:references") == ",".join(
        [text(first, "cap:sender"), text(first, "cap:identifier"), text(first, "cap:sent")]
    )

    resolved = client.post(f"/api/v1/incidents/{incident}/resolve", json={}, headers=estate["press"].headers)
    assert resolved.status_code == 200, resolved.json
    cancel, *_ = documents(client, schema)
    assert text(cancel, "cap:msgType") == "Cancel"
    assert text(cancel, "cap:references").split() == [
        ",".join([text(a, "cap:sender"), text(a, "cap:identifier"), text(a, "cap:sent")]) for a in (first, update)
    ]
    everything = client.get("/cap/alerts.atom").data + b"".join(
        client.get(urlsplit(e.find(f"{ATOM}link").attrib["href"]).path).data  # type: ignore[union-attr]
        for e in feed(client)
    )
    assert REASON.encode() not in everything, "the internal reason never leaves"


def test_an_exercise_is_published_as_an_exercise(
    client: FlaskClient,
    estate: dict[str, Any],  # noqa: F811
    schema: xmlschema.XMLSchema,
) -> None:
    declared = declare(client, estate["press"], playbook="exercise", title="Winter drill").json
    approve(client, estate, declared["id"], declared["holding_statement_id"])
    client.post(f"/api/v1/incidents/{declared['id']}/resolve", json={}, headers=estate["press"].headers)
    cancel, alert = documents(client, schema)
    assert [text(a, "cap:status") for a in (cancel, alert)] == ["Exercise", "Exercise"]
    assert [text(a, "cap:msgType") for a in (cancel, alert)] == ["Cancel", "Alert"]
    assert feed(client)[0].findtext(f"{ATOM}title", "").startswith("Exercise: ")


def test_a_resolved_incident_without_alerts_publishes_nothing(
    client: FlaskClient,
    estate: dict[str, Any],  # noqa: F811
) -> None:
    declared = declare(client, estate["press"]).json
    client.post(f"/api/v1/incidents/{declared['id']}/resolve", json={}, headers=estate["press"].headers)
    assert feed(client) == []


@pytest.mark.parametrize(
    "identifier",
    ["nope", "urn:lockdown:127.0.0.1:8080:message:1", "urn:lockdown:127.0.0.1:8080:incident:1:resolved"],
)
def test_an_unknown_or_unpublished_alert_is_404(
    client: FlaskClient,
    estate: dict[str, Any],  # noqa: F811
    identifier: str,
) -> None:
    declare(client, estate["press"])  # message 1 is a draft, incident 1 active
    response = client.get(f"/cap/alerts/{identifier}.xml")
    assert response.status_code == 404
    assert REASON not in response.get_data(as_text=True)


def test_the_feed_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/cap/alerts.atom")
    assert response.status_code == 200
    assert parse(response.data).findtext(f"{ATOM}id", "").endswith("/cap/alerts.atom")


def test_the_sender_is_the_setting_or_the_public_host() -> None:
    from lockdown.incidents.cap_out import cap_sender
    from lockdown.incidents.config import IncidentConfig

    public = IncidentConfig(playbooks={}, public_url="https://lockdown.liverpool.ac.uk")
    assert cap_sender(public) == "lockdown.liverpool.ac.uk"
    assert cap_sender(IncidentConfig(playbooks={}, public_url="https://u:pw@Lockdown.example:8443/x")) == (
        "lockdown.example:8443"
    )
    assert cap_sender(IncidentConfig(playbooks={}, cap_sender="alerts@liverpool.ac.uk")) == "alerts@liverpool.ac.uk"
