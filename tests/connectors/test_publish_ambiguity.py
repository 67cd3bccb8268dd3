"""The one rule of ambiguity (#13), through each connector's real client path: after a publish
was sent, a 5xx or a lost answer may mean the post is live, so it is ``ambiguous`` (a person
settles it) unless the platform de-duplicates the repeat, and only within its window (Mastodon
keeps an ``Idempotency-Key`` one hour). A failure before sending stays transient; so does any
failure of a deletion, which is safe to repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses

from connectors.base import UNANSWERED, Connector, ConnectorError, OutgoingPost
from connectors.facebook import FacebookConnector
from connectors.instagram import InstagramConnector
from connectors.linkedin import LinkedInConnector
from connectors.mastodon import MastodonConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from connectors.webhook import WebhookConnector
from connectors.x import XConnector
from tests.connectors import graph_fake, linkedin_fake, mastodon_fake, x_fake

FIRST = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
IG_USER = f"{GRAPH}/17841400000000000"
MASTODON = "https://social.example"
HOOK = "https://hooks.example/relay"
ABOUT_BLANK = "X answers a rate limit with a problem of type about:blank, which its document does not list"


@dataclass(frozen=True)
class Platform:
    """A connector and how its fake answers a publish: ``before`` are the calls that succeed
    first (a login, a container), ``publish`` the call that fails."""

    build: Callable[[], Connector]
    publish: tuple[str, str]
    before: tuple[tuple[str, str, dict[str, object]], ...] = ()


# The publishing calls and the reference pages they follow; none takes an idempotency key.
# Bluesky's goes through atproto and httpx, not requests: tests/connectors/test_bluesky.py
# checks the same rule for it against its own fake.
WITHOUT_KEY = {
    # https://docs.x.com/x-api/posts/create-post (POST /2/tweets)
    "x": Platform(
        lambda: XConnector(
            {}, {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}
        ),
        ("POST", "https://api.twitter.com/2/tweets"),
    ),
    # https://developers.facebook.com/docs/graph-api/reference/page/feed/#publish
    "facebook": Platform(
        lambda: FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}),
        ("POST", f"{GRAPH}/1234567890/feed"),
    ),
    # https://developers.facebook.com/docs/instagram-platform/content-publishing/ (media_publish)
    "instagram": Platform(
        lambda: InstagramConnector(
            {"ig_user_id": "17841400000000000", "image_url": "https://www.liverpool.ac.uk/open-day.jpg"},
            {"access_token": "ig-tok"},
        ),
        ("POST", f"{IG_USER}/media_publish"),
        before=(
            ("POST", f"{IG_USER}/media", graph_fake.container("c-1")),
            ("GET", f"{GRAPH}/c-1", graph_fake.container_status("c-1", "FINISHED")),
        ),
    ),
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    "linkedin": Platform(
        lambda: LinkedInConnector({"author": "urn:li:organization:123"}, {"access_token": "li-tok"}),
        ("POST", "https://api.linkedin.com/rest/posts"),
    ),
}


def mastodon() -> MastodonConnector:
    return MastodonConnector({"base_url": MASTODON}, {"access_token": "tok-1"})


def arrange(fake: responses.RequestsMock, platform: Platform, **failure: object) -> None:
    for method, url, body in platform.before:
        fake.add(method, url, json=body)
    fake.add(*platform.publish, **failure)  # type: ignore[arg-type]


def publish_failure(connector: Connector, post: OutgoingPost) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        connector.publish(post)
    return caught.value


def server_error(name: str, status: int) -> dict[str, object]:
    """The platform's own shape of a server error (X's as its document has it)."""
    if name == "x":
        return x_fake.problem("internal-error", status, "Internal Error", "Internal error")
    if name in ("facebook", "instagram"):
        return graph_fake.error("An unknown error occurred", 1, status=status)
    if name == "linkedin" and status in linkedin_fake.DOCUMENTED_STATUSES:
        return linkedin_fake.error(status, "Internal Server Error")
    if name == "linkedin":
        return {"status": status, "body": "<html>Bad Gateway</html>"}  # a proxy's: LinkedIn lists no 502
    return {"status": status, "json": {"error": "Internal error"}}


@pytest.mark.parametrize("name", sorted(WITHOUT_KEY))
@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_after_a_publish_without_a_key_is_ambiguous(
    fake: responses.RequestsMock, post: OutgoingPost, name: str, status: int
) -> None:
    arrange(fake, WITHOUT_KEY[name], **server_error(name, status))

    error = publish_failure(WITHOUT_KEY[name].build(), post)

    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)


@pytest.mark.parametrize("name", sorted(WITHOUT_KEY))
def test_a_publish_without_a_key_that_never_left_stays_transient(
    fake: responses.RequestsMock, post: OutgoingPost, name: str, never_sent: Exception
) -> None:
    arrange(fake, WITHOUT_KEY[name], body=never_sent)

    error = publish_failure(WITHOUT_KEY[name].build(), post)

    assert (error.permanent, error.ambiguous) == (False, False)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.off_contract(ABOUT_BLANK)] if name == "x" else [])
        for name in sorted(WITHOUT_KEY)
    ],
)
def test_a_rate_limit_on_a_publish_stays_transient(fake: responses.RequestsMock, post: OutgoingPost, name: str) -> None:
    # A 429 is the platform saying it did not act: a retry is safe whatever the key.
    answers = {
        "x": x_fake.about_blank(429, "Too Many Requests"),
        # The Graph API says "too many calls" with HTTP 400 and code 4 (error-handling page).
        "facebook": graph_fake.error("(#4) Application request limit reached", 4),
        "instagram": graph_fake.error("(#4) Application request limit reached", 4),
        "linkedin": linkedin_fake.error(429, "Resource level throttle limit reached"),
    }
    answer = answers.get(name, {"status": 429, "json": {"error": "Too many"}})
    arrange(fake, WITHOUT_KEY[name], **answer, headers={"Retry-After": "60"})

    error = publish_failure(WITHOUT_KEY[name].build(), post)

    assert (error.permanent, error.ambiguous) == (False, False)


# https://docs.joinmastodon.org/methods/statuses/#create: "Idempotency-Key ... for a period of 1 hour"
@pytest.mark.parametrize(
    "answer",
    [{"status": 503, "json": mastodon_fake.error("Service Unavailable")}, {"body": requests.ReadTimeout("lost")}],
)
def test_mastodon_a_publish_unanswered_within_the_hour_is_retried(
    fake: responses.RequestsMock, make_post: Callable[..., OutgoingPost], answer: dict[str, object]
) -> None:
    fake.add("POST", f"{MASTODON}/api/v1/statuses", **answer)  # type: ignore[arg-type]
    post = make_post(first_sent_at=FIRST, sending_at=FIRST + timedelta(minutes=59))

    error = publish_failure(mastodon(), post)

    assert (error.permanent, error.ambiguous) == (False, False)
    assert error.progress[UNANSWERED] == FIRST.isoformat()


@pytest.mark.parametrize(
    "answer",
    [{"status": 503, "json": mastodon_fake.error("Service Unavailable")}, {"body": requests.ReadTimeout("lost")}],
)
def test_mastodon_a_publish_unanswered_more_than_an_hour_after_the_first_attempt_is_ambiguous(
    fake: responses.RequestsMock, make_post: Callable[..., OutgoingPost], answer: dict[str, object]
) -> None:
    fake.add("POST", f"{MASTODON}/api/v1/statuses", **answer)  # type: ignore[arg-type]
    post = make_post(first_sent_at=FIRST, sending_at=FIRST + timedelta(minutes=61))

    error = publish_failure(mastodon(), post)

    assert (error.permanent, error.ambiguous) == (False, True)


def test_mastodon_a_retry_after_the_hour_of_an_unanswered_publish_is_not_sent(
    fake: responses.RequestsMock, make_post: Callable[..., OutgoingPost]
) -> None:
    # Mastodon may have forgotten the key: sending again could post it twice.
    post = make_post(
        first_sent_at=FIRST,
        sending_at=FIRST + timedelta(minutes=90),
        progress={UNANSWERED: FIRST.isoformat()},
    )

    error = publish_failure(mastodon(), post)

    assert (error.permanent, error.ambiguous) == (False, True)
    assert "one hour" in error.message
    assert len(fake.calls) == 0


def test_mastodon_a_late_retry_after_a_rate_limit_is_sent(
    fake: responses.RequestsMock, make_post: Callable[..., OutgoingPost]
) -> None:
    # A 429 left no unanswered mark: nothing can be live, so a late retry is a first publish.
    fake.add("POST", f"{MASTODON}/api/v1/statuses", json=mastodon_fake.status("109", base=MASTODON))
    post = make_post(first_sent_at=FIRST, sending_at=FIRST + timedelta(hours=3))

    assert mastodon().publish(post).remote_id == "109"


def test_a_mark_from_before_a_person_rescheduled_the_post_does_not_stop_it(
    fake: responses.RequestsMock, make_post: Callable[..., OutgoingPost]
) -> None:
    fake.add("POST", f"{MASTODON}/api/v1/statuses", json=mastodon_fake.status("109", base=MASTODON))
    rescheduled = FIRST + timedelta(days=1)
    post = make_post(
        first_sent_at=rescheduled,
        sending_at=rescheduled + timedelta(hours=2),
        progress={UNANSWERED: FIRST.isoformat()},
    )

    assert mastodon().publish(post).remote_id == "109"


@pytest.mark.parametrize(
    ("build", "url"),
    [
        # https://docs.joinmastodon.org/methods/statuses/#delete
        (mastodon, f"{MASTODON}/api/v1/statuses/109"),
        # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#delete-posts
        (WITHOUT_KEY["linkedin"].build, "https://api.linkedin.com/rest/posts/109"),
        (lambda: WebhookConnector({"url": HOOK}, {"url": HOOK}), f"{HOOK}/109"),
    ],
)
@pytest.mark.parametrize("answer", [{"status": 503, "json": {"error": "busy"}}, {"body": requests.ReadTimeout("lost")}])
def test_a_deletion_that_got_a_server_error_or_no_answer_is_retried(
    fake: responses.RequestsMock, build: Callable[[], Connector], url: str, answer: dict[str, object]
) -> None:
    fake.add("DELETE", url, **answer)  # type: ignore[arg-type]

    with pytest.raises(ConnectorError) as caught:
        build().delete("109")

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
