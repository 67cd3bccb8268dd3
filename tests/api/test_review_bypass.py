"""Policy 2.2.3 through the API: whoever last changed a post's body or time is one of its authors
for review and cannot approve it, alone or in a batch (#12, finding 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.test_posts_api import csv_upload, draft, later
from tests.conftest import Login


@pytest.fixture
def team(make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    manager, editor, colleague = make_user("manager"), make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email, colleague.email], platform="x")
    return {"manager": manager, "editor": editor, "colleague": colleague, "account": account}


@pytest.mark.parametrize("change", [{"body": "The editor's words alone"}, {"scheduled_at": later(90)}])
def test_an_editor_who_changed_a_post_cannot_approve_it(
    client: FlaskClient, team: dict[str, Any], change: dict[str, Any]
) -> None:
    post = draft(client, team["manager"], team["account"]["id"]).json
    edited = client.patch(f"/api/v1/posts/{post['id']}", json=change, headers=team["editor"].headers)
    assert edited.status_code == 200, edited.json
    assert edited.json["state"] == "pending_review"

    refused = client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["editor"].headers)
    assert refused.status_code == 403, refused.json
    assert "changed" in refused.json["error"]["message"]
    after = client.get(f"/api/v1/posts/{post['id']}", headers=team["manager"].headers).json
    assert after["state"] == "pending_review"
    assert after["approved_by"] is None

    # The original author is an author too; a third colleague checks the joint text.
    assert client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["manager"].headers).status_code == 403
    approved = client.post(f"/api/v1/posts/{post['id']}/approve", headers=team["colleague"].headers)
    assert approved.status_code == 200, approved.json
    assert approved.json["approved_by"] == team["colleague"].email


def test_the_post_names_who_last_changed_it(client: FlaskClient, team: dict[str, Any]) -> None:
    post = draft(client, team["manager"], team["account"]["id"]).json
    assert post["last_changed_by"] == team["manager"].email
    client.patch(f"/api/v1/posts/{post['id']}", json={"body": "Changed"}, headers=team["editor"].headers)
    assert client.get(f"/api/v1/posts/{post['id']}", headers=team["manager"].headers).json["last_changed_by"] == (
        team["editor"].email
    )


def test_an_editor_who_changed_a_post_of_a_batch_cannot_approve_the_batch(
    client: FlaskClient, team: dict[str, Any]
) -> None:
    account = team["account"]
    text = f"account_id,body,scheduled_at\n{account['id']},First,{later(30)}\n{account['id']},Second,{later(60)}\n"
    batch = csv_upload(client, team["manager"], text).json["batch_id"]
    posts = client.get(f"/api/v1/posts?batch_id={batch}", headers=team["editor"].headers).json["items"]
    client.patch(f"/api/v1/posts/{posts[0]['id']}", json={"body": "Rewritten"}, headers=team["editor"].headers)

    refused = client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["editor"].headers)
    assert refused.status_code == 403, refused.json
    states = {
        p["state"] for p in client.get(f"/api/v1/posts?batch_id={batch}", headers=team["editor"].headers).json["items"]
    }
    assert states == {"pending_review"}
    assert (
        client.post(f"/api/v1/posts/batches/{batch}/approve", headers=team["colleague"].headers).json["approved"] == 2
    )


def test_an_edit_racing_an_approval_never_leaves_the_editor_as_approver(
    client: FlaskClient, app: Any, team: dict[str, Any]
) -> None:
    """The editor edits and approves at once, forty times: the approval must see the edit or be
    refused by it, never approve text whose last change was the approver's own."""
    editor = team["editor"]
    bypassed = 0
    for round_ in range(40):
        post = draft(client, team["manager"], team["account"]["id"], body=f"Round {round_}").json
        start = threading.Barrier(2)

        def edit(post_id: int = post["id"], n: int = round_, start: threading.Barrier = start) -> None:
            start.wait()
            app.test_client().patch(f"/api/v1/posts/{post_id}", json={"body": f"Edited {n}"}, headers=editor.headers)

        def approve(post_id: int = post["id"], start: threading.Barrier = start) -> None:
            start.wait()
            app.test_client().post(f"/api/v1/posts/{post_id}/approve", headers=editor.headers)

        threads = [threading.Thread(target=edit), threading.Thread(target=approve)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = client.get(f"/api/v1/posts/{post['id']}", headers=team["manager"].headers).json
        if final["approved_by"] == editor.email and final["last_changed_by"] == editor.email:
            bypassed += 1
    assert bypassed == 0
