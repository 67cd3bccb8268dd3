"""CAP proposals in the console: press sees waiting ones first on the dashboard, declares in one
confirmation or dismisses with a reason; ERMC reads but may not declare; a manager may not read."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockdown.escalations.cap_alerts import SCHEMA_PATH, receive_alert
from lockdown.people.users import add_user
from tests.console.console_kit import ERMC, MANAGER, PRESS, Site, form_post, make_site, signed_in
from tests.escalations.test_cap_in import EXAMPLE, SPECS, alert


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


_senders = itertools.count(1)


def propose(site: Site, body: bytes = EXAMPLE) -> int:
    """Receive the alert as the campus system's token would (a fresh alerting user each time)."""
    email = f"rave{next(_senders)}@livuni.ac.uk"
    user, _token = add_user(site.ctx, "t", name="Rave", email=email, roles=["alerting"])
    found, new = receive_alert(site.ctx, site.app.extensions["lockdown"].incidents, user, body)
    assert new
    return int(found["proposal_id"])


def test_press_sees_it_first_and_declares_in_one_confirmation(site: Site) -> None:
    proposal = propose(site)
    client = signed_in(site, PRESS)
    dashboard = client.get("/").get_data(as_text=True)
    assert dashboard.index("CAP alerts waiting for you") < dashboard.index("Declare an incident")
    assert f"/cap/proposals/{proposal}" in dashboard
    page = client.get(f"/cap/proposals/{proposal}").get_data(as_text=True)
    assert "SEVERE THUNDERSTORM WARNING" in page
    assert "Severe" in page
    assert "TUOLUMNE" in page
    assert "Yes, declare and hold 3 accounts" in page  # live-incident holds every account
    done = form_post(client, f"/cap/proposals/{proposal}", f"/cap/proposals/{proposal}/declare", {})
    assert done.status_code == 302
    assert "/incidents/" in done.headers["Location"]
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents WHERE status = 'active'").fetchone()[0] == 1
    assert "CAP alerts waiting" not in client.get("/").get_data(as_text=True)


def test_press_dismisses_with_a_reason_and_nothing_is_held(site: Site) -> None:
    proposal = propose(site)
    client = signed_in(site, PRESS)
    url = f"/cap/proposals/{proposal}"
    refused = form_post(client, url, f"{url}/dismiss", {"reason": ""})
    assert refused.status_code == 302
    assert "reason is required" in client.get(url).get_data(as_text=True)
    done = form_post(client, url, f"{url}/dismiss", {"reason": "The storm is 300 miles away"})
    assert done.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Dismissed" in page
    assert "The storm is 300 miles away" in page
    assert "Yes, declare" not in page
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_ermc_reads_without_the_button_and_a_manager_reads_nothing(site: Site) -> None:
    proposal = propose(site)
    ermc = signed_in(site, ERMC)
    page = ermc.get(f"/cap/proposals/{proposal}").get_data(as_text=True)
    assert "SEVERE THUNDERSTORM WARNING" in page
    assert "Yes, declare" not in page
    refused = form_post(ermc, f"/cap/proposals/{proposal}", f"/cap/proposals/{proposal}/declare", {})
    assert refused.status_code == 302
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0
    assert signed_in(site, MANAGER).get(f"/cap/proposals/{proposal}").status_code == 403


def test_a_cancel_offers_the_resolution(site: Site) -> None:
    first = propose(site, alert("LIV-1"))
    client = signed_in(site, PRESS)
    form_post(client, f"/cap/proposals/{first}", f"/cap/proposals/{first}/declare", {})
    cancel = propose(site, alert("LIV-2", msg_type="Cancel", references="rave@livuni.ac.uk,LIV-1,x"))
    assert cancel != first
    kind = site.ctx.db.conn.execute("SELECT kind FROM cap_proposals WHERE id = ?", [cancel]).fetchone()[0]
    assert kind == "resolve"
    page = client.get(f"/cap/proposals/{cancel}").get_data(as_text=True)
    assert "Yes, resolve and release" in page


def test_the_shipped_schema_is_the_oasis_one_the_tests_read() -> None:
    assert SCHEMA_PATH.read_bytes() == (SPECS / "cap12.xsd").read_bytes()
