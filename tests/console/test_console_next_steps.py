"""Action first: each role's first screen during an incident opens with what that person must do
next; counts before lists; Resolve asks once, stating what it releases; no raw ISO time on a page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lockdown.timeutil import to_iso
from tests.console.console_kit import ERMC, MANAGER, PRESS, PRESS_2, Site, form_post, make_site, signed_in

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def declare(site: Site) -> int:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json
    incident_id: int = response.json["id"]
    return incident_id


class _Text(HTMLParser):
    """A page's visible text: what a person reads, not its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def first_card(page: str) -> str:
    """The text of the first next-step card on a page."""
    match = re.search(r'<section class="card next first".*?</section>', page, re.S)
    assert match, "the page opens with a next-step card"
    return text_of(match.group(0))


def make_editor(site: Site, email: str, account_id: int) -> None:
    db = site.ctx.db
    user_id = db.conn.execute("SELECT id FROM users WHERE email = ?", [email]).fetchone()[0]
    with site.ctx.change() as change:
        db.conn.execute("INSERT INTO account_editors (account_id, user_id) VALUES (?, ?)", [account_id, user_id])
        change.audit("test", "test.editor", f"account:{account_id}")


def test_the_deputy_first_sees_the_holding_statement_to_approve_and_acknowledge_only_quietly(site: Site) -> None:
    make_editor(site, PRESS_2, 2)  # so the deputy has a held account to acknowledge for too
    declare(site)
    page = signed_in(site, PRESS_2).get("/").get_data(as_text=True)
    card = first_card(page)
    assert card.startswith("Holding statement waiting for your approval")
    assert "We are aware of an incident on campus" in card, "the statement's own text"
    approve = page.index('action="/incidents/1/messages/1/approve"')
    assert 'name="csrf_token"' in page[approve : approve + 200]
    assert page.index("Approve and publish the holding statement") < page.index(">Acknowledge</button>")
    assert '<button type="submit" class="secondary">Acknowledge</button>' in page, "not the loud button"


def test_the_declaring_officer_sees_who_was_asked_and_no_approve_button(site: Site) -> None:
    declare(site)
    press = signed_in(site, PRESS)
    for url in ("/", "/incidents/1"):
        page = press.get(url).get_data(as_text=True)
        card = first_card(page)
        assert card.startswith("Waiting for a second press officer")
        assert "Asked to approve: 1 press officer Omar omar@livuni.ac.uk" in card
        assert "/messages/1/approve" not in page, "no one approves their own"


def test_a_manager_sees_their_held_accounts_and_acknowledge_until_the_all_clear(site: Site) -> None:
    declare(site)
    manager = signed_in(site, MANAGER)
    page = manager.get("/").get_data(as_text=True)
    card = first_card(page)
    assert card.startswith("3 of your accounts are on hold")
    assert "@livuni_chem on X" in card
    assert ">Acknowledge</button>" in page
    assert "/approve" not in page, "no press controls"
    assert "Draft a message" not in page
    form_post(manager, "/", "/incidents/1/ack", {"back": "/"})
    page = manager.get("/").get_data(as_text=True)
    assert "You acknowledged just now" in first_card(page)
    assert ">Acknowledge</button>" not in page

    press = signed_in(site, PRESS)
    form_post(press, "/incidents/1", "/incidents/1/resolve", {"confirmed": "yes"})
    page = manager.get("/incidents/1").get_data(as_text=True)
    assert 'class="card next' not in page, "nothing to do on a resolved incident"
    assert ">Acknowledge</button>" not in page


def test_ermc_sees_central_readiness_and_what_needs_triage(site: Site) -> None:
    declare(site)
    db = site.ctx.db
    with site.ctx.change() as change:
        db.conn.execute(
            "INSERT INTO posts (account_id, body, state, scheduled_at, due_at, author_id, created_at, updated_at, "
            "idempotency_key) VALUES (2, 'Lab tour', 'unknown', :at, :at, 1, :at, :at, 'k1')",
            {"at": to_iso(change.at)},
        )
        change.audit("test", "test.unknown", "post:1")
    page = signed_in(site, ERMC).get("/").get_data(as_text=True)
    card = first_card(page)
    assert card.startswith("Central accounts ready: 0 of 1")
    assert "1 post in doubt" in card
    assert "@livuni_chem on x: 1" in card
    assert "/approve" not in page
    assert ">Acknowledge</button>" not in page


def test_a_stranger_to_the_incident_gets_no_card(site: Site) -> None:
    """A press officer with no draft waiting and no held account: nothing to offer (the statement went out)."""
    declare(site)
    with site.ctx.change() as change:
        site.ctx.db.conn.execute("UPDATE incident_messages SET state = 'delivered'")
        change.audit("test", "test.cancel", "message:1")
    page = signed_in(site, PRESS_2).get("/incidents/1").get_data(as_text=True)
    assert 'class="card next' not in page


