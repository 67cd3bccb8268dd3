"""Declaring a compromised account from the console: a picker that searches the register by
handle and platform without JavaScript, the chosen account named on the confirmation and checked
by the same service call as the API's, and nothing of the register shown to anyone who may not
declare."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from lockdown.people.users import user_by_email
from lockdown.register.accounts import archive_account
from tests.console.console_kit import ERMC, MANAGER, PRESS, Site, make_site, signed_in, token_of

PLAYBOOK = "compromised-account"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def account_id(site: Site, handle: str) -> int:
    return int(site.ctx.db.conn.execute("SELECT id FROM accounts WHERE handle = ?", [handle]).fetchone()[0])


def choices(page: str) -> list[str]:
    """The accounts offered, as the picker's lines read."""
    found = re.findall(r'<label class="choice">(.*?)</label>', page, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", line).split()) for line in found]


def incidents(site: Site) -> int:
    return int(site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0])


def search(client: FlaskClient, **query: str) -> str:
    answer = client.get(f"/declare/account?{urlencode({'playbook': PLAYBOOK, **query})}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [{"q": "chem"}, {"q": "@livuni_chem"}, {"q": "LIVUNI_CH"}, {"q": "chem x"}, {"q": "twitter chem"},
     {"q": "chem", "platform": "x"}],
)  # fmt: skip
def test_the_picker_finds_an_account_by_handle_and_platform(site: Site, query: dict[str, str]) -> None:
    page = search(signed_in(site, PRESS), **query)
    assert choices(page) == ["X · @livuni_chem U"]
    assert "checked" in page, "a single match is chosen already"


def test_the_picker_shows_nothing_until_asked_and_says_when_nothing_matches(site: Site) -> None:
    priya = signed_in(site, PRESS)
    assert choices(search(priya)) == []
    assert "Search for the account first" in search(priya)
    assert choices(search(priya, q="chem", platform="instagram")) == []
    assert "No active account matches “chem” on Instagram" in search(priya, q="chem", platform="instagram")
    assert len(choices(search(priya, q="livuni"))) == 3


def test_a_press_officer_declares_a_compromised_account_after_confirming_which(site: Site) -> None:
    priya = signed_in(site, PRESS)
    chem = account_id(site, "@livuni_chem")
    page = search(priya, q="chem")
    form = {"csrf_token": token_of(page), "playbook": PLAYBOOK, "account_id": str(chem), "title": "Hacked",
            "reason": "Posting spam since 01:40"}  # fmt: skip
    confirm = priya.post("/declare", data=form)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "X · @livuni_chem (U) will be held at once" in text
    assert "Yes, declare and hold @livuni_chem on X" in text
    assert incidents(site) == 0, "the confirmation changes nothing"
    done = priya.post("/declare", data={**form, "confirmed": "yes", "csrf_token": token_of(text)})
    assert done.status_code == 302
    named, held = site.ctx.db.conn.execute(
        "SELECT i.named_account_id, (SELECT COUNT(*) FROM account_holds h WHERE h.incident_id = i.id) FROM incidents i"
    ).fetchone()
    assert (named, held) == (chem, 1)
    incident = priya.get(done.headers["Location"]).get_data(as_text=True)
    assert "1 account held" in incident
    assert "1 accounts" not in incident


def test_declaring_without_an_account_names_the_field_and_keeps_what_was_typed(site: Site) -> None:
    priya = signed_in(site, PRESS)
    page = priya.get("/").get_data(as_text=True)
    for confirmed in ("", "yes"):
        answer = priya.post(
            "/declare",
            data={"csrf_token": token_of(page), "playbook": PLAYBOOK, "title": "Hacked", "reason": "Spam at 01:40",
                  "confirmed": confirmed},
        )  # fmt: skip
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert 'id="error-account_id"' in text
        assert "needs account_id: the account to hold" in text
        assert 'value="Hacked"' in text
        assert "Spam at 01:40</textarea>" in text
    # Searching from there keeps the title and reason (posted back, never put in the URL).
    again = priya.post(
        "/declare/account",
        data={"csrf_token": token_of(text), "playbook": PLAYBOOK, "q": "phys", "title": "Hacked", "reason": "Spam"},
    )
    kept = again.get_data(as_text=True)
    assert choices(kept) == ["X · @livuni_phys U"]
    assert 'value="Hacked"' in kept
    assert incidents(site) == 0


