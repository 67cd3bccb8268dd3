"""Asking for the approval: while a message waits, every other press officer is sent a notice
with a link straight to it (and the team's webhook one), repeated every few minutes by the
scheduler's notification job until someone approves it or the incident is resolved; never more
than one unsent request per officer per message."""

from __future__ import annotations

import json
import mailbox
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lockdown.clock.scheduler import SideJobs
from lockdown.people.users import add_user
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings, SettingsError
from lockdown.store import audit
from tests.console.console_kit import (
    PASSWORD,
    PRESS,
    PRESS_2,
    MovedClock,
    Site,
    browser,
    make_site,
    signed_in,
    token_of,
)

T0 = datetime(2026, 12, 1, 2, 10, tzinfo=UTC)
PRESS_3 = "lena@livuni.ac.uk"
GONE = "former@livuni.ac.uk"
SUBJECT = "Approval needed: holding statement for Fire in the library"


class Hook:
    """A local incoming-webhook receiver that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/press"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def approval_requests(self) -> list[dict[str, Any]]:
        return [body for body in self.received if body["event"] == "approval_requested"]


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def clock() -> MovedClock:
    return MovedClock(T0)


@pytest.fixture
def site(tmp_path: Path, hook: Hook, clock: MovedClock) -> Iterator[Site]:
    env = {
        "LOCKDOWN_MAIL_MBOX": str(tmp_path / "mail.mbox"),
        "LOCKDOWN_NOTIFY_WEBHOOK_URL": hook.url,
        "LOCKDOWN_APPROVAL_REMINDER_MINUTES": "5",
        "LOCKDOWN_PUBLIC_URL": "https://lockdown.livuni.ac.uk",
    }
    for made in make_site(tmp_path, env, clock):
        add_user(made.ctx, "t", name="Lena", email=PRESS_3, roles=["press"])
        add_user(made.ctx, "t", name="Former", email=GONE, roles=["press"])
        made.ctx.db.conn.execute("UPDATE users SET disabled_at = ? WHERE email = ?", [T0.isoformat(), GONE])
        made.ctx.db.conn.commit()
        yield made


@pytest.fixture
def jobs(site: Site, clock: MovedClock) -> Iterator[SideJobs]:
    settings = _settings(site)
    dispatcher = Dispatcher(settings, audit.audit_key(settings.require_secret_key()), clock=clock)
    yield SideJobs(settings, dispatcher)
    dispatcher.close()


def _settings(site: Site) -> Settings:
    from lockdown.api.state import app_state

    with site.app.app_context():
        return app_state().settings


def declare(site: Site) -> int:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json
    incident_id: int = response.json["id"]
    return incident_id


def requests_in_mbox(site: Site) -> list[tuple[str, str, str]]:
    """(recipient, subject, body) of every approval request delivered to the mbox."""
    settings = _settings(site)
    assert settings.mail_mbox is not None
    if not settings.mail_mbox.exists():
        return []
    box = mailbox.mbox(settings.mail_mbox)
    try:
        found = [(m["To"], m["Subject"], m.get_payload(decode=True).decode()) for m in box]
    finally:
        box.close()
    return [item for item in found if "Approval needed" in item[1]]


def test_every_other_press_officer_is_asked_by_mail_and_webhook_with_a_link_to_the_message(
    site: Site, jobs: SideJobs, hook: Hook
) -> None:
    incident_id = declare(site)

    jobs.deliver_notifications()

    sent = requests_in_mbox(site)
    # Not the officer who drafted the holding statement, nor a disabled one.
    assert sorted(to for to, _, _ in sent) == sorted([PRESS_2, PRESS_3])
    for _, subject, body in sent:
        assert subject == SUBJECT
        assert f"https://lockdown.livuni.ac.uk/incidents/{incident_id}/messages/1" in body
        assert PRESS in body, "the request says who drafted it"
        assert "Fire in the library" in body
    [posted] = hook.approval_requests()
    assert posted["subject"] == SUBJECT
    assert f"/incidents/{incident_id}/messages/1" in posted["text"]


def test_requests_are_repeated_every_few_minutes_until_someone_approves(
    site: Site, jobs: SideJobs, clock: MovedClock, hook: Hook
) -> None:
    incident_id = declare(site)
    jobs.deliver_notifications()
    assert len(requests_in_mbox(site)) == 2

    for _ in range(4):  # four minutes, a run every second would find nothing new either
        clock.now += timedelta(minutes=1)
        jobs.deliver_notifications()
        jobs.deliver_notifications()
    assert len(requests_in_mbox(site)) == 2
    assert len(hook.approval_requests()) == 1

    clock.now += timedelta(minutes=1)
    jobs.deliver_notifications()
    reminders = requests_in_mbox(site)[2:]
    assert sorted(to for to, _, _ in reminders) == sorted([PRESS_2, PRESS_3])
    assert all(subject == f"Reminder: {SUBJECT}" for _, subject, _ in reminders)
    assert len(hook.approval_requests()) == 2

    approver = site.app.test_client().post(
        f"/api/v1/incidents/{incident_id}/messages/1/approve",
        headers={"Authorization": f"Bearer {site.tokens[PRESS_2]}"},
    )
    assert approver.status_code in (200, 201), approver.json
    for _ in range(3):
        clock.now += timedelta(minutes=5)
        jobs.deliver_notifications()
    assert len(requests_in_mbox(site)) == 4, "no request after the approval"
    assert len(hook.approval_requests()) == 2


def test_resolving_the_incident_stops_the_requests(site: Site, jobs: SideJobs, clock: MovedClock) -> None:
    incident_id = declare(site)
    jobs.deliver_notifications()
    resolved = site.app.test_client().post(
        f"/api/v1/incidents/{incident_id}/resolve",
        json={"resume_policy": "skip"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert resolved.status_code == 200, resolved.json

    clock.now += timedelta(minutes=30)
    jobs.deliver_notifications()

    assert len(requests_in_mbox(site)) == 2


def test_an_unsent_request_is_never_joined_by_another_for_the_same_officer_and_message(
    site: Site, jobs: SideJobs, clock: MovedClock
) -> None:
    declare(site)
    # Mail that cannot go out: the first requests stay pending for half an hour.
    jobs.settings = Settings.from_env({"LOCKDOWN_DB": str(jobs.settings.db_path), "LOCKDOWN_SECRET_KEY": "x" * 32})
    for _ in range(30):
        clock.now += timedelta(minutes=1)
        jobs.deliver_notifications()
    rows = site.ctx.db.conn.execute(
        "SELECT recipient, state, COUNT(*) FROM notifications WHERE event = 'approval_requested' "
        "AND channel = 'email' GROUP BY recipient, state ORDER BY recipient"
    ).fetchall()
    assert rows == sorted([(PRESS_2, "pending", 1), (PRESS_3, "pending", 1)])
    # And the database refuses a second one however it would come.
    with pytest.raises(sqlite3.IntegrityError):
        site.ctx.db.conn.execute(
            "INSERT INTO notifications (incident_id, event, channel, user_id, recipient, subject, body, message_id, "
            "state, next_attempt_at, created_at) SELECT incident_id, event, channel, user_id, recipient, subject, "
            "body, message_id, state, next_attempt_at, created_at FROM notifications "
            "WHERE event = 'approval_requested' AND channel = 'email' LIMIT 1"
        )
    site.ctx.db.conn.rollback()


def test_the_link_opens_the_approval_after_sign_in(site: Site, jobs: SideJobs) -> None:
    incident_id = declare(site)
    jobs.deliver_notifications()
    [(_, _, body), *_] = requests_in_mbox(site)
    link = next(line for line in body.splitlines() if "/messages/" in line).strip()
    path = link.removeprefix("https://lockdown.livuni.ac.uk")
    assert path == f"/incidents/{incident_id}/messages/1"

    client = browser(site.app)
    to_sign_in = client.get(path)
    assert to_sign_in.status_code == 302
    assert to_sign_in.headers["Location"] == f"/sign-in?next=/incidents/{incident_id}/messages/1"
    page = client.get(to_sign_in.headers["Location"]).get_data(as_text=True)
    form = {
        "csrf_token": token_of(page),
        "email": PRESS_2,
        "password": PASSWORD,
        "code": site.totp[PRESS_2].at(site.clock()),
        "next": path,
    }
    signed = client.post("/sign-in", data=form)
    assert (signed.status_code, signed.headers["Location"]) == (302, path)
    to_message = client.get(path)
    assert to_message.status_code == 302
    assert to_message.headers["Location"] == f"/incidents/{incident_id}#message-1"
    incident_page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="message-1"' in incident_page
    assert "Approve and publish message 1" in incident_page


def test_a_link_to_a_message_that_is_not_there_is_a_404(site: Site) -> None:
    incident_id = declare(site)
    client = signed_in(site, PRESS_2)
    assert client.get(f"/incidents/{incident_id}/messages/99").status_code == 404


@pytest.mark.parametrize(("raw", "seconds"), [("", 300.0), ("5", 300.0), ("1", 60.0), ("2.5", 150.0)])
def test_the_reminder_interval_is_read_in_minutes(raw: str, seconds: float) -> None:
    assert Settings.from_env({"LOCKDOWN_APPROVAL_REMINDER_MINUTES": raw}).approval_reminder_seconds == seconds


@pytest.mark.parametrize("raw", ["0", "0.5", "-5", "1441", "soon"])
def test_a_reminder_interval_out_of_range_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_APPROVAL_REMINDER_MINUTES"):
        Settings.from_env({"LOCKDOWN_APPROVAL_REMINDER_MINUTES": raw})
