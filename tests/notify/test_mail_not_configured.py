"""Notices that cannot go out because no mail is configured: a state shown once where people
look (/healthz, the console's banner for ERMC and the press team), not a warning per retry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockdown.api.state import app_state
from lockdown.clock.scheduler import SideJobs
from lockdown.notify.delivery import deliver_due
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from tests.console.console_kit import ERMC, MANAGER, PRESS, Site, make_site, signed_in


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def settings_of(site: Site) -> Settings:
    with site.app.app_context():
        settings: Settings = app_state().settings
    return settings


def declare(site: Site) -> None:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json


def waiting_emails(site: Site) -> int:
    row = site.ctx.db.conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE state = 'pending' AND channel = 'email'"
    ).fetchone()
    return int(row[0])


def test_healthz_says_mail_is_not_configured_and_how_many_notices_wait(site: Site) -> None:
    client = site.app.test_client()
    assert client.get("/healthz").json["mail"] == {"configured": False, "waiting": 0}
    declare(site)

    deliver_due(site.ctx, settings_of(site))

    health = client.get("/healthz")
    assert health.status_code == 200, "holds do not depend on mail"
    assert health.json["ok"] is True
    assert health.json["mail"] == {"configured": False, "waiting": waiting_emails(site)}
    assert health.json["mail"]["waiting"] > 0


def test_the_console_shows_ermc_and_the_press_team_a_banner_and_managers_none(site: Site) -> None:
    declare(site)
    deliver_due(site.ctx, settings_of(site))
    waiting = waiting_emails(site)
    assert waiting >= 1
    banner = f"Mail is not configured: {waiting} {'notice is' if waiting == 1 else 'notices are'} waiting."

    for email in (PRESS, ERMC):
        assert banner in signed_in(site, email).get("/").get_data(as_text=True), email
    assert "Mail is not configured" not in signed_in(site, MANAGER).get("/").get_data(as_text=True)


def test_the_scheduler_says_it_once_not_on_every_run(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_of(site)
    dispatcher = Dispatcher(settings, audit.audit_key(settings.require_secret_key()))
    jobs = SideJobs(settings, dispatcher)
    try:
        declare(site)
        with caplog.at_level(logging.INFO):
            for _ in range(20):
                jobs.deliver_notifications()
    finally:
        dispatcher.close()
    said = [r.getMessage() for r in caplog.records if r.name.startswith("lockdown")]
    assert len(said) == 1, said
    assert said[0].startswith("mail is not configured")