@pytest.mark.parametrize("sent", ["archived", "999", "chem", "-1"])
def test_an_archived_unknown_or_malformed_account_is_refused_by_name_and_nothing_changes(site: Site, sent: str) -> None:
    priya = signed_in(site, PRESS)
    page = search(priya, q="phys")
    if sent == "archived":
        sent = str(account_id(site, "@livuni_phys"))
        archive_account(site.ctx, user_by_email(site.ctx.db, ERMC), int(sent))
        assert choices(search(priya, q="phys")) == [], "an archived account is not offered"
    for confirmed in ("", "yes"):
        answer = priya.post(
            "/declare",
            data={"csrf_token": token_of(page), "playbook": PLAYBOOK, "account_id": sent, "title": "Hacked",
                  "reason": "Spam", "confirmed": confirmed},
        )  # fmt: skip
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert 'id="error-account_id"' in text
    assert incidents(site) == 0


def test_an_account_archived_after_the_confirmation_is_not_held(site: Site) -> None:
    priya = signed_in(site, PRESS)
    phys = account_id(site, "@livuni_phys")
    page = search(priya, q="phys")
    form = {"csrf_token": token_of(page), "playbook": PLAYBOOK, "account_id": str(phys), "title": "Hacked",
            "reason": "Spam"}  # fmt: skip
    confirm = priya.post("/declare", data=form).get_data(as_text=True)
    archive_account(site.ctx, user_by_email(site.ctx.db, ERMC), phys)
    answer = priya.post("/declare", data={**form, "confirmed": "yes", "csrf_token": token_of(confirm)})
    assert answer.status_code == 400
    assert f"There is no active account {phys}" in answer.get_data(as_text=True)
    assert incidents(site) == 0


@pytest.mark.parametrize("who", [MANAGER, ERMC])
def test_who_may_not_declare_gets_no_picker_and_no_register_from_it(site: Site, who: str) -> None:
    client = signed_in(site, who)
    home = client.get("/").get_data(as_text=True)
    assert "find the account to hold" not in home
    for query in ("", "?q=chem", "?q=livuni&platform=x"):
        answer = client.get(f"/declare/account{query}")
        assert answer.status_code == 403
        assert "livuni_chem" not in answer.get_data(as_text=True)
    searched = client.post("/declare/account", data={"csrf_token": token_of(home), "q": "chem", "title": "T"})
    assert searched.status_code == 403
    assert "livuni_chem" not in searched.get_data(as_text=True)
    # The confirmation would name the account: it is refused before it does.
    confirm = client.post(
        "/declare",
        data={"csrf_token": token_of(home), "playbook": PLAYBOOK, "account_id": str(account_id(site, "@livuni_chem")),
              "title": "T", "reason": "R"},
    )  # fmt: skip
    assert confirm.status_code == 403
    assert "livuni_chem" not in confirm.get_data(as_text=True)
    # Nor does an account id that is archived or unknown tell itself apart from one that exists.
    for sent in ("999", "x"):
        probe = client.post(
            "/declare",
            data={"csrf_token": token_of(home), "playbook": PLAYBOOK, "account_id": sent, "title": "T", "reason": "R"},
        )
        assert probe.status_code == 403


def test_the_dashboard_leads_a_press_officer_to_the_picker(site: Site) -> None:
    home = signed_in(site, PRESS).get("/").get_data(as_text=True)
    assert f'href="/declare/account?playbook={PLAYBOOK}">find the account to hold</a>' in home
