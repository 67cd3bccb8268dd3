"""The Facebook Page connector against a fake Graph API whose answers follow Meta's reference
pages (``graph_fake``): a publish to the Page feed answers ``{"id"}``
(https://developers.facebook.com/docs/graph-api/reference/page/feed/), a deletion
``{"success"}`` (https://developers.facebook.com/docs/graph-api/reference/post/#deleting), and
failures the Graph error object with the codes of
https://developers.facebook.com/docs/graph-api/guides/error-handling and
https://developers.facebook.com/docs/graph-api/overview/rate-limiting."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingPost
from connectors.facebook import FacebookConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from tests.connectors import graph_fake

FEED = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/1234567890/feed"
POST_ID = "1234567890_987654321"


@pytest.fixture
def facebook() -> FacebookConnector:
    return FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"})


def test_facebook_publishes_the_message_to_the_page_feed(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    fake.post(FEED, json=graph_fake.page_post("1234567890", "987654321"))

    published = facebook.publish(post)

    assert published.remote_id == POST_ID
    assert published.url == f"https://www.facebook.com/{POST_ID}"
    (call,) = fake.calls
    assert parse_qs(call.request.body) == {"message": [post.body]}
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.headers["Authorization"] == "Bearer page-tok"
    assert "page-tok" not in call.request.url


def test_facebook_deletes_the_post(fake: responses.RequestsMock, facebook: FacebookConnector) -> None:
    fake.delete(f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/{POST_ID}", json=graph_fake.deleted())

    facebook.delete(POST_ID)

    assert fake.calls[0].request.headers["Authorization"] == "Bearer page-tok"


def test_facebook_a_delete_graph_does_not_confirm_is_permanent(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.delete(f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/{POST_ID}", json=graph_fake.deleted(False))

    with pytest.raises(ConnectorError) as caught:
        facebook.delete(POST_ID)

    assert caught.value.permanent


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        # The Graph API answers these with HTTP 400; the error's code says which.
        (400, 100, "(#100) Invalid parameter"),
        (400, 190, "Error validating access token: Session has expired"),
        (400, 200, "(#200) Requires pages_manage_posts permission"),
        (400, 506, "Duplicate status message"),
    ],
)
def test_facebook_client_errors_are_permanent_with_graphs_message(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    post: OutgoingPost,
    status: int,
    code: int,
    message: str,
) -> None:
    fake.post(FEED, **graph_fake.error(message, code, status=status))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, status)
    assert message in error.message
    assert f"code {code}" in error.message


@pytest.mark.parametrize(
    ("code", "message", "extra"),
    [
        (4, "(#4) Application request limit reached", {}),
        (17, "(#17) User request limit reached", {}),
        (32, "(#32) Page request limit reached", {}),
        (613, "(#613) Calls to this api have exceeded the rate limit.", {}),
        # 368: "temporarily blocked for policy violations ... wait and retry"; is_transient says so
        (368, "It looks like you were misusing this feature by going too fast.", {"is_transient": True}),
    ],
)
def test_facebook_rate_limits_sent_as_400_are_transient(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    post: OutgoingPost,
    code: int,
    message: str,
    extra: dict[str, object],
) -> None:
    fake.post(FEED, **graph_fake.error(message, code, **extra))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, 400)
    assert message in error.message


def test_facebook_a_429_from_in_front_of_the_graph_api_is_transient_with_retry_after(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    # Not a Graph answer (its rate limits are 400s with a code, above): a proxy's, kept because
    # the HTTP mapping must still honour it.
    fake.post(FEED, status=429, json={"error": {"message": "Too many calls"}}, headers={"Retry-After": "120"})

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    error = caught.value
    assert (error.permanent, error.status, error.retry_after) == (False, 429, 120)
    assert "Too many calls" in error.message


@pytest.mark.parametrize("status", [500, 503])
def test_facebook_server_errors_on_a_publish_are_ambiguous(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost, status: int
) -> None:
    fake.post(FEED, **graph_fake.error("Service temporarily unavailable", 2, status=status))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)  # may be live: #13
    assert "Service temporarily unavailable" in error.message


def test_facebook_a_server_error_without_json_is_transient(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    fake.post(FEED, status=502, body="<html>Bad Gateway</html>")  # a proxy's page, not the Graph API's

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    assert (caught.value.permanent, caught.value.status) == (False, 502)


def test_facebook_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    post: OutgoingPost,
    never_sent: Exception,
) -> None:
    fake.post(FEED, body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_facebook_a_publish_that_got_no_answer_is_ambiguous(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    post: OutgoingPost,
    unanswered: Exception,
) -> None:
    fake.post(FEED, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_delete_that_got_no_answer_is_safe_to_retry(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    delete = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/{POST_ID}"
    fake.delete(delete, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        facebook.delete(POST_ID)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_facebook_needs_its_page_id() -> None:
    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({}, {"page_access_token": "page-tok"})

    assert caught.value.permanent
    assert "page_id" in caught.value.message


# https://developers.facebook.com/docs/graph-api/changelog/versions: v21.0 ends 2027-01-21; the
# version is the installation's (graph_version beside the settings).
def test_facebook_speaks_the_installations_graph_version(fake: responses.RequestsMock, post: OutgoingPost) -> None:
    facebook = FacebookConnector({"page_id": "1234567890", "graph_version": "v26.0"}, {"page_access_token": "t"})
    fake.post("https://graph.facebook.com/v26.0/1234567890/feed", json=graph_fake.page_post("1234567890", "987654321"))

    assert facebook.publish(post).remote_id == POST_ID


def test_facebook_defaults_to_a_graph_version_past_v21(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    fake.post(
        f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/1234567890/feed",
        json=graph_fake.page_post("1234567890", "987654321"),
    )

    facebook.publish(post)

    assert DEFAULT_GRAPH_VERSION != "v21.0"


# https://developers.facebook.com/docs/graph-api/overview/rate-limiting: Page tokens fall under
# business use case limits, error codes 80001 (Pages), 80002 (Instagram) ... 80014; the
# X-Business-Use-Case-Usage header gives estimated_time_to_regain_access in minutes.
@pytest.mark.parametrize("code", [80001, 80002, 80006])
def test_facebook_business_use_case_limits_wait_for_the_window_the_header_reports(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost, code: int
) -> None:
    usage = {
        "1234567890": [
            {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60,
             "estimated_time_to_regain_access": 17},
            {"type": "instagram", "call_count": 20, "total_cputime": 5, "total_time": 5,
             "estimated_time_to_regain_access": 0},
        ]
    }  # fmt: skip
    fake.post(
        FEED,
        **graph_fake.error("(#80001) There have been too many calls to this Page account.", code),
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous) == (False, False)
    assert error.retry_after == 17 * 60


def test_facebook_a_business_use_case_limit_without_the_header_is_still_transient(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    fake.post(FEED, **graph_fake.error("There have been too many calls to this Page account.", 80001))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    assert caught.value.permanent is False


# https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes:
# code 4, subcode 2207051 — the action was suspected as spam; retrying only repeats it.
def test_facebook_suspected_spam_is_permanent(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: OutgoingPost
) -> None:
    fake.post(
        FEED,
        **graph_fake.error("Application request limit reached", 4, 2207051, is_transient=False),
    )

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(post)

    assert caught.value.permanent is True
    assert "subcode 2207051" in caught.value.message
