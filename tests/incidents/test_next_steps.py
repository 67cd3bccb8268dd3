"""The next-step service: what it offers each person, and a resolve preview that counts what the
resolve itself then does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lockdown.incidents.next_steps import next_steps, resolve_preview
from lockdown.people.users import User, active_users_by_email
from lockdown.timeutil import to_iso
from tests.console.console_kit import ERMC, MANAGER, PRESS, PRESS_2, Site, make_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def api(site: Site, email: str, path: str, **body: Any) -> Any:
    response = site.app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {site.tokens[email]}"})
    assert response.status_code < 300, response.json
    return response.json


def user(site: Site, email: str) -> User:
    return active_users_by_email(site.ctx.db)[email]


def kinds(site: Site, email: str, incident_id: int = 1) -> list[str]:
    return [step["kind"] for step in next_steps(site.ctx.db, user(site, email), incident_id)["steps"]]


def make_editor_of_the_central_account(site: Site, email: str) -> None:
    with site.ctx.change() as change:
        site.ctx.db.conn.execute(
            "INSERT INTO account_editors (account_id, user_id) VALUES (1, ?)", [user(site, email).id]
        )
        change.audit("test", "test.editor", "account:1")


def test_each_role_is_offered_only_what_its_service_allows(site: Site) -> None:
    api(site, PRESS, "/api/v1/incidents", playbook="live-incident", title="Fire", reason="R")
    assert kinds(site, PRESS) == ["waiting"], "the author is never offered their own draft to approve"
    assert kinds(site, PRESS_2) == ["approve"]
    assert kinds(site, MANAGER) == ["acknowledge"]
    assert kinds(site, ERMC) == ["triage"]
    waiting = next_steps(site.ctx.db, user(site, PRESS), 1)["steps"][0]
    assert [p["email"] for p in waiting["asked"]] == [PRESS_2]

    make_editor_of_the_central_account(site, ERMC)
    assert kinds(site, ERMC) == ["acknowledge", "triage"]
    api(site, ERMC, "/api/v1/incidents/1/ack")
    assert kinds(site, ERMC) == ["triage", "acknowledge"], "what is done goes after what is left"

    api(site, PRESS_2, "/api/v1/incidents/1/messages/1/approve")
    assert kinds(site, PRESS) == []
    assert kinds(site, PRESS_2) == []
    api(site, PRESS, "/api/v1/incidents/1/resolve")
    assert all(kinds(site, email) == [] for email in (PRESS, PRESS_2, MANAGER, ERMC)), "nothing on a resolved one"


def test_the_preview_counts_what_resolving_then_releases_and_reviews(site: Site) -> None:
    api(site, PRESS, "/api/v1/incidents", playbook="live-incident", title="Fire", reason="R")
    api(site, PRESS, "/api/v1/incidents", playbook="compromised-account", title="Hacked", reason="R", account_id=2)
    db = site.ctx.db
    with site.ctx.change() as change:
        past = to_iso(change.at - timedelta(minutes=5))
        for account_id, key in ((2, "a"), (3, "b"), (3, "c")):
            db.conn.execute(
                "INSERT INTO posts (account_id, body, state, scheduled_at, due_at, author_id, created_at, updated_at, "
                "idempotency_key) VALUES (?, 'missed', 'scheduled', ?, ?, 1, ?, ?, ?)",
                [account_id, past, past, past, past, key],
            )
        change.audit("test", "test.missed", "posts")
    preview = resolve_preview(db, 1, site.ctx.now())
    assert (preview["releases"], preview["missed_posts"]) == (2, 2), "@livuni_chem stays held by the second incident"
    done = api(site, PRESS, "/api/v1/incidents/1/resolve")
    assert (done["released_accounts"], done["missed_posts"]) == (preview["releases"], preview["missed_posts"])
