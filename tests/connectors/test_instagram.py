"""The Instagram connector against a fake Graph API, whose answers follow Meta's reference pages
(``graph_fake``): a media container
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media),
its status (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container),
then media_publish
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media_publish),
resumable between them; errors as
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes lists them."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers

from connectors.base import ConnectorError, OutgoingPost
from connectors.instagram import STATUS_INTERVAL, STATUS_READS, STILL_PROCESSING_RETRY, InstagramConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from tests.connectors import graph_fake

USER = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}/17841400000000000"
IMAGE = "https://www.liverpool.ac.uk/media/open-day.jpg"


GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
STATUS_FIELDS = matchers.query_param_matcher({"fields": "status_code,status"})


def container_is(fake: responses.RequestsMock, container: str, *states: str, status: str | None = None) -> None:
    """The fake answers the container's status reads with these states, in turn."""
    for state in states:
        fake.get(
            f"{GRAPH}/{container}",
            json=graph_fake.container_status(container, state, status),
            match=[STATUS_FIELDS],
        )


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def instagram(waits: list[float]) -> InstagramConnector:
    settings = {"ig_user_id": "17841400000000000", "image_url": IMAGE}
    connector = InstagramConnector(settings, {"access_token": "ig-tok"})
    connector.sleep = waits.append
    return connector


