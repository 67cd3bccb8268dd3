"""CAP in on a phone (390 x 844): a script posts a CAP alert as the campus alerting system, the
press officer opens the link in the notice and declares in one tap; the confirmation button is on
the first screen, nothing scrolls sideways, and axe finds nothing serious."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests

from lockdown.people.users import add_user
from tests.browser.conftest import PHONE, Live, fits, sign_in
from tests.console.console_kit import PRESS

EXAMPLE = (Path(__file__).resolve().parents[1] / "specs" / "cap-example-thunderstorm.xml").read_bytes()


def test_a_cap_alert_is_declared_from_the_notice_in_one_tap(
    live: Live, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    site = live.site
    _user, token = add_user(site.ctx, "t", name="Rave", email="rave@livuni.ac.uk", roles=["alerting"])
    # The script the campus system runs: one HTTP POST of the alert.
    posted = requests.post(
        f"{live.url}/api/v1/cap",
        data=EXAMPLE,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    proposal = posted.json()["proposal_id"]
    body = site.ctx.db.conn.execute(
        "SELECT body FROM notifications WHERE event = 'cap_proposed' AND recipient = ?", [PRESS]
    ).fetchone()[0]
    link = re.search(r"https?://\S+/cap/proposals/\d+", body)
    assert link, body
    assert link.group(0).endswith(f"/cap/proposals/{proposal}")

    press = live.page(chromium, PHONE)
    sign_in(press, PRESS, site.totp[PRESS].now())
    press.goto("/")
    assert press.get_by_role("link", name="SEVERE THUNDERSTORM WARNING").is_visible()
    fits(press, "cap-1-dashboard-phone", tmp_path, axe_source)
    press.goto(link.group(0))
    button = press.get_by_role("button", name=re.compile(r"^Yes, declare and hold \d+ accounts?$"))
    assert button.is_visible()
    box = button.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"], "the button is on the first screen"
    assert press.get_by_text("SOUTHWESTERN ALPINE COUNTY").count()
    fits(press, "cap-2-proposal-phone", tmp_path, axe_source)
    button.click()
    assert press.get_by_text("declared from the CAP alert").is_visible()
    fits(press, "cap-3-declared-phone", tmp_path, axe_source)
    incident = site.ctx.db.conn.execute("SELECT status, title FROM incidents").fetchall()
    assert incident == [("active", "SEVERE THUNDERSTORM WARNING")]
