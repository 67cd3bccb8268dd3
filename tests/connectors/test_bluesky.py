"""The Bluesky connector against a fake PDS (XRPC over HTTP)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingPost
from connectors.bluesky import BlueskyConnector

PDS = "https://pds.example"
SESSION = f"{PDS}/xrpc/com.atproto.server.createSession"
CREATE = f"{PDS}/xrpc/com.atproto.repo.createRecord"
DELETE = f"{PDS}/xrpc/com.atproto.repo.deleteRecord"
DID = "did:plc:abc123"
URI = f"at://{DID}/app.bsky.feed.post/3kxyzrkey22"
LOGGED_IN = {"accessJwt": "jwt-access", "refreshJwt": "jwt-refresh", "did": DID}


@pytest.fixture
def bluesky() -> BlueskyConnector:
    settings = {"identifier": "livuni.bsky.social", "service_url": f"{PDS}/"}
    return BlueskyConnector(settings, {"app_password": "abcd-efgh-ijkl-mnop"})


def test_bluesky_logs_in_then_creates_a_post_record(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, json={"uri": URI, "cid": "bafyrei"})

    published = bluesky.publish(post)

    assert published.remote_id == URI
    assert published.url == f"https://bsky.app/profile/{DID}/post/3kxyzrkey22"
    login, create = fake.calls
    assert json.loads(login.request.body) == {
        "identifier": "livuni.bsky.social",
        "password": "abcd-efgh-ijkl-mnop",
    }
    assert "Authorization" not in login.request.headers
    sent = json.loads(create.request.body)
    assert create.request.headers["Authorization"] == "Bearer jwt-access"
    assert sent["repo"] == DID
    assert sent["collection"] == "app.bsky.feed.post"
    record = sent["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["text"] == post.body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdAt"])
    assert "facets" not in record


def test_bluesky_uses_bsky_social_when_no_service_url_is_set(fake: responses.RequestsMock, post: OutgoingPost) -> None:
    fake.post("https://bsky.social/xrpc/com.atproto.server.createSession", json=LOGGED_IN)
    fake.post("https://bsky.social/xrpc/com.atproto.repo.createRecord", json={"uri": URI})

    connector = BlueskyConnector({"identifier": "livuni.bsky.social"}, {"app_password": "pw"})

    assert connector.publish(post).remote_id == URI


def test_bluesky_makes_links_clickable_with_byte_indexed_facets(
    fake: responses.RequestsMock,
    bluesky: BlueskyConnector,
    make_post: Callable[..., OutgoingPost],
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, json={"uri": URI})
    body = "Café closed — details: https://liv.ac.uk/news."

    bluesky.publish(make_post(body=body))

    (facet,) = json.loads(fake.calls[1].request.body)["record"]["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert body.encode()[start:end] == b"https://liv.ac.uk/news"
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://liv.ac.uk/news"}]


def test_bluesky_deletes_the_record_named_by_the_uri(fake: responses.RequestsMock, bluesky: BlueskyConnector) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(DELETE, json={})

    bluesky.delete(URI)

    delete = fake.calls[1].request
    assert delete.headers["Authorization"] == "Bearer jwt-access"
    assert json.loads(delete.body) == {
        "repo": DID,
        "collection": "app.bsky.feed.post",
        "rkey": "3kxyzrkey22",
    }


def test_bluesky_refuses_to_delete_what_is_not_a_post_uri(bluesky: BlueskyConnector) -> None:
    with pytest.raises(ConnectorError) as caught:
        bluesky.delete("https://bsky.app/profile/x/post/1")

    assert caught.value.permanent


def test_bluesky_a_wrong_app_password_is_permanent_with_the_pds_message(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost
) -> None:
    fake.post(
        SESSION,
        status=401,
        json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
    )

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, 401)
    assert "AuthenticationRequired: Invalid identifier or password" in error.message
    assert "createSession" in error.message


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, "InvalidRequest", "Invalid app.bsky.feed.post record: text must not be longer"),
        (401, "ExpiredToken", "Token has expired"),
        (403, "Forbidden", "Account has been taken down"),
    ],
)
def test_bluesky_client_errors_are_permanent_with_the_pds_message(
    fake: responses.RequestsMock,
    bluesky: BlueskyConnector,
    post: OutgoingPost,
    status: int,
    error: str,
    message: str,
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, status=status, json={"error": error, "message": message})

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    failure = caught.value
    assert (failure.permanent, failure.ambiguous, failure.status) == (True, False, status)
    assert f"{error}: {message}" in failure.message


def test_bluesky_429_is_transient_until_the_ratelimit_reset(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost
) -> None:
    reset = int(time.time()) + 300
    fake.post(
        SESSION,
        status=429,
        json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers={
            "RateLimit-Limit": "30",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
        },
    )

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, 429)
    assert error.retry_after is not None
    assert 295 <= error.retry_after <= 300
    assert "Rate Limit Exceeded" in error.message


def test_bluesky_429_with_retry_after_uses_it(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, status=429, json={"error": "RateLimitExceeded"}, headers={"Retry-After": "45"})

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    assert (caught.value.permanent, caught.value.retry_after) == (False, 45)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bluesky_server_errors_on_a_publish_are_ambiguous(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost, status: int
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, status=status, json={"error": "InternalServerError", "message": "oops"})

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)  # may be live: #13
    assert "InternalServerError: oops" in error.message


def test_bluesky_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock,
    bluesky: BlueskyConnector,
    post: OutgoingPost,
    never_sent: Exception,
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_bluesky_a_create_record_that_got_no_answer_is_ambiguous(
    fake: responses.RequestsMock,
    bluesky: BlueskyConnector,
    post: OutgoingPost,
    unanswered: Exception,
) -> None:
    fake.post(SESSION, json=LOGGED_IN)
    fake.post(CREATE, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_bluesky_a_login_that_got_no_answer_is_safe_to_retry(
    fake: responses.RequestsMock, bluesky: BlueskyConnector, post: OutgoingPost
) -> None:
    fake.post(SESSION, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        bluesky.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_bluesky_needs_its_identifier() -> None:
    with pytest.raises(ConnectorError) as caught:
        BlueskyConnector({}, {"app_password": "pw"})

    assert caught.value.permanent
    assert "identifier" in caught.value.message
