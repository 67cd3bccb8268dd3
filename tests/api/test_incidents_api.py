"""Incidents through the HTTP API: declaring, holding, speaking through @livuni, resolving."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.base import Published
from lockdown.posting import posts
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import SECRET, Login
from tests.posting.test_dispatch import Clock, FakePlatform

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def estate(
    client: FlaskClient, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """Two press officers, a manager with an editor, central and department accounts."""
    manager, editor, other = make_user("manager"), make_user("manager"), make_user("manager")
    return {
        "press": make_user("press"),
        "press2": make_user("press"),
        "ermc": make_user("ermc"),
        "manager": manager,
        "editor": editor,
        "other": other,
        "central_x": register(manager, handle="@livuni", platform="x", central=True),
        "central_m": register(manager, handle="@livuni", platform="mastodon", central=True),
        "chem": register(manager, handle="@livuni_chem", editors=[editor.email]),
        "phys": register(other, handle="@livuni_phys", platform="instagram"),
        "drill": register(other, handle="@livuni_drill", tags=["drill"]),
    }


def declare(client: FlaskClient, login: Login, **body: Any) -> Any:
    payload = {"title": "Fire at the Chemistry building", "reason": "Reported 02:10 by security", **body}
    return client.post("/api/v1/incidents", json=payload, headers=login.headers)


def test_declaring_holds_every_account_including_central_routine_posts(
    client: FlaskClient, estate: dict[str, Any]
) -> None:
    response = declare(client, estate["press"])
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["status"], body["held_accounts"], body["in_flight"]) == ("active", 5, [])
    for name in ("central_x", "chem", "phys", "drill"):
        hold = client.get(f"/api/v1/accounts/{estate[name]['id']}/hold", headers=estate["other"].headers).json
        assert hold["held"] is True
        assert hold["incidents"] == [body["id"]]
        assert hold["since"] == body["declared_at"]
    held = client.get("/api/v1/accounts?held=true", headers=estate["other"].headers).json["items"]
    assert len(held) == 5


@pytest.mark.parametrize("role", ["ermc", "manager"])
def test_only_the_press_team_declares(client: FlaskClient, make_user: Callable[..., Login], role: str) -> None:
    response = declare(client, make_user(role))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"title": ""}, "title"),
        ({"playbook": "nope"}, "playbook"),
    ],
)
def test_a_declaration_needs_a_reason_title_and_known_playbook(
    client: FlaskClient, estate: dict[str, Any], ctx: Context, body: dict[str, Any], field: str
) -> None:
    response = declare(client, estate["press"], **body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_a_compromised_account_incident_holds_the_named_account_only(
    client: FlaskClient, estate: dict[str, Any]
) -> None:
    missing = declare(client, estate["press"], playbook="compromised-account")
    assert missing.json["error"]["field"] == "account_id"
    response = declare(client, estate["press"], playbook="compromised-account", account_id=estate["central_x"]["id"])
    assert response.json["held_accounts"] == 1
    headers = estate["other"].headers
    assert client.get(f"/api/v1/accounts/{estate['central_x']['id']}/hold", headers=headers).json["held"] is True
    assert client.get(f"/api/v1/accounts/{estate['chem']['id']}/hold", headers=headers).json["held"] is False
    timeline = client.get(f"/api/v1/incidents/{response.json['id']}", headers=headers).json["timeline"]
    rotation = next(e for e in timeline if e["kind"] == "rotation_required")
    assert rotation["details"] == {"account_id": estate["central_x"]["id"]}


def test_an_exercise_holds_only_drill_accounts_and_is_marked(client: FlaskClient, estate: dict[str, Any]) -> None:
    response = declare(client, estate["press"], playbook="exercise", title="Winter drill")
    assert response.json["exercise"] is True
    assert response.json["held_accounts"] == 1
    incident = client.get(f"/api/v1/incidents/{response.json['id']}", headers=estate["press"].headers).json
    assert incident["exercise"] is True
    held = client.get("/api/v1/accounts?held=true", headers=estate["press"].headers).json["items"]
    assert [a["handle"] for a in held] == ["@livuni_drill"]


def test_an_account_stays_held_until_every_incident_holding_it_is_resolved(
    client: FlaskClient, estate: dict[str, Any]
) -> None:
    first = declare(client, estate["press"]).json
    second = declare(client, estate["press"], playbook="severe-weather", title="Storm").json
    chem = f"/api/v1/accounts/{estate['chem']['id']}/hold"
    assert client.get(chem, headers=estate["press"].headers).json["incidents"] == [first["id"], second["id"]]
    resolved = client.post(f"/api/v1/incidents/{first['id']}/resolve", json={}, headers=estate["press"].headers).json
    assert resolved["released_accounts"] == 2, "only the central accounts, which the storm does not hold"
    assert resolved["still_held"] == 3
    assert client.get(chem, headers=estate["press"].headers).json["held"] is True
    client.post(f"/api/v1/incidents/{second['id']}/resolve", json={}, headers=estate["press"].headers)
    assert client.get(chem, headers=estate["press"].headers).json["held"] is False
    again = client.post(f"/api/v1/incidents/{second['id']}/resolve", json={}, headers=estate["press"].headers)
    assert again.status_code == 409


def test_the_holding_statement_goes_out_in_three_calls_through_central_accounts_only(
    client: FlaskClient, estate: dict[str, Any]
) -> None:
    declared = declare(client, estate["press"]).json  # call 1
    incident = declared["id"]
    statement = declared["holding_statement_id"]
    assert statement is not None
    draft = client.get(f"/api/v1/incidents/{incident}/messages", headers=estate["press2"].headers).json["items"][0]
    assert draft["template"] == "holding_statement"
    assert "@livuni" in draft["body"]
    assert sorted(draft["account_ids"]) == sorted([estate["central_x"]["id"], estate["central_m"]["id"]])
    own = client.post(f"/api/v1/incidents/{incident}/messages/{statement}/approve", headers=estate["press"].headers)
    assert own.status_code == 403, "never the author"
    approved = client.post(  # call 2
        f"/api/v1/incidents/{incident}/messages/{statement}/approve", headers=estate["press2"].headers
    )
    assert approved.status_code == 200, approved.json
    message = approved.json
    assert message["state"] == "delivered"
    assert {d["account_id"] for d in message["deliveries"]} == {estate["central_x"]["id"], estate["central_m"]["id"]}
    assert all(d["state"] == "delivered" and d["remote_id"] for d in message["deliveries"])
    timeline = client.get(f"/api/v1/incidents/{incident}", headers=estate["press"].headers).json["timeline"]
    kinds = [entry["kind"] for entry in timeline]
    assert kinds.index("message_drafted") < kinds.index("message_approved") < kinds.index("message_delivered")


def test_a_message_naming_a_department_account_is_refused(client: FlaskClient, estate: dict[str, Any]) -> None:
    incident = declare(client, estate["press"]).json["id"]
    response = client.post(
        f"/api/v1/incidents/{incident}/messages",
        json={"body": "Stay away from the Chemistry building", "account_ids": [estate["chem"]["id"]]},
        headers=estate["press"].headers,
    )
    assert response.status_code == 422
    assert "central" in response.json["error"]["message"]


def test_a_message_from_a_template_and_an_update(client: FlaskClient, estate: dict[str, Any]) -> None:
    incident = declare(client, estate["press"]).json["id"]
    response = client.post(
        f"/api/v1/incidents/{incident}/messages",
        json={
            "template": "update",
            "body": "The building has been evacuated.",
            "account_ids": [estate["central_x"]["id"]],
        },
        headers=estate["press"].headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["body"].startswith("Update on the incident on campus")
    assert response.json["body"].endswith("The building has been evacuated.")
    assert response.json["account_ids"] == [estate["central_x"]["id"]]


def test_a_compromised_central_account_cannot_carry_incident_messages(
    client: FlaskClient, estate: dict[str, Any]
) -> None:
    live = declare(client, estate["press"]).json["id"]
    draft = client.post(
        f"/api/v1/incidents/{live}/messages",
        json={"body": "Please follow @livuni", "account_ids": [estate["central_x"]["id"]]},
        headers=estate["press"].headers,
    ).json
    declare(client, estate["press"], playbook="compromised-account", account_id=estate["central_x"]["id"])
    refused = client.post(f"/api/v1/incidents/{live}/messages/{draft['id']}/approve", headers=estate["press2"].headers)
    assert refused.status_code == 423
    assert refused.json["error"]["code"] == "account_held"


def test_exercise_messages_never_reach_a_platform(client: FlaskClient, estate: dict[str, Any], ermc: Login) -> None:
    client.patch(
        f"/api/v1/accounts/{estate['central_m']['id']}",
        json={"connector": {"kind": "mastodon", "base_url": "https://mastodon.invalid"}},
        headers=ermc.headers,
    )
    declared = declare(client, estate["press"], playbook="exercise").json
    message = client.post(
        f"/api/v1/incidents/{declared['id']}/messages/{declared['holding_statement_id']}/approve",
        headers=estate["press2"].headers,
    ).json
    assert message["exercise"] is True
    assert message["state"] == "delivered"
    assert all(d["remote_id"].startswith("outbox-") for d in message["deliveries"])


def test_managers_are_told_and_the_press_team_sees_who_acknowledged(
    client: FlaskClient, estate: dict[str, Any], ctx: Context
) -> None:
    incident = declare(client, estate["press"]).json["id"]
    notices = ctx.db.conn.execute(
        "SELECT recipient, subject, body FROM notifications WHERE incident_id = ? ORDER BY recipient", [incident]
    ).fetchall()
    recipients = [row[0] for row in notices]
    assert recipients == sorted([estate["manager"].email, estate["editor"].email, estate["other"].email])
    manager_notice = next(row for row in notices if row[0] == estate["manager"].email)
    assert "@livuni_chem (x)" in manager_notice[2]
    assert "@livuni_phys" not in manager_notice[2]
    assert f"/api/v1/incidents/{incident}/ack" in manager_notice[2]
    ack = client.post(f"/api/v1/incidents/{incident}/ack", headers=estate["editor"].headers)
    assert ack.status_code == 200
    client.post(f"/api/v1/incidents/{incident}/ack", headers=estate["editor"].headers)
    acks = client.get(f"/api/v1/incidents/{incident}", headers=estate["press"].headers).json["acknowledgements"]
    assert [a["email"] for a in acks["acknowledged"]] == [estate["editor"].email]
    assert sorted(a["email"] for a in acks["not_acknowledged"]) == sorted(
        [estate["manager"].email, estate["other"].email]
    )


def test_my_accounts_shows_a_manager_their_holds(client: FlaskClient, estate: dict[str, Any]) -> None:
    incident = declare(client, estate["press"]).json["id"]
    mine = client.get("/api/v1/me/accounts", headers=estate["other"].headers).json["items"]
    assert [a["handle"] for a in mine] == ["@livuni_phys", "@livuni_drill"]
    assert all(a["held"] and a["hold"]["incidents"] == [incident] for a in mine)


def test_playbooks_are_listed(client: FlaskClient, estate: dict[str, Any]) -> None:
    names = [p["name"] for p in client.get("/api/v1/playbooks", headers=estate["other"].headers).json["items"]]
    assert names == ["compromised-account", "exercise", "live-incident", "severe-weather", "standby-promotion"]


# -- holding posts, with the dispatcher and an injected clock ------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def dispatcher(settings: Settings, app: Any, clock: Clock) -> Iterator[tuple[Dispatcher, FakePlatform]]:
    platform = FakePlatform()
    worker = Dispatcher(
        settings,
        audit.audit_key(settings.require_secret_key()),
        clock=clock,
        connector_factory=platform,
        rng=random.Random(3),
    )
    yield worker, platform
    worker.close()


def schedule_on(ctx: Context, estate: dict[str, Any], clock: Clock, account: str, minutes: float) -> int:
    """A post drafted by the account's manager the day before and approved by ERMC."""
    ctx.clock = lambda: clock.now - timedelta(days=1)
    when = (clock.now + timedelta(minutes=minutes)).isoformat()
    author = estate["other"] if estate[account]["manager"] == estate["other"].email else estate["manager"]
    body = {"account_id": estate[account]["id"], "body": "Open day!", "scheduled_at": when}
    post = posts.create_post(ctx, author.user, body)
    posts.approve_post(ctx, estate["ermc"].user, post["id"])
    return int(post["id"])


