"""The watch's read of an X account: ``GET /2/users/:id/tweets``
(https://docs.x.com/x-api/users/get-posts) with the user id from ``GET /2/users/me``
(https://docs.x.com/x-api/users/user-lookup-me), through tweepy. Every request and every answer
of the fake is checked against X's OpenAPI document by the ``fake`` fixture. Reads are billed per
post, so nothing is read unless the account opted in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from connectors.base import ConnectorError, RemotePost, Unwatchable
from connectors.x import XConnector
from tests.connectors import x_fake

ME = "https://api.twitter.com/2/users/me"
TWEETS = "https://api.twitter.com/2/users/2244994945/tweets"
SECRETS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}
SINCE = datetime(2026, 11, 29, 9, 0, 0, 500000, tzinfo=UTC)
FIRST = {"start_time": "2026-11-29T09:00:00Z", "max_results": "100", "tweet.fields": "created_at"}
NEXT = "7140dibdnow9c7btw3z2vwioavpvutgzrzm9icis4ndix"
ABOUT_BLANK = "X answers this with a problem of type about:blank, which its document's Problem does not list"


@pytest.fixture
def x() -> XConnector:
    return XConnector({"watch_reads": "yes"}, SECRETS)


@pytest.mark.parametrize("settings", [{}, {"watch_reads": ""}, {"watch_reads": "no"}])
def test_an_account_that_did_not_opt_in_is_unwatchable_and_nothing_is_sent(
    fake: responses.RequestsMock, settings: dict[str, str]
) -> None:
    with pytest.raises(Unwatchable) as caught:
        XConnector(settings, SECRETS).recent_posts(SINCE)

    assert caught.value.permanent
    assert caught.value.message == "X reads are billed per post; opted out"
    assert len(fake.calls) == 0


def test_posts_are_listed_newest_first_across_pages(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.get(ME, json=x_fake.me())
    fake.get(
        TWEETS,
        match=[matchers.query_param_matcher(FIRST)],
        json=x_fake.tweets_page(
            [
                x_fake.tweet("1900000000000000003", "Hacked!", "2026-11-29T10:30:00.000Z"),
                x_fake.tweet("1900000000000000002", "Open day", "2026-11-29T10:00:00.000Z"),
            ],
            next_token=NEXT,
        ),
    )
    fake.get(
        TWEETS,
        match=[matchers.query_param_matcher({**FIRST, "pagination_token": NEXT})],
        json=x_fake.tweets_page(
            [
                x_fake.tweet("1900000000000000001", "Morning", "2026-11-29T09:00:01.000Z"),
                # start_time is whole seconds: X may return a post in the second before since.
                x_fake.tweet("1900000000000000000", "Just before", "2026-11-29T09:00:00.100Z"),
            ]
        ),
    )

    posts = x.recent_posts(SINCE)

    assert [post.remote_id for post in posts] == ["1900000000000000003", "1900000000000000002", "1900000000000000001"]
    assert posts[0] == RemotePost(
        remote_id="1900000000000000003",
        url="https://x.com/i/web/status/1900000000000000003",
        text="Hacked!",
        posted_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    )
    assert all(call.request.headers["Authorization"].startswith("OAuth ") for call in fake.calls)


def test_no_posts_since_is_an_empty_list(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.get(ME, json=x_fake.me())
    fake.get(TWEETS, json=x_fake.tweets_page([]))

    assert x.recent_posts(SINCE) == []


def test_paging_stops_after_the_bounded_number_of_pages(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.get(ME, json=x_fake.me())
    for page in range(5):
        fake.get(
            TWEETS,
            json=x_fake.tweets_page(
                [x_fake.tweet(str(1900000000000000100 - page), "p", "2026-11-29T10:00:00.000Z")],
                next_token=f"token{page + 1}",
            ),
        )

    assert len(x.recent_posts(SINCE)) == 5
    assert len(fake.calls) == 6  # users/me and five pages; token5 is never asked for


@pytest.mark.off_contract(ABOUT_BLANK)
def test_429_is_transient_and_waits_for_the_rate_limit_reset(fake: responses.RequestsMock, x: XConnector) -> None:
    reset = int(time.time()) + 300
    fake.get(ME, json=x_fake.me())
    fake.get(
        TWEETS,
        **x_fake.about_blank(429, "Too Many Requests"),
        headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )

    with pytest.raises(ConnectorError) as caught:
        x.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status) == (False, 429)
    assert caught.value.retry_after is not None
    assert 290 <= caught.value.retry_after <= 300


@pytest.mark.off_contract(ABOUT_BLANK)
def test_401_is_permanent(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.get(ME, **x_fake.about_blank(401, "Unauthorized"))

    with pytest.raises(ConnectorError) as caught:
        x.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status) == (True, 401)
    assert not isinstance(caught.value, Unwatchable)


@pytest.mark.off_contract(ABOUT_BLANK)
def test_a_403_on_reading_posts_is_unwatchable(fake: responses.RequestsMock, x: XConnector) -> None:
    fake.get(ME, json=x_fake.me())
    fake.get(TWEETS, **x_fake.about_blank(403, "Forbidden", "Your app's access does not include this endpoint"))

    with pytest.raises(Unwatchable) as caught:
        x.recent_posts(SINCE)

    assert caught.value.status == 403
    assert "reading posts" in caught.value.message
