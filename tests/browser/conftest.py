"""Browser tests: Debian's Chromium driven by Playwright against `lockdown serve` on a free port.

Chromium comes from Debian (`apt-get install chromium`, done by `.ci/run`), never from
`playwright install`; axe-core comes from npm (`npm ci --prefix tests/browser`). Without them the
browser tests are skipped on a developer's machine and fail in CI, where they must run.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY, free_port
from tests.console.console_kit import PASSWORD, Site, make_site

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# Headless flags this machine needs: no sandbox as root, no GPU, and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must run the browser tests")
    pytest.skip(f"{what}; see the README's 'Browser tests'")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Debian Chromium for the whole run (each test gets its own contexts)."""
    if not CHROMIUM.exists():
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the [test] extra installs it
        _missing("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        _missing("axe-core is not installed (npm ci --prefix tests/browser)")
    return AXE.read_text()


@dataclass
class Live:
    """A running `lockdown serve` and the same database, seen through the test's own Site."""

    url: str
    site: Site
    log: Path

    def page(self, browser: Any, viewport: dict[str, int] = DESKTOP) -> Any:
        """A fresh browser context (its own cookies) and a page in it."""
        context = browser.new_context(viewport=viewport, base_url=self.url, bypass_csp=True)
        context.set_default_timeout(15_000)
        return context.new_page()


@contextmanager
def serving(db_path: Path, log: Path, *, port: int | None = None, scheduler: bool = False, **env: str) -> Iterator[str]:
    """``lockdown serve`` (the real production server) on ``db_path`` and a free loopback port,
    up before the block and stopped after it; its output goes to ``log``. The URL is yielded."""
    port = port or free_port()
    keys = {"LOCKDOWN_DB": str(db_path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    environment = {**os.environ, **keys, **env}
    command = [LOCKDOWN, "serve", "--port", str(port)] + ([] if scheduler else ["--no-scheduler"])
    with log.open("w") as out:
        server = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        _wait_until_up(url, log)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The test site served by the real production server (waitress) with its scheduler."""
    port = free_port()
    for site in make_site(tmp_path):
        log = tmp_path / "serve.log"
        with serving(
            tmp_path / "c.db", log, port=port, scheduler=True, LOCKDOWN_PUBLIC_URL=f"http://localhost:{port}"
        ) as url:
            yield Live(url, site, log)


def _wait_until_up(url: str, log: Path) -> None:
    for _ in range(150):
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail("lockdown serve did not start:\n" + log.read_text())


def sign_in(page: Any, email: str, code: str | None = None, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in form as a person would (labels, not selectors)."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    if code is not None:
        page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def serious_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it stands."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Save a screenshot; into docs/screenshots when LOCKDOWN_SCREENSHOTS=1 (to refresh the README's)."""
    folder = Path(__file__).parents[2] / "docs" / "screenshots" if os.environ.get("LOCKDOWN_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fits(page: Any, name: str, tmp_path: Path, axe_source: str) -> Path:
    """The page neither scrolls sideways on a phone nor has a serious axe finding; its screenshot."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    shot = screenshot(page, name, tmp_path)
    assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width}px); see {shot}"
    assert not serious_violations(page, axe_source), name
    return shot


def dumps(found: Any) -> str:
    return json.dumps(found, indent=1)
