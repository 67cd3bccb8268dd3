"""The console through the Flask test client (over https, as its cookies are Secure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from lockdown.app import create_app
from lockdown.settings import Settings
from tests.console.console_kit import PRESS, browser, make_site, sign_in, token_of


@pytest.fixture
def site(tmp_path: Path) -> Any:
    for made in make_site(tmp_path):
        yield made.app, made.totp[PRESS]


def test_pages_need_signing_in(site: Any) -> None:
    app, _ = site
    response = browser(app).get("/my-accounts")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_a_press_officer_signs_in_with_a_code_and_declares_after_confirming(site: Any) -> None:
    app, totp = site
    client = browser(app)
    refused = sign_in(client, "priya@livuni.ac.uk", code="000000" if totp.now() != "000000" else "111111")
    assert refused.status_code == 401
    assert "authenticator code" in refused.get_data(as_text=True)
    assert sign_in(client, "priya@livuni.ac.uk", code=totp.now()).status_code == 302
    cookie = next(c for c in client._cookies.values() if c.key == "session")  # type: ignore[attr-defined]
    assert cookie.secure
    assert cookie.http_only
    page = client.get("/").get_data(as_text=True)
    assert "No active incident" in page
    assert "Live incident (3 accounts)" in page
    form = {"csrf_token": token_of(page), "playbook": "live-incident", "title": "Fire", "reason": "Reported 02:10"}
    confirm = client.post("/declare", data=form).get_data(as_text=True)
    assert "3 accounts will be held" in confirm
    done = client.post("/declare", data={**form, "confirmed": "yes", "csrf_token": token_of(confirm)})
    assert done.status_code == 302
    incident_page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Incident 1: Fire" in incident_page
    assert "Incident 1: Fire" in client.get("/").get_data(as_text=True), "the banner"


def test_a_manager_sees_the_hold_and_acknowledges(site: Any) -> None:
    app, totp = site
    press = browser(app)
    sign_in(press, "priya@livuni.ac.uk", code=totp.now())
    page = press.get("/").get_data(as_text=True)
    form = {
        "csrf_token": token_of(page),
        "playbook": "live-incident",
        "title": "Fire",
        "reason": "R",
        "confirmed": "yes",
    }
    press.post("/declare", data=form)
    manager = browser(app)
    assert sign_in(manager, "dan@livuni.ac.uk").status_code == 302
    mine = manager.get("/my-accounts").get_data(as_text=True)
    assert mine.count('<span class="state">HELD</span>') == 3
    assert mine.count("Acknowledge incident 1</button>") == 1, "one acknowledgement per incident, not per account"
    assert "Holds 3 of your accounts" in mine
    acked = manager.post("/incidents/1/ack", data={"csrf_token": token_of(mine)})
    assert acked.status_code == 302
    mine = manager.get("/my-accounts").get_data(as_text=True)
    assert "You acknowledged at" in mine
    assert "Acknowledge incident 1</button>" not in mine
    incident = press.get("/incidents/1").get_data(as_text=True)
    assert "Acknowledged 1 of 1" in incident
    assert '<span class="muted">dan@livuni.ac.uk</span>' in incident, "the names behind the count"


def test_a_form_post_without_its_csrf_token_is_refused(site: Any) -> None:
    app, totp = site
    client = browser(app)
    sign_in(client, "priya@livuni.ac.uk", code=totp.now())
    response = client.post(
        "/declare", data={"playbook": "live-incident", "title": "T", "reason": "R", "confirmed": "yes"}
    )
    assert response.status_code == 400
    forged = client.post("/declare", data={"csrf_token": "forged", "title": "T", "reason": "R", "confirmed": "yes"})
    assert forged.status_code == 400
    assert client.get("/").get_data(as_text=True).count("No active incident") == 1


def test_sign_in_is_throttled(site: Any) -> None:
    app, _ = site
    client = browser(app)
    statuses = []
    for _ in range(6):
        page = client.get("/sign-in").get_data(as_text=True)
        statuses.append(
            client.post(
                "/sign-in", data={"csrf_token": token_of(page), "email": "dan@livuni.ac.uk", "password": "wrong"}
            ).status_code
        )
    assert statuses == [401] * 5 + [429]


def test_signing_out_ends_the_session(site: Any) -> None:
    app, _ = site
    client = browser(app)
    sign_in(client, "dan@livuni.ac.uk")
    page = client.get("/my-accounts").get_data(as_text=True)
    client.post("/sign-out", data={"csrf_token": token_of(page)})
    assert client.get("/my-accounts").status_code == 302


def test_the_demo_users_can_sign_in_to_the_console(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lockdown.cli import main

    env = {"LOCKDOWN_DB": str(tmp_path / "demo" / "d.db"), "LOCKDOWN_SECRET_KEY": "", "LOCKDOWN_VAULT_KEY": ""}
    printed = CliRunner().invoke(main, ["demo"], env=env)
    assert printed.exit_code == 0, printed.output
    uri = next(word for word in printed.stdout.split() if word.startswith("otpauth://") and "press.officer" in word)
    code = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0]).now()
    app = create_app(Settings.from_env(env, demo=True))
    client = browser(app)
    page = client.get("/sign-in").get_data(as_text=True)
    signed = client.post(
        "/sign-in",
        data={"csrf_token": token_of(page), "email": "press.officer@demo.livuni.ac.uk",
              "password": "lockdown-demo-password", "code": code, "next": "/"},
    )  # fmt: skip
    assert signed.status_code == 302
    assert "Declare an incident" in client.get("/").get_data(as_text=True)


def test_console_pages_forbid_framing_and_foreign_scripts(site: Any) -> None:
    app, _ = site
    response = browser(app).get("/sign-in")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
