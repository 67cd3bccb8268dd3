"""The 2 a.m. drill on the full demo register (250 accounts, 77 people told to acknowledge) on a
390x844 phone: the declaring officer, the deputy and a manager each see their next action without
scrolling, no page scrolls sideways, axe finds nothing serious, and Resolve asks before it
releases anything. The drill's inputs (clicks and fields typed) are counted and printed; the
README's phone screenshots come from here (LOCKDOWN_SCREENSHOTS=1 writes them to docs/screenshots).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests

from lockdown.crypto import Vault
from lockdown.ops.demo import DEMO_DOMAIN, DEMO_PASSWORD, demo_console_access, seed_demo
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from lockdown.timeutil import to_iso
from tests.browser.conftest import PHONE, screenshot, serious_violations, serving
from tests.conftest import SECRET, VAULT_KEY, free_port

PRESS = f"press.officer@{DEMO_DOMAIN}"
DEPUTY = f"press.deputy@{DEMO_DOMAIN}"
MANAGER = f"manager.chemistry@{DEMO_DOMAIN}"
ERMC = f"ermc.admin@{DEMO_DOMAIN}"


@dataclass
class Demo:
    """`lockdown serve` on the demo register, the TOTP of who needs one, and API tokens."""

    url: str
    db_path: Path
    totp: dict[str, pyotp.TOTP]
    tokens: dict[str, str]

    def db_value(self, sql: str, *params: Any) -> Any:
        db = connect(self.db_path)
        try:
            return db.conn.execute(sql, params).fetchone()[0]
        finally:
            db.close()

    def api(self, email: str, method: str, path: str, **body: Any) -> Any:
        response = requests.request(
            method, f"{self.url}{path}", json=body or None, timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[email]}"},
        )  # fmt: skip
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo register, seeded once for the module, behind the production server (no scheduler:
    the demo's connectors are outboxes, and an approval publishes in its own request)."""
    folder = tmp_path_factory.mktemp("demo")
    db_path = folder / "demo.db"
    settings = Settings.from_env(
        {"LOCKDOWN_DB": str(db_path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    )
    db = connect(db_path)
    try:
        migrate(db)
        ctx = Context(db, audit.audit_key(SECRET.encode()))
        tokens = {login.email: login.token for login in seed_demo(ctx)}
        uris = demo_console_access(ctx, Vault(settings.vault_keys))
    finally:
        db.close()
    totp = {email: pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0]) for email, uri in uris.items() if uri}
    port = free_port()
    with serving(db_path, folder / "serve.log", port=port, LOCKDOWN_PUBLIC_URL=f"http://localhost:{port}") as url:
        yield Demo(url, db_path, totp, tokens)


@dataclass
class Inputs:
    """Every click and every field typed in, as a tired person would count them."""

    done: list[str] = field(default_factory=list)

    def fill(self, locator: Any, text: str) -> None:
        locator.fill(text)
        self.done.append(f"type {text[:20]!r}")

    def click(self, locator: Any) -> None:
        locator.click()
        self.done.append("click")

    def sign_in(self, page: Any, email: str, code: str | None) -> None:
        """The sign-in form, on whatever page it was shown."""
        self.fill(page.get_by_label("Email"), email)
        self.fill(page.get_by_label("Password"), DEMO_PASSWORD)
        if code is not None:
            self.fill(page.get_by_label("Authenticator code"), code)
        self.click(page.get_by_role("button", name="Sign in"))


def phone(chromium: Any, demo: Demo) -> Any:
    context = chromium.new_context(viewport=PHONE, base_url=demo.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    return context.new_page()


# The innermost elements that stick out to the right of a phone's screen, to name in a failure.
WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth && e.children.length === 0)
  .slice(0, 5).map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 60))"""


def fits_a_phone(page: Any, axe_source: str, name: str, tmp_path: Path, readme: bool = True) -> None:
    """No sideways scrolling, nothing serious for axe; the screenshot either way (one of the
    README's, or only in the test's folder)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if readme:
        shot = screenshot(page, name, tmp_path)
    else:
        shot = tmp_path / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
    assert width <= PHONE["width"], f"{page.url} is {width}px wide because of {page.evaluate(WIDEST)}; see {shot}"
    found = serious_violations(page, axe_source)
    assert not found, f"{page.url}: {found}"


