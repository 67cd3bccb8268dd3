"""The console's credential pages: deposits and rotation for managers, access sessions and
reveals for the press team."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lockdown.people.users import user_by_email
from lockdown.timeutil import parse_iso
from lockdown.vault.credentials import deposit
from tests.console.console_kit import ERMC, MANAGER, PRESS, PRESS_2, Site, form_post, make_site, signed_in, token_of

CHEM = 2
PASSWORD_OF_CHEM = "correct horse battery staple 42"
SEED = pyotp.random_base32()
SESSION = "/credentials/sessions/1"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Every hour is out of hours, so the press team may open a session at any time the test runs."""
    yield from make_site(tmp_path, extra_env={"LOCKDOWN_OFFICE_HOURS": "none"})


@pytest.fixture
def office_site(tmp_path: Path) -> Iterator[Site]:
    """Office hours Mon-Fri 09:00-17:00 (the default)."""
    yield from make_site(tmp_path)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def deposited(site: Site) -> None:
    dan = user_by_email(site.ctx.db, MANAGER)
    data = {"username": "chem-login", "password": PASSWORD_OF_CHEM, "totp_secret": SEED}
    deposit(site.ctx, site.vault, dan, CHEM, data)


def open_session(client: FlaskClient, **fields: str) -> TestResponse:
    data = {"justification": "The account posts spam", "account_ids": str(CHEM), "incident_id": "", "minutes": "60"}
    response: TestResponse = form_post(client, "/credentials", "/credentials/sessions", {**data, **fields})
    return response


