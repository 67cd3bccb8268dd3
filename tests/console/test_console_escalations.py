"""Escalations in the console: anyone reports through the short form, ERMC triages, press holds
the account from a line that shows no details, the reporter reads their own and nobody else does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.console_kit import ERMC, MANAGER, PRESS, PRESS_2, Site, form_post, make_site, signed_in


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def chem(site: Site) -> int:
    return int(site.ctx.db.conn.execute("SELECT id FROM accounts WHERE handle = '@livuni_chem'").fetchone()[0])


def report(site: Site, email: str, **fields: str) -> int:
    client = signed_in(site, email)
    data = {
        "kind": "hacked",
        "where": "account",
        "account_id": str(chem(site)),
        "details": "odd posts at 3am",
        **fields,
    }
    response = form_post(client, "/escalations/new", "/escalations/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_dashboard_leads_to_the_form_which_says_personal_accounts_are_never_watched(site: Site) -> None:
    client = signed_in(site, MANAGER)
    assert "/escalations/new" in client.get("/").get_data(as_text=True)
    page = client.get("/escalations/new").get_data(as_text=True)
    assert "never watches personal accounts" in page
    assert "policy 2.2.6" in page


def test_a_manager_reports_a_link_and_reads_it_back_but_another_person_cannot(site: Site) -> None:
    filed = report(site, MANAGER, kind="welfare_concern", where="url", url="https://social.example/@s/1", account_id="")
    mine = signed_in(site, MANAGER).get(f"/escalations/{filed}").get_data(as_text=True)
    assert "odd posts at 3am" in mine
    assert "https://social.example/@s/1" in mine
    press = signed_in(site, PRESS)
    assert press.get(f"/escalations/{filed}").status_code == 404
    listing = press.get("/escalations").get_data(as_text=True)
    assert "odd posts" not in listing
    assert f"Escalation {filed}" not in listing  # a link elsewhere: nothing for press to hold


def test_bad_input_comes_back_with_the_form_as_typed_and_the_field_named(site: Site) -> None:
    client = signed_in(site, MANAGER)
    data = {"kind": "other", "where": "url", "url": "ftp://x.example", "details": "kept text"}
    response = form_post(client, "/escalations/new", "/escalations/new", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "kept text" in page
    assert 'id="url"' in page
    assert 'aria-invalid="true"' in page
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0] == 0


def test_ermc_triages_with_ages_press_holds_from_a_line_without_details(site: Site) -> None:
    filed = report(site, MANAGER)
    queue = signed_in(site, ERMC).get("/escalations").get_data(as_text=True)
    assert f"Escalation {filed}: hacked account" in queue
    assert "1 open report" in queue
    assert "just now" in queue or "minute" in queue
    press = signed_in(site, PRESS)
    listing = press.get("/escalations").get_data(as_text=True)
    assert f"Escalation {filed}:" in listing
    assert "@livuni_chem" in listing
    assert "odd posts" not in listing
    assert MANAGER not in listing
    confirm = form_post(press, "/escalations", f"/escalations/{filed}/declare", {})
    assert confirm.status_code == 200
    assert "Yes, declare and hold @livuni_chem on X" in confirm.get_data(as_text=True)
    assert "odd posts" not in confirm.get_data(as_text=True)
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0
    response = form_post(press, "/escalations", f"/escalations/{filed}/declare", {"confirmed": "yes"})
    assert response.status_code == 302
    assert "/incidents/" in response.headers["Location"]
    again = form_post(signed_in(site, PRESS_2), "/escalations", f"/escalations/{filed}/declare", {"confirmed": "yes"})
    assert again.status_code == 409
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 1


def test_ermc_closes_with_a_reason_and_the_reporter_reads_why(site: Site) -> None:
    filed = report(site, MANAGER)
    ermc = signed_in(site, ERMC)
    empty = form_post(ermc, f"/escalations/{filed}", f"/escalations/{filed}/close", {"reason": " "})
    assert empty.status_code == 302
    assert "still open" in ermc.get(empty.headers["Location"]).get_data(as_text=True)
    done = form_post(ermc, f"/escalations/{filed}", f"/escalations/{filed}/close", {"reason": "the team fixed it"})
    assert done.status_code == 302
    page = signed_in(site, MANAGER).get(f"/escalations/{filed}").get_data(as_text=True)
    assert "the team fixed it" in page
    assert "Closed" in page


def test_a_manager_cannot_close_or_declare(site: Site) -> None:
    filed = report(site, MANAGER)
    client = signed_in(site, MANAGER)
    assert form_post(client, "/escalations", f"/escalations/{filed}/close", {"reason": "x"}).status_code == 403
    assert form_post(client, "/escalations", f"/escalations/{filed}/declare", {"confirmed": "yes"}).status_code == 403
