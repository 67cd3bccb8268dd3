"""Fixtures for the connector tests: a fake platform (``responses``, so nothing reaches the
network), a post to send, the official OpenAPI documents, and the network failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from connectors.base import OutgoingPost
from tests.connectors.openapi_check import SpecCheck


@pytest.fixture(autouse=True)
def fake() -> Iterator[responses.RequestsMock]:
    """The platform, in every test here so nothing reaches the network: every request must
    match a registered answer, and every answer must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def make_post() -> Callable[..., OutgoingPost]:
    def make(**changes: Any) -> OutgoingPost:
        fields: dict[str, Any] = {
            "post_id": 7,
            "account_id": 3,
            "handle": "livuni",
            "platform": "test",
            "body": "Open day tomorrow, 10:00 in the Guild",
            "scheduled_at": "2030-05-01T09:00:00Z",
            "idempotency_key": "post-7-5b0c2d",
        }
        return OutgoingPost(**{**fields, **changes})

    return make


@pytest.fixture
def post(make_post: Callable[..., OutgoingPost]) -> OutgoingPost:
    return make_post()


@pytest.fixture(scope="session")
def x_spec() -> SpecCheck:
    # tweepy calls api.twitter.com; the official document names api.x.com (same API).
    return SpecCheck("x-api-v2.openapi.json", host="api.x.com")


@pytest.fixture(scope="session")
def mastodon_spec() -> SpecCheck:
    return SpecCheck("mastodon.openapi.json")


@pytest.fixture(params=["connect-timeout", "connection-refused"])
def never_sent(request: pytest.FixtureRequest) -> Exception:
    """A failure before the request left: always safe to retry."""
    if request.param == "connect-timeout":
        return requests.ConnectTimeout("connect timed out")
    refused = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, "/", refused))


@pytest.fixture(params=["read-timeout", "connection-reset", "answer-broken-off"])
def unanswered(request: pytest.FixtureRequest) -> Exception:
    """A failure after the request was sent: the platform may have acted on it."""
    if request.param == "read-timeout":
        return requests.ReadTimeout("read timed out")
    if request.param == "answer-broken-off":
        broken = ProtocolError("Connection broken: IncompleteRead(12 bytes read, 30 more expected)")
        return requests.exceptions.ChunkedEncodingError(broken)
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
    return requests.ConnectionError(reset)
