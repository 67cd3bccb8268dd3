"""The watch's read of a Mastodon account: ``GET /api/v1/accounts/:id/statuses``
(https://docs.joinmastodon.org/methods/accounts/#statuses, paged by the ``Link`` header as
https://docs.joinmastodon.org/api/guidelines/#pagination says). Every request and every answer
of the fake is checked against Mastodon's OpenAPI document by the ``fake`` fixture."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from connectors.base import ConnectorError, RemotePost, Unwatchable
from connectors.mastodon import MastodonConnector
from tests.connectors import mastodon_fake

BASE = "https://social.example"
ME = f"{BASE}/api/v1/accounts/verify_credentials"
STATUSES = f"{BASE}/api/v1/accounts/1/statuses"
FIRST = {"exclude_reblogs": "true", "limit": "40"}
SINCE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def mastodon() -> MastodonConnector:
    return MastodonConnector({"base_url": f"{BASE}/"}, {"access_token": "tok-1"})


def status(status_id: str, at: str, content: str = "<p>Open day</p>") -> dict[str, object]:
    return mastodon_fake.status(status_id, content=content, created_at=at)


def test_statuses_are_listed_newest_first_across_pages_until_older_than_since(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.get(ME, json=mastodon_fake.credential_account())
    next_page = f"{STATUSES}?exclude_reblogs=true&limit=40&max_id=108"
    fake.get(
        STATUSES,
        match=[matchers.query_param_matcher(FIRST)],
        json=[
            status("110", "2026-11-29T10:30:00.000Z", "<p>Hacked!</p><p>Second line<br>third</p>"),
            status("108", "2026-11-29T10:00:00.000Z"),
        ],
        headers={"Link": f'<{next_page}>; rel="next", <{STATUSES}?min_id=110>; rel="prev"'},
    )
    fake.get(
        STATUSES,
        match=[matchers.query_param_matcher({**FIRST, "max_id": "108"})],
        json=[status("105", "2026-11-29T09:00:00.000Z"), status("101", "2026-11-29T08:59:59.000Z")],
        headers={"Link": f'<{STATUSES}?exclude_reblogs=true&limit=40&max_id=101>; rel="next"'},
    )

    posts = mastodon.recent_posts(SINCE)

    assert [post.remote_id for post in posts] == ["110", "108", "105"]  # 105 is exactly at since
    assert posts[0] == RemotePost(
        remote_id="110",
        url=f"{BASE}/@livuni/110",
        text="Hacked!\n\nSecond line\nthird",
        posted_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    )
    assert all(call.request.headers["Authorization"] == "Bearer tok-1" for call in fake.calls)


def test_the_account_id_is_asked_once_per_connector(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.get(ME, json=mastodon_fake.credential_account())
    fake.get(STATUSES, json=[])

    assert mastodon.recent_posts(SINCE) == []
    assert mastodon.recent_posts(SINCE) == []
    assert [call.request.url.split("?")[0] for call in fake.calls] == [ME, STATUSES, STATUSES]


def test_paging_stops_after_the_bounded_number_of_pages(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.get(ME, json=mastodon_fake.credential_account())
    for page in range(5):
        newest = 200 - 2 * page
        fake.get(
            STATUSES,
            json=[status(str(newest), "2026-11-29T12:00:00.000Z"), status(str(newest - 1), "2026-11-29T11:00:00Z")],
            headers={"Link": f'<{STATUSES}?exclude_reblogs=true&limit=40&max_id={newest - 1}>; rel="next"'},
        )

    posts = mastodon.recent_posts(SINCE)

    assert len(posts) == 10  # five pages, then what it has; the sixth is never asked for
    assert len(fake.calls) == 6


def test_a_next_page_on_another_host_is_refused(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.get(ME, json=mastodon_fake.credential_account())
    fake.get(
        STATUSES,
        json=[status("110", "2026-11-29T10:30:00.000Z")],
        headers={"Link": '<https://evil.example/steal?max_id=110>; rel="next"'},
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.recent_posts(SINCE)

    assert caught.value.permanent
    assert "evil.example" in caught.value.message


def test_429_is_transient_with_the_iso_rate_limit_reset(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    # https://docs.joinmastodon.org/api/rate-limits/: X-RateLimit-Reset is an ISO 8601 time.
    reset = datetime.now(UTC).replace(microsecond=0).timestamp() + 120
    fake.get(ME, json=mastodon_fake.credential_account())
    fake.get(
        STATUSES,
        status=429,
        json=mastodon_fake.error("Too many requests"),
        headers={"X-RateLimit-Reset": datetime.fromtimestamp(reset, UTC).isoformat().replace("+00:00", "Z")},
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status) == (False, 429)
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 120


def test_a_revoked_token_is_permanent(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.get(ME, status=401, json=mastodon_fake.error("The access token was revoked"))

    with pytest.raises(ConnectorError) as caught:
        mastodon.recent_posts(SINCE)

    assert (caught.value.permanent, caught.value.status) == (True, 401)
    assert not isinstance(caught.value, Unwatchable)


@pytest.mark.off_contract(
    "Mastodon answers a token without the scope with 403 'This action is outside the authorized scopes' "
    "(Doorkeeper, https://docs.joinmastodon.org/api/oauth-scopes/), which the document does not list here"
)
def test_a_token_without_read_statuses_is_unwatchable(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.get(ME, json=mastodon_fake.credential_account())
    fake.get(STATUSES, status=403, json=mastodon_fake.error("This action is outside the authorized scopes"))

    with pytest.raises(Unwatchable) as caught:
        mastodon.recent_posts(SINCE)

    assert caught.value.permanent
    assert "read:statuses" in caught.value.message
