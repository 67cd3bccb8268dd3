"""The demo register (250 accounts) on a 390 x 844 phone: a manager with several accounts sees the
first hold line without scrolling, and a press officer finds a compromised account with the
picker and declares it; no page scrolls sideways, and axe finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from lockdown.crypto import Vault
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.ops.demo import DEMO_DOMAIN, DEMO_PASSWORD, demo_console_access, seed_demo
from lockdown.people.users import user_by_email
from lockdown.posting.posts import approve_post, create_post
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from tests.browser.conftest import PHONE, screenshot, serious_violations, serving, sign_in
from tests.conftest import SECRET, VAULT_KEY

PRESS = f"press.officer@{DEMO_DOMAIN}"
MANAGER = f"manager.chemistry@{DEMO_DOMAIN}"


@dataclass
class Demo:
    url: str
    db_path: Path
    press_totp: pyotp.TOTP


def _prepare(db_path: Path, declare: bool) -> pyotp.TOTP:
    """The demo register and its console access; with ``declare``, a live incident holding it all."""
    settings = Settings.from_env(
        {"LOCKDOWN_DB": str(db_path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    )
    db = connect(db_path)
    try:
        migrate(db)
        ctx = Context(db, audit.audit_key(SECRET.encode()))
        seed_demo(ctx)
        uri = demo_console_access(ctx, Vault(settings.vault_keys))[PRESS]
        assert uri
        if declare:
            _schedule_posts(ctx)
            body = {"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"}
            declare_incident(ctx, incident_config(settings), user_by_email(db, PRESS), body)
        return pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    finally:
        db.close()


def _schedule_posts(ctx: Context) -> None:
    """Approved posts on the manager's Instagram (three) and X (one) accounts, due this week."""
    manager, ermc = user_by_email(ctx.db, MANAGER), user_by_email(ctx.db, f"ermc.admin@{DEMO_DOMAIN}")
    for platform, bodies in (
        ("instagram", ("Open lab evening on Thursday: book a place.", "Meet this year's PhD cohort.",
                       "Our new NMR suite is open.")),
        ("x", ("Seminar on green catalysis, Friday 14:00.",)),
    ):  # fmt: skip
        account_id = ctx.db.conn.execute(
            "SELECT a.id FROM accounts a WHERE a.manager_id = ? AND a.platform = ?", [manager.id, platform]
        ).fetchone()[0]
        for day, body in enumerate(bodies, start=1):
            when = (ctx.now() + timedelta(days=day)).isoformat()
            post = create_post(ctx, manager, {"account_id": account_id, "body": body, "scheduled_at": when})
            approve_post(ctx, ermc, post["id"])


def _serve(tmp_path: Path, declare: bool) -> Iterator[Demo]:
    db_path = tmp_path / "demo.db"
    totp = _prepare(db_path, declare)
    # No scheduler: nothing here needs it, and the page must not change under the test.
    with serving(db_path, tmp_path / "serve.log") as url:
        yield Demo(url, db_path, totp)


@pytest.fixture
def held_demo(tmp_path: Path) -> Iterator[Demo]:
    yield from _serve(tmp_path, declare=True)


@pytest.fixture
def calm_demo(tmp_path: Path) -> Iterator[Demo]:
    yield from _serve(tmp_path, declare=False)


def phone(chromium: Any, demo: Demo) -> Any:
    context = chromium.new_context(viewport=PHONE, base_url=demo.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_a_managers_first_hold_line_is_on_the_first_screen(
    held_demo: Demo, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    page = phone(chromium, held_demo)
    sign_in(page, MANAGER, password=DEMO_PASSWORD)
    page.get_by_role("link", name="My accounts").click()
    rows = page.locator(".row.held")
    assert rows.count() >= 5, "a manager with several accounts, all held"
    first = rows.first.bounding_box()
    shot = screenshot(page, "13-manager-my-accounts-phone", tmp_path)
    assert first["y"] + first["height"] <= PHONE["height"], f"the first hold line is below the fold: {first}; {shot}"
    assert " ".join(rows.first.inner_text().split()).startswith("HELD · Instagram · @livuni_chemistry 3 posts waiting")
    assert width(page) <= PHONE["width"], f"My accounts scrolls sideways ({width(page)}px); see {shot}"
    assert page.get_by_role("button", name="Acknowledge incident 1").is_visible()
    assert not serious_violations(page, axe_source)
    # Opened, a row's posts still wrap within the screen.
    page.locator(".row.held summary").first.click()
    assert page.get_by_text("Waiting on Instagram · @livuni_chemistry:").is_visible()
    assert page.get_by_text("Our new NMR suite is open.").is_visible()
    shot = screenshot(page, "14-manager-opens-a-hold-phone", tmp_path)
    assert width(page) <= PHONE["width"], f"an opened row scrolls sideways ({width(page)}px); see {shot}"
    assert not serious_violations(page, axe_source)


def test_a_press_officer_finds_a_compromised_account_and_declares_it(
    calm_demo: Demo, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    page = phone(chromium, calm_demo)
    sign_in(page, PRESS, calm_demo.press_totp.now(), password=DEMO_PASSWORD)
    page.get_by_role("link", name="find the account to hold").click()
    page.get_by_label("Find the account").fill("opendays instagram")
    page.get_by_role("button", name="Search").click()
    choice = page.get_by_label("Instagram · @livuni_opendays")
    assert choice.is_checked(), "the one match is chosen already"
    assert width(page) <= PHONE["width"], f"the picker scrolls sideways ({width(page)}px)"
    assert not serious_violations(page, axe_source)
    screenshot(page, "15-compromised-account-picker-phone", tmp_path)
    page.get_by_label("Title").fill("Instagram account hacked")
    page.get_by_label("Reason").fill("Spam posted at 01:40; password reset by someone else")
    page.get_by_role("button", name="Declare…").click()
    assert page.get_by_text("Instagram · @livuni_opendays (Open Days) will be held at once").is_visible()
    shot = screenshot(page, "16-compromised-account-confirm-phone", tmp_path)
    assert width(page) <= PHONE["width"], f"the confirmation scrolls sideways ({width(page)}px); see {shot}"
    page.get_by_role("button", name="Yes, declare and hold @livuni_opendays on Instagram").click()
    assert "Incident 1 declared: 1 account held." in page.get_by_role("status").first.inner_text()
    db = connect(calm_demo.db_path)
    try:
        held = db.conn.execute(
            "SELECT a.handle, a.platform FROM account_holds h JOIN accounts a ON a.id = h.account_id"
        ).fetchall()
    finally:
        db.close()
    assert held == [("@livuni_opendays", "instagram")]
