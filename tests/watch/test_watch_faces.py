"""The watch through the scheduler's job and the faces: a post made on a held account's platform
is on the incident page, in the report and in the manager's mail within two poll intervals of
the scheduler's clock; ``GET /incidents/{id}/watch`` has the promised shape for signed-in users
only; the delete action is the press team's and the account's manager's, audited, and a refusal
is shown."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorError
from lockdown.api import incidents as api_incidents
from lockdown.clock.scheduler import WATCH_EVERY_SECONDS, SideJobs, build_scheduler
from lockdown.console import incident_pages
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from tests.console.console_kit import ERMC, MANAGER, PRESS, MovedClock, Site, form_post, make_site, signed_in
from tests.watch.fakes import FakePlatform

T0 = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
KIND = "mastodon"
INTERVAL = 60.0  # Mastodon's default
OTHER_MANAGER = "zoe@livuni.ac.uk"


@pytest.fixture
def clock() -> MovedClock:
    return MovedClock(T0)


@pytest.fixture
def platform(clock: MovedClock, monkeypatch: pytest.MonkeyPatch) -> FakePlatform:
    fake = FakePlatform(clock)
    fake.unlistable = {"outbox"}
    # The faces build connectors through connectors_for; the fake stands in for the network.
    monkeypatch.setattr(api_incidents, "connectors_for", lambda settings: fake.factory)
    monkeypatch.setattr(incident_pages, "connectors_for", lambda settings: fake.factory)
    return fake


@pytest.fixture
def site(tmp_path: Path, clock: MovedClock) -> Iterator[Site]:
    env = {"LOCKDOWN_MAIL_MBOX": str(tmp_path / "mail.mbox"), "LOCKDOWN_OUTBOUND_ALLOW": "127.0.0.0/8"}
    for made in make_site(tmp_path, env, clock):
        # Dan's chemistry account on Mastodon; Zoe manages another account, not this one.
        made.ctx.db.conn.execute(
            "UPDATE accounts SET platform = 'mastodon', connector = ? WHERE handle = '@livuni_chem'",
            ['{"kind": "mastodon", "base_url": "https://mastodon.example"}'],
        )
        made.ctx.db.conn.commit()
        from lockdown.people.users import add_user

        made.tokens[OTHER_MANAGER] = add_user(made.ctx, "t", name="Zoe", email=OTHER_MANAGER, roles=["manager"])[1]
        yield made


def settings_of(site: Site) -> Settings:
    from lockdown.api.state import app_state

    with site.app.app_context():
        return app_state().settings


@pytest.fixture
def jobs(site: Site, clock: MovedClock, platform: FakePlatform) -> Iterator[SideJobs]:
    settings = settings_of(site)
    dispatcher = Dispatcher(
        settings, audit.audit_key(settings.require_secret_key()), clock=clock, connector_factory=platform.factory
    )
    yield SideJobs(settings, dispatcher)
    dispatcher.close()


def api(site: Site, email: str | None, method: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {site.tokens[email]}"} if email else {}
    return site.app.test_client().open(path, method=method, headers=headers)


def declare(site: Site) -> int:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def mail_to(site: Site, email: str) -> list[tuple[str, str]]:
    path = settings_of(site).mail_mbox
    assert path is not None
    if not path.exists():
        return []
    box = mailbox.mbox(path)
    try:
        return [(m["Subject"], m.get_payload(decode=True).decode()) for m in box if m["To"] == email]
    finally:
        box.close()


def run_the_scheduler_until(jobs: SideJobs, clock: MovedClock, done: Any, limit: timedelta) -> timedelta:
    """Run the watch and the notices as the scheduler would, every WATCH_EVERY_SECONDS of the
    moved clock, until ``done()``; return how long it took."""
    start = clock.now
    while not done():
        assert clock.now - start <= limit, "not seen within the limit"
        clock.now += timedelta(seconds=WATCH_EVERY_SECONDS)
        jobs.watch()
        jobs.deliver_notifications()
    return clock.now - start


def test_the_scheduler_has_a_watch_job_every_fifteen_seconds(site: Site) -> None:
    scheduler, dispatcher = build_scheduler(settings_of(site), blocking=False)
    try:
        job = scheduler.get_job("watch")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=WATCH_EVERY_SECONDS)
    finally:
        dispatcher.close()


def test_a_post_on_a_held_platform_is_on_the_page_in_the_report_and_in_the_managers_mail_within_two_intervals(
    site: Site, jobs: SideJobs, clock: MovedClock, platform: FakePlatform
) -> None:
    incident_id = declare(site)
    jobs.watch()  # the first listing, right after the declaration: nothing yet
    clock.now += timedelta(seconds=7)
    native = platform.post_natively("Exam results are out early!", KIND)

    took = run_the_scheduler_until(jobs, clock, lambda: mail_to(site, MANAGER)[-1:] and "Exam results" in
                                   mail_to(site, MANAGER)[-1][1], timedelta(seconds=2 * INTERVAL))  # fmt: skip

    assert took <= timedelta(seconds=2 * INTERVAL)
    subject, body = mail_to(site, MANAGER)[-1]
    assert "@livuni_chem" in subject
    assert native.text in body
    assert f"/api/v1/incidents/{incident_id}/watch/1/delete" in body
    assert mail_to(site, PRESS)
    assert mail_to(site, ERMC)
    assert not mail_to(site, OTHER_MANAGER)
    page = signed_in(site, MANAGER).get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "1 post not sent by Lockdown" in page
    assert page.index("Exam results are out early!") < page.index("In flight at the declaration")
    report = api(site, MANAGER, "GET", f"/api/v1/incidents/{incident_id}/report").json
    chem = next(a for a in report["accounts"] if a["handle"] == "@livuni_chem")
    assert chem["platform_record"]["summary"].startswith("checked ")
    assert "1 post not sent by Lockdown (posted 02:10, not deleted)" in chem["platform_record"]["summary"]
    clock.now += timedelta(seconds=300)  # X's interval: the outbox accounts' slots have come too
    jobs.watch()
    markdown = api(site, MANAGER, "GET", f"/api/v1/incidents/{incident_id}/report?format=md").get_data(as_text=True)
    assert "## What the platforms showed" in markdown
    assert "Exam results are out early!" in markdown
    # The outbox accounts cannot list posts: named, with the reason.
    assert "- @livuni_phys (x): this connector cannot list posts" in markdown


def test_the_watch_endpoint_has_the_promised_shape_for_signed_in_users_only(
    site: Site, jobs: SideJobs, clock: MovedClock, platform: FakePlatform
) -> None:
    incident_id = declare(site)
    platform.post_natively("hello from the app", KIND)
    clock.now += timedelta(seconds=300)  # every account's first listing has come (X's interval)
    jobs.watch()

    assert api(site, None, "GET", f"/api/v1/incidents/{incident_id}/watch").status_code == 401
    answer = api(site, OTHER_MANAGER, "GET", f"/api/v1/incidents/{incident_id}/watch")
    assert answer.status_code == 200
    body = answer.json
    assert set(body) == {"accounts", "out_of_band"}
    for account in body["accounts"]:
        assert {"account_id", "checks", "last_checked_at", "status"} <= set(account)
    chem = next(a for a in body["accounts"] if a["handle"] == "@livuni_chem")
    assert (chem["checks"], chem["status"]) == (1, "ok")
    phys = next(a for a in body["accounts"] if a["handle"] == "@livuni_phys")
    assert phys["status"] == "unwatchable"
    (post,) = body["out_of_band"]
    assert {"id", "account_id", "remote_id", "url", "text", "posted_at", "seen_at", "deleted_at"} <= set(post)
    assert (post["text"], post["deleted_at"]) == ("hello from the app", None)
    assert api(site, PRESS, "GET", "/api/v1/incidents/999/watch").status_code == 404


@pytest.mark.parametrize(
    ("who", "status"), [(ERMC, 403), (OTHER_MANAGER, 403), (MANAGER, 200), (PRESS, 200)]
)  # fmt: skip
def test_only_the_press_team_and_the_accounts_manager_may_delete_an_out_of_band_post(
    site: Site, jobs: SideJobs, clock: MovedClock, platform: FakePlatform, who: str, status: int
) -> None:
    incident_id = declare(site)
    native = platform.post_natively("delete me", KIND)
    clock.now += timedelta(seconds=INTERVAL)  # each account's first listing is at its slot in the interval
    jobs.watch()

    answer = api(site, who, "POST", f"/api/v1/incidents/{incident_id}/watch/1/delete")

    assert answer.status_code == status, answer.json
    if status == 200:
        assert answer.json["deleted_at"] is not None
        assert answer.json["deleted_by"] == who
        assert platform.deleted == [native.remote_id]
        actions = [e["action"] for e in audit.list_entries(site.ctx.db)]
        assert "account.out_of_band_delete" in actions
        again = api(site, who, "POST", f"/api/v1/incidents/{incident_id}/watch/1/delete")
        assert again.status_code == 409
    else:
        assert platform.deleted == []


def test_a_refused_deletion_is_kept_and_shown_on_the_page(
    site: Site, jobs: SideJobs, clock: MovedClock, platform: FakePlatform
) -> None:
    incident_id = declare(site)
    platform.post_natively("cannot delete me", KIND)
    clock.now += timedelta(seconds=INTERVAL)  # each account's first listing is at its slot in the interval
    jobs.watch()
    platform.delete_error = ConnectorError("HTTP 403: this token may not delete statuses", permanent=True, status=403)

    browser = signed_in(site, MANAGER)
    page_url = f"/incidents/{incident_id}"
    answer = form_post(browser, page_url, f"/incidents/{incident_id}/watch/1/delete", {})
    assert answer.status_code == 302

    page = browser.get(page_url).get_data(as_text=True)
    assert "Deleting failed: HTTP 403: this token may not delete statuses" in page
    watch = api(site, PRESS, "GET", f"/api/v1/incidents/{incident_id}/watch").json
    assert watch["out_of_band"][0]["deleted_at"] is None
    assert watch["out_of_band"][0]["delete_error"].startswith("HTTP 403")

    platform.delete_error = None
    form_post(browser, page_url, f"/incidents/{incident_id}/watch/1/delete", {})
    page = browser.get(page_url).get_data(as_text=True)
    assert "Deleted " in page
    assert "Deleting failed" not in page


def test_the_page_shows_no_delete_button_to_those_who_may_not(
    site: Site, jobs: SideJobs, clock: MovedClock, platform: FakePlatform
) -> None:
    incident_id = declare(site)
    platform.post_natively("look but do not touch", KIND)
    clock.now += timedelta(seconds=INTERVAL)  # each account's first listing is at its slot in the interval
    jobs.watch()

    page = signed_in(site, ERMC).get(f"/incidents/{incident_id}").get_data(as_text=True)

    assert "look but do not touch" in page
    assert "Delete it from" not in page
    assert "The press team or the account's manager can delete it" in page