def test_a_manager_deposits_and_sees_the_rotation_status_but_never_the_secret(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    before = page(dan, "/credentials")
    assert before.count("No password is deposited yet.") == 3
    assert 'type="password" id="password-2" name="password" required maxlength="1000" autocomplete="new-password"' in (
        before
    )
    secret = {"username": "chem-login-name", "password": PASSWORD_OF_CHEM, "totp_secret": SEED,
              "notes": "recovery codes in the safe", "reason": ""}  # fmt: skip
    done = form_post(dan, "/credentials", f"/credentials/accounts/{CHEM}/deposit", secret)
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/credentials#account-2")
    after = page(dan, "/credentials")
    assert "Version 1 of the password of @livuni_chem is deposited." in after
    assert "Up to date" in after
    assert "dan@livuni.ac.uk (deposited)" in after
    for value in secret.values():
        if value:
            assert value not in after, "the page shows facts about the password, never the password"
    assert "No password is due for a change." in after

    refused = form_post(dan, "/credentials", f"/credentials/accounts/{CHEM}/deposit", {"username": "u", "password": ""})
    assert "Password is required and must not be blank" in page(dan, refused.headers["Location"])


def test_press_opens_a_session_reveals_a_password_once_and_closes_it(site: Site) -> None:
    deposited(site)
    priya = signed_in(site, PRESS)
    form = page(priya, "/credentials")
    assert 'id="session-account-2"' in form
    assert "Out of office hours (no incident)" in form
    opened = open_session(priya)
    assert opened.status_code == 302
    assert opened.headers["Location"] == SESSION
    session_page = page(priya, SESSION)
    assert "Access session 1 is open until" in session_page
    assert "The account posts spam" in session_page
    assert "Reveal password" in session_page
    listed = page(priya, "/credentials")
    assert f'<a href="{SESSION}">Session 1</a>' in listed, "an open session is found again from the page"

    revealed = priya.post(f"{SESSION}/reveal", data={"csrf_token": token_of(session_page), "account_id": str(CHEM)})
    assert revealed.status_code == 200
    assert revealed.headers["Cache-Control"] == "no-store"
    body = revealed.get_data(as_text=True)
    assert f"<code data-secret>{PASSWORD_OF_CHEM}</code>" in body
    assert "<code data-secret>chem-login</code>" in body
    now = datetime.now(UTC)
    codes = {pyotp.TOTP(SEED).at(now + timedelta(seconds=step)) for step in (-30, 0, 30)}
    assert re.search(r"<code data-secret>(\d{6})</code>", body).group(1) in codes  # type: ignore[union-attr]
    timer = re.search(r'<p id="countdown" data-expires="([^"]+)" data-remaining="(\d+)" role="timer"', body)
    assert timer, "a visible countdown to the session's end"
    assert abs(parse_iso(timer.group(1)) - (now + timedelta(minutes=60))) < timedelta(minutes=1)
    assert 3500 < int(timer.group(2)) <= 3600
    assert re.search(r"Session ends in <span data-left>(\d:)?\d\d:\d\d</span>, at \d\d:\d\d\.", body)
    assert '<script src="/console-static/countdown.js" defer></script>' in body
    script = priya.get("/console-static/countdown.js")
    assert script.status_code == 200
    assert "Session expired" in script.get_data(as_text=True)
    script.close()

    closed = form_post(priya, SESSION, f"{SESSION}/close", {})
    assert closed.status_code == 302
    after = page(priya, SESSION)
    assert "Access session 1 is closed." in after
    assert "Reveal password" not in after
    assert "Your open sessions" not in page(priya, "/credentials")
    again = priya.post(f"{SESSION}/reveal", data={"csrf_token": token_of(after), "account_id": str(CHEM)})
    assert again.status_code == 409
    assert "Access session 1 is closed (closed by its owner); open a new one" in again.get_data(as_text=True)
    assert PASSWORD_OF_CHEM not in again.get_data(as_text=True)

    dan = signed_in(site, MANAGER)
    rotation = page(dan, "/credentials")
    assert "Change it now" in rotation
    assert "revealed · by priya@livuni.ac.uk · session id 1" in rotation
    assert PASSWORD_OF_CHEM not in rotation


def test_a_press_officer_cannot_see_or_use_another_officers_session(site: Site) -> None:
    deposited(site)
    open_session(signed_in(site, PRESS))
    omar = signed_in(site, PRESS_2)
    assert omar.get(SESSION).status_code == 404
    assert "Your open sessions" not in page(omar, "/credentials"), "only one's own sessions are listed"
    token = token_of(page(omar, "/credentials"))
    stolen = omar.post(f"{SESSION}/reveal", data={"csrf_token": token, "account_id": str(CHEM)})
    assert stolen.status_code == 404
    assert PASSWORD_OF_CHEM not in stolen.get_data(as_text=True)


def test_in_office_hours_a_session_is_refused_with_when_it_opens_unless_an_incident_is_the_grounds(
    office_site: Site,
) -> None:
    priya = signed_in(office_site, PRESS)
    # Wednesday 4 March 2026, 11:00 in London: inside office hours, and not a bank holiday.
    state = office_site.app.extensions["lockdown"]
    office_site.app.extensions["lockdown"] = dataclasses.replace(
        state, clock=lambda: datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
    )
    refused = open_session(priya, justification="Need it for the live incident")
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "within office hours" in text
    assert "out-of-hours sessions open at 17:00 on Wednesday" in text
    assert "Need it for the live incident" in text, "what was typed is kept"

    press = {"Authorization": f"Bearer {office_site.tokens[PRESS]}"}
    api = office_site.app.test_client()
    assert api.post("/api/v1/incidents", json={"title": "Fire", "reason": "R"}, headers=press).status_code == 201
    assert "Incident 1: Fire" in page(priya, "/credentials")
    opened = open_session(priya, incident_id="1")
    assert opened.status_code == 302
    assert "incident 1" in page(priya, SESSION)


def test_only_the_press_team_opens_sessions(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    refused = open_session(dan)
    assert refused.status_code == 403
    assert "This needs the press role" in refused.get_data(as_text=True)
    assert "Open an access session" not in page(dan, "/credentials")


def test_a_session_form_without_its_csrf_token_is_refused(site: Site) -> None:
    priya = signed_in(site, PRESS)
    refused = priya.post("/credentials/sessions", data={"justification": "J", "account_ids": "2"})
    assert refused.status_code == 400
    assert priya.get(SESSION).status_code == 404


def test_ermc_sees_and_may_deposit_for_every_account(site: Site) -> None:
    deposited(site)
    ruth = signed_in(site, ERMC)
    view = page(ruth, "/credentials")
    assert "Every account's password" in view
    assert view.count("Deposit a new password") == 3
    assert 'id="account-2"' in view
    assert PASSWORD_OF_CHEM not in view


def in_office_hours(site: Site) -> None:
    """Wednesday 4 March 2026, 11:00 in London: inside office hours, and not a bank holiday."""
    state = site.app.extensions["lockdown"]
    site.app.extensions["lockdown"] = dataclasses.replace(state, clock=lambda: datetime(2026, 3, 4, 11, 0, tzinfo=UTC))


def declare(site: Site, playbook: str) -> int:
    press = {"Authorization": f"Bearer {site.tokens[PRESS_2]}"}
    body = {"title": "Drill" if playbook == "exercise" else "Fire", "reason": "R", "playbook": playbook}
    response = site.app.test_client().post("/api/v1/incidents", json=body, headers=press)
    assert response.status_code == 201, response.json
    incident_id: int = response.json["id"]
    return incident_id


def test_a_drill_is_not_offered_as_grounds_and_naming_it_is_refused(office_site: Site) -> None:
    priya = signed_in(office_site, PRESS)  # before the clock moves: the authenticator code is for now
    in_office_hours(office_site)
    drill = declare(office_site, "exercise")
    form = page(priya, "/credentials")
    assert f'<option value="{drill}"' not in form, "an exercise is no grounds for real credentials"
    implicit = open_session(priya, justification="Practising the drill")
    assert implicit.status_code == 403
    assert f"incident {drill} is an exercise" in implicit.get_data(as_text=True)
    named = open_session(priya, justification="Practising the drill", incident_id=str(drill))
    assert named.status_code == 422
    text = named.get_data(as_text=True)
    assert f"incident {drill} is an exercise" in text
    assert "Practising the drill" in text, "what was typed is kept"
    assert priya.get(SESSION).status_code == 404


def test_a_session_on_an_incident_ends_with_it_and_says_so(office_site: Site) -> None:
    deposited(office_site)
    priya = signed_in(office_site, PRESS)
    in_office_hours(office_site)
    incident = declare(office_site, "live-incident")
    assert open_session(priya, incident_id=str(incident)).status_code == 302
    session_page = page(priya, SESSION)
    assert "Reveal password" in session_page
    press = {"Authorization": f"Bearer {office_site.tokens[PRESS_2]}"}
    api = office_site.app.test_client()
    assert api.post(f"/api/v1/incidents/{incident}/resolve", json={}, headers=press).status_code == 200
    after = page(priya, SESSION)
    assert f"(incident {incident} resolved)" in after
    assert "Reveal password" not in after
    refused = priya.post(f"{SESSION}/reveal", data={"csrf_token": token_of(after), "account_id": str(CHEM)})
    assert refused.status_code == 409
    assert f"Access session 1 is closed (incident {incident} resolved)" in refused.get_data(as_text=True)
    assert PASSWORD_OF_CHEM not in refused.get_data(as_text=True)


def test_a_manager_deposits_an_80_bit_seed_and_is_told_it_is_short(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    secret = {"username": "chem-login", "password": PASSWORD_OF_CHEM, "totp_secret": "JBSWY3DPEHPK3PXP"}
    form_post(dan, "/credentials", f"/credentials/accounts/{CHEM}/deposit", secret)
    after = page(dan, "/credentials")
    assert "Version 1 of the password of @livuni_chem is deposited." in after
    assert "Yes (an 80-bit seed, shorter than the 112 bits now recommended" in after
