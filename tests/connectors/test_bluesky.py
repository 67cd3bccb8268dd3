"""The Bluesky connector through atproto against a fake PDS: the fake answers at httpx's one
chokepoint (``HTTPTransport.handle_request``), below the outbound policy's pinning, so the real
client, session keeping and error mapping run. The reference PDS itself is in test_bluesky_pds.py."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost, Ready
from connectors.bluesky import BlueskyConnector
from connectors.bluesky_session import SESSIONS
from connectors.bluesky_text import facets
from connectors.outbound import OutboundPolicy
from tests.media_samples import VTT, outgoing_image, outgoing_video
from tests.pds.server import cid_of

PDS = "https://pds.example"
DID = "did:plc:abc123"
HANDLE = "livuni.bsky.social"
URI = f"at://{DID}/app.bsky.feed.post/3kxyzrkey22"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
# Only the fake's host: it is never resolved, so nothing can reach the network.
ALLOWED = OutboundPolicy.parse(["pds.example", "bsky.social"])
# Tokens are made from one moment, so the same token is the same string throughout a test.
NOW = int(time.time())


def jwt(name: str, *, lifetime: int = 7200) -> str:
    """A token shaped like the PDS's: atproto reads its expiry to refresh it in time."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    payload = {"scope": "com.atproto.appPass", "sub": DID, "exp": NOW + lifetime, "jti": name}
    signature = base64.urlsafe_b64encode(b"not checked by the fake").decode().rstrip("=")
    return f"{part({'typ': 'at+jwt', 'alg': 'HS256'})}.{part(payload)}.{signature}"


def logged_in(n: int = 1) -> dict[str, str]:
    return {"accessJwt": jwt(f"access-{n}"), "refreshJwt": jwt(f"refresh-{n}"), "handle": HANDLE, "did": DID}


def xrpc_error(status: int, error: str, message: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message}, headers=headers)


Answer = httpx.Response | Exception | dict[str, Any] | Callable[[httpx.Request], dict[str, Any]]


