"""The watch's read of a Bluesky account against the reference PDS (tests/pds/server.py):
``com.atproto.repo.listRecords`` on the account's own repository lists what the connector
published and what was written past it, with the ids ``publish`` records. The calls and answers
are checked against the lexicon (tests/specs/atproto-lexicons) by ``@atproto/lexicon``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors import bluesky
from connectors.base import OutgoingPost
from connectors.bluesky import BlueskyConnector
from connectors.bluesky_session import SESSIONS
from connectors.outbound import OutboundPolicy
from tests.pds.lexicon import validate
from tests.pds.server import Pds, PdsAccount

POST = "app.bsky.feed.post"
LIST = "com.atproto.repo.listRecords"
LOOPBACK = OutboundPolicy.parse(["127.0.0.0/8"])


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    SESSIONS.clear()
    yield
    SESSIONS.clear()


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every listRecords call the connector makes: its parameters and the PDS's answer."""
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
    original = httpx.HTTPTransport.handle_request

    def record(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        response = original(transport, request)
        by_connector = request.headers.get("user-agent", "").startswith("atproto/")
        if by_connector and request.url.path.endswith(f"/{LIST}"):
            response.read()
            calls.append((dict(request.url.params), response.json()))
        return response

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", record)
    return calls


def connector(pds: Pds, account: PdsAccount) -> BlueskyConnector:
    return BlueskyConnector(
        {"identifier": account.handle, "service_url": pds.url},
        {"app_password": account.app_password},
        outbound=LOOPBACK,
    )


def write_past_the_connector(pds: Pds, account: PdsAccount, text: str, created_at: datetime) -> str:
    """A post made with the account's own session (as the app would), not through Lockdown."""
    session = pds.xrpc(
        "com.atproto.server.createSession", body={"identifier": account.handle, "password": account.password}
    )
    record = {
        "$type": POST,
        "text": text,
        "createdAt": created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    made = pds.xrpc(
        "com.atproto.repo.createRecord",
        token=session["accessJwt"],
        body={"repo": account.did, "collection": POST, "record": record},
    )
    return str(made["uri"])


def typed(params: dict[str, str]) -> dict[str, Any]:
    """Query parameters as the lexicon types them (limit is an integer, reverse a boolean)."""
    return {
        name: int(value) if name == "limit" else value == "true" if name == "reverse" else value
        for name, value in params.items()
    }


def test_the_watch_lists_published_and_outside_posts_since_a_time_with_publish_ids(
    pds: Pds,
    make_post: Callable[..., OutgoingPost],
    listed: list[tuple[dict[str, Any], dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    livuni = pds.account("livuni")
    before = write_past_the_connector(pds, livuni, "Yesterday's news", datetime.now(UTC) - timedelta(hours=1))
    time.sleep(0.01)
    since = datetime.now(UTC)
    bluesky_connector = connector(pds, livuni)
    published = [bluesky_connector.publish(make_post(body=f"Open day, part {n}")) for n in (1, 2, 3)]
    outside = write_past_the_connector(pds, livuni, "Posted from the app during the hold", datetime.now(UTC))
    monkeypatch.setattr(bluesky, "PAGE", 2)  # so the five records take three pages

    posts = connector(pds, livuni).recent_posts(since)

    expected = [outside, *(p.remote_id for p in reversed(published))]
    assert [post.remote_id for post in posts] == expected
    assert before not in {post.remote_id for post in posts}
    assert posts[0].text == "Posted from the app during the hold"
    assert [post.text for post in posts[1:]] == ["Open day, part 3", "Open day, part 2", "Open day, part 1"]
    assert [post.url for post in posts[1:]] == [p.url for p in reversed(published)]
    assert all(post.posted_at.tzinfo is UTC and post.posted_at >= since for post in posts)
    assert posts == sorted(posts, key=lambda post: post.posted_at, reverse=True)
    # Three pages: the third holds the post from before since, and paging stops there.
    assert [params.get("cursor") is None for params, _ in listed] == [True, False, False]
    assert all(params["repo"] == livuni.did and params["collection"] == POST for params, _ in listed)
    checks = [("params", LIST, typed(params)) for params, _ in listed] + [("output", LIST, out) for _, out in listed]
    assert validate(checks) == [None] * len(checks)


def test_the_pds_lists_newest_first_by_default(pds: Pds, make_post: Callable[..., OutgoingPost]) -> None:
    # listRecords' lexicon only says ``reverse`` flips the order; the reference PDS's default is
    # newest first, which lets the watch stop at the first page reaching back past ``since``.
    livuni = pds.account("livuni")
    bluesky_connector = connector(pds, livuni)
    uris = [bluesky_connector.publish(make_post(body=f"n{n}")).remote_id for n in range(3)]

    page = pds.xrpc(LIST, repo=livuni.did, collection=POST, limit=10)

    assert [record["uri"] for record in page["records"]] == list(reversed(uris))


def test_an_account_with_no_posts_lists_none(pds: Pds) -> None:
    assert connector(pds, pds.account("quiet")).recent_posts(datetime.now(UTC) - timedelta(days=1)) == []


def test_the_lexicon_check_refuses_bad_list_params() -> None:
    results = validate([("params", LIST, {"repo": "did:plc:abc123", "collection": POST, "limit": 500})])
    assert results[0]
    assert "limit" in results[0]


def test_a_post_backdated_by_its_writer_during_the_hold_is_still_listed(pds: Pds) -> None:
    livuni = pds.account("livuni")
    since = datetime.now(UTC).replace(microsecond=0)
    backdated = write_past_the_connector(pds, livuni, "Nothing to see", since - timedelta(days=3))

    posts = connector(pds, livuni).recent_posts(since)

    # The PDS wrote it now (its TID record key says so), whatever its createdAt claims.
    assert [(post.remote_id, post.posted_at) for post in posts] == [(backdated, since - timedelta(days=3))]


def tid(moment: datetime, clock: int = 7) -> str:
    """A TID as https://atproto.com/specs/tid builds one: microseconds << 10 | clock id, base32-sortable."""
    value = int(moment.timestamp() * 1_000_000) << 10 | clock
    return "".join(bluesky.TID_ALPHABET[(value >> (5 * shift)) & 31] for shift in reversed(range(13)))


def test_tid_time_reads_the_time_in_a_record_key() -> None:
    moment = datetime(2026, 11, 29, 2, 14, 5, 123456, tzinfo=UTC)
    assert bluesky.tid_time(tid(moment)) == moment
    assert bluesky.tid_time("self") is None
    assert bluesky.tid_time(tid(moment).upper()) is None