def test_acknowledgements_are_counted_before_they_are_listed(site: Site) -> None:
    declare(site)
    manager, press = signed_in(site, MANAGER), signed_in(site, PRESS)
    page = press.get("/incidents/1").get_data(as_text=True)
    assert "Acknowledged 0 of 1" in page
    assert "<details><summary>Still to acknowledge (1)</summary>" in page
    form_post(manager, "/", "/incidents/1/ack", {})
    page = press.get("/incidents/1").get_data(as_text=True)
    assert "Acknowledged 1 of 1" in page
    assert "<details><summary>Who has acknowledged (1)</summary>" in page


def test_a_long_timeline_shows_the_latest_ten_and_the_rest_on_request(site: Site) -> None:
    declare(site)
    press = signed_in(site, PRESS)
    for n in range(12):
        form_post(press, "/incidents/1", "/incidents/1/messages", {"template": "", "body": f"Update {n}"})
    page = press.get("/incidents/1").get_data(as_text=True)
    events = site.ctx.db.conn.execute("SELECT COUNT(*) FROM incident_events").fetchone()[0]
    assert f"The latest 10 of {events} events" in page
    assert f"<summary>Show all {events} events</summary>" in page


def test_resolve_without_its_confirmation_changes_nothing_and_says_what_it_would_do(site: Site) -> None:
    declare(site)
    db = site.ctx.db
    with site.ctx.change() as change:
        due = to_iso(change.at - timedelta(minutes=5))
        db.conn.execute(
            "INSERT INTO posts (account_id, body, state, scheduled_at, due_at, author_id, created_at, updated_at, "
            "idempotency_key) VALUES (2, 'Open day', 'scheduled', :at, :at, 1, :at, :at, 'k2')",
            {"at": due},
        )
        change.audit("test", "test.missed", "post:1")
    press = signed_in(site, PRESS)
    for policy, fate in (
        ("review", "1 post fell due during the hold: it will wait in “Needs review”"),
        ("skip", "1 post fell due during the hold: it will be cancelled."),
        ("resume", "1 post fell due during the hold: it will go out again."),
    ):
        asked = form_post(press, "/incidents/1", "/incidents/1/resolve", {"resume_policy": policy})
        assert asked.status_code == 200
        text = text_of(asked.get_data(as_text=True))
        assert "Resolve “Fire in the library”?" in text
        assert "3 accounts will be released at once" in text
        assert fate in text
        assert "Yes, resolve and release 3 accounts" in text
    assert db.conn.execute("SELECT status FROM incidents").fetchone()[0] == "active", "nothing changed"
    assert db.conn.execute("SELECT state FROM posts").fetchone()[0] == "scheduled"
    assert db.conn.execute("SELECT COUNT(*) FROM account_holds").fetchone()[0] == 3

    done = form_post(press, "/incidents/1", "/incidents/1/resolve", {"resume_policy": "review", "confirmed": "yes"})
    assert done.status_code == 302
    assert db.conn.execute("SELECT status FROM incidents").fetchone()[0] == "resolved"
    assert db.conn.execute("SELECT state FROM posts").fetchone()[0] == "needs_review"
    again = form_post(press, "/incidents/1", "/incidents/1/resolve", {})
    assert again.status_code == 302, "a resolved incident asks no confirmation"
    assert "resolved already" in press.get("/incidents/1").get_data(as_text=True)


PAGES = {
    PRESS: ["/", "/incidents", "/incidents/1", "/incidents/1/report", "/posts", "/credentials"],
    PRESS_2: ["/", "/incidents/1"],
    MANAGER: ["/", "/my-accounts", "/incidents/1", "/posts", "/posts/needs-review", "/credentials"],
    ERMC: ["/", "/incidents/1", "/register", "/audit", "/accounts/2", "/posts?account_id=2"],
}


def test_no_page_shows_a_raw_iso_time_during_an_incident_or_after_it(site: Site) -> None:
    declare(site)
    manager = signed_in(site, MANAGER)
    form_post(manager, "/", "/incidents/1/ack", {})
    clients = {email: signed_in(site, email) for email in PAGES}
    for moment in ("during", "after"):
        if moment == "after":
            form_post(clients[PRESS], "/incidents/1", "/incidents/1/resolve", {"confirmed": "yes"})
        for email, urls in PAGES.items():
            for url in urls:
                response = clients[email].get(url)
                assert response.status_code == 200, (email, url)
                text = text_of(response.get_data(as_text=True))
                found = ISO_TIME.search(text)
                assert found is None, (
                    f"{moment}: {url} as {email} shows {text[max(0, found.start() - 60) : found.end() + 30]!r}"
                )