@dataclass
class FakePds:
    """Answers by XRPC method, in order (the last answer repeats); records every request."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, *answers: Answer) -> None:
        self.answers[method] = list(answers)

    def methods(self) -> list[str]:
        return [call.url.path.rsplit("/", 1)[-1] for call in self.calls]

    def body(self, method: str, nth: int = 0) -> Any:
        return json.loads([c for c in self.calls if c.url.path.endswith(method)][nth].content)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.calls.append(request)
        method = request.url.path.rsplit("/", 1)[-1]
        queue = self.answers.get(method)
        if not queue:
            return xrpc_error(501, "MethodNotImplemented", f"the fake has no answer for {method}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(request)
        response = answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)
        response.request = request
        return response


@pytest.fixture
def fake_pds(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePds]:
    fake = FakePds()
    fake.on("com.atproto.server.createSession", logged_in())
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _transport, request: fake.handle(request))
    SESSIONS.clear()
    yield fake
    SESSIONS.clear()


@pytest.fixture
def bluesky() -> Callable[..., BlueskyConnector]:
    """A connector as the dispatcher builds one for each send."""

    def build(password: str = APP_PASSWORD, **settings: str) -> BlueskyConnector:
        config = {"identifier": HANDLE, "service_url": f"{PDS}/", **settings}
        return BlueskyConnector(config, {"app_password": password}, outbound=ALLOWED)

    return build


def test_bluesky_logs_in_then_creates_a_post_record(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "bafyrei"})

    published = bluesky().publish(post)

    assert published.remote_id == URI
    assert published.url == f"https://bsky.app/profile/{DID}/post/3kxyzrkey22"
    login, create = fake_pds.calls
    assert str(login.url) == f"{PDS}/xrpc/com.atproto.server.createSession"
    assert json.loads(login.content) == {"identifier": HANDLE, "password": APP_PASSWORD}
    assert "authorization" not in login.headers
    assert create.headers["authorization"] == f"Bearer {logged_in()['accessJwt']}"
    sent = json.loads(create.content)
    assert (sent["repo"], sent["collection"]) == (DID, "app.bsky.feed.post")
    record = sent["record"]
    assert (record["$type"], record["text"]) == ("app.bsky.feed.post", post.body)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdAt"])
    assert "facets" not in record


def test_bluesky_uses_bsky_social_when_no_service_url_is_set(fake_pds: FakePds, post: OutgoingPost) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})

    connector = BlueskyConnector({"identifier": HANDLE}, {"app_password": "pw"}, outbound=ALLOWED)

    assert connector.publish(post).remote_id == URI
    assert {call.url.host for call in fake_pds.calls} == {"bsky.social"}


def test_bluesky_keeps_one_session_for_every_send_of_an_account(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    # createSession is limited to 30 per 5 minutes: a connector is built per send, the session is not.
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})
    fake_pds.on("com.atproto.repo.deleteRecord", {})

    for _ in range(40):
        bluesky().publish(post)
        bluesky().delete(URI)

    assert fake_pds.methods().count("com.atproto.server.createSession") == 1
    assert len(fake_pds.calls) == 81


def test_bluesky_sends_from_many_threads_at_once_share_one_login(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        published = list(pool.map(lambda _: bluesky().publish(post), range(32)))

    assert {p.remote_id for p in published} == {URI}
    assert fake_pds.methods().count("com.atproto.server.createSession") == 1


def test_bluesky_a_new_app_password_logs_in_again(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})

    bluesky(password="old-password").publish(post)
    bluesky(password="new-password").publish(post)

    assert [fake_pds.body("createSession", n)["password"] for n in range(2)] == ["old-password", "new-password"]


def test_bluesky_a_refused_token_is_refreshed_not_logged_in_again(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on(
        "com.atproto.repo.createRecord",
        xrpc_error(400, "ExpiredToken", "Token has expired"),
        {"uri": URI, "cid": "c"},
    )
    fake_pds.on("com.atproto.server.refreshSession", logged_in(2))

    assert bluesky().publish(post).remote_id == URI

    assert fake_pds.methods() == [
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    refresh, retried = fake_pds.calls[2], fake_pds.calls[3]
    assert refresh.headers["authorization"] == f"Bearer {logged_in()['refreshJwt']}"
    assert retried.headers["authorization"] == f"Bearer {logged_in(2)['accessJwt']}"


def test_bluesky_logs_in_again_only_when_the_refresh_is_refused(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", xrpc_error(401, "InvalidToken"), {"uri": URI, "cid": "c"})
    fake_pds.on("com.atproto.server.refreshSession", xrpc_error(400, "ExpiredToken", "Token has been revoked"))

    bluesky().publish(post)

    assert fake_pds.methods().count("com.atproto.server.createSession") == 2


def test_bluesky_refreshes_a_token_about_to_expire_before_using_it(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    short = {**logged_in(), "accessJwt": jwt("short", lifetime=60)}
    fake_pds.on("com.atproto.server.createSession", short)
    fake_pds.on("com.atproto.server.refreshSession", logged_in(2))
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})

    connector = bluesky()
    connector.publish(post)

    assert fake_pds.methods() == [
        "com.atproto.server.createSession",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert (connector.kept.logins, connector.kept.refreshes) == (1, 1)


def test_bluesky_makes_links_clickable_with_byte_indexed_facets(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost]
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})
    body = "Café closed — details: https://liv.ac.uk/news."

    bluesky().publish(make_post(body=body))

    (facet,) = fake_pds.body("createRecord")["record"]["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert body.encode()[start:end] == b"https://liv.ac.uk/news"
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://liv.ac.uk/news"}]


def test_bluesky_mentions_and_hashtags_get_facets_at_their_byte_offsets(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost]
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})
    fake_pds.on(
        "com.atproto.identity.resolveHandle",
        {"did": "did:plc:guild"},
        xrpc_error(400, "InvalidRequest", "Unable to resolve handle"),
    )
    body = "🇬🇧 Réunion with @guild.bsky.social, @nobody.bsky.social and @Guild.bsky.social #OpenDay! #2026"

    bluesky().publish(make_post(body=body))

    facets = fake_pds.body("createRecord")["record"]["facets"]
    spans = [body.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in facets]
    features = [f["features"][0] for f in facets]
    assert spans == ["@guild.bsky.social", "@Guild.bsky.social", "#OpenDay"]
    assert features == [
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:guild"},
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:guild"},
        {"$type": "app.bsky.richtext.facet#tag", "tag": "OpenDay"},
    ]
    # One lookup per handle (case aside); the unresolvable one stays plain text.
    assert [call.url.params["handle"] for call in fake_pds.calls if "resolveHandle" in call.url.path] == [
        "guild.bsky.social",
        "nobody.bsky.social",
    ]


def test_bluesky_a_lookup_that_fails_on_the_pds_fails_the_post_before_it_is_sent(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost]
) -> None:
    fake_pds.on("com.atproto.identity.resolveHandle", xrpc_error(502, "UpstreamFailure"))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(body="Hello @guild.bsky.social"))

    error = caught.value
    assert (error.permanent, error.ambiguous) == (False, False)  # nothing was published
    assert "HTTP 502" in error.message
    assert "createRecord" not in " ".join(fake_pds.methods())


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#OpenDay", ["OpenDay"]),
        ("Open day! #OpenDay. #Clearing2026, #2026 #", ["OpenDay", "Clearing2026"]),  # trailing punctuation off
        ("#" + "a" * 64, ["a" * 64]),
        ("#" + "a" * 65, []),  # over 64 characters
        ("🇬🇧#notatag x#nor", []),  # a hashtag starts after a space or at the start
    ],
)
def test_bluesky_hashtags_follow_the_apps_rules(text: str, tags: list[str]) -> None:
    found = facets(text, resolve=lambda handle: None)

    assert [f.features[0].tag for f in found] == tags


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ("🇬🇧" * 300, True),  # a flag is one grapheme (and 8 bytes)
        ("a" * 301, False),
        ("a" * 300, True),
        ("👨‍👩‍👧‍👦" * 120, True),  # 25 bytes each: exactly 3,000
        ("👨‍👩‍👧‍👦" * 121, False),  # 121 graphemes but 3,025 bytes
    ],
)
def test_bluesky_refuses_what_the_pds_would_refuse_before_sending(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    make_post: Callable[..., OutgoingPost],
    body: str,
    accepted: bool,
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})

    if accepted:
        bluesky().publish(make_post(body=body))
        assert fake_pds.body("createRecord")["record"]["text"] == body
    else:
        with pytest.raises(ConnectorError) as caught:
            bluesky().publish(make_post(body=body))
        assert caught.value.permanent
        assert fake_pds.calls == []


def test_bluesky_deletes_the_record_named_by_the_uri(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]
) -> None:
    fake_pds.on("com.atproto.repo.deleteRecord", {})

    bluesky().delete(URI)

    assert fake_pds.body("deleteRecord") == {"repo": DID, "collection": "app.bsky.feed.post", "rkey": "3kxyzrkey22"}


def test_bluesky_refuses_to_delete_what_is_not_a_post_uri(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]
) -> None:
    with pytest.raises(ConnectorError) as caught:
        bluesky().delete("https://bsky.app/profile/x/post/1")

    assert caught.value.permanent
    assert fake_pds.calls == []


def test_bluesky_a_wrong_app_password_is_permanent_with_the_pds_message(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on(
        "com.atproto.server.createSession", xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
    )

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (True, False, 401)
    assert "createSession: HTTP 401: AuthenticationRequired: Invalid identifier or password" in error.message


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, "InvalidRequest", "Invalid app.bsky.feed.post record: text must not be longer"),
        (403, "Forbidden", "Account has been taken down"),
        (413, "PayloadTooLarge", "request entity too large"),
    ],
)
def test_bluesky_client_errors_are_permanent_with_the_pds_message(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    post: OutgoingPost,
    status: int,
    error: str,
    message: str,
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", xrpc_error(status, error, message))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    failure = caught.value
    assert (failure.permanent, failure.ambiguous, failure.status) == (True, False, status)
    assert f"{error}: {message}" in failure.message


def test_bluesky_429_is_transient_until_the_ratelimit_reset(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    reset = int(time.time()) + 300
    fake_pds.on(
        "com.atproto.server.createSession",
        xrpc_error(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **{"RateLimit-Limit": "30", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
        ),
    )

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, 429)
    assert error.retry_after is not None
    assert 295 <= error.retry_after <= 300
    assert "Rate Limit Exceeded" in error.message


def test_bluesky_429_with_retry_after_uses_it(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", xrpc_error(429, "RateLimitExceeded", **{"Retry-After": "45"}))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    assert (caught.value.permanent, caught.value.ambiguous, caught.value.retry_after) == (False, False, 45)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bluesky_server_errors_on_a_publish_are_ambiguous(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost, status: int
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", xrpc_error(status, "InternalServerError", "oops"))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, True, status)  # may be live: #13
    assert "InternalServerError: oops" in error.message


NEVER_SENT = {
    "connect-timeout": httpx.ConnectTimeout("connect timed out"),
    "connection-refused": httpx.ConnectError("[Errno 111] Connection refused"),
}
UNANSWERED = {
    "read-timeout": httpx.ReadTimeout("read timed out"),
    "connection-reset": httpx.ReadError("[Errno 104] Connection reset by peer"),
    "server-disconnected": httpx.RemoteProtocolError("Server disconnected without sending a response."),
}


@pytest.mark.parametrize("failure", NEVER_SENT.values(), ids=NEVER_SENT.keys())
def test_bluesky_a_failure_to_connect_is_transient(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost, failure: Exception
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", failure)

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


@pytest.mark.parametrize("failure", UNANSWERED.values(), ids=UNANSWERED.keys())
def test_bluesky_a_create_record_that_got_no_answer_is_ambiguous(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost, failure: Exception
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", failure)

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


@pytest.mark.parametrize("failure", [*UNANSWERED.values(), xrpc_error(503, "Unavailable")])
def test_bluesky_a_login_or_deletion_that_got_no_answer_is_safe_to_retry(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost, failure: Answer
) -> None:
    fake_pds.on("com.atproto.server.createSession", failure)
    with pytest.raises(ConnectorError) as login:
        bluesky().publish(post)

    fake_pds.on("com.atproto.server.createSession", logged_in())
    fake_pds.on("com.atproto.repo.deleteRecord", failure)
    with pytest.raises(ConnectorError) as deletion:
        bluesky().delete(URI)

    for caught in (login, deletion):
        assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


def test_bluesky_follows_no_redirect(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.server.createSession", httpx.Response(302, headers={"Location": "https://evil.example/x"}))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)

    assert caught.value.permanent
    assert "redirect" in caught.value.message
    assert [call.url.host for call in fake_pds.calls] == ["pds.example"]


def test_bluesky_refuses_a_pds_on_a_private_address_without_sending(fake_pds: FakePds, post: OutgoingPost) -> None:
    connector = BlueskyConnector({"identifier": HANDLE, "service_url": "http://127.0.0.1:2583"}, {"app_password": "pw"})

    with pytest.raises(ConnectorError) as caught:
        connector.publish(post)

    assert caught.value.permanent
    assert "not a public address" in caught.value.message
    assert fake_pds.calls == []


def test_bluesky_connects_to_the_address_it_checked_and_verifies_tls_for_the_name(
    fake_pds: FakePds, post: OutgoingPost
) -> None:
    fake_pds.on("com.atproto.repo.createRecord", {"uri": URI, "cid": "c"})
    loopback = OutboundPolicy.parse(["127.0.0.0/8"])
    connector = BlueskyConnector(
        {"identifier": HANDLE, "service_url": "https://localhost:8443"}, {"app_password": "pw"}, outbound=loopback
    )

    connector.publish(post)

    for call in fake_pds.calls:
        assert (call.url.host, call.url.port) == ("127.0.0.1", 8443)
        assert call.headers["host"] == "localhost:8443"
        assert call.extensions["sni_hostname"] == "localhost"


def test_bluesky_check_names_the_account_the_session_acts_as(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]
) -> None:
    fake_pds.on("com.atproto.server.getSession", {"handle": HANDLE, "did": DID, "active": True})

    assert bluesky().check() == Ready(account=f"@{HANDLE} ({DID})")


def test_bluesky_check_fails_for_an_account_that_is_not_active(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]
) -> None:
    fake_pds.on("com.atproto.server.getSession", {"handle": HANDLE, "did": DID, "active": False, "status": "takendown"})

    with pytest.raises(ConnectorError) as caught:
        bluesky().check()

    assert caught.value.permanent
    assert "takendown" in caught.value.message


def test_bluesky_needs_its_identifier() -> None:
    with pytest.raises(ConnectorError) as caught:
        BlueskyConnector({}, {"app_password": "pw"})

    assert caught.value.permanent
    assert "identifier" in caught.value.message


# The watch's listRecords (https://docs.bsky.app/docs/api/com-atproto-repo-list-records), its
# answers shaped as the lexicon's output; the same call against the reference PDS is in
# test_watch_bluesky.py.


def listed(n: int, created_at: str, cursor: str | None) -> dict[str, Any]:
    record = {"$type": "app.bsky.feed.post", "text": f"post {n}", "createdAt": created_at}
    page: dict[str, Any] = {
        "records": [{"uri": f"at://{DID}/app.bsky.feed.post/3kxyzrkey{n:02d}", "cid": "bafyrei", "value": record}]
    }
    if cursor:
        page["cursor"] = cursor
    return page


def test_bluesky_listing_reads_at_most_five_pages(fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]) -> None:
    fake_pds.on(
        "com.atproto.repo.listRecords",
        *(listed(n, "2026-11-29T10:00:00.000Z", f"cursor{n}") for n in range(6)),
    )

    posts = bluesky().recent_posts(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    assert [post.text for post in posts] == [f"post {n}" for n in range(5)]
    assert fake_pds.methods().count("com.atproto.repo.listRecords") == 5
    cursors = [call.url.params.get("cursor") for call in fake_pds.calls if call.url.path.endswith("listRecords")]
    assert cursors == [None, "cursor0", "cursor1", "cursor2", "cursor3"]


def test_bluesky_listing_429_is_transient_until_the_ratelimit_reset(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector]
) -> None:
    reset = int(time.time()) + 120
    fake_pds.on(
        "com.atproto.repo.listRecords",
        xrpc_error(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **{"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
        ),
    )

    with pytest.raises(ConnectorError) as caught:
        bluesky().recent_posts(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    assert (caught.value.permanent, caught.value.status) == (False, 429)
    assert caught.value.retry_after is not None
    assert 115 <= caught.value.retry_after <= 120


# Media. The fake's uploadBlob answers as https://docs.bsky.app/docs/api/com-atproto-repo-upload-blob
# shows (200: {"blob": ...}), a blob as https://atproto.com/specs/data-model#blob-type gives it:
# its ref is the CID of the bytes (CIDv1, raw codec, sha-256), so the same bytes get the same CID.

UPLOAD = "com.atproto.repo.uploadBlob"
CREATE = "com.atproto.repo.createRecord"


def stored(request: httpx.Request) -> dict[str, Any]:
    data = request.content
    blob = {"$type": "blob", "ref": {"$link": cid_of(data)}, "mimeType": request.headers["content-type"]}
    return {"blob": {**blob, "size": len(data)}}


def uploads(fake: FakePds) -> list[httpx.Request]:
    return [call for call in fake.calls if call.url.path.endswith(UPLOAD)]


def test_bluesky_uploads_each_image_and_posts_them_with_their_alt_text(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake_pds.on(UPLOAD, stored)
    fake_pds.on(CREATE, {"uri": URI, "cid": "c"})
    photos = (
        outgoing_image(tmp_path, alt_text="The clock tower", size=(120, 80)),
        outgoing_image(tmp_path, fmt="PNG", alt_text="The Guild at night", name="guild", size=(40, 60)),
    )

    bluesky().publish(make_post(media=photos))

    assert fake_pds.methods() == ["com.atproto.server.createSession", UPLOAD, UPLOAD, CREATE]
    sent = uploads(fake_pds)
    assert [call.content for call in sent] == [photo.read() for photo in photos]
    assert [call.headers["content-type"] for call in sent] == ["image/jpeg", "image/png"]
    embed = fake_pds.body(CREATE)["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [image["alt"] for image in embed["images"]] == ["The clock tower", "The Guild at night"]
    assert [(i["aspectRatio"]["width"], i["aspectRatio"]["height"]) for i in embed["images"]] == [(120, 80), (40, 60)]
    assert [image["image"]["ref"]["$link"] for image in embed["images"]] == [cid_of(p.read()) for p in photos]


def test_bluesky_uploads_a_video_and_its_captions_as_webvtt(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake_pds.on(UPLOAD, stored)
    fake_pds.on(CREATE, {"uri": URI, "cid": "c"})
    video = outgoing_video(tmp_path)

    bluesky().publish(make_post(media=(video,)))

    clip, cues = uploads(fake_pds)
    assert (clip.headers["content-type"], clip.content) == ("video/mp4", video.read())
    assert (cues.headers["content-type"], cues.content.decode()) == ("text/vtt", VTT)
    embed = fake_pds.body(CREATE)["record"]["embed"]
    assert (embed["$type"], embed["alt"]) == ("app.bsky.embed.video", video.alt_text)
    assert embed["video"]["ref"]["$link"] == cid_of(video.read())
    assert [(c["lang"], c["file"]["ref"]["$link"]) for c in embed["captions"]] == [("en", cid_of(VTT.encode()))]


def over(item: OutgoingMedia, size: int) -> OutgoingMedia:
    """The item with its file grown to ``size`` bytes (its recorded size unchanged): the file
    on disk is what would be sent."""
    with open(item.path, "ab") as grown:
        grown.write(bytes(size - item.size))
    return item


@pytest.mark.parametrize(
    ("media", "said"),
    [
        (lambda d: (over(outgoing_image(d), 2_000_001),), "image 1 is 2,000,001 bytes, over the 2,000,000"),
        (lambda d: tuple(outgoing_image(d, name=f"p{n}") for n in range(5)), "at most 4 images, not 5"),
        (lambda d: (outgoing_video(d), outgoing_image(d)), "one video alone"),
        (lambda d: (replace(outgoing_video(d), size=300_000_001),), "the video is 300,000,001 bytes"),
        (lambda d: (replace(outgoing_video(d), captions_vtt="WEBVTT\n\n" + "x" * 20_000),), "captions is 20,008"),
        (lambda d: (replace(outgoing_image(d), mime="video/mp4"),), "not an image"),
        (lambda d: (replace(outgoing_image(d), path=str(d / "gone.jpeg")),), "image 1 cannot be read"),
    ],
    ids=["image-over-maxSize", "five-images", "video-and-image", "video-over-maxSize", "long-captions", "mime", "gone"],
)
def test_bluesky_refuses_media_the_lexicon_forbids_before_sending_anything(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    media: Callable[[Path], tuple[OutgoingMedia, ...]],
    said: str,
) -> None:
    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(media=media(tmp_path)))

    assert caught.value.permanent
    assert said in caught.value.message
    assert fake_pds.calls == []


@pytest.mark.parametrize(
    "failure",
    [*UNANSWERED.values(), xrpc_error(500, "InternalServerError"), xrpc_error(503, "Unavailable")],
    ids=[*UNANSWERED.keys(), "500", "503"],
)
def test_bluesky_a_failed_upload_is_transient_never_ambiguous(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    failure: Answer,
) -> None:
    # An uploaded blob is unattached and shown to nobody: nothing can be live yet.
    fake_pds.on(UPLOAD, stored, failure)
    photos = (outgoing_image(tmp_path), outgoing_image(tmp_path, name="second"))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(media=photos))

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, None)
    assert error.message.startswith(f"image 2: {UPLOAD}")
    assert CREATE not in fake_pds.methods()


def test_bluesky_an_upload_the_pds_refuses_is_permanent_and_names_the_item(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake_pds.on(UPLOAD, xrpc_error(413, "PayloadTooLarge", "request entity too large"))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(media=(outgoing_video(tmp_path),)))

    assert (caught.value.permanent, caught.value.status) == (True, 413)
    assert caught.value.message == f"the video: {UPLOAD}: HTTP 413: PayloadTooLarge: request entity too large"


@pytest.mark.parametrize("failure", [*UNANSWERED.values(), xrpc_error(502, "BadGateway")])
def test_bluesky_a_create_record_with_media_that_got_no_answer_is_ambiguous(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    failure: Answer,
) -> None:
    fake_pds.on(UPLOAD, stored)
    fake_pds.on(CREATE, failure)

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(media=(outgoing_image(tmp_path),)))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_bluesky_a_retry_uploads_again_and_refers_to_the_same_blobs(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # A blob nothing refers to is deleted by the PDS within minutes (uploadBlob's lexicon), and a
    # retry may come hours later: so nothing is kept in progress, and the retry uploads again.
    # The PDS names a blob by the hash of its bytes, so the record refers to the same blobs.
    fake_pds.on(UPLOAD, stored)
    fake_pds.on(CREATE, xrpc_error(429, "RateLimitExceeded", **{"Retry-After": "30"}), {"uri": URI, "cid": "c"})
    post = make_post(media=(outgoing_video(tmp_path),))

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(post)
    assert (caught.value.permanent, caught.value.ambiguous, caught.value.progress) == (False, False, {})
    bluesky().publish(replace(post, progress=caught.value.progress))

    first, second = fake_pds.body(CREATE, 0)["record"]["embed"], fake_pds.body(CREATE, 1)["record"]["embed"]
    assert len(uploads(fake_pds)) == 4  # the video and its captions, twice
    assert first["video"] == second["video"]
    assert first["captions"] == second["captions"]


def test_bluesky_an_upload_with_a_refused_token_is_sent_whole_again(
    fake_pds: FakePds, bluesky: Callable[..., BlueskyConnector], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake_pds.on(UPLOAD, xrpc_error(400, "ExpiredToken", "Token has expired"), stored)
    fake_pds.on("com.atproto.server.refreshSession", logged_in(2))
    fake_pds.on(CREATE, {"uri": URI, "cid": "c"})
    photo = outgoing_image(tmp_path)

    bluesky().publish(make_post(media=(photo,)))

    refused, again = uploads(fake_pds)
    assert refused.content == again.content == photo.read()
    assert again.headers["content-length"] == str(photo.size)


@pytest.mark.parametrize(
    ("where", "named"),
    [("images[1].image", "image 2"), ("video", "the video"), ("captions[0].file", "the video's captions")],
)
def test_bluesky_a_record_refused_for_one_of_its_media_names_the_item(
    fake_pds: FakePds,
    bluesky: Callable[..., BlueskyConnector],
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    where: str,
    named: str,
) -> None:
    # The refusal's words are the reference PDS's own (@atproto/pds 0.4.217, as
    # test_the_reference_pds_still_holds_images_to_the_old_one_megabyte shows it).
    too_big = "blob too big (maximum 1000000, got 1204396)"
    refusal = f"Invalid app.bsky.feed.post record: {too_big} at $.record.embed.{where}"
    fake_pds.on(UPLOAD, stored)
    fake_pds.on(CREATE, xrpc_error(400, "InvalidRequest", refusal))
    media = (outgoing_video(tmp_path),) if "image" not in where else (outgoing_image(tmp_path),) * 2

    with pytest.raises(ConnectorError) as caught:
        bluesky().publish(make_post(media=media))

    assert caught.value.permanent
    assert caught.value.message == f"{named}: com.atproto.repo.createRecord: HTTP 400: InvalidRequest: {refusal}"
