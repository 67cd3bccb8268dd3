"""The watch's reads on the Graph API against a fake built from Meta's reference pages:
a Facebook Page's feed (https://developers.facebook.com/docs/graph-api/reference/page/feed/#read,
time-based paging by ``paging.next``) and an Instagram account's media
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media,
cursor paging by ``paging.cursors.after``); errors from
https://developers.facebook.com/docs/graph-api/guides/error-handling and rate limits from
https://developers.facebook.com/docs/graph-api/overview/rate-limiting."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from connectors.base import ConnectorError, RemotePost, Unwatchable
from connectors.facebook import FacebookConnector
from connectors.instagram import InstagramConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from tests.connectors import graph_fake

GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
FEED = f"{GRAPH}/1234567890/feed"
MEDIA = f"{GRAPH}/17841400000000000/media"
SINCE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
FEED_QUERY = {"fields": "id,message,created_time,permalink_url", "since": str(int(SINCE.timestamp())), "limit": "100"}
MEDIA_QUERY = {"fields": "id,caption,timestamp,permalink", "limit": "50"}


@pytest.fixture
def facebook() -> FacebookConnector:
    return FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"})


@pytest.fixture
def instagram() -> InstagramConnector:
    settings = {"ig_user_id": "17841400000000000", "image_url": "https://www.liverpool.ac.uk/logo.png"}
    return InstagramConnector(settings, {"access_token": "ig-tok"})


def usage(minutes: int) -> dict[str, str]:
    """X-Business-Use-Case-Usage, as the rate-limiting page shows it."""
    entry = {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60}
    return {
        "X-Business-Use-Case-Usage": json.dumps({"1234567890": [{**entry, "estimated_time_to_regain_access": minutes}]})
    }


def test_facebook_lists_the_feed_newest_first_across_pages_until_since(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    next_url = f"{FEED}?fields=id,message,created_time,permalink_url&limit=100&until=1764410400&__paging_token=enc_AdD"
    fake.get(
        FEED,
        match=[matchers.query_param_matcher(FEED_QUERY)],
        json=graph_fake.listing(
            [
                graph_fake.page_feed_post("1234567890_3", "Hacked!", "2026-11-29T10:30:00+0000"),
                graph_fake.page_feed_post("1234567890_2", "Open day", "2026-11-29T10:00:00+0000"),
            ],
            next_url=next_url,
        ),
    )
    fake.get(
        next_url,
        match=[matchers.query_string_matcher(next_url.split("?", 1)[1])],
        json=graph_fake.listing(
            [
                graph_fake.page_feed_post("1234567890_1", "Morning", "2026-11-29T09:00:00+0000"),
                graph_fake.page_feed_post("1234567890_0", "Yesterday", "2026-11-28T17:00:00+0000"),
            ],
            next_url=f"{FEED}?until=1&__paging_token=enc_older",
        ),
    )

    posts = facebook.recent_posts(SINCE)

    assert [post.remote_id for post in posts] == ["1234567890_3", "1234567890_2", "1234567890_1"]
    assert posts[0] == RemotePost(
        remote_id="1234567890_3",
        url="https://www.facebook.com/1234567890/posts/3",
        text="Hacked!",
        posted_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    )
    assert all(call.request.headers["Authorization"] == "Bearer page-tok" for call in fake.calls)
    assert all("page-tok" not in str(call.request.url) for call in fake.calls)


def test_facebook_never_follows_a_next_page_on_another_host(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(
        FEED,
        json=graph_fake.listing(
            [graph_fake.page_feed_post("1234567890_3", "Hi", "2026-11-29T10:30:00+0000")],
            next_url="https://evil.example/feed?after=x",
        ),
    )

    assert [post.remote_id for post in facebook.recent_posts(SINCE)] == ["1234567890_3"]
    assert len(fake.calls) == 1


def test_facebook_reads_at_most_five_pages(fake: responses.RequestsMock, facebook: FacebookConnector) -> None:
    for page in range(5):
        fake.get(
            FEED,
            json=graph_fake.listing(
                [graph_fake.page_feed_post(f"1234567890_{100 - page}", "p", "2026-11-29T10:00:00+0000")],
                next_url=f"{FEED}?until={page}",
            ),
        )

    assert len(facebook.recent_posts(SINCE)) == 5
    assert len(fake.calls) == 5


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (10, "(#10) This endpoint requires the 'pages_read_engagement' permission"),
        (200, "(#200) Permissions error"),
    ],
)
def test_facebook_a_token_without_read_permission_is_unwatchable(
    fake: responses.RequestsMock, facebook: FacebookConnector, code: int, message: str
) -> None:
    fake.get(FEED, **graph_fake.error(message, code))

    with pytest.raises(Unwatchable) as caught:
        facebook.recent_posts(SINCE)

    assert caught.value.permanent
    assert message in caught.value.message
    assert "pages_read_engagement" in caught.value.message


def test_facebook_an_expired_token_is_permanent_not_unwatchable(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(FEED, **graph_fake.error("Error validating access token: Session has expired", 190, 463))

    with pytest.raises(ConnectorError) as caught:
        facebook.recent_posts(SINCE)

    assert caught.value.permanent
    assert not isinstance(caught.value, Unwatchable)


def test_facebook_a_business_use_case_limit_waits_for_the_window(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(
        FEED,
        **graph_fake.error("(#80001) There have been too many calls to this Page account.", 80001),
        headers=usage(17),
    )

    with pytest.raises(ConnectorError) as caught:
        facebook.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.retry_after) == (False, 17 * 60)


def test_facebook_a_429_in_front_of_the_graph_api_waits_for_retry_after(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(FEED, status=429, body="Too Many Requests", headers={"Retry-After": "120"})

    with pytest.raises(ConnectorError) as caught:
        facebook.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status, caught.value.retry_after) == (False, 429, 120.0)


def test_instagram_lists_media_newest_first_by_the_after_cursor_until_since(
    fake: responses.RequestsMock, instagram: InstagramConnector
) -> None:
    fake.get(
        MEDIA,
        match=[matchers.query_param_matcher(MEDIA_QUERY)],
        json=graph_fake.listing(
            [
                graph_fake.ig_media("17900000000000003", "Hacked!", "2026-11-29T10:30:00+0000"),
                graph_fake.ig_media("17900000000000002", "Open day", "2026-11-29T10:00:00+0000"),
            ],
            after="QVFIUpage2",
            next_url=f"{MEDIA}?access_token=IGQ&limit=50&after=QVFIUpage2",
        ),
    )
    fake.get(
        MEDIA,
        match=[matchers.query_param_matcher({**MEDIA_QUERY, "after": "QVFIUpage2"})],
        json=graph_fake.listing(
            [
                graph_fake.ig_media("17900000000000001", "Morning", "2026-11-29T09:00:00+0000"),
                graph_fake.ig_media("17900000000000000", "Yesterday", "2026-11-28T17:00:00+0000"),
            ],
            after="QVFIUpage3",
            next_url=f"{MEDIA}?limit=50&after=QVFIUpage3",
        ),
    )

    posts = instagram.recent_posts(SINCE)

    assert [post.remote_id for post in posts] == ["17900000000000003", "17900000000000002", "17900000000000001"]
    assert posts[0] == RemotePost(
        remote_id="17900000000000003",
        url="https://www.instagram.com/p/000003/",
        text="Hacked!",
        posted_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    )
    # The next page is asked for on the account's own host, with the token in the header only.
    assert all(call.request.headers["Authorization"] == "Bearer ig-tok" for call in fake.calls)
    assert all("access_token" not in str(call.request.url) for call in fake.calls)


def test_instagram_the_last_page_has_no_next(fake: responses.RequestsMock, instagram: InstagramConnector) -> None:
    fake.get(
        MEDIA,
        json=graph_fake.listing(
            [graph_fake.ig_media("17900000000000003", "Only", "2026-11-29T10:30:00+0000")], after="QVFIUend"
        ),
    )

    assert [post.remote_id for post in instagram.recent_posts(SINCE)] == ["17900000000000003"]


def test_instagram_a_token_without_read_permission_is_unwatchable(
    fake: responses.RequestsMock, instagram: InstagramConnector
) -> None:
    fake.get(MEDIA, **graph_fake.error("(#10) Application does not have permission for this action", 10))

    with pytest.raises(Unwatchable) as caught:
        instagram.recent_posts(SINCE)

    assert "instagram_basic" in caught.value.message


def test_instagram_a_business_use_case_limit_is_transient(
    fake: responses.RequestsMock, instagram: InstagramConnector
) -> None:
    fake.get(MEDIA, **graph_fake.error("(#80002) There have been too many calls to this Instagram account.", 80002))

    with pytest.raises(ConnectorError) as caught:
        instagram.recent_posts(SINCE)

    assert not caught.value.permanent
