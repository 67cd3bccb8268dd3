"""The watch's read of a LinkedIn author: the Posts API's "Find Posts by Authors"
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api),
``GET /rest/posts?author=..&q=author&sortBy=LAST_MODIFIED``, paged by ``start``/``count``, against
a fake in the page's shapes; errors as
https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling lists them,
rate limits as https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from connectors import linkedin as linkedin_module
from connectors.base import ConnectorError, RemotePost, Unwatchable
from connectors.linkedin import LinkedInConnector
from tests.connectors import linkedin_fake

POSTS = "https://api.linkedin.com/rest/posts"
AUTHOR = "urn:li:organization:123"
SINCE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def ms(hour: int, minute: int = 0, day: int = 29) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def query(start: int, count: int = 2) -> dict[str, str]:
    return {"author": AUTHOR, "q": "author", "count": str(count), "start": str(start), "sortBy": "LAST_MODIFIED"}


@pytest.fixture
def linkedin(monkeypatch: pytest.MonkeyPatch) -> LinkedInConnector:
    monkeypatch.setattr(linkedin_module, "FIND_PAGE", 2)  # so a few posts take several pages
    return LinkedInConnector({"author": AUTHOR}, {"access_token": "li-tok"})


def test_posts_are_listed_newest_first_across_pages_until_modified_before_since(
    fake: responses.RequestsMock, linkedin: LinkedInConnector
) -> None:
    share = "urn:li:share:70000000000000000"
    page_one = [
        linkedin_fake.post(f"{share}3", AUTHOR, "Hacked!", ms(10, 30)),
        # published before since, edited after: listed high, but not a post made since
        linkedin_fake.post(f"{share}0", AUTHOR, "Edited last week's", ms(8, day=22), modified_ms=ms(10)),
    ]
    page_two = [
        linkedin_fake.post(f"{share}2", AUTHOR, "Open day", ms(9, 30)),
        linkedin_fake.post(f"{share}1", AUTHOR, "Morning", ms(9)),
    ]
    page_three = [linkedin_fake.post("urn:li:ugcPost:69999", AUTHOR, "Yesterday", ms(17, day=28))]
    for start, elements in ((0, page_one), (2, page_two), (4, page_three)):
        fake.get(
            POSTS,
            match=[matchers.query_param_matcher(query(start))],
            json=linkedin_fake.posts_by_author(elements, start=start, count=2, author=AUTHOR),
        )

    posts = linkedin.recent_posts(SINCE)

    assert [post.remote_id for post in posts] == [f"{share}3", f"{share}2", f"{share}1"]
    assert posts[0] == RemotePost(
        remote_id=f"{share}3",
        url=f"https://www.linkedin.com/feed/update/{share}3",
        text="Hacked!",
        posted_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    )
    headers = fake.calls[0].request.headers
    assert headers["X-RestLi-Method"] == "FINDER"
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert headers["LinkedIn-Version"]
    assert "author=urn%3Ali%3Aorganization%3A123" in str(fake.calls[0].request.url)


def test_paging_stops_after_five_pages(fake: responses.RequestsMock, linkedin: LinkedInConnector) -> None:
    for page in range(5):
        elements = [
            linkedin_fake.post(f"urn:li:share:{900 - 2 * page}", AUTHOR, "p", ms(12)),
            linkedin_fake.post(f"urn:li:share:{899 - 2 * page}", AUTHOR, "p", ms(11)),
        ]
        fake.get(POSTS, json=linkedin_fake.posts_by_author(elements, start=2 * page, count=2, author=AUTHOR))

    assert len(linkedin.recent_posts(SINCE)) == 10
    assert len(fake.calls) == 5


def test_429_with_retry_after_uses_it(fake: responses.RequestsMock, linkedin: LinkedInConnector) -> None:
    fake.get(
        POSTS, **linkedin_fake.error(429, "Resource level throttle limit reached"), headers={"Retry-After": "3600"}
    )

    with pytest.raises(ConnectorError) as caught:
        linkedin.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status, caught.value.retry_after) == (False, 429, 3600)


def test_429_without_retry_after_waits_for_the_daily_reset_at_midnight_utc(
    fake: responses.RequestsMock, linkedin: LinkedInConnector
) -> None:
    fake.get(POSTS, **linkedin_fake.error(429, "Application level throttle limit reached"))

    with pytest.raises(ConnectorError) as caught:
        linkedin.recent_posts(SINCE)

    now = datetime.now(UTC)
    to_midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert caught.value.permanent is False
    assert caught.value.retry_after is not None
    assert abs(caught.value.retry_after - to_midnight) < 5


def test_a_token_without_read_permission_is_unwatchable(
    fake: responses.RequestsMock, linkedin: LinkedInConnector
) -> None:
    fake.get(
        POSTS, **linkedin_fake.error(403, "Not enough permissions to access: partnerApiPostsExternal.FINDER-author")
    )

    with pytest.raises(Unwatchable) as caught:
        linkedin.recent_posts(SINCE)

    assert "r_organization_social" in caught.value.message


def test_a_revoked_token_is_permanent(fake: responses.RequestsMock, linkedin: LinkedInConnector) -> None:
    fake.get(POSTS, **linkedin_fake.error(401, "Invalid access token", service_error_code=65601))

    with pytest.raises(ConnectorError) as caught:
        linkedin.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status) == (True, 401)
    assert not isinstance(caught.value, Unwatchable)
