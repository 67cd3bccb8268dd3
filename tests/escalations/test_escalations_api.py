"""Escalations through the API, role by role: who files, reads, lists, declares and closes, and
what bad input and a double declaration are answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.store.audit import list_entries
from lockdown.store.context import Context
from tests.conftest import Login, count_rows


@pytest.fixture
def account(register: Callable[..., dict[str, Any]], manager: Login) -> dict[str, Any]:
    return register(manager)


@pytest.fixture
def editor(make_user: Callable[..., Login], client: FlaskClient, ermc: Login, account: dict[str, Any]) -> Login:
    """A user named as an editor on the account (a manager of nothing here)."""
    person = make_user("manager")
    response = client.patch(f"/api/v1/accounts/{account['id']}", json={"editors": [person.email]}, headers=ermc.headers)
    assert response.status_code == 200, response.json
    return person


def file(client: FlaskClient, who: Login, **body: Any) -> Any:
    payload = {"kind": "hacked", "details": "It posted crypto adverts at 02:00", **body}
    return client.post("/api/v1/escalations", json=payload, headers=who.headers)


@pytest.mark.parametrize("role", ["editor", "manager", "press", "ermc"])
def test_anyone_signed_in_files_a_report_and_ermc_is_told_by_kind_and_link_only(
    role: str, request: pytest.FixtureRequest, client: FlaskClient, ctx: Context, account: dict[str, Any],
    ermc: Login,
) -> None:  # fmt: skip
    who: Login = request.getfixturevalue(role)
    response = file(client, who, account_id=account["id"])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "open"
    assert body["account"]["id"] == account["id"]
    assert body["reporter"] == who.email
    notices = ctx.db.conn.execute(
        "SELECT recipient, subject, body FROM notifications WHERE event = 'escalation_filed'"
    ).fetchall()
    assert [n[0] for n in notices] == [ermc.email]
    _recipient, subject, text = notices[0]
    assert "hacked account" in subject
    assert f"/escalations/{body['id']}" in text
    assert "crypto" not in subject + text
    assert account["handle"] not in subject + text


def test_a_stranger_without_a_token_files_nothing(client: FlaskClient, ctx: Context) -> None:
    response = client.post("/api/v1/escalations", json={"kind": "other", "url": "https://x.example", "details": "d"})
    assert response.status_code == 401
    assert client.get("/api/v1/escalations").status_code == 401
    assert client.get("/api/v1/escalations/1").status_code == 401
    assert count_rows(ctx, "escalations") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nonsense", "url": "https://x.example/1"}, "kind"),
        ({"kind": "other"}, "url"),
        ({"kind": "other", "url": "https://x.example/1", "account_id": "ACCOUNT"}, "account_id"),
        ({"kind": "other", "url": "ftp://x.example/1"}, "url"),
        ({"kind": "other", "url": "javascript:alert(1)"}, "url"),
        ({"kind": "other", "url": "https://user:pw@x.example/"}, "url"),
        ({"kind": "other", "url": "https:///nohost"}, "url"),
        ({"kind": "other", "url": "https://x.example/a b"}, "url"),
        ({"kind": "other", "url": "https://x.example/" + "a" * 2001}, "url"),
        ({"kind": "other", "account_id": 999999}, "account_id"),
        ({"kind": "other", "account_id": True}, "account_id"),
        ({"kind": "other", "url": "https://x.example/1", "details": "   "}, "details"),
        ({"kind": "other", "url": "https://x.example/1", "details": "x" * 4001}, "details"),
        ({"kind": "other", "url": "https://x.example/1", "details": None}, "details"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    body: dict[str, Any], field: str, client: FlaskClient, ctx: Context, manager: Login, account: dict[str, Any]
) -> None:
    payload = {"details": "seen on my feed", **body}
    if payload.get("account_id") == "ACCOUNT":
        payload["account_id"] = account["id"]
    before = count_rows(ctx, "audit_log")
    response = client.post("/api/v1/escalations", json=payload, headers=manager.headers)
    assert response.status_code in (400, 422), response.json
    assert response.json["error"]["field"] == field, response.json
    assert count_rows(ctx, "escalations") == 0
    assert count_rows(ctx, "audit_log") == before


def test_an_archived_account_cannot_be_reported_by_id(
    client: FlaskClient, ermc: Login, manager: Login, account: dict[str, Any]
) -> None:
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=ermc.headers).status_code in (200, 204)
    response = file(client, manager, account_id=account["id"])
    assert response.status_code == 400
    assert response.json["error"]["field"] == "account_id"


@pytest.fixture
def report(client: FlaskClient, manager: Login) -> dict[str, Any]:
    """A welfare concern filed by a manager about content elsewhere."""
    response = file(
        client, manager, kind="welfare_concern", url="https://social.example/@student/9", details="worrying post"
    )
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


@pytest.mark.parametrize("role", ["editor", "press", "other_manager"])
def test_only_ermc_and_the_reporter_read_a_report_others_get_404(
    role: str, request: pytest.FixtureRequest, client: FlaskClient, make_user: Callable[..., Login],
    report: dict[str, Any], manager: Login, ermc: Login,
) -> None:  # fmt: skip
    who = make_user("manager") if role == "other_manager" else request.getfixturevalue(role)
    assert client.get(f"/api/v1/escalations/{report['id']}", headers=ermc.headers).json["details"] == "worrying post"
    assert client.get(f"/api/v1/escalations/{report['id']}", headers=manager.headers).status_code == 200
    seen = client.get(f"/api/v1/escalations/{report['id']}", headers=who.headers)
    missing = client.get("/api/v1/escalations/424242", headers=who.headers)
    assert seen.status_code == missing.status_code == 404
    assert seen.json["error"]["code"] == "not_found"
    assert report["id"] not in [
        item["id"] for item in client.get("/api/v1/escalations", headers=who.headers).json["items"]
    ]


def test_the_ermc_queue_lists_open_first_with_ages_and_filters_by_state(
    client: FlaskClient, ctx: Context, ermc: Login, manager: Login, press: Login
) -> None:
    ids = [
        file(client, manager, kind="other", url=f"https://x.example/{n}", details=f"d{n}").json["id"] for n in range(3)
    ]
    assert (
        client.post(
            f"/api/v1/escalations/{ids[0]}/close", json={"reason": "not ours"}, headers=ermc.headers
        ).status_code
        == 200
    )
    queue = client.get("/api/v1/escalations", headers=ermc.headers).json
    assert [item["id"] for item in queue["items"]] == [ids[1], ids[2], ids[0]]
    assert all(isinstance(item["age_seconds"], int) for item in queue["items"])
    assert [i["id"] for i in client.get("/api/v1/escalations?state=open", headers=ermc.headers).json["items"]] == ids[
        1:
    ]
    assert [i["id"] for i in client.get("/api/v1/escalations?state=closed", headers=ermc.headers).json["items"]] == ids[
        :1
    ]
    paged = client.get("/api/v1/escalations?limit=2", headers=ermc.headers).json
    assert [i["id"] for i in paged["items"]] == ids[1:]
    rest = client.get(f"/api/v1/escalations?limit=2&cursor={paged['next']}", headers=ermc.headers).json
    assert [i["id"] for i in rest["items"]] == ids[:1]
    assert rest["next"] is None
    # The reporter lists their own; press, who filed none, lists none.
    assert len(client.get("/api/v1/escalations", headers=manager.headers).json["items"]) == 3
    assert client.get("/api/v1/escalations", headers=press.headers).json["items"] == []
    assert client.get("/api/v1/escalations?state=nonsense", headers=ermc.headers).status_code == 400


def test_press_declares_from_a_report_one_incident_and_a_second_declare_is_409(
    client: FlaskClient, ctx: Context, press: Login, ermc: Login, manager: Login, account: dict[str, Any]
) -> None:
    report = file(client, manager, account_id=account["id"]).json
    response = client.post(f"/api/v1/escalations/{report['id']}/declare", headers=press.headers)
    assert response.status_code == 201, response.json
    incident = response.json
    assert incident["playbook"] == "compromised-account"
    assert "details" not in incident
    again = client.post(f"/api/v1/escalations/{report['id']}/declare", headers=press.headers)
    assert again.status_code == 409
    assert count_rows(ctx, "incidents") == 1
    seen = client.get(f"/api/v1/escalations/{report['id']}", headers=ermc.headers).json
    assert (seen["state"], seen["closed_as"], seen["incident_id"]) == ("closed", "declared", incident["id"])
    hold = client.get(f"/api/v1/accounts/{account['id']}/hold", headers=press.headers).json
    assert hold["held"] is True
    # Neither the incident nor the audit trail carries the report's words.
    full = client.get(f"/api/v1/incidents/{incident['id']}", headers=manager.headers).json
    assert "crypto" not in str(full)
    entries = [e for e in list_entries(ctx.db, limit=1000) if e["subject"] == f"escalation:{report['id']}"]
    assert [e["action"] for e in entries] == ["escalation.file", "escalation.declare"]
    assert "crypto" not in str(entries)


@pytest.mark.parametrize("role", ["editor", "manager", "ermc"])
def test_only_press_declares(
    role: str, request: pytest.FixtureRequest, client: FlaskClient, ctx: Context, manager: Login,
    account: dict[str, Any],
) -> None:  # fmt: skip
    who: Login = request.getfixturevalue(role)
    report = file(client, manager, account_id=account["id"]).json
    assert client.post(f"/api/v1/escalations/{report['id']}/declare", headers=who.headers).status_code == 403
    # The same answer for an id that does not exist: no probing by role.
    assert client.post("/api/v1/escalations/424242/declare", headers=who.headers).status_code == 403
    assert count_rows(ctx, "incidents") == 0


def test_declaring_from_an_address_is_refused_clearly(
    client: FlaskClient, press: Login, report: dict[str, Any]
) -> None:
    response = client.post(f"/api/v1/escalations/{report['id']}/declare", headers=press.headers)
    assert response.status_code == 422
    assert "no account to hold" in response.json["error"]["message"]
    assert client.post("/api/v1/escalations/424242/declare", headers=press.headers).status_code == 404


@pytest.mark.parametrize("role", ["editor", "manager", "press"])
def test_only_ermc_closes(
    role: str, request: pytest.FixtureRequest, client: FlaskClient, report: dict[str, Any], ermc: Login
) -> None:
    who: Login = request.getfixturevalue(role)
    assert (
        client.post(f"/api/v1/escalations/{report['id']}/close", json={"reason": "x"}, headers=who.headers).status_code
        == 403
    )
    assert client.get(f"/api/v1/escalations/{report['id']}", headers=ermc.headers).json["state"] == "open"


def test_ermc_closes_with_a_reason_once_and_the_audit_keeps_no_words(
    client: FlaskClient, ctx: Context, ermc: Login, report: dict[str, Any], press: Login
) -> None:
    path = f"/api/v1/escalations/{report['id']}/close"
    missing = client.post(path, json={}, headers=ermc.headers)
    assert missing.status_code == 400
    assert missing.json["error"]["field"] == "reason"
    blank = client.post(path, json={"reason": "  "}, headers=ermc.headers)
    assert blank.status_code == 400
    assert blank.json["error"]["field"] == "reason"
    done = client.post(path, json={"reason": "passed to student services"}, headers=ermc.headers)
    assert done.status_code == 200
    assert done.json["closed_as"] == "dismissed"
    assert client.post(path, json={"reason": "again"}, headers=ermc.headers).status_code == 409
    assert client.post(f"/api/v1/escalations/{report['id']}/declare", headers=press.headers).status_code == 422
    entries = [e for e in list_entries(ctx.db, limit=1000) if e["subject"] == f"escalation:{report['id']}"]
    assert [e["action"] for e in entries] == ["escalation.file", "escalation.close"]
    text = str(entries)
    assert "student services" not in text
    assert "worrying" not in text
    assert "social.example" not in text
