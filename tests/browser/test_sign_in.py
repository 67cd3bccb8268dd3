"""Sign-in and form protection in a real browser."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PHONE, Live, sign_in
from tests.console.console_kit import MANAGER, PRESS


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
