"""Posts through the HTTP API: drafting, a colleague's review, editing, cancelling, batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.store.context import Context
from tests.conftest import Login, count_rows


def later(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def team(make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """An account with a manager and an editor, and an outsider who manages another account."""
    manager, editor, outsider = make_user("manager"), make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email], platform="x")
    other = register(outsider, platform="mastodon")
    return {
        "manager": manager,
        "editor": editor,
        "outsider": outsider,
        "account": account,
        "other": other,
    }


def draft(
    client: FlaskClient,
    login: Login,
    account_id: int,
    body: str = "Open day on Saturday!",
    when: str | None = None,
) -> Any:
    return client.post(
        "/api/v1/posts",
        json={"account_id": account_id, "body": body, "scheduled_at": when or later()},
        headers=login.headers,
    )


def test_a_draft_waits_for_review_and_a_colleague_approves_it(client: FlaskClient, team: dict[str, Any]) -> None:
    created = draft(client, team["editor"], team["account"]["id"])
    assert created.status_code == 201, created.json
    post = created.json
    assert post["state"] == "pending_review"
    assert post["author"] == team["editor"].email
    approved = client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers)
    assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "scheduled"
    assert approved.json["approved_by"] == team["manager"].email


def test_nobody_approves_their_own_post(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    for author in (team["manager"], ermc):
        post = draft(client, author, team["account"]["id"]).json
        refused = client.post(f"/api/v1/posts/{post['id']}/approve", headers=author.headers)
        assert refused.status_code == 403
        assert "colleague" in refused.json["error"]["message"]


@pytest.mark.parametrize("who", ["outsider", "press"])
def test_only_people_with_rights_on_the_account_draft_or_approve(
    client: FlaskClient, team: dict[str, Any], press: Login, who: str
) -> None:
    stranger = press if who == "press" else team["outsider"]
    assert draft(client, stranger, team["account"]["id"]).status_code == 403
    post = draft(client, team["editor"], team["account"]["id"]).json
    assert client.post(f"/api/v1/posts/{post['id']}/approve", headers=stranger.headers).status_code == 403


def test_ermc_may_draft_and_approve_for_any_account(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    post = draft(client, team["manager"], team["account"]["id"]).json
    assert client.post(f"/api/v1/posts/{post['id']}/approve", headers=ermc.headers).json["state"] == "scheduled"


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"scheduled_at": "next tuesday"}, "scheduled_at", "ISO"),
        ({"scheduled_at": "2030-01-01T09:00:00"}, "scheduled_at", "time zone"),
        ({"scheduled_at": "2020-01-01T09:00:00Z"}, "scheduled_at", "past"),
        ({"body": "   "}, "body", "blank"),
        ({"body": "x" * 281}, "body", "280"),
        ({"body": "界" * 141}, "body", "280"),
        ({"account_id": 999999}, "account_id", "no account"),
    ],
)
def test_bad_posts_are_refused_naming_the_field(
    client: FlaskClient,
    team: dict[str, Any],
    ctx: Any,
    payload: dict[str, Any],
    field: str,
    words: str,
) -> None:
    body = {
        "account_id": team["account"]["id"],
        "body": "Hello",
        "scheduled_at": later(),
        **payload,
    }
    before = count_rows(ctx, "posts")
    response = client.post("/api/v1/posts", json=body, headers=team["manager"].headers)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    assert words in response.json["error"]["message"]
    assert count_rows(ctx, "posts") == before


@pytest.mark.parametrize(
    ("platform", "limit"),
    [
        ("x", 280),
        ("mastodon", 500),
        ("bluesky", 300),
        ("linkedin", 3000),
        ("facebook", 63206),
        ("instagram", 2200),
    ],
)
def test_each_platform_has_its_length_limit(
    client: FlaskClient,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    platform: str,
    limit: int,
) -> None:
    manager = make_user("manager")
    account = register(manager, platform=platform)
    assert draft(client, manager, account["id"], body="a" * limit).status_code == 201
    too_long = draft(client, manager, account["id"], body="a" * (limit + 1))
    assert too_long.status_code == 400
    assert str(limit) in too_long.json["error"]["message"]


def test_x_counts_a_link_as_23_characters(client: FlaskClient, team: dict[str, Any]) -> None:
    link = "https://www.liverpool.ac.uk/" + "very-long-path/" * 20
    body = "a" * (280 - 24) + " " + link
    assert draft(client, team["manager"], team["account"]["id"], body=body).status_code == 201


def test_an_archived_account_takes_no_posts(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    client.delete(f"/api/v1/accounts/{team['account']['id']}", headers=ermc.headers)
    response = draft(client, team["manager"], team["account"]["id"])
    assert response.status_code == 400
    assert "archived" in response.json["error"]["message"]


def test_archiving_an_account_cancels_what_was_waiting_to_go_out_on_it(
    client: FlaskClient, team: dict[str, Any], ermc: Login, ctx: Context
) -> None:
    account = team["account"]["id"]
    waiting = draft(client, team["editor"], account).json
    scheduled = draft(client, team["editor"], account).json
    client.post(f"/api/v1/posts/{scheduled['id']}/approve", headers=team["manager"].headers)
    assert client.delete(f"/api/v1/accounts/{account}", headers=ermc.headers).status_code == 200
    for post in (waiting, scheduled):
        after = client.get(f"/api/v1/posts/{post['id']}", headers=team["manager"].headers).json
        assert (after["state"], after["error"]) == ("cancelled", "its account was archived")
    details = ctx.db.conn.execute(
        "SELECT details FROM audit_log WHERE action = 'account.archive' AND subject = ?", [f"account:{account}"]
    ).fetchone()[0]
    assert json.loads(details)["cancelled_posts"] == sorted([waiting["id"], scheduled["id"]])


def test_editing_the_body_or_time_sends_an_approved_post_back_to_review(
    client: FlaskClient, team: dict[str, Any]
) -> None:
    post = draft(client, team["editor"], team["account"]["id"]).json
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers)
    for change in ({"body": "Open day moved to Sunday"}, {"scheduled_at": later(120)}):
        edited = client.patch(f"/api/v1/posts/{post['id']}", json=change, headers=team["editor"].headers)
        assert edited.status_code == 200, edited.json
        assert edited.json["state"] == "pending_review"
        assert edited.json["approved_by"] is None
        client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers)


def test_cancelling(client: FlaskClient, team: dict[str, Any]) -> None:
    post = draft(client, team["manager"], team["account"]["id"]).json
    by_editor = client.post(f"/api/v1/posts/{post['id']}/cancel", headers=team["editor"].headers)
    assert by_editor.status_code == 403, "an editor who is not the author may not cancel"
    assert (
        client.post(f"/api/v1/posts/{post['id']}/cancel", headers=team["manager"].headers).json["state"] == "cancelled"
    )
    again = client.post(f"/api/v1/posts/{post['id']}/cancel", headers=team["manager"].headers)
    assert again.status_code == 409
    assert client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["editor"].headers).status_code == 409


def test_list_filters(client: FlaskClient, team: dict[str, Any], press: Login) -> None:
    one = draft(client, team["manager"], team["account"]["id"]).json
    two = draft(client, team["outsider"], team["other"]["id"]).json
    client.post(f"/api/v1/posts/{one['id']}/approve", headers=team["editor"].headers)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/posts?{query}", headers=press.headers)
        assert response.status_code == 200, response.json
        return [p["id"] for p in response.json["items"]]

    assert ids("") == [one["id"], two["id"]]
    assert ids("state=scheduled") == [one["id"]]
    assert ids(f"account_id={team['other']['id']}") == [two["id"]]
    assert client.get("/api/v1/posts?state=lost", headers=press.headers).json["error"]["field"] == "state"


def test_every_post_action_is_audited(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    post = draft(client, team["editor"], team["account"]["id"]).json
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers)
    client.post(f"/api/v1/posts/{post['id']}/cancel", headers=team["manager"].headers)
    entries = client.get(f"/api/v1/audit?subject=post:{post['id']}", headers=ermc.headers).json["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("post.create", team["editor"].email),
        ("post.approve", team["manager"].email),
        ("post.cancel", team["manager"].email),
    ]


def csv_upload(client: FlaskClient, login: Login, text: str) -> Any:
    return client.post("/api/v1/posts/import", data=text.encode(), content_type="text/csv", headers=login.headers)


def test_a_csv_batch_is_created_for_review_and_approved_whole_by_a_colleague(
    client: FlaskClient, team: dict[str, Any]
) -> None:
    account = team["account"]
    text = (
        "account_id,handle,platform,body,scheduled_at\n"
        f'{account["id"]},,,"First, with a comma",{later(30)}\n'
        f",{account['handle'].upper()},x,Second,{later(60)}\n"
    )
    created = csv_upload(client, team["editor"], text)
    assert created.status_code == 201, created.json
    batch = created.json["batch_id"]
    assert created.json["created"] == 2
    listed = client.get(f"/api/v1/posts?batch_id={batch}", headers=team["editor"].headers).json["items"]
    assert [p["body"] for p in listed] == ["First, with a comma", "Second"]
    assert {p["state"] for p in listed} == {"pending_review"}
    own = client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["editor"].headers)
    assert own.status_code == 403
    approved = client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["manager"].headers)
    assert approved.json == {"batch_id": batch, "approved": 2}
    again = client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["manager"].headers)
    assert again.status_code == 409


def test_a_batch_approver_needs_rights_on_every_account(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    text = f"account_id,body,scheduled_at\n{team['account']['id']},One,{later()}\n{team['other']['id']},Two,{later()}\n"
    batch = csv_upload(client, ermc, text).json["batch_id"]
    refused = client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["manager"].headers)
    assert refused.status_code == 403


def test_a_bad_csv_batch_names_lines_and_writes_nothing(client: FlaskClient, team: dict[str, Any], ctx: Any) -> None:
    text = (
        "account_id,body,scheduled_at\n"
        f"{team['account']['id']},Fine,{later()}\n"
        f"{team['other']['id']},Not my account,{later()}\n"
        f"{team['account']['id']},Too late,2020-01-01T00:00:00Z\n"
        f"{team['account']['id']},{'x' * 300},{later()}\n"
        f"424242,Nowhere,{later()}\n"
    )
    response = csv_upload(client, team["manager"], text)
    assert response.status_code == 400
    got = [(e["line"], e["field"]) for e in response.json["error"]["errors"]]
    assert got == [(3, "account_id"), (4, "scheduled_at"), (5, "body"), (6, "account_id")]
    assert count_rows(ctx, "posts") == 0


def test_accounts_with_rights_agrees_with_rights_on_for_every_account(
    ctx: Context, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    from lockdown.posting.rights import accounts_with_rights, rights_on

    manager, editor, other, ermc_user = (
        make_user("manager"),
        make_user("manager"),
        make_user("manager"),
        make_user("ermc"),
    )
    mine = register(manager, editors=[editor.email])["id"]
    theirs = register(other)["id"]
    for login in (manager, editor, other, ermc_user):
        expected = {a for a in (mine, theirs) if rights_on(ctx.db, login.user, a)}
        assert accounts_with_rights(ctx.db, login.user) & {mine, theirs} == expected
    assert accounts_with_rights(ctx.db, editor.user) >= {mine}
    assert theirs not in accounts_with_rights(ctx.db, editor.user)


@pytest.mark.parametrize("typed", ["²", "٣"])
def test_a_csv_account_id_in_unicode_digits_is_refused_naming_the_field(
    client: FlaskClient, team: dict[str, Any], typed: str
) -> None:
    response = csv_upload(client, team["manager"], f"account_id,body,scheduled_at\n{typed},Hello,{later(30)}\n")
    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"][0]["field"] == "account_id"


@pytest.mark.parametrize(
    ("body", "allowed", "words"),
    [
        ("\U0001f1ec\U0001f1e7" * 300, True, ""),  # 300 flags: 300 graphemes, 2,400 bytes
        ("\U0001f1ec\U0001f1e7" * 301, False, "301 characters"),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466" * 120, True, ""),  # 3,000 bytes
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466" * 200, False, "5000 bytes"),
        ("e\u0301" * 300, True, ""),  # composed to é: 300 graphemes
    ],
)
def test_bluesky_counts_graphemes_and_bytes_as_its_post_record_does(
    client: FlaskClient,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    body: str,
    allowed: bool,
    words: str,
) -> None:
    # app.bsky.feed.post: text maxGraphemes 300, maxLength 3000 (UTF-8 bytes).
    manager = make_user("manager")
    account = register(manager, platform="bluesky")
    response = draft(client, manager, account["id"], body=body)
    assert (response.status_code == 201) is allowed, response.json
    if not allowed:
        assert response.json["error"]["field"] == "body"
        assert words in response.json["error"]["message"]


def test_rescheduling_a_failed_post_clears_its_error_with_its_kind_and_status(
    client: FlaskClient, team: dict[str, Any], ctx: Context
) -> None:
    post = draft(client, team["editor"], team["account"]["id"]).json
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers)
    ctx.db.conn.execute(
        "UPDATE posts SET state = 'failed', error = 'HTTP 403: no', error_code = 'permanent', error_status = 403 "
        "WHERE id = ?",
        [post["id"]],
    )
    ctx.db.conn.commit()
    again = client.post(
        f"/api/v1/posts/{post['id']}/reschedule", json={"scheduled_at": later(30)}, headers=team["manager"].headers
    )
    assert again.status_code == 200, again.json
    assert (again.json["error"], again.json["error_code"], again.json["error_status"]) == (None, None, None)
