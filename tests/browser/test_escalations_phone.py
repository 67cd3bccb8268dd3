"""Escalations on a phone (390 x 844): a manager reports through the short form, ERMC triages the
queue and opens a report with a long link, press sees the line it may hold from; no page scrolls
sideways, and axe finds nothing serious."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.browser.conftest import PHONE, Live, fits, sign_in
from tests.console.console_kit import ERMC, MANAGER, PRESS

LONG_LINK = "https://social.example/@a.student.with.a.very.long.name/posts/" + "1234567890" * 8


def test_reporting_and_triage_fit_a_phone(live: Live, chromium: Any, axe_source: str, tmp_path: Path) -> None:
    site = live.site
    # Earlier reports, so the queue has a closed one, a link elsewhere and ages to show.
    headers = {"Authorization": f"Bearer {site.tokens[MANAGER]}"}
    linked = requests.post(
        f"{live.url}/api/v1/escalations",
        json={"kind": "welfare_concern", "url": LONG_LINK, "details": "A student posted something worrying."},
        headers=headers,
        timeout=10,
    ).json()["id"]
    page = live.page(chromium, PHONE)
    sign_in(page, MANAGER)
    page.goto("/")
    page.get_by_role("link", name="Report a concern to ERMC").first.click()
    page.get_by_label("Hacked account").check()
    page.get_by_label("On a university account in Lockdown's register").check()
    page.get_by_label("Account", exact=True).select_option(label="X · @livuni_chem")
    page.get_by_label("What did you see?").fill("It posted adverts none of us wrote, at 03:10.")
    fits(page, "escalation-1-form-phone", tmp_path, axe_source)
    page.get_by_role("button", name="Send to ERMC").click()
    assert page.get_by_text("was sent to ERMC").is_visible()
    fits(page, "escalation-2-sent-phone", tmp_path, axe_source)

    ermc = live.page(chromium, PHONE)
    sign_in(ermc, ERMC, site.totp[ERMC].now())
    ermc.goto("/escalations")
    assert ermc.get_by_text("2 open reports, none closed.").is_visible()
    fits(ermc, "escalation-3-queue-phone", tmp_path, axe_source)
    ermc.goto(f"/escalations/{linked}")
    assert ermc.get_by_text("not opened by Lockdown").is_visible()
    shot = fits(ermc, "escalation-4-report-phone", tmp_path, axe_source)

    press = live.page(chromium, PHONE)
    sign_in(press, PRESS, site.totp[PRESS].now())
    press.goto("/escalations")
    assert press.get_by_role("button", name="Hold @livuni_chem (compromised)").is_visible()
    assert not press.get_by_text("adverts").count()
    fits(press, "escalation-5-press-phone", tmp_path, axe_source)
    press.get_by_role("button", name="Hold @livuni_chem (compromised)").click()
    assert press.get_by_role("heading", name="Hold @livuni_chem as compromised?").is_visible()
    assert not press.get_by_text("adverts").count()
    fits(press, "escalation-6-confirm-phone", tmp_path, axe_source)
    press.get_by_role("button", name="Yes, declare and hold @livuni_chem on X").click()
    assert press.get_by_text("its account is on hold").is_visible()
    fits(press, "escalation-7-declared-phone", tmp_path, axe_source)
    print(shot.parent)  # where to look at the screenshots
