"""axe-core on every console page each role can reach, on a phone and on a desktop."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import DESKTOP, PHONE, Live, dumps, serious_violations, sign_in
from tests.console.console_kit import ERMC, MANAGER, PRESS

# Downloads and actions are not pages to check.
NOT_PAGES = (".md", ".csv", "/sign-out", "/export")


def crawl(page: Any, start: str, limit: int = 60) -> list[str]:
    """Every console page reachable by links from ``start`` (same site, no downloads)."""
    seen, queue = [start], [start]
    while queue and len(seen) < limit:
        page.goto(queue.pop(0))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(("/api/", "/docs")):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path not in seen and not any(marker in parts.path for marker in NOT_PAGES):
                seen.append(path)
                queue.append(path)
    return seen


def check_pages(page: Any, paths: list[str], axe_source: str) -> dict[str, Any]:
    found = {}
    for path in paths:
        page.goto(path)
        violations = serious_violations(page, axe_source)
        if violations:
            found[path] = violations
    return found


def seed(live: Live) -> None:
    """An active incident with a message, so incident pages have everything on them."""
    api = live.site.app.test_client()
    press = {"Authorization": f"Bearer {live.site.tokens[PRESS]}"}
    declared = api.post("/api/v1/incidents", json={"playbook": "live-incident", "title": "Fire", "reason": "R"},
                        headers=press)  # fmt: skip
    assert declared.status_code == 201, declared.json
    manager = {"Authorization": f"Bearer {live.site.tokens[MANAGER]}"}
    deposited = api.put("/api/v1/accounts/2/credentials", json={"username": "chem", "password": "correct horse 42!"},
                        headers=manager)  # fmt: skip
    assert deposited.status_code == 204, deposited.json


def test_no_serious_or_critical_violation_on_any_page(live: Live, chromium: Any, axe_source: str) -> None:
    seed(live)
    problems: dict[str, Any] = {}
    visited: list[str] = []
    signed_out = live.page(chromium, PHONE)
    problems |= check_pages(signed_out, ["/sign-in"], axe_source)
    for email, viewport in ((PRESS, PHONE), (MANAGER, PHONE), (ERMC, DESKTOP)):
        page = live.page(chromium, viewport)
        totp = live.site.totp.get(email)
        sign_in(page, email, totp.now() if totp else None)
        paths = crawl(page, "/")
        visited += paths
        problems |= {f"{email} {path}": v for path, v in check_pages(page, paths, axe_source).items()}
    # Pages reached by a form rather than a link.
    page = live.page(chromium, PHONE)
    sign_in(page, "omar@livuni.ac.uk", live.site.totp["omar@livuni.ac.uk"].now())
    page.get_by_label("Title").fill("Drill")
    page.get_by_label("Reason").fill("Checking the confirmation page")
    page.get_by_role("button", name="Declare…").click()
    problems["confirm declare"] = serious_violations(page, axe_source)
    page.goto("/credentials")
    page.get_by_label("Why you need the password").fill("Checking the session pages")
    page.get_by_label("@livuni_chem (x)").check()
    page.get_by_role("button", name="Open session").click()
    problems["access session"] = serious_violations(page, axe_source)
    page.get_by_role("button", name="Reveal password").first.click()
    assert page.get_by_text("correct horse 42!").is_visible()
    problems["revealed password"] = serious_violations(page, axe_source)
    page.goto("/incidents/999")
    problems["error page"] = serious_violations(page, axe_source)
    problems = {where: found for where, found in problems.items() if found}
    assert {"/", "/incidents/1", "/incidents/1/report"} <= set(visited)
    assert not problems, dumps(problems)


def test_every_control_is_reachable_by_keyboard_with_a_visible_focus(live: Live, chromium: Any) -> None:
    page = live.page(chromium, PHONE)
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "the focused control shows a visible outline"
    names = []
    for _ in range(6):
        page.keyboard.press("Tab")
        names.append(page.evaluate("() => document.activeElement.name || document.activeElement.textContent"))
    assert names[:5] == ["Lockdown", "email", "password", "code", "Sign in"]


def test_screens_fit_a_phone(live: Live, chromium: Any, tmp_path: Path) -> None:
    seed(live)
    page = live.page(chromium, PHONE)
    sign_in(page, MANAGER)
    for path in ("/", "/my-accounts", "/incidents/1"):
        page.goto(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width}px)"
