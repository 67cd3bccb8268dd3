"""Each connector's readiness check against a fake platform: the cheap authenticated read it
makes, what it reports when ready, and which failures a person must fix (permanent) and which
pass by themselves (transient). X and Mastodon requests are checked against their official
OpenAPI documents; the Graph and LinkedIn answers follow the reference pages named."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import requests
import responses

from connectors.base import Connector, ConnectorError, Ready
from connectors.facebook import FacebookConnector
from connectors.instagram import InstagramConnector
from connectors.linkedin import LinkedInConnector
from connectors.mastodon import MastodonConnector
from connectors.outbox import OutboxConnector
from connectors.registry import CONNECTORS, connector_class
from connectors.versions import (
    DEFAULT_GRAPH_VERSION,
    DEFAULT_LINKEDIN_VERSION,
    ApiVersions,
    graph_version_end,
    linkedin_version_end,
    version_warnings,
)
from connectors.webhook import WebhookConnector
from connectors.x import XConnector
from tests.connectors import mastodon_fake, x_fake

X_ME = "https://api.twitter.com/2/users/me"
X_SECRETS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}
MASTODON = "https://social.example"
VERIFY = f"{MASTODON}/api/v1/accounts/verify_credentials"
GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
PAGE = f"{GRAPH}/1234567890"
DEBUG = f"{GRAPH}/debug_token"
ORGANIZATION = "https://api.linkedin.com/rest/organizations/2414183"


def test_every_registered_connector_kind_has_a_check() -> None:
    for kind in CONNECTORS:
        assert "check" not in connector_class(kind).__abstractmethods__, kind
        assert connector_class(kind).check is not Connector.check, kind


# X: GET /2/users/me (https://docs.x.com/x-api/users/user-lookup-me)


def test_x_check_names_the_user_and_the_access_level(fake: responses.RequestsMock) -> None:
    fake.get(
        X_ME,
        json={"data": {"id": "2244994945", "name": "University of Liverpool", "username": "livuni"}},
        headers={"x-access-level": "read-write"},
    )

    ready = XConnector({}, X_SECRETS).check()

    assert ready == Ready(account="@livuni", scopes=("read-write",))
    assert fake.calls[0].request.headers["Authorization"].startswith("OAuth ")


def test_x_check_refuses_a_read_only_token(fake: responses.RequestsMock) -> None:
    fake.get(X_ME, json={"data": {"id": "1", "name": "n", "username": "livuni"}}, headers={"x-access-level": "read"})

    with pytest.raises(ConnectorError) as caught:
        XConnector({}, X_SECRETS).check()

    assert caught.value.permanent
    assert "may only read" in caught.value.message


@pytest.mark.off_contract("X answers these with its generic about:blank problem, which its document does not list")
@pytest.mark.parametrize(
    ("status", "permanent"),
    [(401, True), (403, True), (429, False), (500, False), (503, False)],
)
def test_x_check_failures_say_whether_a_person_must_act(
    fake: responses.RequestsMock, status: int, permanent: bool
) -> None:
    fake.add(responses.GET, X_ME, **x_fake.about_blank(status, "Unauthorized"))

    with pytest.raises(ConnectorError) as caught:
        XConnector({}, X_SECRETS).check()

    assert (caught.value.permanent, caught.value.status) == (permanent, status)


def test_x_check_timeout_is_transient(fake: responses.RequestsMock) -> None:
    fake.get(X_ME, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        XConnector({}, X_SECRETS).check()

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


# Mastodon: GET /api/v1/accounts/verify_credentials (https://docs.joinmastodon.org/methods/accounts/#verify_credentials)


def test_mastodon_check_names_the_account_on_its_instance(fake: responses.RequestsMock) -> None:
    fake.get(VERIFY, json=mastodon_fake.credential_account(MASTODON))

    ready = MastodonConnector({"base_url": MASTODON}, {"access_token": "tok"}).check()

    assert ready == Ready(account="@livuni@social.example")
    assert fake.calls[0].request.headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (403, True), (429, False), (503, False)])
def test_mastodon_check_failures(fake: responses.RequestsMock, status: int, permanent: bool) -> None:
    fake.get(VERIFY, status=status, json=mastodon_fake.error("The access token is invalid"))

    with pytest.raises(ConnectorError) as caught:
        MastodonConnector({"base_url": MASTODON}, {"access_token": "tok"}).check()

    assert caught.value.permanent is permanent
    if status == 401:
        assert "The access token is invalid" in caught.value.message


# Facebook: GET /{page-id}?fields=id,name (https://developers.facebook.com/docs/graph-api/reference/page)
# and GET /debug_token (https://developers.facebook.com/docs/graph-api/reference/debug_token)


def _page_ok(fake: responses.RequestsMock) -> None:
    fake.get(
        PAGE,
        json={"id": "1234567890", "name": "University of Liverpool"},
        match=[responses.matchers.query_param_matcher({"fields": "id,name"})],
    )


def test_facebook_check_reads_the_page_and_the_tokens_scopes(fake: responses.RequestsMock) -> None:
    _page_ok(fake)
    fake.get(
        DEBUG,
        json={
            "data": {
                "app_id": "138483919580948",
                "type": "PAGE",
                "is_valid": True,
                "expires_at": 1893456000,
                "scopes": ["pages_show_list", "pages_read_engagement", "pages_manage_posts"],
                "profile_id": "1234567890",
            }
        },
        match=[responses.matchers.query_param_matcher({"input_token": "page-tok"})],
    )

    ready = FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert ready.account == "University of Liverpool"
    assert "pages_manage_posts" in ready.scopes
    assert ready.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert all(call.request.headers["Authorization"] == "Bearer page-tok" for call in fake.calls)


def test_facebook_check_a_token_that_never_expires_has_no_end(fake: responses.RequestsMock) -> None:
    _page_ok(fake)
    fake.get(DEBUG, json={"data": {"is_valid": True, "expires_at": 0, "scopes": ["pages_manage_posts"]}})

    ready = FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert ready.expires_at is None


def test_facebook_check_without_pages_manage_posts_is_not_ready(fake: responses.RequestsMock) -> None:
    _page_ok(fake)
    fake.get(DEBUG, json={"data": {"is_valid": True, "expires_at": 0, "scopes": ["pages_show_list"]}})

    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert caught.value.permanent
    assert "lacks pages_manage_posts" in caught.value.message


def test_facebook_check_an_expired_token_is_permanent(fake: responses.RequestsMock) -> None:
    # Graph error 190 subcode 463: "Error validating access token: Session has expired"
    # (https://developers.facebook.com/docs/graph-api/guides/error-handling)
    fake.get(
        PAGE,
        status=400,
        json={
            "error": {
                "message": "Error validating access token: Session has expired on Friday, 27-Nov-26.",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
                "fbtrace_id": "A1",
            }
        },
    )

    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert caught.value.permanent
    assert "Session has expired" in caught.value.message


def test_facebook_check_a_rate_limit_is_transient(fake: responses.RequestsMock) -> None:
    fake.get(
        PAGE,
        status=400,
        json={"error": {"message": "Page request limit reached", "type": "OAuthException", "code": 32}},
    )

    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert not caught.value.permanent


def test_facebook_check_a_token_debug_token_calls_invalid_is_permanent(fake: responses.RequestsMock) -> None:
    _page_ok(fake)
    fake.get(
        DEBUG,
        json={
            "data": {"is_valid": False, "scopes": [], "error": {"code": 190, "message": "The user changed password"}}
        },
    )

    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert caught.value.permanent
    assert "The user changed password" in caught.value.message


# Instagram: GET /{ig-user-id}?fields=username (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user)


def test_instagram_check_names_the_account(fake: responses.RequestsMock) -> None:
    fake.get(
        f"{GRAPH}/17841400000000000",
        json={"username": "livuni", "id": "17841400000000000"},
        match=[responses.matchers.query_param_matcher({"fields": "username"})],
    )
    connector = InstagramConnector(
        {"ig_user_id": "17841400000000000", "image_url": "https://www.liverpool.ac.uk/card.jpg"},
        {"access_token": "ig-tok"},
    )

    assert connector.check() == Ready(account="@livuni")


def test_instagram_check_an_invalid_token_is_permanent(fake: responses.RequestsMock) -> None:
    fake.get(
        f"https://graph.instagram.com/{DEFAULT_GRAPH_VERSION}/1784",
        status=400,
        json={"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
    )
    connector = InstagramConnector(
        {"ig_user_id": "1784", "image_url": "https://www.liverpool.ac.uk/card.jpg", "host": "graph.instagram.com"},
        {"access_token": "ig-tok"},
    )

    with pytest.raises(ConnectorError) as caught:
        connector.check()

    assert caught.value.permanent


# LinkedIn: GET /rest/organizations/{id} (https://learn.microsoft.com/linkedin/marketing/community-management/organizations/organization-lookup-api)


def test_linkedin_check_looks_up_the_organization_with_the_version_headers(fake: responses.RequestsMock) -> None:
    fake.get(ORGANIZATION, json={"id": 2414183, "localizedName": "University of Liverpool", "vanityName": "livuni"})

    ready = LinkedInConnector({"author": "urn:li:organization:2414183"}, {"access_token": "li-tok"}).check()

    assert ready == Ready(account="University of Liverpool (urn:li:organization:2414183)")
    headers = fake.calls[0].request.headers
    assert headers["LinkedIn-Version"] == DEFAULT_LINKEDIN_VERSION
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert headers["Authorization"] == "Bearer li-tok"


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (403, True), (426, True), (429, False), (504, False)])
def test_linkedin_check_failures(fake: responses.RequestsMock, status: int, permanent: bool) -> None:
    fake.get(ORGANIZATION, status=status, json={"status": status, "message": "Invalid access token"})

    with pytest.raises(ConnectorError) as caught:
        LinkedInConnector({"author": "urn:li:organization:2414183"}, {"access_token": "li-tok"}).check()

    assert caught.value.permanent is permanent
    if status == 426:
        assert "LOCKDOWN_LINKEDIN_VERSION" in caught.value.message


def test_linkedin_check_of_a_member_author_reads_userinfo(fake: responses.RequestsMock) -> None:
    fake.get("https://api.linkedin.com/v2/userinfo", json={"sub": "abc", "name": "Jo Bloggs"})

    ready = LinkedInConnector({"author": "urn:li:person:abc"}, {"access_token": "li-tok"}).check()

    assert ready.account == "Jo Bloggs (urn:li:person:abc)"


# Bluesky's check runs on the atproto client: tests/connectors/test_bluesky.py and, against the
# reference PDS, test_bluesky_pds.py.


# The local ones


def test_outbox_is_always_ready_and_calls_nothing(fake: responses.RequestsMock) -> None:
    assert OutboxConnector({}, {}).check().account.startswith("outbox")
    assert not fake.calls


def test_webhook_check_sends_nothing_and_says_it_could_not_check(fake: responses.RequestsMock) -> None:
    connector = WebhookConnector({"url": "https://hooks.example"}, {"url": "https://hooks.example/T0/B0/secret"})

    ready = connector.check()

    assert "not checkable" in ready.account
    assert "secret" not in ready.account
    assert not fake.calls


# Version ends: Meta's published table, LinkedIn's one-year rule


def test_graph_version_ends_are_metas_published_dates() -> None:
    assert graph_version_end("v21.0") == date(2027, 1, 21)
    assert graph_version_end("v25.0") == date(2028, 7, 29)
    assert graph_version_end("v26.0") is None  # Meta has not published it yet
    assert graph_version_end("v9.0") == date(2024, 5, 28)  # older than the table: ended


def test_linkedin_versions_end_about_a_year_after_their_month() -> None:
    assert linkedin_version_end("202411") == date(2025, 11, 15)  # LinkedIn ended it on 2025-11-17
    assert linkedin_version_end("202607") == date(2027, 7, 15)


@pytest.mark.parametrize(
    ("kind", "versions", "today", "expected"),
    [
        ("facebook", ApiVersions(graph="v21.0"), date(2026, 11, 21), []),
        ("facebook", ApiVersions(graph="v21.0"), date(2026, 11, 22), ["Graph API v21.0 ends 2027-01-21 (in 60 days)"]),
        ("instagram", ApiVersions(graph="v21.0"), date(2027, 1, 21), ["ENDED: Graph API v21.0"]),
        ("linkedin", ApiVersions(linkedin="202607"), date(2027, 5, 16), ["LinkedIn-Version 202607 ends about"]),
        ("linkedin", ApiVersions(linkedin="202607"), date(2027, 5, 15), []),
        ("linkedin", ApiVersions(linkedin="202411"), date(2026, 11, 29), ["ENDED: LinkedIn-Version 202411"]),
        ("x", ApiVersions(linkedin="202411", graph="v13.0"), date(2026, 11, 29), []),
        ("facebook", ApiVersions(graph="v26.0"), date(2026, 11, 29), []),
    ],
)
def test_version_warnings_start_60_days_before_the_end_and_shout_after_it(
    kind: str, versions: ApiVersions, today: date, expected: list[str]
) -> None:
    warnings = version_warnings(kind, versions, today)

    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected, strict=True):
        assert warning.startswith(start), warning
        assert ("LOCKDOWN_GRAPH_VERSION" in warning) or ("LOCKDOWN_LINKEDIN_VERSION" in warning)


def test_facebook_check_when_debug_token_is_refused_to_a_page_token_reports_the_permissions_unknown(
    fake: responses.RequestsMock,
) -> None:
    # debug_token requires "an app access token or an app developer's user access token"
    # (https://developers.facebook.com/docs/graph-api/reference/debug_token)
    _page_ok(fake)
    fake.get(
        DEBUG,
        status=400,
        json={
            "error": {
                "message": "(#100) You must provide an app access token, or a user access token that is an owner or "
                "developer of the app",
                "type": "OAuthException",
                "code": 100,
            }
        },
    )

    ready = FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert ready.account.startswith("University of Liverpool (permissions not reported:")
    assert ready.scopes == ()


def test_facebook_check_when_debug_token_says_the_token_is_invalid_fails(fake: responses.RequestsMock) -> None:
    _page_ok(fake)
    fake.get(
        DEBUG,
        status=400,
        json={"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}},
    )

    with pytest.raises(ConnectorError) as caught:
        FacebookConnector({"page_id": "1234567890"}, {"page_access_token": "page-tok"}).check()

    assert caught.value.permanent