@pytest.fixture
def app_with_clock(settings: Settings, clock: Clock) -> Any:
    from lockdown.app import create_app

    return create_app(settings, clock=clock)


def test_held_posts_wait_and_nothing_goes_out_until_the_all_clear(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, platform = dispatcher
    api = app_with_clock.test_client()
    chem_post = schedule_on(ctx, estate, clock, "chem", minutes=5)
    declared = declare(api, estate["press"]).json
    clock.advance(minutes=10)
    worker.tick()
    assert platform.sent == []
    post = api.get(f"/api/v1/posts/{chem_post}", headers=estate["manager"].headers).json
    assert (post["state"], post["held"]) == ("scheduled", True)
    hold = api.get(f"/api/v1/accounts/{estate['chem']['id']}/hold", headers=estate["manager"].headers).json
    assert hold["held_posts"] == 1
    clock.advance(hours=2)
    worker.tick()
    assert api.get(f"/api/v1/posts/{chem_post}", headers=estate["manager"].headers).json["state"] == "scheduled", (
        "a held post is not parked as missed while the hold lasts"
    )
    api.post(
        f"/api/v1/incidents/{declared['id']}/resolve", json={"resume_policy": "review"}, headers=estate["press"].headers
    )
    worker.tick()
    after = api.get(f"/api/v1/posts/{chem_post}", headers=estate["manager"].headers).json
    assert after["state"] == "needs_review"
    assert f"incident {declared['id']}" in after["error"]
    assert platform.sent == []


def test_resume_staggers_missed_posts_one_per_account_per_interval_and_later_posts_keep_their_time(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, platform = dispatcher
    api = app_with_clock.test_client()
    missed = [schedule_on(ctx, estate, clock, "chem", minutes=m) for m in (5, 6, 7)]
    other = schedule_on(ctx, estate, clock, "phys", minutes=8)
    later = schedule_on(ctx, estate, clock, "chem", minutes=300)
    declared = declare(api, estate["press"]).json
    clock.advance(minutes=30)
    resolved = api.post(
        f"/api/v1/incidents/{declared['id']}/resolve", json={"resume_policy": "resume"}, headers=estate["press"].headers
    ).json
    assert resolved["missed_posts"] == 4
    dues = [datetime.fromisoformat(posts.get_post(ctx.db, p)["due_at"]) for p in missed]
    assert dues == [clock.now, clock.now + timedelta(minutes=10), clock.now + timedelta(minutes=20)]
    assert datetime.fromisoformat(posts.get_post(ctx.db, other)["due_at"]) == clock.now, (
        "each account has its own stagger"
    )
    assert posts.get_post(ctx.db, later)["due_at"] == (START + timedelta(minutes=300)).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z"
    )
    worker.tick()
    assert sorted(p.post_id for p in platform.sent) == sorted([missed[0], other])
    clock.advance(minutes=10)
    worker.tick()
    assert platform.sent[-1].post_id == missed[1]


def test_skip_cancels_missed_posts(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    api = app_with_clock.test_client()
    post_id = schedule_on(ctx, estate, clock, "chem", minutes=5)
    incident = declare(api, estate["press"]).json["id"]
    clock.advance(minutes=30)
    api.post(f"/api/v1/incidents/{incident}/resolve", json={"resume_policy": "skip"}, headers=estate["press"].headers)
    post = posts.get_post(ctx.db, post_id)
    assert post["state"] == "cancelled"
    assert "skipped" in post["error"]


def test_a_post_claimed_before_the_declaration_goes_back_untouched(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, platform = dispatcher
    api = app_with_clock.test_client()
    post_id = schedule_on(ctx, estate, clock, "chem", minutes=1)
    clock.advance(minutes=2)
    claimed = worker._claim(worker.context())
    declared = declare(api, estate["press"]).json
    assert declared["in_flight"] == [], "claimed but not yet being sent: it will not go out"
    assert worker._send(claimed[0]) == "returned"
    assert platform.sent == []
    post = posts.get_post(ctx.db, post_id)
    assert (post["state"], post["attempts"], post["dispatched_at"]) == ("scheduled", 0, None)


def test_a_post_being_sent_at_the_declaration_is_reported_in_flight(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, _platform = dispatcher
    api = app_with_clock.test_client()
    post_id = schedule_on(ctx, estate, clock, "chem", minutes=1)
    clock.advance(minutes=2)
    claimed = worker._claim(worker.context())
    assert worker._still_ours(worker.context(), claimed[0]) is True  # the send mark: now on the wire
    declared = declare(api, estate["press"]).json
    assert declared["in_flight"] == [post_id]
    incident = api.get(f"/api/v1/incidents/{declared['id']}", headers=estate["press"].headers).json
    assert incident["in_flight"] == [post_id]
    assert any(entry["kind"] == "in_flight" for entry in incident["timeline"])


def test_the_report_shows_holds_in_flight_posts_deliveries_and_the_proof(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, _platform = dispatcher
    api = app_with_clock.test_client()
    flying = schedule_on(ctx, estate, clock, "chem", minutes=1)
    waiting = schedule_on(ctx, estate, clock, "phys", minutes=20)
    clock.advance(minutes=2)
    claimed = worker._claim(worker.context())
    worker._still_ours(worker.context(), claimed[0])
    declared = declare(api, estate["press"]).json
    worker._record_published(worker.context(), claimed[0], Published("1850"))
    api.post(
        f"/api/v1/incidents/{declared['id']}/messages/{declared['holding_statement_id']}/approve",
        headers=estate["press2"].headers,
    )
    clock.advance(minutes=30)
    worker.tick()
    api.post(f"/api/v1/incidents/{declared['id']}/resolve", json={}, headers=estate["press"].headers)
    report = api.get(f"/api/v1/incidents/{declared['id']}/report", headers=estate["other"].headers).json
    chem = next(a for a in report["accounts"] if a["account_id"] == estate["chem"]["id"])
    assert [p["id"] for p in chem["in_flight"]] == [flying]
    assert chem["in_flight"][0]["remote_id"] == "1850"
    assert chem["in_flight"][0]["delete"] is None, "the outbox connector publishes nothing to delete"
    phys = next(a for a in report["accounts"] if a["account_id"] == estate["phys"]["id"])
    assert [p["id"] for p in phys["held_posts"]] == [waiting]
    assert report["proof"]["published_on_held_accounts_outside_in_flight"] == []
    assert report["proof"]["audit_chain"]["ok"] is True
    assert report["messages"][0]["state"] == "delivered"
    markdown = api.get(f"/api/v1/incidents/{declared['id']}/report?format=md", headers=estate["other"].headers)
    assert markdown.mimetype == "text/markdown"
    text = markdown.get_data(as_text=True)
    assert text.startswith(f"# Incident {declared['id']}: Fire at the Chemistry building")
    assert "No post on the 5 accounts covered was sent" in text
    assert "@livuni_chem | x | 0 | post" in text


def test_a_post_in_flight_can_be_deleted_from_its_platform(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    worker, _platform = dispatcher
    api = app_with_clock.test_client()
    post_id = schedule_on(ctx, estate, clock, "chem", minutes=1)
    clock.advance(minutes=2)
    worker.tick()
    url = f"/api/v1/posts/{post_id}/delete-remote"
    assert api.post(url, headers=estate["other"].headers).status_code == 403
    deleted = api.post(url, headers=estate["press"].headers)
    assert deleted.status_code == 200, deleted.json
    assert deleted.json["remote_deleted_at"] is not None
    assert api.post(url, headers=estate["press"].headers).status_code == 409


def test_the_holding_statement_tells_the_time_in_the_configured_zone(
    settings: Settings, estate: dict[str, Any], clock: Clock
) -> None:
    from lockdown.app import create_app

    zoned = Settings.from_env(
        {"LOCKDOWN_DB": str(settings.db_path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_TIMEZONE": "America/New_York"}
    )
    api = create_app(zoned, clock=clock).test_client()
    declared = declare(api, estate["press"]).json
    body = api.get(f"/api/v1/incidents/{declared['id']}/messages", headers=estate["press"].headers).json["items"][0][
        "body"
    ]
    assert "Updated 04:00." in body, "09:00 UTC on 1 December is 04:00 in New York"


@pytest.mark.parametrize("playbook", ["live-incident", "severe-weather", "exercise"])
def test_the_declare_preview_counts_what_the_declaration_then_holds(
    client: FlaskClient, estate: dict[str, Any], ctx: Context, playbook: str
) -> None:
    from lockdown.incidents.declare import preview_held
    from lockdown.incidents.playbooks import load_playbooks
    from lockdown.settings import DEFAULT_PLAYBOOKS

    expected = preview_held(ctx.db, load_playbooks(DEFAULT_PLAYBOOKS)[playbook], estate["press"].user)
    before = ctx.db.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
    assert before == 0, "the preview leaves no incident behind"
    held = declare(client, estate["press"], playbook=playbook).json["held_accounts"]
    assert expected == held
    assert {"live-incident": 5, "severe-weather": 3, "exercise": 1}[playbook] == held


def test_a_post_with_a_photo_is_held_and_goes_out_with_it_after_the_all_clear(
    app_with_clock: Any, estate: dict[str, Any], ctx: Context, clock: Clock, dispatcher: tuple[Dispatcher, FakePlatform]
) -> None:
    """Issue 16: media are held like posts; nothing of the post reaches the connector (which
    uploads the media inside its publish) until the hold ends, and then the photo goes with it."""
    import io
    from hashlib import sha256
    from pathlib import Path

    from tests.media_samples import has_gps, image_bytes

    worker, platform = dispatcher
    api = app_with_clock.test_client()
    uploaded = api.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(image_bytes(gps=True)), "open-day.jpg"), "alt_text": "The open day stand"},
        headers=estate["manager"].headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    ctx.clock = lambda: clock.now - timedelta(days=1)
    when = (clock.now + timedelta(minutes=5)).isoformat()
    body = {"account_id": estate["chem"]["id"], "body": "Open day!", "scheduled_at": when}
    post = posts.create_post(ctx, estate["manager"].user, {**body, "media_ids": [uploaded.json["id"]]})
    posts.approve_post(ctx, estate["ermc"].user, post["id"])
    declared = declare(api, estate["press"]).json
    clock.advance(minutes=10)
    worker.tick()
    assert platform.sent == [], "a held post's media reached its connector"
    api.post(
        f"/api/v1/incidents/{declared['id']}/resolve", json={"resume_policy": "resume"}, headers=estate["press"].headers
    )
    worker.tick()
    assert [sent.post_id for sent in platform.sent] == [post["id"]]
    (medium,) = platform.sent[0].media
    assert (medium.kind, medium.mime, medium.alt_text) == ("image", "image/jpeg", "The open day stand")
    data = Path(medium.path).read_bytes()
    assert sha256(data).hexdigest() == medium.sha256 == uploaded.json["sha256"]
    assert not has_gps(data)
    assert medium.public_url is None, "no LOCKDOWN_PUBLIC_URL: no public link is made"
    assert posts.get_post(ctx.db, post["id"])["state"] == "published"
