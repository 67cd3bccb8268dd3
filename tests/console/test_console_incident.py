"""The incident pages: messages drafted and approved by two press officers, resolve, the report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lockdown.timeutil import to_iso
from tests.console.console_kit import MANAGER, PRESS, PRESS_2, Site, form_post, make_site, signed_in


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def declare(site: Site) -> int:
    response = site.app.test_client().post(
        "/api/v1/incidents",
        json={"playbook": "live-incident", "title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {site.tokens[PRESS]}"},
    )
    assert response.status_code == 201, response.json
    incident_id: int = response.json["id"]
    return incident_id


def test_two_press_officers_draft_and_approve_the_holding_statement(site: Site) -> None:
    incident_id = declare(site)
    page_url = f"/incidents/{incident_id}"
    first, second = signed_in(site, PRESS), signed_in(site, PRESS_2)
    page = first.get(page_url).get_data(as_text=True)
    assert "3 accounts held" in page, "live-incident holds the central account's own schedule too"
    assert "Message 1 (holding statement): draft" in page, "the declaration drafted the holding statement"
    assert "Waiting for a second press officer" in page
    assert "Approve and publish message 1" not in page, "the author is offered no approve button"
    refused = form_post(first, page_url, f"{page_url}/messages/1/approve", {})
    assert refused.status_code == 403
    assert "second press officer" in refused.get_data(as_text=True)

    drafted = form_post(first, page_url, f"{page_url}/messages", {"template": "update", "body": "Avoid the area."})
    assert drafted.status_code == 302
    page = second.get(page_url).get_data(as_text=True)
    assert "Message 2 (update): draft" in page
    assert "Avoid the area." in page

    approved = form_post(second, page_url, f"{page_url}/messages/1/approve", {})
    assert approved.status_code == 302
    page = second.get(page_url).get_data(as_text=True)
    assert "published on 1 of 1 accounts" in page, "the holding statement went to the one central account"
    assert "Message 1 (holding statement): delivered" in page
    deliveries = site.ctx.db.conn.execute(
        "SELECT a.handle, d.state FROM message_deliveries d JOIN accounts a ON a.id = d.account_id"
    ).fetchall()
    assert deliveries == [("@livuni", "delivered")]


def test_a_message_needs_words_and_the_error_names_them(site: Site) -> None:
    incident_id = declare(site)
    press = signed_in(site, PRESS)
    response = form_post(press, f"/incidents/{incident_id}", f"/incidents/{incident_id}/messages", {"template": ""})
    assert response.status_code == 400
    assert "Give body, or template" in response.get_data(as_text=True)
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM incident_messages").fetchone()[0] == 1


def test_resolving_applies_the_policy_and_the_report_proves_it(site: Site) -> None:
    incident_id = declare(site)
    press = signed_in(site, PRESS)
    page_url = f"/incidents/{incident_id}"
    page = press.get(page_url).get_data(as_text=True)
    assert 'value="review" checked' in page, "the playbook's policy is preselected"
    asked = form_post(press, page_url, f"{page_url}/resolve", {"resume_policy": "skip"})
    assert asked.status_code == 200, "without the confirmation field the server only asks"
    assert "3 accounts will be released at once" in asked.get_data(as_text=True)
    assert site.ctx.db.conn.execute("SELECT status FROM incidents").fetchone()[0] == "active"
    resolved = form_post(press, page_url, f"{page_url}/resolve", {"resume_policy": "skip", "confirmed": "yes"})
    assert resolved.status_code == 302
    page = press.get(page_url).get_data(as_text=True)
    assert "Resolved" in page
    assert "resume policy skip" in page
    assert "Resolve…" not in page
    report = press.get(f"{page_url}/report").get_data(as_text=True)
    assert "No post on the 3 accounts covered was sent" in report
    assert "Audit chain: <strong>verified</strong>" in report
    markdown = press.get(f"{page_url}/report.md")
    assert markdown.headers["Content-Disposition"] == f'attachment; filename="incident-{incident_id}-report.md"'
    assert markdown.get_data(as_text=True).startswith(f"# Incident {incident_id}: Fire in the library")
    listing = press.get("/incidents").get_data(as_text=True)
    assert f"Report on incident {incident_id}" in listing


def test_a_manager_sees_the_incident_but_no_press_controls(site: Site) -> None:
    incident_id = declare(site)
    manager = signed_in(site, MANAGER)
    page = manager.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Fire in the library" in page
    assert "Draft a message" not in page
    assert "Resolve…" not in page
    for form in ({}, {"confirmed": "yes"}):
        refused = form_post(manager, f"/incidents/{incident_id}", f"/incidents/{incident_id}/resolve", form)
        assert refused.status_code == 403, "refused before any confirmation is asked"
    assert site.ctx.db.conn.execute("SELECT status FROM incidents").fetchone()[0] == "active"


def test_posts_in_flight_at_the_declaration_are_listed(site: Site) -> None:
    incident_id = declare(site)
    db = site.ctx.db
    author = db.conn.execute("SELECT id FROM users WHERE email = ?", [MANAGER]).fetchone()[0]
    with site.ctx.change() as change:
        # One post on the outbox, one on a webhook account (which can take back what it published).
        db.conn.execute("UPDATE accounts SET connector = json_set(connector, '$.kind', 'webhook') WHERE id = 3")
        for account_id, body in ((2, "Open day tomorrow!"), (3, "Lab tour at noon")):
            db.conn.execute(
                "INSERT INTO posts (account_id, body, state, scheduled_at, due_at, author_id, created_at, "
                "updated_at, remote_id, published_at, idempotency_key) VALUES (:account, :body, 'published', :at, "
                ":at, :author, :at, :at, :remote, :at, :remote)",
                {"account": account_id, "body": body, "at": to_iso(change.at), "author": author,
                 "remote": f"remote-{account_id}"},
            )  # fmt: skip
            db.conn.execute(
                "INSERT INTO incident_in_flight (incident_id, post_id) VALUES (?, last_insert_rowid())", [incident_id]
            )
        change.audit("test", "test.in_flight", "posts")
    page = signed_in(site, PRESS).get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Open day tomorrow!" in page
    assert "@livuni_chem (x)" in page
    assert "remote-2" in page
    assert "Delete post 1 from the platform" not in page, "the outbox published nothing, so nothing to delete"
    assert "Delete post 2 from the platform" in page
