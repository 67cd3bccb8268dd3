"""The X connector, through tweepy, against a fake api.twitter.com. Every request it sends and
every answer the fake gives are checked against X's official OpenAPI document
(``tests/specs/x-api-v2.openapi.json``; the reference page is
https://docs.x.com/x-api/posts/create-post) by the ``fake`` fixture."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingPost
from connectors.http import CONNECT_TIMEOUT, READ_TIMEOUT, TimeoutAdapter
from connectors.x import XConnector
from tests.connectors import x_fake

TWEETS = "https://api.twitter.com/2/tweets"
TWEET_ID = "1346889436626259968"
ABOUT_BLANK = "X answers this with a problem of type about:blank, which its document's Problem does not list"

SECRETS = {
    "consumer_key": "ck-123",
    "consumer_secret": "cs-456",
    "access_token": "at-789",
    "access_token_secret": "ats-012",
}


@pytest.fixture
def x() -> XConnector:
    return XConnector({}, SECRETS)


def test_x_publishes_with_create_tweet_and_returns_the_tweet_id(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    published = x.publish(post)

    assert published.remote_id == TWEET_ID
    assert published.url == f"https://x.com/i/web/status/{TWEET_ID}"
    (call,) = fake.calls
    assert json.loads(call.request.body) == {"text": post.body}
    assert call.request.headers["Content-Type"] == "application/json"


def test_x_signs_requests_with_oauth1_user_context(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    authorization = fake.calls[0].request.headers["Authorization"]
    assert authorization.startswith("OAuth ")
    assert 'oauth_consumer_key="ck-123"' in authorization
    assert 'oauth_token="at-789"' in authorization
    assert "oauth_signature=" in authorization
    assert "cs-456" not in authorization
    assert "ats-012" not in authorization


def test_x_sends_through_tweepys_session_with_the_timeout_adapter(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    assert x.session is x.client.session
    assert isinstance(x.client.session.get_adapter(TWEETS), TimeoutAdapter)
    assert fake.calls[0].request.req_kwargs["timeout"] == (CONNECT_TIMEOUT, READ_TIMEOUT)
    assert x.client.wait_on_rate_limit is False


def test_x_deletes_with_delete_tweet(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.delete(f"{TWEETS}/{TWEET_ID}", json=x_fake.deleted())

    x.delete(TWEET_ID)

    (call,) = fake.calls
    assert call.request.method == "DELETE"
    assert call.request.headers["Authorization"].startswith("OAuth ")


def test_x_a_delete_x_does_not_confirm_is_permanent(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.delete(f"{TWEETS}/{TWEET_ID}", json=x_fake.deleted(False))

    with pytest.raises(ConnectorError) as caught:
        x.delete(TWEET_ID)

    assert caught.value.permanent


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (x_fake.problem("invalid-request", 400, "Invalid Request", "Text is too long"), "Text is too long"),
        (
            x_fake.problem("resource-not-found", 404, "Not Found Error", "Could not find post", resource_type="tweet"),
            "Could not find post",
        ),
        (
            x_fake.problem("disallowed-resource", 403, "Forbidden", "You are not permitted to post here"),
            "not permitted",
        ),
    ],
)
def test_x_client_errors_are_permanent_with_xs_message(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, answer: dict[str, Any], said: str
) -> None:
    fake.post(TWEETS, **answer)
    status = answer["status"]

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, status)
    assert said in error.message
    assert error.retry_after is None


@pytest.mark.off_contract(ABOUT_BLANK)
@pytest.mark.parametrize(
    ("status", "title", "said"),
    [
        (401, "Unauthorized", "Unauthorized"),
        (403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."),
    ],
)
def test_x_refusals_outside_the_document_are_permanent_with_xs_message(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, status: int, title: str, said: str
) -> None:
    fake.post(TWEETS, **x_fake.about_blank(status, title, said))

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert (caught.value.permanent, caught.value.status) == (True, status)
    assert said in caught.value.message


@pytest.mark.off_contract(ABOUT_BLANK)
def test_x_429_is_transient_and_waits_for_the_rate_limit_reset(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    reset = int(time.time()) + 60
    fake.post(
        TWEETS,
        **x_fake.about_blank(429, "Too Many Requests"),
        headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )

    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    error = caught.value
    assert time.monotonic() - started < 2, "tweepy must not sleep on the rate limit"
    assert (error.permanent, error.ambiguous, error.status) == (False, False, 429)
    assert error.retry_after is not None
    assert 55 <= error.retry_after <= 60
    assert "Too Many Requests" in error.message


@pytest.mark.off_contract(ABOUT_BLANK)
def test_x_429_with_retry_after_uses_it(fake: responses.RequestsMock, x: XConnector, post: OutgoingPost) -> None:
    fake.post(TWEETS, **x_fake.about_blank(429, "Too Many Requests"), headers={"Retry-After": "30"})

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert caught.value.retry_after == 30


@pytest.mark.parametrize("status", [500, 503])
def test_x_server_errors_on_a_publish_are_ambiguous(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, status: int
) -> None:
    fake.post(TWEETS, **x_fake.problem("internal-error", status, "Service Unavailable", "Over capacity"))

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)  # may be live: #13
    assert "Over capacity" in error.message


def test_x_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, never_sent: Exception
) -> None:
    fake.post(TWEETS, body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_x_a_publish_that_got_no_answer_is_ambiguous(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, unanswered: Exception
) -> None:
    fake.post(TWEETS, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_x_a_delete_that_got_no_answer_is_safe_to_retry(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.delete(f"{TWEETS}/{TWEET_ID}", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        x.delete(TWEET_ID)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


@pytest.mark.off_contract("a garbled answer to a publish, which no document describes")
def test_x_a_2xx_with_an_unreadable_body_is_ambiguous(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    fake.post(TWEETS, status=201, body="<html>oops</html>")

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


# https://docs.x.com/x-api/fundamentals/rate-limits: POST /2/tweets is also limited per 24 hours
# per user and per app; a 429 for those carries x-user-limit-24hour-* or x-app-limit-24hour-*
# (reset in epoch seconds) beside the 15-minute x-rate-limit-reset.
@pytest.mark.off_contract(ABOUT_BLANK)
@pytest.mark.parametrize("prefix", ["x-user-limit-24hour", "x-app-limit-24hour"])
def test_x_429_waits_for_a_spent_24_hour_posting_limit(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost, prefix: str
) -> None:
    now = int(time.time())
    fake.post(
        TWEETS,
        **x_fake.about_blank(429, "Too Many Requests"),
        headers={
            "x-rate-limit-reset": str(now + 60),
            "x-rate-limit-remaining": "99",
            f"{prefix}-limit": "17",
            f"{prefix}-remaining": "0",
            f"{prefix}-reset": str(now + 5 * 3600),
        },
    )

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    error = caught.value
    assert (error.permanent, error.status) == (False, 429)
    assert error.retry_after is not None
    assert 5 * 3600 - 60 <= error.retry_after <= 5 * 3600


@pytest.mark.off_contract(ABOUT_BLANK)
def test_x_429_ignores_a_24_hour_limit_that_is_not_spent(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    now = int(time.time())
    fake.post(
        TWEETS,
        **x_fake.about_blank(429, "Too Many Requests"),
        headers={
            "x-rate-limit-reset": str(now + 60),
            "x-rate-limit-remaining": "0",
            "x-user-limit-24hour-remaining": "12",
            "x-user-limit-24hour-reset": str(now + 5 * 3600),
        },
    )

    with pytest.raises(ConnectorError) as caught:
        x.publish(post)

    assert caught.value.retry_after is not None
    assert caught.value.retry_after <= 60
