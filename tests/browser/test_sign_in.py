"""Sign-in and form protection in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import PHONE, Live, screenshot, sign_in
from tests.console.console_kit import MANAGER, PASSWORD, PRESS


def test_a_wrong_authenticator_code_is_refused(live: Live, chromium: Any) -> None:
    page = live.page(chromium, PHONE)
    right = live.site.totp[PRESS].now()
    sign_in(page, PRESS, code="000000" if right != "000000" else "111111")
    assert "authenticator code is wrong" in page.get_by_role("alert").inner_text()
    page.goto("/")
    assert page.url.endswith("/sign-in?next=/"), "still signed out"


def test_sign_in_is_throttled_after_five_failures(live: Live, chromium: Any) -> None:
    page = live.page(chromium)
    answers = []
    for _ in range(6):
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            sign_in(page, MANAGER, password="not the password")
        answers.append(sent.value.status)
    assert answers == [401] * 5 + [429]
    assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()


def test_a_form_without_its_csrf_token_is_refused(live: Live, chromium: Any) -> None:
    page = live.page(chromium)
    sign_in(page, PRESS, live.site.totp[PRESS].now())
    page.get_by_label("Title").fill("Forged")
    page.get_by_label("Reason").fill("Someone else's page posted this")
    # What a forged form from another site amounts to: the same fields, without this session's token.
    page.evaluate("() => document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Declare…").click()
    assert sent.value.status == 400
    assert "did not come from this site" in page.get_by_role("alert").inner_text()
    assert live.site.ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_a_blank_code_is_asked_for_by_name_and_the_email_stays(live: Live, chromium: Any, tmp_path: Path) -> None:
    page = live.page(chromium, PHONE)
    sign_in(page, PRESS)
    assert page.get_by_role("alert").inner_text() == "Error: Enter the 6-digit code from your authenticator app"
    assert page.get_by_label("Email").input_value() == PRESS
    assert page.get_by_label("Authenticator code").get_attribute("aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "password", "the password must be typed again"
    shot = screenshot(page, "sign-in-blank-code-phone", tmp_path)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], str(shot)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(live.site.totp[PRESS].now())
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="Declare an incident").is_visible()
