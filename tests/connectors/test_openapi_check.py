"""The OpenAPI check itself: it accepts what the connectors send and rejects what the
platforms' documents do not allow, so a connector that drifts from the API fails its tests."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.request.exceptions import InvalidParameter, InvalidRequestBody

from connectors.base import OutgoingPost
from connectors.mastodon import MastodonConnector
from connectors.x import XConnector
from tests.connectors.openapi_check import SpecCheck

OAUTH = {"Authorization": 'OAuth oauth_consumer_key="ck"'}
BEARER = {"Authorization": "Bearer tok-1"}


def prepared(method: str, url: str, **kwargs: object) -> requests.PreparedRequest:
    return requests.Request(method, url, **kwargs).prepare()  # type: ignore[arg-type]


def test_the_x_spec_accepts_a_tweet_and_a_delete(x_spec: SpecCheck) -> None:
    x_spec.validate(prepared("POST", "https://api.twitter.com/2/tweets", json={"text": "hi"}, headers=OAUTH))
    x_spec.validate(prepared("DELETE", "https://api.twitter.com/2/tweets/1346889436626259968", headers=OAUTH))


@pytest.mark.parametrize(
    ("method", "path", "body", "rejection"),
    [
        ("POST", "/2/tweets", {"txt": "a field X does not have"}, InvalidRequestBody),
        ("POST", "/2/tweets", {"text": 42}, InvalidRequestBody),
        ("POST", "/2/tweet", {"text": "a path X does not have"}, PathNotFound),
        ("PUT", "/2/tweets", {"text": "a method X does not allow"}, OperationNotFound),
        ("DELETE", "/2/tweets/not-a-number", None, InvalidParameter),
    ],
)
def test_the_x_spec_rejects_requests_x_would_not_take(
    x_spec: SpecCheck, method: str, path: str, body: object, rejection: type[OpenAPIError]
) -> None:
    request = prepared(method, f"https://api.twitter.com{path}", json=body, headers=OAUTH)

    with pytest.raises(rejection):
        x_spec.validate(request)


@pytest.mark.parametrize(
    ("method", "path", "body", "rejection"),
    [
        ("POST", "/api/v1/statuses", {"visibility": "public"}, InvalidRequestBody),
        ("POST", "/api/v1/statuses", {"status": 42, "visibility": "public"}, InvalidRequestBody),
        ("POST", "/api/v1/status", {"status": "a path Mastodon does not have"}, PathNotFound),
        (
            "PATCH",
            "/api/v1/scheduled_statuses/3",
            {"scheduled_at": "2030-06-01T09:00Z"},
            OperationNotFound,
        ),
        ("PUT", "/api/v1/scheduled_statuses/3", {"scheduled_at": 20300601}, InvalidRequestBody),
    ],
)
def test_the_mastodon_spec_rejects_requests_mastodon_would_not_take(
    mastodon_spec: SpecCheck,
    method: str,
    path: str,
    body: object,
    rejection: type[OpenAPIError],
) -> None:
    request = prepared(method, f"https://social.example{path}", json=body, headers=BEARER)

    with pytest.raises(rejection):
        mastodon_spec.validate(request)


def test_the_x_spec_rejects_the_x_connectors_own_request_once_it_is_broken(
    fake: responses.RequestsMock, x_spec: SpecCheck, post: OutgoingPost
) -> None:
    fake.post("https://api.twitter.com/2/tweets", status=201, json={"data": {"id": "1"}})
    secrets = {name: "s" for name in XConnector.secrets}
    XConnector({}, secrets).publish(post)
    sent = fake.calls[0].request
    x_spec.validate(sent)

    broken = sent.copy()
    broken.prepare_body(None, None, json={"text": post.body, "reply_settings": "everyone"})

    with pytest.raises(InvalidRequestBody):
        x_spec.validate(broken)


def test_the_mastodon_spec_rejects_the_mastodon_connectors_request_without_status(
    fake: responses.RequestsMock, mastodon_spec: SpecCheck, post: OutgoingPost
) -> None:
    fake.post("https://social.example/api/v1/statuses", json={"id": "1"})
    MastodonConnector({"base_url": "https://social.example"}, {"access_token": "t"}).publish(post)
    sent = fake.calls[0].request
    mastodon_spec.validate(sent)

    broken = sent.copy()
    without_status = {k: v for k, v in json.loads(sent.body or b"{}").items() if k != "status"}
    broken.prepare_body(None, None, json=without_status)

    with pytest.raises(InvalidRequestBody):
        mastodon_spec.validate(broken)
