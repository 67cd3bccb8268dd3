"""CAP in (issue 19): alerts from the campus alerting system become proposed declarations that
press confirms or dismisses; the schema refuses invalid and hostile XML; roles; idempotency;
Exercise, Test, Cancel and ``declare_from_cap``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.app import create_app
from lockdown.incidents.config import incident_config
from lockdown.settings import DEFAULT_PLAYBOOKS, Settings, SettingsError
from lockdown.store.audit import list_entries
from lockdown.store.context import Context
from tests.conftest import Login, count_rows

SPECS = Path(__file__).resolve().parents[1] / "specs"
EXAMPLE = (SPECS / "cap-example-thunderstorm.xml").read_bytes()
CAP = {"Content-Type": "application/cap+xml"}


def alert(
    identifier: str = "LIV-1", *, sender: str = "rave@livuni.ac.uk", status: str = "Actual", msg_type: str = "Alert",
    event: str = "Fire", severity: str = "Extreme", headline: str | None = "Fire in the Chemistry building",
    references: str | None = None, info: bool = True,
) -> bytes:  # fmt: skip
    """A CAP 1.2 alert as a campus system would send it."""
    refs = f"<references>{references}</references>" if references else ""
    block = (
        f"<info><category>Fire</category><event>{event}</event><urgency>Immediate</urgency>"
        f"<severity>{severity}</severity><certainty>Observed</certainty>"
        + (f"<headline>{headline}</headline>" if headline else "")
        + "<description>Leave the building by the nearest exit.</description>"
        "<area><areaDesc>Chemistry building, Crown Street</areaDesc></area></info>"
        if info
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>{sender}</sender><sent>2026-11-29T02:00:00+00:00</sent>"
        f"<status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}{block}</alert>"
    ).encode()


@pytest.fixture
def rave(make_user: Callable[..., Login]) -> Login:
    return make_user("alerting", email="rave@livuni.ac.uk")


def post(client: FlaskClient, who: Login, body: bytes, content_type: str = "application/cap+xml") -> Any:
    return client.post("/api/v1/cap", data=body, headers={**who.headers, "Content-Type": content_type})


def test_the_example_alert_becomes_a_proposal_press_is_told_and_nothing_is_held(
    client: FlaskClient, ctx: Context, rave: Login, press: Login
) -> None:
    response = post(client, rave, EXAMPLE)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["playbook"] == "live-incident"  # no rule: the default
    assert body["state"] == "proposed"
    assert count_rows(ctx, "incidents") == 0
    notices = ctx.db.conn.execute("SELECT recipient, subject, body FROM notifications WHERE event = 'cap_proposed'")
    (recipient, subject, text), *rest = notices.fetchall()
    assert not rest
    assert recipient == press.email
    assert "SEVERE THUNDERSTORM WARNING" in subject
    assert f"/cap/proposals/{body['proposal_id']}" in text
    shown = client.get(f"/api/v1/cap/proposals/{body['proposal_id']}", headers=press.headers).json
    assert shown["headline"] == "SEVERE THUNDERSTORM WARNING"
    assert shown["severity"] == "Severe"
    assert "TUOLUMNE" in shown["area"]
    assert shown["identifier"] == "KSTO1055887203"
    assert isinstance(shown["accounts"], int)
    assert [e["action"] for e in list_entries(ctx.db) if e["action"].startswith("cap.")] == ["cap.receive"]


def test_the_mapping_setting_chooses_the_playbook_first_match_wins(tmp_path: Path, make_app: Any) -> None:
    client, rave = make_app("event:Fire=severe-weather,severity:Extreme=exercise,event:Severe Thunderstorm=exercise")
    assert post(client, rave, alert("A1")).json["playbook"] == "severe-weather"
    assert post(client, rave, alert("A2", event="Flood")).json["playbook"] == "exercise"
    assert post(client, rave, alert("A3", event="Flood", severity="Minor")).json["playbook"] == "live-incident"
    assert post(client, rave, EXAMPLE).json["playbook"] == "exercise"  # events without case


@pytest.fixture
def make_app(tmp_path: Path, settings: Settings) -> Callable[..., tuple[FlaskClient, Login]]:
    def make(mapping: str, playbooks: Path | None = None) -> tuple[FlaskClient, Login]:
        from lockdown.people.users import add_user
        from lockdown.store import audit
        from lockdown.store.db import connect
        from tests.conftest import SECRET, VAULT_KEY

        env = {"LOCKDOWN_DB": str(tmp_path / "m.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY,
               "LOCKDOWN_CAP_PLAYBOOKS": mapping}  # fmt: skip
        if playbooks is not None:
            env["LOCKDOWN_PLAYBOOKS"] = str(playbooks)
        app = create_app(Settings.from_env(env))
        db = connect(tmp_path / "m.db")
        ctx = Context(db, audit.audit_key(SECRET.encode()))
        user, token = add_user(ctx, "t", name="Rave", email="rave@livuni.ac.uk", roles=["alerting"])
        add_user(ctx, "t", name="Priya", email="priya@livuni.ac.uk", roles=["press"])
        db.close()
        return app.test_client(), Login(user, token)

    return make


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ("event:Fire", "is not event:<event>=<playbook>"),
        ("colour:Red=live-incident", "must start with event:, severity: or default"),
        ("severity:Awful=live-incident", "is not a CAP severity"),
    ],
)
def test_a_malformed_mapping_is_refused_naming_the_variable(mapping: str, says: str) -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_CAP_PLAYBOOKS") as caught:
        Settings.from_env({"LOCKDOWN_CAP_PLAYBOOKS": mapping})
    assert says in str(caught.value)


@pytest.mark.parametrize("mapping", ["event:Fire=no-such", "default=compromised-account", "default=standby-promotion"])
def test_a_mapping_to_a_playbook_that_cannot_be_declared_from_cap_refuses_to_start(mapping: str) -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_CAP_PLAYBOOKS"):
        incident_config(Settings.from_env({"LOCKDOWN_CAP_PLAYBOOKS": mapping}))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (alert().replace(b"<sender>rave@livuni.ac.uk</sender>", b""), "Tag 'cap:sender' expected"),
        (alert(status="Maybe"), "value must be one of ['Actual', 'Exercise'"),
        (alert().replace(b"2026-11-29T02:00:00+00:00", b"yesterday"), "(at /alert/sent)"),
        (b"<alert", "invalid XML syntax"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "not an element of the schema"),
    ],
)
def test_an_invalid_alert_is_refused_with_the_schemas_message(
    client: FlaskClient, ctx: Context, rave: Login, body: bytes, says: str
) -> None:
    response = post(client, rave, body)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["field"] == "alert"
    assert says in error["message"]
    assert count_rows(ctx, "cap_proposals") == 0


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol4;</identifier></alert>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>'
)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_hostile_xml_is_refused_before_any_entity_is_expanded(
    client: FlaskClient, ctx: Context, rave: Login, body: bytes
) -> None:
    response = post(client, rave, body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == "alert"
    assert "forbidden" in response.json["error"]["message"].lower()
    assert "root:" not in response.get_data(as_text=True)
    assert count_rows(ctx, "cap_proposals") == 0


def test_only_the_alerting_role_posts_and_only_xml(
    client: FlaskClient, press: Login, ermc: Login, manager: Login, rave: Login
) -> None:
    for who in (press, ermc, manager):
        assert post(client, who, alert()).status_code == 403
    assert client.post("/api/v1/cap", data=alert(), headers=CAP).status_code == 401
    refused = post(client, rave, alert(), content_type="text/plain")
    assert refused.status_code == 415
    assert "application/cap+xml" in refused.json["error"]["message"]
    assert post(client, rave, alert(), content_type="application/xml").status_code == 201


def test_a_repeated_alert_is_the_same_proposal(client: FlaskClient, ctx: Context, rave: Login, press: Login) -> None:
    first = post(client, rave, alert())
    again = post(client, rave, alert())
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json == first.json
    assert count_rows(ctx, "cap_proposals") == 1
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM notifications WHERE event = 'cap_proposed'").fetchone()[0] == 1
    # Another sender's alert of the same identifier is another alert.
    other = post(client, rave, alert(sender="everbridge@livuni.ac.uk"))
    assert other.status_code == 201
    assert other.json["proposal_id"] != first.json["proposal_id"]


def test_only_press_declares_and_a_declared_proposal_is_held_once(
    client: FlaskClient, ctx: Context, rave: Login, press: Login, ermc: Login
) -> None:
    proposal = post(client, rave, alert()).json["proposal_id"]
    for who in (rave, ermc):
        assert client.post(f"/api/v1/cap/proposals/{proposal}/declare", headers=who.headers).status_code == 403
    assert client.get("/api/v1/cap/proposals", headers=rave.headers).status_code == 403
    listed = client.get("/api/v1/cap/proposals", headers=press.headers).json["items"]
    assert [p["id"] for p in listed] == [proposal]
    declared = client.post(f"/api/v1/cap/proposals/{proposal}/declare", headers=press.headers)
    assert declared.status_code == 201, declared.json
    incident = client.get(f"/api/v1/incidents/{declared.json['incident_id']}", headers=press.headers).json
    assert incident["status"] == "active"
    assert incident["title"] == "Fire in the Chemistry building"
    assert incident["playbook"] == "live-incident"
    again = client.post(f"/api/v1/cap/proposals/{proposal}/declare", headers=press.headers)
    assert again.status_code == 409
    assert count_rows(ctx, "incidents") == 1
    actions = [e["action"] for e in list_entries(ctx.db)]
    assert "cap.declare" in actions
    assert "incident.declare" in actions


def test_press_dismisses_with_a_reason(client: FlaskClient, ctx: Context, rave: Login, press: Login) -> None:
    proposal = post(client, rave, alert()).json["proposal_id"]
    url = f"/api/v1/cap/proposals/{proposal}/dismiss"
    assert client.post(url, json={}, headers=press.headers).status_code == 400
    assert client.post(url, json={"reason": "a drill"}, headers=rave.headers).status_code == 403
    done = client.post(url, json={"reason": "The fire brigade says it is a false alarm"}, headers=press.headers)
    assert done.status_code == 200, done.json
    assert done.json["state"] == "dismissed"
    assert client.post(f"/api/v1/cap/proposals/{proposal}/declare", headers=press.headers).status_code == 409
    assert count_rows(ctx, "incidents") == 0


def test_an_exercise_proposes_the_exercise_playbook(client: FlaskClient, rave: Login, press: Login) -> None:
    body = post(client, rave, alert(status="Exercise")).json
    assert body["playbook"] == "exercise"
    declared = client.post(f"/api/v1/cap/proposals/{body['proposal_id']}/declare", headers=press.headers).json
    incident = client.get(f"/api/v1/incidents/{declared['incident_id']}", headers=press.headers).json
    assert incident["exercise"] is True


@pytest.mark.parametrize("status", ["Test", "Draft", "System"])
def test_test_draft_and_system_alerts_are_recorded_not_proposed(
    client: FlaskClient, ctx: Context, rave: Login, press: Login, status: str
) -> None:
    response = post(client, rave, alert(status=status))
    assert response.status_code == 201
    body = response.json
    assert body["state"] == "recorded"
    assert body["playbook"] is None
    assert "not proposed" in body["message"]
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM notifications WHERE event = 'cap_proposed'").fetchone()[0] == 0
    declared = client.post(f"/api/v1/cap/proposals/{body['proposal_id']}/declare", headers=press.headers)
    assert declared.status_code == 409


def test_a_cancel_of_an_alert_that_led_to_an_incident_proposes_its_resolution(
    client: FlaskClient, ctx: Context, rave: Login, press: Login
) -> None:
    proposal = post(client, rave, alert("LIV-7")).json["proposal_id"]
    incident_id = client.post(f"/api/v1/cap/proposals/{proposal}/declare", headers=press.headers).json["incident_id"]
    cancel = post(client, rave, alert("LIV-8", msg_type="Cancel",
                                      references="rave@livuni.ac.uk,LIV-7,2026-11-29T02:00:00+00:00"))  # fmt: skip
    assert cancel.status_code == 201, cancel.json
    assert cancel.json["kind"] == "resolve"
    assert cancel.json["incident_id"] == incident_id
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=press.headers).json["status"] == "active"
    resolved = client.post(f"/api/v1/cap/proposals/{cancel.json['proposal_id']}/declare", headers=press.headers)
    assert resolved.status_code == 201, resolved.json
    assert resolved.json["kind"] == "resolve"
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=press.headers).json["status"] == "resolved"


def test_a_cancel_of_a_waiting_proposal_withdraws_it(client: FlaskClient, rave: Login, press: Login) -> None:
    proposal = post(client, rave, alert("LIV-9")).json["proposal_id"]
    cancel = post(client, rave, alert("LIV-10", msg_type="Cancel", info=False,
                                      references="rave@livuni.ac.uk,LIV-9,2026-11-29T02:00:00+00:00"))  # fmt: skip
    assert cancel.json["state"] == "recorded"
    shown = client.get(f"/api/v1/cap/proposals/{proposal}", headers=press.headers).json
    assert shown["state"] == "cancelled"


def test_declare_from_cap_declares_at_once(tmp_path: Path, make_app: Any) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_PLAYBOOKS, folder)
    weather = folder / "severe-weather.toml"
    weather.write_text("declare_from_cap = true\n" + weather.read_text())
    client, rave = make_app("event:Severe Thunderstorm=severe-weather", folder)
    body = post(client, rave, EXAMPLE).json
    assert body["state"] == "declared"
    assert body["playbook"] == "severe-weather"
    assert isinstance(body["incident_id"], int)
    assert "declare_from_cap" in body["message"]
