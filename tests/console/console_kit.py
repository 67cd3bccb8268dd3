"""Shared by the console tests: a site with a press officer, a manager and ERMC, and a signed-in browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lockdown.app import create_app
from lockdown.crypto import Vault
from lockdown.people.signin import enroll_totp, set_password
from lockdown.people.users import add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.timeutil import Clock, utcnow
from tests.conftest import SECRET, VAULT_KEY

PASSWORD = "a long pass phrase for the console"
PRESS, PRESS_2, MANAGER, ERMC = (
    "priya@livuni.ac.uk",
    "omar@livuni.ac.uk",
    "dan@livuni.ac.uk",
    "ruth@livuni.ac.uk",
)


@dataclass
class Site:
    """The app, a service context on its database, its vault, and each TOTP user's authenticator."""

    app: Any
    ctx: Context
    vault: Vault
    totp: dict[str, pyotp.TOTP]
    tokens: dict[str, str]
    clock: Clock = utcnow


class MovedClock:
    """The app's clock, moved by the test (sessions expire, sign-in windows pass)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def make_site(tmp_path: Path, extra_env: dict[str, str] | None = None, clock: Clock | None = None) -> Iterator[Site]:
    """Users with console passwords (press and ERMC with TOTP) and three X accounts managed by Dan."""
    env = {"LOCKDOWN_DB": str(tmp_path / "c.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    settings = Settings.from_env({**env, **(extra_env or {})})
    app = create_app(settings, clock=clock)
    db = connect(settings.db_path)
    ctx = Context(db, audit.audit_key(SECRET.encode()), clock or utcnow)
    vault = Vault(settings.vault_keys)
    tokens: dict[str, str] = {}
    for name, email, role in (("Priya", PRESS, "press"), ("Omar", PRESS_2, "press"), ("Dan", MANAGER, "manager"),
                              ("Ruth", ERMC, "ermc")):  # fmt: skip
        tokens[email] = add_user(ctx, "t", name=name, email=email, roles=[role])[1]
        set_password(ctx, "t", email, PASSWORD)
    totp = {
        email: pyotp.TOTP(parse_qs(urlsplit(enroll_totp(ctx, vault, "t", email)).query)["secret"][0])
        for email in (PRESS, PRESS_2, ERMC)
    }
    api = app.test_client()
    for handle, central in (("@livuni", True), ("@livuni_chem", False), ("@livuni_phys", False)):
        response = api.post(
            "/api/v1/accounts",
            json={"handle": handle, "platform": "x", "unit": "U", "purpose": "P", "monitored_hours": "24/7",
                  "manager": MANAGER, "central": central},
            headers={"Authorization": f"Bearer {tokens[ERMC]}"},
        )  # fmt: skip
        assert response.status_code == 201, response.json
    yield Site(app, ctx, vault, totp, tokens, clock or utcnow)
    db.close()


def browser(app: Any) -> FlaskClient:
    """A test client that speaks https, as the console's cookies are Secure."""
    client: FlaskClient = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def token_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, code: str | None = None) -> Any:
    """Post the sign-in form as a person would."""
    page = client.get("/sign-in").get_data(as_text=True)
    data = {"csrf_token": token_of(page), "email": email, "password": PASSWORD, "next": "/"}
    if code:
        data["code"] = code
    return client.post("/sign-in", data=data)


def signed_in(site: Site, email: str) -> FlaskClient:
    """A browser signed in as this user (with a fresh authenticator code where one is needed)."""
    client = browser(site.app)
    totp = site.totp.get(email)
    response = sign_in(client, email, totp.at(site.clock()) if totp else None)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def form_post(client: FlaskClient, page_url: str, action: str, data: dict[str, Any]) -> Any:
    """Load a page for its CSRF token, then post a form to ``action``."""
    token = token_of(client.get(page_url).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


Send = Callable[[], TestResponse]


def sign_in_form(
    app: Any, email: str, password: str = PASSWORD, code: str | None = None, address: str = "127.0.0.1",
    forwarded_for: str | None = None,
) -> Send:  # fmt: skip
    """Open the sign-in page from ``address`` now; return the form's submission, to send later."""
    client = browser(app)
    client.environ_base["REMOTE_ADDR"] = address
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/sign-in", headers=headers).get_data(as_text=True)
    data = {"csrf_token": token_of(page), "email": email, "password": password, "next": "/"}
    if code is not None:
        data["code"] = code
    return lambda: client.post("/sign-in", data=data, headers=headers)
