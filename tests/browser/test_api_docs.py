"""/docs in a real browser: Swagger UI from the installed package, under its Content-Security-
Policy (not bypassed here), loading nothing from any other origin (#12 finding 16)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import DESKTOP, Live


def test_the_api_docs_render_offline_under_their_policy(live: Live, chromium: Any) -> None:
    context = chromium.new_context(viewport=DESKTOP, base_url=live.url)  # CSP enforced
    page = context.new_page()
    elsewhere: list[str] = []
    refusals: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:  # there is no network here anyway: say which origin the page wanted
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.on("console", lambda m: refusals.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Lockdown API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 20, "the operations of /openapi.json are listed"
    assert elsewhere == []
    assert refusals == []
    context.close()
