"""Fixtures for the connector tests: a fake platform (``responses``, so nothing reaches the
network) whose every call to X or Mastodon is checked against the official OpenAPI document,
a post to send, the documents, and the network failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import responses
from openapi_core.exceptions import OpenAPIError
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from connectors.base import OutgoingPost
from connectors.mastodon import MastodonConnector
from tests.connectors.openapi_check import Contract, SpecCheck

OFF_CONTRACT = "off_contract"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OFF_CONTRACT}(reason): the fake answers X or Mastodon with something their document does not "
        "describe, on purpose (a garbled body, a proxy's page); requests are still checked",
    )


@pytest.fixture
def contract(x_spec: SpecCheck, mastodon_spec: SpecCheck, monkeypatch: pytest.MonkeyPatch) -> Contract:
    """The documents every X and Mastodon call is checked against; it learns the instance of
    every Mastodon connector built in the test, the only hosts Mastodon calls may go to."""
    checked = Contract(x_spec, mastodon_spec)
    built = MastodonConnector.__init__

    def record_instance(self: MastodonConnector, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        checked.mastodon_instances.add(self.base)

    monkeypatch.setattr(MastodonConnector, "__init__", record_instance)
    return checked


@contextmanager
def checked_fake(contract: Contract, off_contract: pytest.Mark | None = None) -> Iterator[responses.RequestsMock]:
    """A fake platform whose every request must match a registered answer and every answer be
    used; at the end, every request to X or Mastodon must fit the platform's document (server,
    security, operation, limits), and so must every answer the fake gave, unless the test is
    marked ``off_contract``: then at least one answer must not fit, or the mark is not needed.
    (Checked inside the block: ``responses`` forgets its calls when it stops.)"""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        contract.check_requests(mock.calls)
        if off_contract is None:
            contract.check_responses(mock.calls)
            return
        assert off_contract.args, "off_contract needs the reason the answer is off the document"
        try:
            contract.check_responses(mock.calls)
        except OpenAPIError:
            return
        pytest.fail(f"marked off_contract ({off_contract.args[0]}), but every answer fits the documents")


@pytest.fixture(autouse=True)
def fake(request: pytest.FixtureRequest, contract: Contract) -> Iterator[responses.RequestsMock]:
    """The platform, in every test here so nothing reaches the network, checked against the
    documents at the end of the test (``checked_fake``)."""
    with checked_fake(contract, request.node.get_closest_marker(OFF_CONTRACT)) as mock:
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
    # tweepy 4.17 hard-codes https://api.twitter.com (tweepy/client.py, BaseClient.request) and
    # has no host setting; X serves the same v2 API there, while its document names only
    # https://api.x.com. Rewriting the host under tweepy would break the OAuth 1.0a signature,
    # which covers the URL, so exactly this one alias is allowed. The connector's media uploads
    # (connectors/x_media.py) go to the same host, so the tokens go to one host only.
    why = "tweepy's hard-coded host for the same API"
    return SpecCheck("x-api-v2.openapi.json", aliases={"https://api.twitter.com": ("https://api.x.com", why)})


@pytest.fixture(scope="session")
def mastodon_spec() -> SpecCheck:
    return SpecCheck("mastodon.openapi.json", corrections=MASTODON_CORRECTIONS)


# POST /api/v1/statuses takes text with media: the document's own MediaStatus says "If
# `media_ids` is provided, `status` becomes optional", and the reference page
# (https://docs.joinmastodon.org/methods/statuses/#create) sends both. But the document offers
# TextStatus, MediaStatus and PollStatus as a oneOf, and text with media fits the first two, so
# oneOf refuses exactly that status. anyOf keeps every other check: a body must still be one of
# them (text, media or a poll), with each one's types and enums.
STATUS_BODY = "/paths/~1api~1v1~1statuses/post/requestBody/content/application~1json/schema"
MASTODON_CORRECTIONS = {
    STATUS_BODY: (
        {"anyOf": [{"$ref": f"#/components/schemas/{kind}"} for kind in ("TextStatus", "MediaStatus", "PollStatus")]},
        "text with media fits TextStatus and MediaStatus both, which the document's oneOf refuses",
    )
}


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
