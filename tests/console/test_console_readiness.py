"""Readiness in the console: the central accounts' summary at the top of the Declare form and of
its confirmation, and an account's page with its readiness and a Check now button (a CSRF-protected
form) for those who may check it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from lockdown.people.signin import set_password
from lockdown.people.users import add_user
from tests.console.console_kit import ERMC, MANAGER, PASSWORD, PRESS, Site, make_site, signed_in, token_of


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def text(page: str) -> str:
    """What a person reads: the page without its tags, its spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).replace(" :", ":").split())


def check_now(client: FlaskClient, account_id: int) -> str:
    page = client.get(f"/accounts/{account_id}").get_data(as_text=True)
    answer = client.post(f"/accounts/{account_id}/check", data={"csrf_token": token_of(page)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return text(client.get(answer.headers["Location"]).get_data(as_text=True))


def test_the_declare_form_opens_with_the_central_accounts_readiness(site: Site) -> None:
    press = signed_in(site, PRESS)

    before = text(press.get("/").get_data(as_text=True))
    assert "Central accounts ready: 0 of 1" in before
    assert "@livuni on X: never checked" in before

    check_now(press, 1)
    after = text(press.get("/").get_data(as_text=True))
    assert "Central accounts ready: 1 of 1" in after
    assert before.index("Declare an incident") < before.index("Central accounts ready")


def test_a_failing_central_account_is_named_with_its_reason_and_for_how_long_on_declare_and_confirm(
    site: Site,
) -> None:
    connector = json.dumps({"kind": "mastodon", "base_url": "https://social.example"})
    site.ctx.db.conn.execute("UPDATE accounts SET connector = ?, platform = 'mastodon' WHERE id = 1", [connector])
    site.ctx.db.conn.commit()
    press = signed_in(site, PRESS)
    assert "NOT READY" in check_now(press, 1)

    page = press.get("/").get_data(as_text=True)
    expected = "@livuni on Mastodon: the mastodon connector has no access_token in the vault (for under a minute)"
    assert expected in text(page)
    form = {"csrf_token": token_of(page), "playbook": "live-incident", "title": "Fire", "reason": "R"}
    confirm = text(press.post("/declare", data=form).get_data(as_text=True))
    assert "Central accounts ready: 0 of 1" in confirm
    assert expected in confirm


def test_the_summary_is_for_the_press_team_who_declare(site: Site) -> None:
    manager = signed_in(site, MANAGER)

    assert "Central accounts ready" not in manager.get("/").get_data(as_text=True)


def test_the_manager_checks_their_account_from_its_page(site: Site) -> None:
    page = check_now(signed_in(site, MANAGER), 2)

    assert "Checked now: ready" in page
    assert "Readiness: ready" in page
    assert "outbox (records posts here, publishes nothing)" in page


def test_a_second_check_within_a_minute_is_refused_with_a_message(site: Site) -> None:
    manager = signed_in(site, MANAGER)
    check_now(manager, 2)

    again = check_now(manager, 2)

    assert "check it again in" in again


def test_someone_who_may_not_check_sees_no_button_and_is_refused(site: Site) -> None:
    add_user(site.ctx, "t", name="Eve", email="eve@livuni.ac.uk", roles=["manager"])
    set_password(site.ctx, "t", "eve@livuni.ac.uk", PASSWORD)
    eve = signed_in(site, "eve@livuni.ac.uk")

    page = eve.get("/accounts/2").get_data(as_text=True)
    assert "Readiness: never checked" in text(page)
    assert "Check now" not in page
    refused = eve.post("/accounts/2/check", data={"csrf_token": token_of(page)})
    assert refused.status_code == 403


def test_ermc_sees_the_check_now_button_too(site: Site) -> None:
    assert "Check now" in signed_in(site, ERMC).get("/accounts/3").get_data(as_text=True)
