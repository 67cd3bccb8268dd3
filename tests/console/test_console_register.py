"""The register's console pages: filters, paging, add and edit, CSV import and export, ERMC only."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.console import register_pages
from lockdown.register.accounts import list_accounts
from tests.conftest import count_rows
from tests.console.console_kit import ERMC, MANAGER, PRESS, Site, make_site, signed_in, token_of

NEW_ACCOUNT = {
    "handle": "@livuni_bio",
    "platform": "instagram",
    "unit": "Biology",
    "purpose": "Field trips",
    "monitored_hours": "Mon-Fri 09:00-17:00",
    "manager": MANAGER,
    "editors": "",
    "naming_exception": "",
    "tags": "",
    "connector": "",
}
CSV_HEADER = "handle,platform,unit,purpose,monitored_hours,manager,central,tags\n"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


@pytest.fixture
def ruth(site: Site) -> FlaskClient:
    return signed_in(site, ERMC)


def handles(page: str) -> list[str]:
    """The handles in the register table, in order."""
    return re.findall(r"<td>(@[^<]+)</td>", page)


def text(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def changes(site: Site) -> tuple[int, int]:
    return count_rows(site.ctx, "accounts"), count_rows(site.ctx, "audit_log")


def last_audit(site: Site) -> tuple[str, str, str, dict[str, Any]]:
    actor, action, subject, details = site.ctx.db.conn.execute(
        "SELECT actor, action, subject, details FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return actor, action, subject, json.loads(details)


def add_form(client: FlaskClient, **fields: str) -> Any:
    page = text(client.get("/register/new"))
    return client.post("/register/new", data={"csrf_token": token_of(page), **NEW_ACCOUNT, **fields})


def test_the_register_lists_every_account_and_filters_and_search_narrow_it(site: Site, ruth: FlaskClient) -> None:
    everything = ["@livuni", "@livuni_chem", "@livuni_phys"]
    page = text(ruth.get("/register"))
    assert handles(page) == everything
    assert '<th scope="col">Held</th>' in page
    assert handles(text(ruth.get("/register?q=livuni_ch"))) == ["@livuni_chem"]
    assert handles(text(ruth.get("/register?q=Chem"))) == ["@livuni_chem"]
    assert handles(text(ruth.get("/register?platform=facebook"))) == []
    assert handles(text(ruth.get("/register?platform=x&unit=U"))) == everything
    assert handles(text(ruth.get("/register?unit=Physics"))) == []
    assert handles(text(ruth.get(f"/register?manager={MANAGER.upper()}"))) == everything
    assert handles(text(ruth.get(f"/register?manager={PRESS}"))) == []
    assert handles(text(ruth.get("/register?held=yes"))) == []
    filtered = text(ruth.get("/register?held=no&q=livuni_p"))
    assert handles(filtered) == ["@livuni_phys"]
    assert 'value="livuni_p"' in filtered, "the search box keeps what was searched"
    assert '<option value="no" selected>' in filtered


def test_the_held_filter_and_badge_follow_a_declared_incident(site: Site, ruth: FlaskClient) -> None:
    declared = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "T", "reason": "R"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert declared.status_code == 201, declared.json
    held = [a["handle"] for a in list_accounts(site.ctx.db, held=True)["items"]]
    assert held, "the playbook holds some accounts"
    page = text(ruth.get("/register?held=yes"))
    assert handles(page) == held
    assert page.count('<span class="badge held">Held</span>') == len(held)
    not_held = handles(text(ruth.get("/register?held=no")))
    assert sorted(held + not_held) == ["@livuni", "@livuni_chem", "@livuni_phys"]


def test_the_register_pages_with_the_service_cursor_and_keeps_the_filters(
    site: Site, ruth: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register_pages, "PAGE_SIZE", 2)
    first = text(ruth.get("/register?platform=x"))
    assert handles(first) == ["@livuni", "@livuni_chem"]
    next_url = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first)
    assert next_url, "a full page links to the next one"
    link = next_url.group(1).replace("&amp;", "&")
    assert "platform=x" in link
    second = text(ruth.get(link))
    assert handles(second) == ["@livuni_phys"]
    assert "Next page" not in second
    assert "First page" in second
    assert ruth.get("/register?cursor=nonsense").status_code == 400


def test_adding_an_account_registers_it_and_audits_it(site: Site, ruth: FlaskClient) -> None:
    done = add_form(ruth, editors=f"{MANAGER}, {ERMC}", tags="drill, Welcome", central="yes", connector="webhook")
    assert done.status_code == 400, "a webhook connector needs its url"
    assert "connector.url" in text(done)
    done = add_form(
        ruth, editors=f"{MANAGER}, {ERMC}", tags="drill, Welcome", central="yes",
        connector='{"kind": "webhook", "url": "https://example.org/hook"}',
    )  # fmt: skip
    assert done.status_code == 302
    follow = text(ruth.get(done.headers["Location"]))
    assert "@livuni_bio on instagram is registered" in follow
    assert "@livuni_bio" in handles(follow)
    account = list_accounts(site.ctx.db, q="livuni_bio")["items"][0]
    assert account["editors"] == sorted([MANAGER, ERMC])
    assert account["tags"] == ["drill", "welcome"]
    assert account["central"] is True
    assert account["connector"] == {"kind": "webhook", "url": "https://example.org/…"}, "a credential, masked (#12)"
    assert account["naming_exception"] is None
    actor, action, subject, details = last_audit(site)
    assert (actor, action, subject) == (ERMC, "account.register", f"account:{account['id']}")
    assert details["unit"] == "Biology"


def test_a_bad_account_reshows_the_form_naming_the_field_and_changes_nothing(site: Site, ruth: FlaskClient) -> None:
    before = changes(site)
    refused = add_form(ruth, monitored_hours="sometimes")
    assert refused.status_code == 400
    page = text(refused)
    assert "Nothing was saved: monitored_hours" in page
    field = re.search(r"<input id=\"monitored_hours\"[^>]*>", page)
    assert field
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="hint-monitored_hours error-monitored_hours"' in field.group(0)
    assert 'id="error-monitored_hours"' in page
    assert 'value="sometimes"' in page
    assert 'value="Biology"' in page, "what was typed is kept"
    assert '<option value="instagram" selected>' in page
    taken = add_form(ruth, handle="@LIVUNI_chem", platform="x")
    assert taken.status_code == 409
    assert 'id="error-handle"' in text(taken)
    misnamed = add_form(ruth, handle="@chemistry")
    assert misnamed.status_code == 400
    assert "policy 2.2.1" in text(misnamed)
    assert changes(site) == before


def test_editing_an_account_changes_only_what_was_changed(site: Site, ruth: FlaskClient) -> None:
    page = text(ruth.get("/register/2/edit"))
    assert 'value="@livuni_chem"' in page
    assert '<option value="x" selected>' in page
    assert 'value="dan@livuni.ac.uk"' in page
    form = {
        "csrf_token": token_of(page), "handle": "@livuni_chem", "platform": "x", "unit": "Chemistry",
        "purpose": "P", "monitored_hours": "24/7", "manager": MANAGER, "editors": ERMC,
        "naming_exception": "", "tags": "labs", "connector": "outbox",
    }  # fmt: skip
    done = ruth.post("/register/2/edit", data=form)
    assert done.status_code == 302
    assert "is updated: editors, tags, unit" in text(ruth.get(done.headers["Location"]))
    account = list_accounts(site.ctx.db, q="livuni_chem")["items"][0]
    assert (account["unit"], account["editors"], account["tags"]) == ("Chemistry", [ERMC], ["labs"])
    actor, action, subject, details = last_audit(site)
    assert (actor, action, subject) == (ERMC, "account.update", "account:2")
    assert details["changed"]["unit"] == {"from": "U", "to": "Chemistry"}
    again = ruth.post("/register/2/edit", data=form)
    assert "Nothing changed on @livuni_chem" in text(ruth.get(again.headers["Location"]))
    before = changes(site)
    refused = ruth.post("/register/2/edit", data={**form, "unit": "", "tags": "not a tag!"})
    assert refused.status_code == 400
    assert 'id="error-unit"' in text(refused)
    assert 'id="error-tags"' in text(refused)
    assert changes(site) == before
    assert ruth.get("/register/99/edit").status_code == 404


def upload(client: FlaskClient, content: str, name: str = "accounts.csv") -> Any:
    page = text(client.get("/register/import"))
    assert 'enctype="multipart/form-data"' in page
    data = {"csrf_token": token_of(page), "file": (io.BytesIO(content.encode()), name)}
    return client.post("/register/import", data=data, content_type="multipart/form-data")


def test_a_csv_import_registers_every_row(site: Site, ruth: FlaskClient) -> None:
    rows = (
        f"@livuni_geo,x,Geography,News,24/7,{MANAGER},false,\n"
        f"@livuni_geo,facebook,Geography,News,24/7,{MANAGER},no,drill;welcome\n"
    )
    done = upload(ruth, CSV_HEADER + rows)
    assert done.status_code == 302
    assert "2 accounts imported from accounts.csv" in text(ruth.get(done.headers["Location"]))
    imported = list_accounts(site.ctx.db, q="livuni_geo")["items"]
    assert [(a["platform"], a["tags"]) for a in imported] == [("x", []), ("facebook", ["drill", "welcome"])]
    assert last_audit(site)[:2] == (ERMC, "account.import")


def test_a_csv_with_errors_lists_each_by_line_and_imports_nothing(site: Site, ruth: FlaskClient) -> None:
    before = changes(site)
    rows = (
        f"@livuni_ok,x,Geography,News,24/7,{MANAGER},false,\n"
        f"@livuni_bad,x,Geography,News,sometimes,{MANAGER},false,\n"
        f"@livuni_worse,myspace,Geography,News,24/7,nobody@livuni.ac.uk,false,\n"
        f"@livuni_chem,x,Geography,News,24/7,{MANAGER},false,\n"
    )
    refused = upload(ruth, CSV_HEADER + rows)
    assert refused.status_code == 400
    page = text(refused)
    assert "Nothing was imported" in page
    found = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td>", page)
    assert found == [("3", "monitored_hours"), ("4", "platform"), ("4", "manager"), ("5", "handle")]
    assert changes(site) == before
    empty = upload(ruth, "")
    assert empty.status_code == 400
    assert "the CSV is empty" in text(empty)
    page = text(ruth.get("/register/import"))
    no_file = ruth.post("/register/import", data={"csrf_token": token_of(page)}, content_type="multipart/form-data")
    assert no_file.status_code == 400
    assert 'aria-describedby="error-file"' in text(no_file)
    assert changes(site) == before


def test_the_register_downloads_as_csv(site: Site, ruth: FlaskClient) -> None:
    assert 'href="/register/export"' in text(ruth.get("/register"))
    response = ruth.get("/register/export")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="accounts-\d{4}-\d{2}-\d{2}\.csv"', disposition)
    lines = text(response).splitlines()
    assert lines[0].startswith("handle,platform,unit,purpose,monitored_hours,manager")
    # A leading @ is neutralised so a spreadsheet reads the cell as text.
    assert [line.split(",")[0] for line in lines[1:]] == ["'@livuni", "'@livuni_chem", "'@livuni_phys"]


@pytest.mark.parametrize(
    "url", ["/register", "/register/new", "/register/2/edit", "/register/import", "/register/export"]
)
def test_a_manager_may_not_open_the_register_pages(site: Site, url: str) -> None:
    dan = signed_in(site, MANAGER)
    response = dan.get(url)
    assert response.status_code == 403
    assert "ermc role" in text(response)
    assert ">Register<" not in text(dan.get("/")), "the menu does not offer it"


def test_a_form_post_without_its_csrf_token_is_refused(site: Site, ruth: FlaskClient) -> None:
    before = changes(site)
    assert ruth.post("/register/new", data=NEW_ACCOUNT).status_code == 400
    assert ruth.post("/register/2/edit", data={**NEW_ACCOUNT, "csrf_token": "forged"}).status_code == 400
    assert changes(site) == before
