"""The console's post queue: drafting, a colleague's approval, cancelling, and the posts an
incident parked for review."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from lockdown.people.signin import set_password
from lockdown.people.users import add_user, user_by_email
from lockdown.posting.posts import approve_post, create_post, get_post, list_posts
from lockdown.timeutil import to_iso
from tests.console.console_kit import (
    ERMC,
    MANAGER,
    PASSWORD,
    PRESS,
    Site,
    browser,
    form_post,
    make_site,
    sign_in,
    signed_in,
)

CHEM = 2
QUEUE = f"/posts?account_id={CHEM}"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def tomorrow_at(hour: int) -> tuple[str, str]:
    """A ``datetime-local`` value for tomorrow in London, and the UTC time it stands for."""
    day = (datetime.now(LONDON) + timedelta(days=1)).date()
    local = datetime(day.year, day.month, day.day, hour, 30, tzinfo=LONDON)
    return local.strftime("%Y-%m-%dT%H:%M"), to_iso(local)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def only_post(site: Site) -> dict[str, Any]:
    items: list[dict[str, Any]] = list_posts(site.ctx.db, account_id=CHEM)["items"]
    assert len(items) == 1
    return items[0]


def test_a_draft_is_approved_by_a_colleague_never_by_its_author_and_then_cancelled(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    queue = page(dan, QUEUE)
    assert "Draft a post for @livuni_chem" in queue
    assert queue.count("<option value=") >= 3 + 9, "three accounts and the state filter"
    field, utc = tomorrow_at(10)
    drafted = form_post(dan, QUEUE, "/posts", {"account_id": str(CHEM), "body": "Open day!", "scheduled_at": field})
    assert drafted.status_code == 302
    post = only_post(site)
    assert (post["state"], post["author"], post["scheduled_at"]) == ("pending_review", MANAGER, utc), (
        "the time typed is read in the installation's time zone"
    )
    queue = page(dan, drafted.headers["Location"])
    assert "is drafted; a colleague must approve it" in queue
    assert f'Approve<span class="visually-hidden"> post {post["id"]}</span>' in queue

    own = form_post(dan, QUEUE, f"/posts/{post['id']}/approve", {"back": QUEUE})
    assert own.status_code == 302
    assert f"Post {post['id']} is yours; a colleague must approve it (policy 2.2.3)" in page(
        dan, own.headers["Location"]
    )
    assert get_post(site.ctx.db, post["id"])["state"] == "pending_review"

    ruth = signed_in(site, ERMC)
    approved = form_post(ruth, QUEUE, f"/posts/{post['id']}/approve", {"back": QUEUE})
    assert approved.status_code == 302
    assert f"Post {post['id']} is approved and scheduled for" in page(ruth, approved.headers["Location"])
    assert (get_post(site.ctx.db, post["id"])["state"], get_post(site.ctx.db, post["id"])["approved_by"]) == (
        "scheduled",
        ERMC,
    )

    cancelled = form_post(dan, QUEUE, f"/posts/{post['id']}/cancel", {"back": QUEUE})
    assert f"Post {post['id']} is cancelled." in page(dan, cancelled.headers["Location"])
    assert get_post(site.ctx.db, post["id"])["state"] == "cancelled"
    assert "No open posts for @livuni_chem" in page(dan, QUEUE)
    assert "Cancelled" in page(dan, f"{QUEUE}&state=cancelled")


def test_a_draft_refused_by_the_service_keeps_what_was_typed(site: Site) -> None:
    dan = signed_in(site, MANAGER)
    refused = form_post(
        dan, QUEUE, "/posts", {"account_id": str(CHEM), "body": "x" * 300, "scheduled_at": tomorrow_at(9)[0]}
    )
    assert refused.status_code == 400
    assert "x" * 300 in refused.get_data(as_text=True)
    past = form_post(dan, QUEUE, "/posts", {"account_id": str(CHEM), "body": "Hi", "scheduled_at": "2020-01-01T09:00"})
    assert past.status_code == 400
    assert "is in the past" in past.get_data(as_text=True)
    assert list_posts(site.ctx.db, account_id=CHEM)["items"] == []


def missed_post(site: Site, body: str) -> int:
    """A post drafted by Dan and approved by ERMC two hours ago, for a time an hour ago."""
    now = datetime.now(UTC)
    site.ctx.clock = lambda: now - timedelta(hours=2)
    try:
        dan, ruth = user_by_email(site.ctx.db, MANAGER), user_by_email(site.ctx.db, ERMC)
        data = {"account_id": CHEM, "body": body, "scheduled_at": to_iso(now - timedelta(hours=1))}
        post_id = int(create_post(site.ctx, dan, data)["id"])
        approve_post(site.ctx, ruth, post_id)
    finally:
        site.ctx.clock = lambda: datetime.now(UTC)
    return post_id


def test_posts_held_by_an_incident_and_parked_for_review_are_rescheduled_or_cancelled(site: Site) -> None:
    first, second = missed_post(site, "Concert tonight"), missed_post(site, "Open day")
    api = site.app.test_client()
    press = {"Authorization": f"Bearer {site.tokens[PRESS]}"}
    declared = api.post("/api/v1/incidents", json={"title": "Fire", "reason": "R"}, headers=press)
    assert declared.status_code == 201, declared.json
    dan = signed_in(site, MANAGER)
    assert page(dan, QUEUE).count("Held by an incident") == 2

    resolved = api.post(
        f"/api/v1/incidents/{declared.json['id']}/resolve", json={"resume_policy": "review"}, headers=press
    )
    assert resolved.status_code == 200, resolved.json
    assert "2 posts need review" in page(dan, "/posts")
    review = page(dan, "/posts/needs-review")
    assert "Concert tonight" in review
    assert "Open day" in review
    assert f'<label for="when-{first}">New time<span class="visually-hidden"> for post {first}</span>' in review

    back = "/posts/needs-review"
    blank = form_post(dan, back, f"/posts/{first}/reschedule", {"scheduled_at": "", "back": back})
    assert "Choose a date and a time" in page(dan, blank.headers["Location"])
    old = form_post(dan, back, f"/posts/{first}/reschedule", {"scheduled_at": "2020-01-01T09:00", "back": back})
    assert "is in the past" in page(dan, old.headers["Location"])

    field, utc = tomorrow_at(11)
    done = form_post(dan, back, f"/posts/{first}/reschedule", {"scheduled_at": field, "back": back})
    assert done.headers["Location"] == back
    assert f"Post {first} is scheduled for" in page(dan, back)
    assert (get_post(site.ctx.db, first)["state"], get_post(site.ctx.db, first)["scheduled_at"]) == ("scheduled", utc)

    form_post(dan, back, f"/posts/{second}/cancel", {"back": back})
    assert get_post(site.ctx.db, second)["state"] == "cancelled"
    assert "Nothing needs review on your accounts." in page(dan, back)


def test_an_unknown_post_can_be_marked_published_with_the_platforms_id(site: Site) -> None:
    post_id = missed_post(site, "Open day")
    # The dispatcher leaves a post unknown when the platform may or may not have taken it.
    site.ctx.db.conn.execute("UPDATE posts SET state = 'unknown' WHERE id = ?", [post_id])
    site.ctx.db.conn.commit()
    dan = signed_in(site, MANAGER)
    queue = page(dan, QUEUE)
    assert "Unknown: check the platform" in queue
    assert f'for="remote-{post_id}"' in queue
    marked = form_post(dan, QUEUE, f"/posts/{post_id}/mark-published", {"remote_id": "18447", "back": QUEUE})
    assert f"Post {post_id} is recorded as published." in page(dan, marked.headers["Location"])
    assert (get_post(site.ctx.db, post_id)["state"], get_post(site.ctx.db, post_id)["remote_id"]) == (
        "published",
        "18447",
    )


def test_the_press_team_sees_every_queue_but_acts_on_none(site: Site) -> None:
    missed_post(site, "Open day")
    priya = signed_in(site, PRESS)
    queue = page(priya, QUEUE)
    assert "Open day" in queue
    assert "You can see this queue" in queue
    assert "Send for review" not in queue
    assert "Cancel<span" not in queue


def test_someone_with_no_accounts_has_no_queue_and_cannot_open_another(site: Site) -> None:
    add_user(site.ctx, "t", name="Eve", email="eve@livuni.ac.uk", roles=["manager"])
    set_password(site.ctx, "t", "eve@livuni.ac.uk", PASSWORD)
    eve = browser(site.app)
    assert sign_in(eve, "eve@livuni.ac.uk").status_code == 302
    assert "You manage or edit no accounts" in page(eve, "/posts")
    assert eve.get(QUEUE).status_code == 404


def test_a_post_form_without_its_csrf_token_is_refused(site: Site) -> None:
    post_id = missed_post(site, "Open day")
    dan = signed_in(site, MANAGER)
    refused = dan.post(f"/posts/{post_id}/cancel", data={"back": QUEUE})
    assert refused.status_code == 400
    assert "did not come from this site" in refused.get_data(as_text=True)
    assert get_post(site.ctx.db, post_id)["state"] == "scheduled"


def test_every_form_on_the_queue_has_labelled_controls(site: Site) -> None:
    missed_post(site, "Open day")
    queue = page(signed_in(site, MANAGER), QUEUE)
    for control_id in re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', queue):
        assert f'for="{control_id}"' in queue
    assert queue.count("<h1>") == 1


@pytest.mark.parametrize("typed", ["²", "٣", "1²"])
def test_a_unicode_digit_for_the_account_is_refused_not_a_server_error(site: Site, typed: str) -> None:
    dan = signed_in(site, MANAGER)
    field, _ = tomorrow_at(10)
    refused = form_post(dan, QUEUE, "/posts", {"account_id": typed, "body": "Open day!", "scheduled_at": field})
    assert refused.status_code == 400, refused.get_data(as_text=True)[:300]
    assert list_posts(site.ctx.db, account_id=CHEM)["items"] == []
