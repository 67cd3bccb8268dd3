"""Where the console sends a browser after a form (``next`` at sign-in, ``back`` after an action):
only to one of its own pages, whatever the target hides, and never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.console.console_kit import MANAGER, PASSWORD, PRESS, Site, browser, make_site, signed_in, token_of

# Each would leave the site, split the header, or is not a console page; Werkzeug and browsers drop
# tabs and line breaks from a URL, so "/\t/evil.example/" is sent as "//evil.example/".
ELSEWHERE = [
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "/\r/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "/\t\\evil.example/",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "/%09/evil.example/",
    "/%2F%2Fevil.example/",
    "/posts\r\nSet-Cookie: stolen=1",
    "/posts\x00",
    "/posts\u2028",
    "/\u3002evil.example",
    "/static/../../evil",
    "/api/v1/accounts",
    "",
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def _answer(response: TestResponse) -> tuple[int, str | None]:
    return response.status_code, response.headers.get("Location")


def _sign_in_then(client: FlaskClient, target: str) -> tuple[int, str | None]:
    page = client.get("/sign-in").get_data(as_text=True)
    form = {"csrf_token": token_of(page), "email": MANAGER, "password": PASSWORD, "next": target}
    return _answer(client.post("/sign-in", data=form))


def test_sign_in_never_sends_the_browser_off_the_console(site: Site) -> None:
    sent = {target: _sign_in_then(browser(site.app), target) for target in ELSEWHERE}
    assert sent == dict.fromkeys(ELSEWHERE, (302, "/"))


def test_sign_in_returns_to_the_console_page_asked_for(site: Site) -> None:
    for target in ("/posts?account_id=2&state=scheduled", "/my-accounts", "/incidents/1", "/"):
        assert _sign_in_then(browser(site.app), target) == (302, target)


def _declared(site: Site) -> None:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"title": "Fire", "reason": "Reported"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json


def test_acting_on_an_incident_or_a_post_never_sends_the_browser_off_the_console(site: Site) -> None:
    _declared(site)
    client = signed_in(site, MANAGER)
    token = token_of(client.get("/my-accounts").get_data(as_text=True))
    acked = {t: _answer(client.post("/incidents/1/ack", data={"csrf_token": token, "back": t})) for t in ELSEWHERE}
    assert acked == dict.fromkeys(ELSEWHERE, (302, "/my-accounts"))
    # A refused action goes back too (there is no post 999).
    refused = {t: _answer(client.post("/posts/999/cancel", data={"csrf_token": token, "back": t})) for t in ELSEWHERE}
    assert refused == dict.fromkeys(ELSEWHERE, (302, "/posts"))


def test_acting_returns_to_the_page_the_form_was_on(site: Site) -> None:
    _declared(site)
    client = signed_in(site, MANAGER)
    token = token_of(client.get("/my-accounts").get_data(as_text=True))
    back = "/posts?account_id=2&state=scheduled"
    assert _answer(client.post("/incidents/1/ack", data={"csrf_token": token, "back": back})) == (302, back)
    assert _answer(client.post("/posts/999/cancel", data={"csrf_token": token, "back": back})) == (302, back)