def test_instagram_makes_a_container_then_publishes_it(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    published = instagram.publish(post)

    assert published.remote_id == "m-9"
    container, status, publish = fake.calls
    assert parse_qs(container.request.body) == {"image_url": [IMAGE], "caption": [post.body]}
    assert status.request.method == "GET"
    assert parse_qs(publish.request.body) == {"creation_id": ["c-1"]}
    for call in fake.calls:
        assert call.request.headers["Authorization"] == "Bearer ig-tok"
        assert "ig-tok" not in call.request.url


def test_instagram_a_failed_publish_step_carries_the_container_id(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "FINISHED")
    fake.post(
        f"{USER}/media_publish",
        **graph_fake.error("Media ID is not available", 9007, 2207027),
    )

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert caught.value.progress == {"container_id": "c-1"}
    assert "Media ID is not available" in caught.value.message


def test_instagram_a_retry_with_the_container_id_only_publishes(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    make_post: Callable[..., OutgoingPost],
) -> None:
    container_is(fake, "c-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    published = instagram.publish(make_post(progress={"container_id": "c-1"}))

    assert published.remote_id == "m-9"
    status, publish = fake.calls
    assert status.request.method == "GET"
    assert publish.request.url == f"{USER}/media_publish"
    assert parse_qs(publish.request.body) == {"creation_id": ["c-1"]}


def test_instagram_an_expired_container_is_forgotten_so_the_next_attempt_makes_another(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    make_post: Callable[..., OutgoingPost],
) -> None:
    container_is(fake, "c-1", "FINISHED")
    fake.post(
        f"{USER}/media_publish",
        **graph_fake.error("The media you are trying to access has expired.", -2, 2207020),
    )
    fake.post(f"{USER}/media", json=graph_fake.container("c-2"))
    container_is(fake, "c-2", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(make_post(progress={"container_id": "c-1"}))
    assert caught.value.permanent is False
    assert caught.value.progress == {"container_id": ""}

    assert instagram.publish(make_post(progress=caught.value.progress)).remote_id == "m-9"
    assert parse_qs(fake.calls[-1].request.body) == {"creation_id": ["c-2"]}


def test_instagram_a_lost_answer_to_the_publish_step_is_ambiguous_and_keeps_the_container(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    post: OutgoingPost,
    unanswered: Exception,
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "FINISHED")
    fake.post(f"{USER}/media_publish", body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)
    assert caught.value.progress == {"container_id": "c-1"}


def test_instagram_a_lost_answer_to_the_container_step_is_safe_to_retry(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost
) -> None:
    fake.post(f"{USER}/media", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
    assert caught.value.progress == {}


def test_instagram_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    post: OutgoingPost,
    never_sent: Exception,
) -> None:
    fake.post(f"{USER}/media", body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


@pytest.mark.parametrize(
    ("status", "code", "subcode", "message"),
    [
        # The Graph API answers these with HTTP 400; its code says what went wrong.
        (400, 9004, 2207052, "Media download has failed: the image URL is not reachable"),
        (400, 190, None, "Error validating access token"),
        (400, 10, None, "(#10) Application does not have permission for this action"),
    ],
)
def test_instagram_client_errors_are_permanent_with_graphs_message(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    post: OutgoingPost,
    status: int,
    code: int,
    subcode: int | None,
    message: str,
) -> None:
    fake.post(f"{USER}/media", **graph_fake.error(message, code, subcode, status=status))

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, status)
    assert message in error.message


@pytest.mark.parametrize(
    ("status", "code", "subcode", "message"),
    [
        (400, 4, None, "(#4) Application request limit reached"),
        (400, 17, None, "(#17) User request limit reached"),
        (500, 1, None, "An unknown error occurred"),
        (503, 2, None, "Service temporarily unavailable"),
    ],
)
def test_instagram_limits_are_transient_and_server_errors_ambiguous(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    post: OutgoingPost,
    status: int,
    code: int,
    subcode: int | None,
    message: str,
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "FINISHED")
    fake.post(
        f"{USER}/media_publish",
        **graph_fake.error(message, code, subcode, status=status),
    )

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    error = caught.value
    # After media_publish was sent, a 5xx may mean the media is live (#13).
    assert (error.permanent, error.ambiguous, error.status) == (False, status >= 500, status)
    assert message in error.message
    assert error.progress == {"container_id": "c-1"}
    assert error.retry_after is None


def test_instagram_cannot_delete_published_media(instagram: InstagramConnector) -> None:
    with pytest.raises(ConnectorError) as caught:
        instagram.delete("m-9")

    assert caught.value.permanent
    assert "cannot delete" in caught.value.message


def test_instagram_needs_no_image_url_since_posts_bring_their_media() -> None:
    # image_url is optional (issue 16): a post's own media take its place; a post with none
    # fails at publish time (test_instagram_media).
    instagram = InstagramConnector({"ig_user_id": "1784"}, {"access_token": "ig-tok"})

    assert "image_url" not in instagram.config


# https://developers.facebook.com/docs/instagram-platform/content-publishing: accounts may
# publish a limited number of posts in a moving 24-hour window (content_publishing_limit);
# error 9 / subcode 2207042 says the quota is spent, so the next try waits for the window.
def test_instagram_the_daily_publishing_quota_waits_for_the_24_hour_window(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "FINISHED")
    fake.post(
        f"{USER}/media_publish",
        **graph_fake.error("You reached maximum number of posts allowed by the API", 9, 2207042),
    )

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous) == (False, False)
    assert error.retry_after == 24 * 3600
    assert error.progress == {"container_id": "c-1"}


# https://developers.facebook.com/docs/instagram-platform/overview: Instagram Login tokens are
# used with graph.instagram.com, Facebook Login tokens with graph.facebook.com.
def test_instagram_login_tokens_go_to_graph_instagram_com(fake: responses.RequestsMock, post: OutgoingPost) -> None:
    settings = {"ig_user_id": "17841400000000000", "image_url": IMAGE, "host": "graph.instagram.com"}
    instagram = InstagramConnector(settings, {"access_token": "ig-tok"})
    base = f"https://graph.instagram.com/{DEFAULT_GRAPH_VERSION}/17841400000000000"
    fake.post(f"{base}/media", json=graph_fake.container("c-1"))
    fake.get(
        f"https://graph.instagram.com/{DEFAULT_GRAPH_VERSION}/c-1", json=graph_fake.container_status("c-1", "FINISHED")
    )
    fake.post(f"{base}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(post).remote_id == "m-9"
    assert InstagramConnector.destination(settings) == "graph.instagram.com"
    assert InstagramConnector.destination({"ig_user_id": "1", "image_url": IMAGE}) == "graph.facebook.com"


def test_instagram_refuses_a_host_that_is_not_a_graph_host() -> None:
    settings = {"ig_user_id": "17841400000000000", "image_url": IMAGE, "host": "graph.evil.example"}

    with pytest.raises(ConnectorError) as caught:
        InstagramConnector(settings, {"access_token": "ig-tok"})

    assert caught.value.permanent
    assert "graph.instagram.com" in caught.value.message


# --- the container's status (IG Container reference: status_code) -----------------------------


def test_instagram_polls_a_container_in_progress_until_it_is_finished(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost, waits: list[float]
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "IN_PROGRESS", "IN_PROGRESS", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(post).remote_id == "m-9"
    assert waits == [STATUS_INTERVAL, STATUS_INTERVAL]
    assert [call.request.method for call in fake.calls] == ["POST", "GET", "GET", "GET", "POST"]


def test_instagram_a_container_still_in_progress_is_kept_for_a_later_attempt(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost, waits: list[float]
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", *["IN_PROGRESS"] * STATUS_READS)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous) == (False, False)
    assert error.retry_after == STILL_PROCESSING_RETRY
    assert error.progress == {"container_id": "c-1"}
    assert "IN_PROGRESS" in error.message
    assert len(waits) == STATUS_READS - 1, "the wait within one attempt is bounded"


def test_instagram_a_resumed_attempt_polls_its_container_instead_of_making_another(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost]
) -> None:
    container_is(fake, "c-1", "IN_PROGRESS", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(make_post(progress={"container_id": "c-1"})).remote_id == "m-9"
    assert not any(call.request.url == f"{USER}/media" for call in fake.calls)


def test_instagram_a_container_in_error_fails_the_post_with_the_platforms_status(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost
) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
    container_is(fake, "c-1", "IN_PROGRESS", "ERROR", status="Error: 2207026")

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (True, False)
    assert "2207026" in caught.value.message
    assert caught.value.progress == {"container_id": ""}


def test_instagram_a_kept_container_that_expired_is_made_again(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost]
) -> None:
    # "EXPIRED: the container was not published within 24 hours"
    container_is(fake, "c-1", "EXPIRED")
    fake.post(f"{USER}/media", json=graph_fake.container("c-2"))
    container_is(fake, "c-2", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(make_post(progress={"container_id": "c-1"})).remote_id == "m-9"
    assert parse_qs(fake.calls[-1].request.body) == {"creation_id": ["c-2"]}


def test_instagram_a_kept_container_already_published_is_not_published_again(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost]
) -> None:
    container_is(fake, "c-1", "PUBLISHED")

    published = instagram.publish(make_post(progress={"container_id": "c-1"}))

    assert published.remote_id is None
    assert [call.request.method for call in fake.calls] == ["GET"]


@pytest.mark.parametrize("step", ["container", "status"])
def test_instagram_a_server_error_before_media_publish_is_transient_not_ambiguous(
    fake: responses.RequestsMock, instagram: InstagramConnector, post: OutgoingPost, step: str
) -> None:
    # Nothing is posted before media_publish: a 5xx there cannot mean a live post.
    failure = graph_fake.error("An unexpected error has occurred", 2, status=503)
    if step == "container":
        fake.post(f"{USER}/media", **failure)
    else:
        fake.post(f"{USER}/media", json=graph_fake.container("c-1"))
        fake.get(f"{GRAPH}/c-1", **failure)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
    assert "HTTP 503" in caught.value.message
    assert caught.value.progress == ({"container_id": "c-1"} if step == "status" else {})
