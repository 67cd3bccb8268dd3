"""The LinkedIn connector against a fake Posts API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api),
whose answers and errors (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling)
come from ``linkedin_fake``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingPost
from connectors.linkedin import LinkedInConnector
from connectors.versions import DEFAULT_LINKEDIN_VERSION
from tests.connectors import linkedin_fake

POSTS = "https://api.linkedin.com/rest/posts"
URN = "urn:li:share:7123456789012345678"
AUTHOR = "urn:li:organization:123"


@pytest.fixture
def linkedin() -> LinkedInConnector:
    return LinkedInConnector({"author": AUTHOR}, {"access_token": "li-tok"})


def test_linkedin_publishes_a_public_post_and_returns_the_urn_from_x_restli_id(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost
) -> None:
    fake.post(POSTS, **linkedin_fake.created(URN))

    published = linkedin.publish(post)

    assert published.remote_id == URN
    assert published.url == f"https://www.linkedin.com/feed/update/{URN}"
    (call,) = fake.calls
    assert json.loads(call.request.body) == {
        "author": AUTHOR,
        "commentary": post.body,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert call.request.headers["Authorization"] == "Bearer li-tok"
    assert call.request.headers["LinkedIn-Version"] == DEFAULT_LINKEDIN_VERSION
    assert call.request.headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_linkedin_escapes_little_format_markup_but_not_links_or_hashtags(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    make_post: Callable[..., OutgoingPost],
) -> None:
    fake.post(POSTS, **linkedin_fake.created(URN))
    body = "Open day (10:00) @ the Guild_Hall #LivUni https://liv.ac.uk/open_day_(2030)"

    linkedin.publish(make_post(body=body))

    commentary = json.loads(fake.calls[0].request.body)["commentary"]
    assert commentary == (r"Open day \(10:00\) \@ the Guild\_Hall #LivUni https://liv.ac.uk/open_day_(2030)")


def test_linkedin_deletes_the_post_by_its_encoded_urn(
    fake: responses.RequestsMock, linkedin: LinkedInConnector
) -> None:
    fake.delete(f"{POSTS}/urn%3Ali%3Ashare%3A7123456789012345678", **linkedin_fake.deleted())

    linkedin.delete(URN)

    request = fake.calls[0].request
    assert request.url == f"{POSTS}/urn%3Ali%3Ashare%3A7123456789012345678"
    assert request.headers["LinkedIn-Version"] == DEFAULT_LINKEDIN_VERSION
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"] == "Bearer li-tok"


def test_linkedin_a_duplicate_post_is_permanent(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost
) -> None:
    fake.post(
        POSTS,
        **linkedin_fake.error(422, f"Content is a duplicate of {URN}", code="DUPLICATE_POST"),
    )

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, 422)
    assert f"duplicate of {URN}" in error.message


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Request body could not be converted to data map"),
        (401, "Invalid access token"),
        (403, "Not enough permissions to access: partnerApiPostsExternal.CREATE.20241101"),
        (426, "Requested version 20241101 is not active"),
    ],
    ids=["bad-request", "unauthorized", "forbidden", "version-sunset"],
)
def test_linkedin_client_errors_are_permanent_with_linkedins_message(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    post: OutgoingPost,
    status: int,
    message: str,
) -> None:
    fake.post(POSTS, **linkedin_fake.error(status, message, service_error_code=100 if status == 403 else None))

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, status)
    assert message in error.message


def test_linkedin_429_is_transient_with_retry_after(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost
) -> None:
    fake.post(
        POSTS,
        **linkedin_fake.error(429, "Resource level throttle limit reached"),
        headers={"Retry-After": "3600"},
    )

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    error = caught.value
    assert (error.permanent, error.status, error.retry_after) == (False, 429, 3600)
    assert "throttle limit" in error.message


@pytest.mark.parametrize("status", [500, 503])
def test_linkedin_server_errors_on_a_publish_are_ambiguous(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost, status: int
) -> None:
    fake.post(POSTS, **linkedin_fake.error(status, "Internal Server Error"))

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)  # may be live: #13
    assert "Internal Server Error" in error.message


def test_linkedin_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    post: OutgoingPost,
    never_sent: Exception,
) -> None:
    fake.post(POSTS, body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_linkedin_a_publish_that_got_no_answer_is_ambiguous(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    post: OutgoingPost,
    unanswered: Exception,
) -> None:
    fake.post(POSTS, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_linkedin_a_delete_that_got_no_answer_is_safe_to_retry(
    fake: responses.RequestsMock, linkedin: LinkedInConnector
) -> None:
    fake.delete(
        f"{POSTS}/urn%3Ali%3Ashare%3A7123456789012345678",
        body=requests.ReadTimeout("read timed out"),
    )

    with pytest.raises(ConnectorError) as caught:
        linkedin.delete(URN)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_linkedin_needs_its_author() -> None:
    with pytest.raises(ConnectorError) as caught:
        LinkedInConnector({}, {"access_token": "li-tok"})

    assert caught.value.permanent
    assert "author" in caught.value.message


# https://learn.microsoft.com/en-us/linkedin/marketing/versioning: every call names a monthly
# version (YYYYMM) in LinkedIn-Version; a sunset version is answered with 426.


def test_linkedin_sends_the_installations_version(fake: responses.RequestsMock, post: OutgoingPost) -> None:
    linkedin = LinkedInConnector({"author": AUTHOR, "linkedin_version": "202610"}, {"access_token": "li-tok"})
    fake.post(POSTS, **linkedin_fake.created(URN))

    linkedin.publish(post)

    assert fake.calls[0].request.headers["LinkedIn-Version"] == "202610"


def test_linkedin_defaults_to_a_version_that_is_not_sunset(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost
) -> None:
    fake.post(POSTS, **linkedin_fake.created(URN))

    linkedin.publish(post)

    # 202411 was sunset on 2025-11-17 (the Migrations page); LinkedIn keeps a version a year.
    assert fake.calls[0].request.headers["LinkedIn-Version"] > "202511"


def test_linkedin_a_sunset_version_is_permanent_and_names_the_version_and_its_setting(
    fake: responses.RequestsMock, post: OutgoingPost
) -> None:
    linkedin = LinkedInConnector({"author": AUTHOR, "linkedin_version": "202411"}, {"access_token": "li-tok"})
    fake.post(POSTS, **linkedin_fake.error(426, "Requested version 20241101 is not active"))

    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, 426)
    assert "202411" in error.message
    assert "LOCKDOWN_LINKEDIN_VERSION" in error.message
    assert "Requested version 20241101 is not active" in error.message
