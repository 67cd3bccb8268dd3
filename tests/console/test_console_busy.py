"""A busy database in the console (#12, finding 14): a page saying to try again, 503 with
Retry-After, never a 500 in JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_busy_database import write_lock
from tests.console.console_kit import PRESS, Site, form_post, make_site, signed_in


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, {"LOCKDOWN_BUSY_TIMEOUT": "0.2"})


def test_a_form_that_cannot_get_the_write_lock_answers_a_503_page_with_retry_after(site: Site) -> None:
    declared = site.app.test_client().post(
        "/api/v1/incidents",
        json={"title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    page_url = f"/incidents/{declared.json['id']}"
    press = signed_in(site, PRESS)
    with write_lock(site.app.extensions["lockdown"].settings.db_path):
        response = form_post(press, page_url, f"{page_url}/messages", {"template": "update", "body": "Avoid the area."})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    page = response.get_data(as_text=True)
    assert "try again" in page
    assert "database is locked" not in page