def above_the_fold(locator: Any) -> None:
    """The element is on the first screen: seen without scrolling."""
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"], f"{box['y'] + box['height']:.0f}px down, below the fold"


def test_the_drill_on_the_full_demo_register_fits_a_phone(
    demo: Demo, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    held_by_live_incident = demo.db_value("SELECT COUNT(*) FROM accounts WHERE archived_at IS NULL")
    assert held_by_live_incident >= 250

    # A post due in a few seconds, after the declaration: the server runs no scheduler, so it waits
    # for the all-clear whatever the timing, and is reviewed then.
    chemistry = demo.db_value(
        "SELECT a.id FROM accounts a JOIN users u ON u.id = a.manager_id WHERE u.email = ? ORDER BY a.id", MANAGER
    )
    due = datetime.now(UTC) + timedelta(seconds=8)
    post = demo.api(MANAGER, "POST", "/api/v1/posts", account_id=chemistry, body="Lab tour at noon",
                    scheduled_at=to_iso(due))  # fmt: skip
    demo.api(ERMC, "POST", f"/api/v1/posts/{post['id']}/approve")

    # 1. The press officer, woken at 2 a.m., signs in and declares from a phone.
    declaring = Inputs()
    priya = phone(chromium, demo)
    priya.goto("/sign-in")
    declaring.sign_in(priya, PRESS, demo.totp[PRESS].now())
    assert priya.get_by_text("No active incident").is_visible()
    fits_a_phone(priya, axe_source, "1-dashboard-phone", tmp_path)
    # The next action is Declare, even with every central account not yet checked (a fresh demo).
    above_the_fold(priya.get_by_role("button", name="Declare…"))
    # The playbook list opens on live-incident: nothing to choose.
    declaring.fill(priya.get_by_label("Title"), "Fire at the Sydney Jones Library")
    declaring.fill(priya.get_by_label("Reason"), "Fire service on site 02:04; building evacuated")
    declaring.click(priya.get_by_role("button", name="Declare…"))
    assert priya.get_by_text(f"{held_by_live_incident} accounts will be held at once").is_visible()
    fits_a_phone(priya, axe_source, "2-confirm-declaration-phone", tmp_path)
    declaring.click(priya.get_by_role("button", name=f"Yes, declare and hold {held_by_live_incident} accounts"))
    assert priya.get_by_role("heading", level=1).inner_text() == "Incident 1: Fire at the Sydney Jones Library"

    # The declaring officer's first screen: the wait for a second press officer, and who can approve.
    waiting = priya.get_by_role("heading", name="Waiting for a second press officer")
    above_the_fold(waiting)
    assert priya.get_by_text("Asked to approve: 2 press officers").is_visible()
    assert priya.get_by_role("button", name="Approve and publish the holding statement").count() == 0
    fits_a_phone(priya, axe_source, "3-incident-declared-phone", tmp_path)

    # 2. A manager's first screen: their held accounts and Acknowledge.
    dan = phone(chromium, demo)
    dan.goto("/sign-in")
    Inputs().sign_in(dan, MANAGER, None)
    assert dan.get_by_role("heading", name="of your accounts are on hold").is_visible()
    acknowledge = dan.get_by_role("button", name="Acknowledge", exact=True)
    above_the_fold(acknowledge)
    fits_a_phone(dan, axe_source, "4-manager-sees-the-hold-phone", tmp_path)
    acknowledge.click()
    assert "acknowledgement is recorded" in dan.get_by_role("status").first.inner_text()
    assert dan.get_by_text("You acknowledged just now").is_visible()

    # ERMC's first screen: the central accounts' readiness and what needs triage.
    ruth = phone(chromium, demo)
    ruth.goto("/sign-in")
    Inputs().sign_in(ruth, ERMC, demo.totp[ERMC].now())
    above_the_fold(ruth.get_by_role("heading", name="of your accounts are on hold"))
    assert ruth.get_by_role("heading", name="Central accounts ready: 0 of 7").is_visible()
    assert ruth.get_by_text("Nothing to triage").is_visible()
    fits_a_phone(ruth, axe_source, "ermc-first-screen-phone", tmp_path, readme=False)

    # 3. The deputy follows the notice's link to the incident, signs in there, and approves.
    approving = Inputs()
    tom = phone(chromium, demo)
    tom.goto("/incidents/1")
    approving.sign_in(tom, DEPUTY, demo.totp[DEPUTY].now())
    assert tom.get_by_role("heading", name="Holding statement waiting for your approval").is_visible()
    approve = tom.get_by_role("button", name="Approve and publish the holding statement")
    fits_a_phone(tom, axe_source, "5-deputy-approves-phone", tmp_path)
    above_the_fold(approve)
    quiet = tom.get_by_role("button", name="Acknowledge", exact=True)
    assert "secondary" in (quiet.get_attribute("class") or ""), "Acknowledge is not the loud button here"
    approving.click(approve)
    central = demo.db_value("SELECT COUNT(*) FROM accounts WHERE central = 1")
    assert f"published on {central} of {central} accounts" in tom.get_by_role("status").first.inner_text()

    # 4. The declaring officer sees the acknowledgement counted, and Resolve asks before releasing.
    priya.reload()
    notified = demo.db_value(
        "SELECT COUNT(DISTINCT user_id) FROM notifications WHERE incident_id = 1 AND event = 'declared'"
    )
    assert priya.get_by_text(f"Acknowledged 1 of {notified}").is_visible()
    assert priya.get_by_role("heading", name="Waiting for a second press officer").count() == 0
    fits_a_phone(priya, axe_source, "incident-after-approval-phone", tmp_path, readme=False)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    priya.get_by_role("button", name="Resolve…").click()
    assert priya.get_by_role("heading", level=1).inner_text() == "Resolve “Fire at the Sydney Jones Library”?"
    assert priya.get_by_text(f"{held_by_live_incident} accounts will be released at once").is_visible()
    assert priya.get_by_text("1 post fell due during the hold").is_visible()
    assert demo.db_value("SELECT status FROM incidents WHERE id = 1") == "active", "asking changed nothing"
    fits_a_phone(priya, axe_source, "12-confirm-resolve-phone", tmp_path)
    priya.get_by_role("button", name=f"Yes, resolve and release {held_by_live_incident} accounts").click()
    assert "resolved (review)" in priya.get_by_role("status").first.inner_text()

    # 5. The manager reschedules the post that fell due during the hold.
    dan.get_by_role("link", name="Posts").click()
    dan.get_by_role("link", name="1 post needs review").click()
    assert dan.get_by_text("Lab tour at noon").is_visible()
    fits_a_phone(dan, axe_source, "6-needs-review-phone", tmp_path)

    print(
        f"\ndrill inputs: sign-in to a declared incident {len(declaring.done)} ({', '.join(declaring.done)}); "
        f"the deputy's notice link to an approved holding statement {len(approving.done)} "
        f"({', '.join(approving.done)})"
    )
    assert len(declaring.done) == 8, declaring.done
    assert len(approving.done) == 5, approving.done


def test_a_manager_adds_a_photo_to_a_post_on_the_full_demo_register(
    demo: Demo, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    """Issue 16 on the 250-account register: the posts page with its account picker, the upload
    folded away, and after an upload the draft form with the preview on the first screen."""
    from playwright.sync_api import expect

    from tests.media_samples import image_bytes

    photo = tmp_path / "open-day.jpg"
    photo.write_bytes(image_bytes(size=(1200, 800), gps=True))
    chemistry = demo.db_value(
        "SELECT a.id FROM accounts a JOIN users u ON u.id = a.manager_id WHERE u.email = ? AND a.platform = 'x' "
        "ORDER BY a.id",
        MANAGER,
    )
    dan = phone(chromium, demo)
    dan.goto(f"/posts?account_id={chemistry}")
    Inputs().sign_in(dan, MANAGER, None)
    dan.goto(f"/posts?account_id={chemistry}")
    fits_a_phone(dan, axe_source, "media-0-posts-demo-phone", tmp_path, readme=False)
    dan.get_by_text("Add a photo or video").click()
    dan.get_by_label("Photo (JPEG, PNG, WebP, GIF) or video (MP4)").set_input_files(str(photo))
    dan.get_by_label("Alt text: what it shows").fill("Students at the open day stand")
    dan.get_by_role("button", name="Upload").click()
    expect(dan.get_by_role("img", name="Students at the open day stand")).to_be_visible()
    # The upload lands on the draft form: writing the post is what comes next.
    above_the_fold(dan.get_by_label("Text", exact=True))
    fits_a_phone(dan, axe_source, "media-4-draft-demo-phone", tmp_path, readme=False)
