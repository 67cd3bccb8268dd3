"""The 2 a.m. drill through the university's sign-in (issue 17), in Chromium on a 390 x 844
phone against `lockdown serve` and the real OpenID provider (tests/oidc): the press officer taps
"Sign in with ...", the provider signs them in with MFA, and they land on the dashboard with
Declare on the first screen; they declare. Then sign-out offers the provider's logout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lockdown.people.users import add_user
from tests.browser.conftest import PHONE, fits, serving
from tests.console.console_kit import make_site
from tests.oidc.server import Oidc

ROLE_MAP = "Lockdown.Press=press,Lockdown.ERMC=ermc,Lockdown.Manager=manager"


@pytest.fixture
def site_with_provider(tmp_path: Path, oidc: Oidc) -> Iterator[tuple[str, Any]]:
    from tests.conftest import free_port

    port = free_port()
    public = f"http://localhost:{port}"
    client = oidc.client([f"{public}/sign-in/provider/callback"], post_logout_redirect_uris=[f"{public}/sign-in"])
    env = {
        "LOCKDOWN_PUBLIC_URL": public, "LOCKDOWN_OIDC_ISSUER": oidc.issuer, "LOCKDOWN_OIDC_CLIENT_ID": client.client_id,
        "LOCKDOWN_OIDC_CLIENT_SECRET": client.client_secret, "LOCKDOWN_OIDC_ROLE_MAP": ROLE_MAP,
        "LOCKDOWN_OIDC_NAME": "University of Liverpool",
    }  # fmt: skip
    for site in make_site(tmp_path, extra_env=env):
        with serving(tmp_path / "c.db", tmp_path / "serve.log", port=port, **env) as url:
            yield url, site


def test_a_press_officer_signs_in_through_the_provider_on_a_phone_and_declares(
    site_with_provider: tuple[str, Any], oidc: Oidc, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    url, site = site_with_provider
    add_user(site.ctx, "t", name="Grace", email="grace@livuni.ac.uk", roles=["manager"])
    oidc.set_user("grace-sub", email="grace@livuni.ac.uk", name="Grace", roles=["Lockdown.Press"], amr=["pwd", "mfa"])
    oidc.next_user("grace-sub")
    context = chromium.new_context(viewport=PHONE, base_url=url, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/")
    provider_button = page.get_by_role("link", name="Sign in with University of Liverpool")
    expect(provider_button).to_be_visible()
    assert provider_button.bounding_box()["y"] < PHONE["height"] / 2, "the provider's button is not first"
    fits(page, "provider-1-sign-in-phone", tmp_path, axe_source)
    provider_button.click()
    page.wait_for_url(f"{url}/")
    declare = page.get_by_role("button", name="Declare…")
    expect(declare).to_be_visible()
    box = declare.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], "Declare is below the first screen"
    fits(page, "provider-2-dashboard-phone", tmp_path, axe_source)
    assert site.ctx.db.conn.execute(
        "SELECT role FROM user_roles JOIN users ON users.id = user_id WHERE email = 'grace@livuni.ac.uk'"
    ).fetchall() == [("press",)], "the provider's role replaced the register's"

    page.get_by_label("Title").fill("Fire at the Sydney Jones Library")
    page.get_by_label("Reason").fill("Fire service on site 02:04")
    page.get_by_role("button", name="Declare…").click()
    page.get_by_role("button", name="Yes, declare and hold 3 accounts").click()
    expect(page.get_by_text("3 accounts held", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    logout = page.get_by_role("link", name="Sign out of the university too")
    expect(logout).to_be_visible()
    fits(page, "provider-3-signed-out-phone", tmp_path, axe_source)
    logout.click()
    page.wait_for_url(f"{url}/sign-in*")
    page.goto("/")
    expect(page.get_by_role("link", name="Sign in with University of Liverpool")).to_be_visible()
    context.close()
