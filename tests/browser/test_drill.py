"""The 2 a.m. drill, in a real browser against the production server.

A press officer declares from a phone; a manager on a phone sees the hold and acknowledges; a
second press officer approves the holding statement; the first resolves with `review`; the
manager reschedules the post that fell due during the hold. The README's phone pictures of the
drill come from the full demo register (test_demo_register_phone.py); this small register gives
the register and the access session (LOCKDOWN_SCREENSHOTS=1 writes them into docs/screenshots).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lockdown.store import audit
from lockdown.timeutil import parse_iso, to_iso
from tests.browser.conftest import DESKTOP, PHONE, Live, screenshot, sign_in
from tests.console.console_kit import ERMC, MANAGER, PRESS, PRESS_2

TOMORROW_9AM = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


def api(live: Live, email: str, method: str, path: str, **body: Any) -> Any:
    client = live.site.app.test_client()
    response = client.open(
        path, method=method, json=body or None, headers={"Authorization": f"Bearer {live.site.tokens[email]}"}
    )
    assert response.status_code < 300, response.get_data(as_text=True)
    return response.json if response.status_code != 204 else None


def approved_post(live: Live, account_id: int, body: str, when: datetime) -> int:
    """A post by the manager, approved by ERMC (a colleague), scheduled for ``when``."""
    post = api(live, MANAGER, "POST", "/api/v1/posts", account_id=account_id, body=body, scheduled_at=to_iso(when))
    api(live, ERMC, "POST", f"/api/v1/posts/{post['id']}/approve")
    post_id: int = post["id"]
    return post_id


def test_the_whole_drill(live: Live, chromium: Any, tmp_path: Path) -> None:
    db = live.site.ctx.db
    approved_post(live, 2, "Open day tomorrow! Come and see the labs.", TOMORROW_9AM)

    # 1. The press officer, woken at 2 a.m., declares from a phone.
    priya = live.page(chromium, PHONE)
    started = time.monotonic()
    sign_in(priya, PRESS, live.site.totp[PRESS].now())
    assert priya.get_by_text("No active incident").is_visible()
    priya.get_by_label("Playbook").select_option("live-incident")
    priya.get_by_label("Title").fill("Fire at the Sydney Jones Library")
    priya.get_by_label("Reason").fill("Fire service on site 02:04; building evacuated")
    priya.get_by_role("button", name="Declare…").click()
    assert priya.get_by_text("3 accounts will be held at once").is_visible()
    priya.get_by_role("button", name="Yes, declare and hold 3 accounts").click()
    declared_in = time.monotonic() - started
    assert priya.get_by_role("heading", level=1).inner_text() == "Incident 1: Fire at the Sydney Jones Library"
    assert priya.get_by_text("3 accounts held", exact=True).is_visible()
    print(f"declared {declared_in:.1f} s after opening the sign-in page")
    assert db.conn.execute("SELECT COUNT(*) FROM account_holds").fetchone()[0] == 3

    # A post that falls due during the hold: the scheduler (running in the server) must not send it.
    missed = approved_post(live, 3, "Lab tour at noon", datetime.now(UTC) + timedelta(seconds=2))
    time.sleep(3)

    # 2. The manager, on a phone, sees the hold and acknowledges.
    dan = live.page(chromium, PHONE)
    sign_in(dan, MANAGER)
    dan.get_by_role("link", name="My accounts").click()
    rows = dan.locator(".row.held")
    assert rows.count() == 3
    assert dan.get_by_text("HELD", exact=True).first.is_visible()
    dan.locator(".row.held", has_text="@livuni_chem").locator("summary").click()
    assert dan.get_by_text("Waiting on X · @livuni_chem:").is_visible()
    assert dan.get_by_text("Open day tomorrow! Come and see the labs.").is_visible()
    # The README's pictures of this step come from the full demo register (test_demo_register_phone.py,
    # test_demo_phone.py).
    dan.get_by_role("button", name="Acknowledge incident 1").first.click()
    assert "acknowledgement is recorded" in dan.get_by_role("status").first.inner_text()

    # 3. A second press officer approves the holding statement the declaration drafted.
    omar = live.page(chromium, DESKTOP)
    sign_in(omar, PRESS_2, live.site.totp[PRESS_2].now())
    omar.get_by_role("link", name="Open the incident").click()
    assert omar.get_by_text("Waiting for a second press officer").count() == 0, "Omar is the second officer"
    omar.get_by_role("button", name="Approve and publish message 1").click()
    assert "published on 1 of 1 accounts" in omar.get_by_role("status").first.inner_text()

    # 4. The first press officer sees the acknowledgement and resolves with `review`.
    priya.reload()
    assert priya.get_by_text("Acknowledged 1 of 1").is_visible()
    assert priya.get_by_label("review:").is_checked()
    priya.get_by_role("button", name="Resolve…").click()
    assert priya.get_by_text("3 accounts will be released at once").is_visible()
    priya.get_by_role("button", name="Yes, resolve and release 3 accounts").click()
    assert "resolved (review): 3 accounts released" in priya.get_by_role("status").first.inner_text()

    # 5. The manager reschedules the post that fell due during the hold.
    dan.get_by_role("link", name="Posts").click()
    dan.get_by_role("link", name="1 post needs review").click()
    assert dan.get_by_text("Lab tour at noon").is_visible()
    local = TOMORROW_9AM.astimezone(live.site.app.extensions["lockdown"].settings.zone)
    dan.get_by_label(f"New time for post {missed}").fill(local.strftime("%Y-%m-%dT%H:%M"))
    dan.get_by_role("button", name=f"Reschedule post {missed}").click()
    assert f"Post {missed} is scheduled for" in dan.get_by_role("status").first.inner_text()

    state, scheduled_at, published_at = db.conn.execute(
        "SELECT state, scheduled_at, published_at FROM posts WHERE id = ?", [missed]
    ).fetchone()
    assert (state, published_at) == ("scheduled", None), "never sent during the hold, scheduled again"
    assert parse_iso(scheduled_at) == TOMORROW_9AM
    deliveries = db.conn.execute(
        "SELECT a.handle, d.state FROM message_deliveries d JOIN accounts a ON a.id = d.account_id"
    ).fetchall()
    assert deliveries == [("@livuni", "delivered")], "only the central account spoke"
    assert audit.verify(db, live.site.ctx.audit_key).ok


def test_the_register_and_an_access_session(live: Live, chromium: Any, tmp_path: Path) -> None:
    """ERMC's register on a desktop; a press officer's access session with its countdown, on a phone."""
    api(live, PRESS, "POST", "/api/v1/incidents", playbook="live-incident", title="Fire", reason="R")
    api(live, MANAGER, "PUT", "/api/v1/accounts/2/credentials", username="chem-login", password="correct horse 42!")
    ruth = live.page(chromium, DESKTOP)
    sign_in(ruth, ERMC, live.site.totp[ERMC].now())
    ruth.get_by_role("link", name="Register").click()
    ruth.get_by_label("Held").select_option("yes")
    ruth.get_by_role("button", name="Filter").click()
    assert ruth.locator("tbody tr").count() == 3
    screenshot(ruth, "7-register", tmp_path)

    priya = live.page(chromium, PHONE)
    sign_in(priya, PRESS, live.site.totp[PRESS].now())
    priya.get_by_role("link", name="Credentials").click()
    priya.get_by_label("Why you need the password").fill("The chemistry account posts spam at 02:30; take it over")
    priya.get_by_label("@livuni_chem (x)").check()
    priya.get_by_role("button", name="Open session").click()
    priya.get_by_role("button", name="Reveal password").first.click()
    assert priya.get_by_text("correct horse 42!").is_visible()
    left = priya.locator("#countdown [data-left]")
    first = left.inner_text()
    priya.wait_for_timeout(1500)
    assert left.inner_text() != first, "the countdown moves"
    screenshot(priya, "8-reveal-with-countdown-phone", tmp_path)
