"""The audit trail's console page: browsing a page at a time, by subject, and verifying the chain."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.console import audit_pages
from lockdown.store import audit
from tests.conftest import count_rows
from tests.console.console_kit import ERMC, MANAGER, Site, make_site, signed_in, token_of


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


@pytest.fixture
def ruth(site: Site) -> FlaskClient:
    return signed_in(site, ERMC)


def text(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def seqs(page: str) -> list[int]:
    """The seq column of the entries table, in order."""
    return [int(seq) for seq in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]


def link(page: str, label: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{label}</a>', page)
    return found.group(1).replace("&amp;", "&") if found else None


def verify(client: FlaskClient, **fields: str) -> Any:
    page = text(client.get("/audit"))
    return client.post("/audit/verify", data={"csrf_token": token_of(page), **fields})


def test_the_audit_page_shows_entries_oldest_first_with_their_details(site: Site, ruth: FlaskClient) -> None:
    page = text(ruth.get("/audit"))
    total = count_rows(site.ctx, "audit_log")
    assert seqs(page) == list(range(1, min(total, audit_pages.PAGE_SIZE) + 1))
    assert '<th scope="col">Details</th>' in page
    register_row = re.search(
        r"<td>ruth@livuni.ac.uk</td>\s*<td>account.register</td>\s*<td><a[^>]*>account:2</a>", page
    )
    assert register_row, "the actor, action and subject of each entry"
    assert "<code>{&#34;central&#34;:false," in page, "details as compact JSON"


def test_the_audit_page_filters_by_subject(site: Site, ruth: FlaskClient) -> None:
    expected = [entry["seq"] for entry in audit.list_entries(site.ctx.db, subject="account:2")]
    assert expected
    page = text(ruth.get("/audit?subject=account:2"))
    assert seqs(page) == expected
    assert set(re.findall(r">(account:\d+)</a>", page)) == {"account:2"}
    assert 'value="account:2"' in page
    assert "No entries for account:999" in text(ruth.get("/audit?subject=account:999"))


def test_the_audit_page_pages_both_ways(site: Site, ruth: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 4)
    total = count_rows(site.ctx, "audit_log")
    assert total > 8
    first = text(ruth.get("/audit"))
    assert seqs(first) == [1, 2, 3, 4]
    assert link(first, "Older") is None
    newer = link(first, "Newer")
    assert newer
    second = text(ruth.get(newer))
    assert seqs(second) == [5, 6, 7, 8]
    older = link(second, "Older")
    assert older
    assert seqs(text(ruth.get(older))) == [1, 2, 3, 4]
    newest = link(first, "Newest")
    assert newest
    assert seqs(text(ruth.get(newest))) == list(range(total - 3, total + 1))
    assert ruth.get("/audit?cursor=-1").status_code == 400


def test_paging_by_subject_keeps_the_subject(site: Site, ruth: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 1)
    site.app.test_client().patch(
        "/api/v1/accounts/2", json={"unit": "Chemistry"}, headers={"Authorization": f"Bearer {site.tokens[ERMC]}"}
    )
    expected = [entry["seq"] for entry in audit.list_entries(site.ctx.db, subject="account:2")]
    assert len(expected) == 2
    first = text(ruth.get("/audit?subject=account:2"))
    assert seqs(first) == expected[:1]
    newer = link(first, "Newer")
    assert newer
    assert "subject=account" in newer
    assert seqs(text(ruth.get(newer))) == expected[1:]


def test_verifying_an_untouched_chain_says_it_holds(site: Site, ruth: FlaskClient) -> None:
    response = verify(ruth)
    assert response.status_code == 200
    page = text(response)
    assert "The chain holds" in page
    assert f"All {count_rows(site.ctx, 'audit_log')} entries" in page
    assert audit.head(site.ctx.db)[1] in page
    kept = text(verify(ruth, expect_head=audit.head(site.ctx.db)[1]))
    assert "the kept head is in the chain" in kept
    cut = text(verify(ruth, expect_head="a" * 64))
    assert "The chain is broken" in cut
    refused = verify(ruth, expect_head="not a hash")
    assert refused.status_code == 400
    assert 'aria-describedby="hint-expect_head error-expect_head"' in text(refused)


def test_verifying_a_tampered_chain_says_where_it_breaks(site: Site, ruth: FlaskClient) -> None:
    conn = site.ctx.db.conn
    conn.executescript("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
    conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")
    conn.commit()
    response = verify(ruth)
    assert response.status_code == 200
    page = text(response)
    assert "The chain is broken" in page
    assert "The chain holds" not in page
    assert "entry 5 does not match its hash" in page
    assert "First bad entry: 5." in page
    assert link(page, "Show the entries from 5") == "/audit?cursor=4"


def test_a_manager_may_not_open_the_audit_trail(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    assert dan.get("/audit").status_code == 403
    page = text(dan.get("/"))
    assert dan.post("/audit/verify", data={"csrf_token": token_of(page)}).status_code == 403


def test_verifying_without_the_csrf_token_is_refused(ruth: FlaskClient) -> None:
    response = ruth.post("/audit/verify", data={})
    assert response.status_code == 400
    assert "The chain" not in text(response)
