"""The Mastodon connector against a fake instance
(https://docs.joinmastodon.org/methods/statuses/, https://docs.joinmastodon.org/methods/scheduled_statuses/).
Every request it sends and every answer the fake gives are checked against Mastodon's OpenAPI
document by the ``fake`` fixture."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from responses import matchers

from connectors.base import ConnectorError, OutgoingPost
from connectors.mastodon import MastodonConnector
from tests.connectors import mastodon_fake

BASE = "https://social.example"
STATUSES = f"{BASE}/api/v1/statuses"
SCHEDULED = f"{BASE}/api/v1/scheduled_statuses"
STATUS = mastodon_fake.status("109")
PROXY_PAGE = "an HTML error page from the instance's proxy, which the API document does not describe"


@pytest.fixture
def mastodon() -> MastodonConnector:
    return MastodonConnector({"base_url": f"{BASE}/"}, {"access_token": "tok-1"})


def test_mastodon_publishes_a_public_status_and_returns_its_id_and_url(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    fake.post(STATUSES, json=STATUS)

    published = mastodon.publish(post)

    assert published.remote_id == "109"
    assert published.url == f"{BASE}/@livuni/109"
    (call,) = fake.calls
    assert json.loads(call.request.body) == {"status": post.body, "visibility": "public"}
    assert call.request.headers["Authorization"] == "Bearer tok-1"
    assert call.request.headers["Idempotency-Key"] == post.idempotency_key


def test_mastodon_sends_the_same_idempotency_key_on_a_retry(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    fake.post(STATUSES, body=requests.ReadTimeout("read timed out"))
    fake.post(STATUSES, json=STATUS)

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)
    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
    published = mastodon.publish(post)

    assert published.remote_id == "109"
    keys = [call.request.headers["Idempotency-Key"] for call in fake.calls]
    assert keys == [post.idempotency_key, post.idempotency_key]


def test_mastodon_a_publish_that_got_no_answer_is_safe_to_retry(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    post: OutgoingPost,
    unanswered: Exception,
) -> None:
    fake.post(STATUSES, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_mastodon_a_failure_to_connect_is_transient(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    post: OutgoingPost,
    never_sent: Exception,
) -> None:
    fake.post(STATUSES, body=never_sent)

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
    assert "could not connect" in caught.value.message


def test_mastodon_deletes_the_status(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.delete(
        f"{STATUSES}/109",
        json=STATUS,
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )

    mastodon.delete("109")


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        # The statuses page documents 401, 404, 410, 422, 429 and 503 answers.
        (401, mastodon_fake.error("The access token is invalid"), "access token is invalid"),
        (404, mastodon_fake.error("Record not found"), "Record not found"),
        (422, mastodon_fake.error("Validation failed: Text can't be blank"), "Text can't be blank"),
    ],
)
def test_mastodon_client_errors_are_permanent_with_mastodons_message(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    post: OutgoingPost,
    status: int,
    body: dict[str, str],
    said: str,
) -> None:
    fake.post(STATUSES, status=status, json=body)

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, status)
    assert said in error.message


def test_mastodon_429_is_transient_with_retry_after(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    fake.post(STATUSES, status=429, json=mastodon_fake.error("Too many requests"), headers={"Retry-After": "90"})

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status, error.retry_after) == (
        False,
        False,
        429,
        90,
    )
    assert "Too many requests" in error.message


def test_mastodon_429_without_retry_after_waits_for_its_iso_rate_limit_reset(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    reset = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fake.post(
        STATUSES,
        status=429,
        json=mastodon_fake.error("Too many requests"),
        headers={"X-RateLimit-Reset": reset},
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert caught.value.retry_after is not None
    assert 290 <= caught.value.retry_after <= 300


def test_mastodon_a_documented_503_is_transient(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    fake.post(STATUSES, status=503, json=mastodon_fake.error("Service Unavailable"))

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous, caught.value.status) == (False, False, 503)


@pytest.mark.off_contract(PROXY_PAGE)
@pytest.mark.parametrize("status", [500, 502, 503])
def test_mastodon_server_errors_are_transient(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost, status: int
) -> None:
    fake.post(STATUSES, status=status, body="Bad gateway")

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert (caught.value.permanent, caught.value.ambiguous, caught.value.status) == (
        False,
        False,
        status,
    )


def test_mastodon_lists_scheduled_statuses_across_pages(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    first = [mastodon_fake.scheduled("3", "2030-05-01T09:00:00.000Z", {"text": "a"})]
    second = [mastodon_fake.scheduled("2", "2030-05-02T09:00:00.000Z", {"text": "b"})]
    next_page = f"{SCHEDULED}?limit=40&max_id=3"
    fake.get(
        SCHEDULED,
        json=first,
        headers={"Link": f'<{next_page}>; rel="next", <{SCHEDULED}?min_id=3>; rel="prev"'},
        match=[matchers.query_param_matcher({"limit": "40"})],
    )
    fake.get(SCHEDULED, json=second, match=[matchers.query_param_matcher({"limit": "40", "max_id": "3"})])

    assert mastodon.list_scheduled() == first + second
    assert all(call.request.headers["Authorization"] == "Bearer tok-1" for call in fake.calls)


def test_mastodon_a_next_page_on_another_host_is_an_error_not_silence(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    # Never send the token to another host, and never pass off a partial listing as the whole (#13).
    fake.get(
        SCHEDULED,
        json=[mastodon_fake.scheduled("3", "2030-05-01T09:00:00.000Z")],
        headers={"Link": '<https://evil.example/steal>; rel="next"'},
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.list_scheduled()

    assert "https://evil.example" in caught.value.message
    assert "base_url" in caught.value.message
    assert len(fake.calls) == 1


def test_mastodon_follows_a_next_page_on_its_own_origin_however_spelled(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    # https://docs.joinmastodon.org/api/guidelines/#pagination: follow the Link header's URL;
    # the host's case and a default port do not make it another origin.
    first = [mastodon_fake.scheduled("3", "2030-05-01T09:00:00.000Z", {"text": "a"})]
    second = [mastodon_fake.scheduled("2", "2030-05-02T09:00:00.000Z", {"text": "b"})]
    next_page = "https://Social.Example:443/api/v1/scheduled_statuses?limit=40&max_id=3"
    fake.get(
        SCHEDULED,
        json=first,
        headers={"Link": f'<{next_page}>; rel="next"'},
        match=[matchers.query_param_matcher({"limit": "40"})],
    )
    fake.get(SCHEDULED, json=second, match=[matchers.query_param_matcher({"limit": "40", "max_id": "3"})])

    assert mastodon.list_scheduled() == first + second


def test_mastodon_deleting_a_status_that_is_already_gone_counts_as_deleted(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    # https://docs.joinmastodon.org/methods/statuses/#delete: 404 "Record not found" when the
    # status does not exist; gone is what a deletion wants (#13).
    fake.delete(f"{STATUSES}/109", status=404, json=mastodon_fake.error("Record not found"))

    mastodon.delete("109")


def test_mastodon_reschedules_a_scheduled_status(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.put(f"{SCHEDULED}/3", json=mastodon_fake.scheduled("3", "2030-06-01T09:00:00.000Z"))

    mastodon.reschedule("3", "2030-06-01T09:00:00Z")

    assert json.loads(fake.calls[0].request.body) == {"scheduled_at": "2030-06-01T09:00:00Z"}


def test_mastodon_a_reschedule_too_soon_is_permanent(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.put(
        f"{SCHEDULED}/3",
        status=422,
        json=mastodon_fake.error("Validation failed: Scheduled at must be at least 5 minutes"),
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.reschedule("3", "2020-01-01T00:00:00Z")

    assert caught.value.permanent
    assert "at least 5 minutes" in caught.value.message


def test_mastodon_cancels_a_scheduled_status(fake: responses.RequestsMock, mastodon: MastodonConnector) -> None:
    fake.delete(f"{SCHEDULED}/3", body="")

    mastodon.cancel_scheduled("3")

    assert fake.calls[0].request.method == "DELETE"


def test_mastodon_needs_its_base_url() -> None:
    with pytest.raises(ConnectorError) as caught:
        MastodonConnector({}, {"access_token": "tok-1"})

    assert caught.value.permanent
    assert "base_url" in caught.value.message


def test_mastodon_429_reset_in_the_past_means_now(
    fake: responses.RequestsMock, mastodon: MastodonConnector, post: OutgoingPost
) -> None:
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    fake.post(
        STATUSES,
        status=429,
        json=mastodon_fake.error("Too many requests"),
        headers={"X-RateLimit-Reset": past},
    )

    with pytest.raises(ConnectorError) as caught:
        mastodon.publish(post)

    assert caught.value.retry_after == 0
