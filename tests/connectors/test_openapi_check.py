"""The contract check itself: it accepts what the connectors send and what the documents allow,
and each of its checks fails on a request or answer the platform's document rules out (no
Authorization, the wrong kind, the wrong host, a field beyond a documented limit, an answer
missing a required field), so a connector or a fake that drifts from the API fails its tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import InvalidParameter, InvalidRequestBody
from openapi_core.validation.response.exceptions import InvalidData
from requests_oauthlib import OAuth1

from connectors.base import OutgoingPost
from connectors.mastodon import MastodonConnector
from connectors.x import XConnector
from tests.connectors import mastodon_fake, x_fake
from tests.connectors.conftest import checked_fake
from tests.connectors.openapi_check import Contract, SpecCheck, WrongForm, WrongSecurity, WrongServer
from tests.media_samples import image_bytes

X = "https://api.x.com"
TWEEPYS_X = "https://api.twitter.com"
MASTODON = "https://social.example"
INSTANCES = [MASTODON]
# OAuth 1.0a user context, signed as tweepy signs it (requests-oauthlib, HMAC-SHA1).
USER_CONTEXT = OAuth1("ck", "cs", "at", "ats")
BEARER = {"Authorization": "Bearer tok-1"}


def prepared(method: str, url: str, **kwargs: Any) -> requests.PreparedRequest:
    request = requests.Request(method, url, **kwargs).prepare()
    # requests-oauthlib leaves the headers it signed as bytes outside a session; tweepy's are str
    for name, value in list(request.headers.items()):
        if isinstance(value, bytes):
            request.headers[name] = value.decode("latin-1")
    return request


def answer(status: int, body: object, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    return response


# --- what the documents allow ----------------------------------------------------------------


def test_the_x_spec_accepts_a_signed_tweet_and_delete_on_tweepys_host(x_spec: SpecCheck) -> None:
    x_spec.validate(prepared("POST", f"{TWEEPYS_X}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT))
    x_spec.validate(prepared("DELETE", f"{TWEEPYS_X}/2/tweets/1346889436626259968", auth=USER_CONTEXT))


def test_the_x_spec_accepts_an_oauth2_user_token_as_a_bearer_token(x_spec: SpecCheck) -> None:
    x_spec.validate(prepared("POST", f"{X}/2/tweets", json={"text": "hi"}, headers=BEARER))


def test_the_x_document_states_no_length_for_a_posts_text(x_spec: SpecCheck) -> None:
    # X allows 280 weighted characters (more for Premium accounts); its document has no
    # maxLength, so the contract cannot hold the text to it: Lockdown's length rules do.
    text = x_spec.document["components"]["schemas"]["CreatePostsRequest"]["properties"]["text"]
    assert "maxLength" not in text
    x_spec.validate(prepared("POST", f"{X}/2/tweets", json={"text": "a" * 10_000}, auth=USER_CONTEXT))


# --- the operation and the body, with the limits the schemas state ---------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "rejection"),
    [
        ("POST", "/2/tweets", {"txt": "a field X does not have"}, InvalidRequestBody),
        ("POST", "/2/tweets", {"text": 42}, InvalidRequestBody),
        ("POST", "/2/tweet", {"text": "a path X does not have"}, PathNotFound),
        ("PUT", "/2/tweets", {"text": "a method X does not allow"}, OperationNotFound),
        ("DELETE", "/2/tweets/not-a-number", None, InvalidParameter),
        # the documented limits: enum, maxLength, maxItems, minimum
        ("POST", "/2/tweets", {"text": "hi", "reply_settings": "everyone"}, InvalidRequestBody),
        ("POST", "/2/tweets", {"text": "hi", "poll": {"options": ["a" * 26, "b"], "duration_minutes": 60}},
         InvalidRequestBody),
        ("POST", "/2/tweets", {"text": "hi", "poll": {"options": list("abcde"), "duration_minutes": 60}},
         InvalidRequestBody),
        ("POST", "/2/tweets", {"text": "hi", "poll": {"options": ["a", "b"], "duration_minutes": 4}},
         InvalidRequestBody),
    ],
    ids=["unknown-field", "text-not-a-string", "path", "method", "id-not-a-number", "enum",
         "poll-option-too-long", "too-many-poll-options", "poll-too-short"],
)  # fmt: skip
def test_the_x_spec_rejects_requests_x_would_not_take(
    x_spec: SpecCheck, method: str, path: str, body: object, rejection: type[OpenAPIError]
) -> None:
    request = prepared(method, f"{TWEEPYS_X}{path}", json=body, auth=USER_CONTEXT)

    with pytest.raises(rejection):
        x_spec.validate(request)


@pytest.mark.parametrize(
    ("method", "path", "body", "rejection"),
    [
        ("POST", "/api/v1/statuses", {"visibility": "public"}, InvalidRequestBody),
        ("POST", "/api/v1/statuses", {"status": 42, "visibility": "public"}, InvalidRequestBody),
        ("POST", "/api/v1/statuses", {"status": "hi", "visibility": "everyone"}, InvalidRequestBody),
        ("POST", "/api/v1/status", {"status": "a path Mastodon does not have"}, PathNotFound),
        ("PATCH", "/api/v1/scheduled_statuses/3", {"scheduled_at": "2030-06-01T09:00Z"}, OperationNotFound),
        ("PUT", "/api/v1/scheduled_statuses/3", {"scheduled_at": 20300601}, InvalidRequestBody),
    ],
    ids=["no-status", "status-not-a-string", "visibility-enum", "path", "method", "time-not-a-string"],
)
def test_the_mastodon_spec_rejects_requests_mastodon_would_not_take(
    mastodon_spec: SpecCheck, method: str, path: str, body: object, rejection: type[OpenAPIError]
) -> None:
    request = prepared(method, f"{MASTODON}{path}", json=body, headers=BEARER)

    with pytest.raises(rejection):
        mastodon_spec.validate(request, instances=INSTANCES)


def test_the_mastodon_document_states_no_limits_at_all(mastodon_spec: SpecCheck) -> None:
    # A status's 500 characters (the instance's setting), the listing's 40 a page and the
    # 5 minutes ahead of scheduled_at are prose in Mastodon's document, not schema: the
    # contract can hold requests to its enums and types only.
    text = json.dumps(mastodon_spec.document)
    for keyword in ("maxLength", "maxItems", "maximum", "minLength"):
        assert f'"{keyword}"' not in text


# --- multipart bodies (media uploads) --------------------------------------------------------

JPEG = image_bytes()


def form(files: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """A multipart body's parts: files (name, bytes, type) and text fields (parts without a file
    name), so a body with no file at all is still multipart."""
    return {**files, **{name: (None, value) for name, value in fields.items()}}


def test_the_mastodon_spec_accepts_a_media_upload_with_its_file_and_description(mastodon_spec: SpecCheck) -> None:
    request = prepared(
        "POST", f"{MASTODON}/api/v2/media", headers=BEARER,
        files={"file": ("photo.jpeg", JPEG, "image/jpeg")}, data={"description": "A red square"},
    )  # fmt: skip

    mastodon_spec.validate(request, instances=INSTANCES)


@pytest.mark.parametrize(
    ("files", "fields", "rejection"),
    [
        ({}, {"description": "no file at all"}, InvalidRequestBody),
        ({"thumbnail": ("t.jpeg", JPEG, "image/jpeg")}, {"description": "the file under another name"},
         InvalidRequestBody),
        ({}, {"file": "the file sent as a text field, not a file part"}, WrongForm),
        ({"file": ("photo.jpeg", JPEG, None)}, {"description": "a file part without a MIME type"}, WrongForm),
        ({"file": ("photo.jpeg", JPEG, "image/jpeg"), "description": ("d.txt", b"A", "text/plain")}, {}, WrongForm),
    ],
    ids=["no-file", "file-under-another-name", "file-as-text", "file-without-mime-type", "text-as-file"],
)  # fmt: skip
def test_the_mastodon_spec_rejects_media_uploads_mastodon_would_not_take(
    mastodon_spec: SpecCheck, files: dict[str, Any], fields: dict[str, str], rejection: type[OpenAPIError]
) -> None:
    request = prepared("POST", f"{MASTODON}/api/v2/media", headers=BEARER, files=form(files, fields))

    with pytest.raises(rejection):
        mastodon_spec.validate(request, instances=INSTANCES)


def test_the_x_spec_accepts_signed_media_uploads_whose_form_fields_are_typed_by_the_document(
    x_spec: SpecCheck,
) -> None:
    x_spec.validate(
        prepared(
            "POST", f"{TWEEPYS_X}/2/media/upload", auth=USER_CONTEXT,
            files={"media": ("photo.jpeg", JPEG, "image/jpeg")}, data={"media_category": "tweet_image"},
        )
    )  # fmt: skip
    # segment_index is an integer in the document; a form field carries it as text
    x_spec.validate(
        prepared(
            "POST", f"{TWEEPYS_X}/2/media/upload/1880028106020515840/append", auth=USER_CONTEXT,
            files={"media": ("blob", JPEG, "application/octet-stream")}, data={"segment_index": "0"},
        )
    )  # fmt: skip


MEDIA = {"media": ("p.jpeg", JPEG, "image/jpeg")}
CHUNK = {"media": ("blob", JPEG, "application/octet-stream")}


@pytest.mark.parametrize(
    ("path", "files", "fields", "rejection"),
    [
        ("/2/media/upload", MEDIA, {"media_category": "tweet_picture"}, InvalidRequestBody),
        ("/2/media/upload", MEDIA, {}, InvalidRequestBody),
        ("/2/media/upload", MEDIA, {"media_category": "tweet_image", "alt_text": "not here"}, WrongForm),
        ("/2/media/upload/1880028106020515840/append", CHUNK, {"segment_index": "1000"}, InvalidRequestBody),
        ("/2/media/upload/1880028106020515840/append", CHUNK, {"segment_index": "first"}, InvalidRequestBody),
        ("/2/media/upload/1880028106020515840/append", {}, {"segment_index": "0"}, InvalidRequestBody),
    ],
    ids=["category-enum", "no-category", "unknown-field", "segment-beyond-999", "segment-not-a-number", "no-media"],
)  # fmt: skip
def test_the_x_spec_rejects_media_uploads_x_would_not_take(
    x_spec: SpecCheck, path: str, files: dict[str, Any], fields: dict[str, str], rejection: type[OpenAPIError]
) -> None:
    request = prepared("POST", f"{TWEEPYS_X}{path}", auth=USER_CONTEXT, files=form(files, fields))

    with pytest.raises(rejection):
        x_spec.validate(request)


def test_the_mastodon_document_as_published_refuses_a_status_with_text_and_media() -> None:
    # the reason for the correction in conftest: oneOf, and text with media fits two of them
    as_published = SpecCheck("mastodon.openapi.json")
    body = {"status": "Open day", "visibility": "public", "media_ids": ["22348641"]}
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json=body, headers=BEARER)

    with pytest.raises(InvalidRequestBody):
        as_published.validate(request, instances=INSTANCES)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Open day", "visibility": "public", "media_ids": ["22348641"]},
        {"visibility": "public", "media_ids": ["22348641"]},
    ],
    ids=["text-and-media", "media-alone"],
)
def test_the_corrected_mastodon_spec_accepts_a_status_with_media(mastodon_spec: SpecCheck, body: object) -> None:
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json=body, headers=BEARER)

    mastodon_spec.validate(request, instances=INSTANCES)


@pytest.mark.parametrize(
    "body",
    [
        {"visibility": "public"},
        {"status": 42, "media_ids": ["22348641"]},
        {"media_ids": [22348641]},
        {"media_ids": ["22348641"], "visibility": "everyone"},
    ],
    ids=["neither-text-nor-media", "text-not-a-string", "media-id-not-a-string", "visibility-enum"],
)
def test_the_corrected_mastodon_spec_still_refuses_what_no_status_kind_allows(
    mastodon_spec: SpecCheck, body: object
) -> None:
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json=body, headers=BEARER)

    with pytest.raises(InvalidRequestBody):
        mastodon_spec.validate(request, instances=INSTANCES)


def test_a_correction_for_a_place_the_document_does_not_have_fails_loudly() -> None:
    with pytest.raises(KeyError):
        SpecCheck("mastodon.openapi.json", corrections={"/paths/~1api~1v1~1nothing/post": ({}, "no such path")})


# --- the security scheme ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic Y2s6Y3M="},
        {"Authorization": 'OAuth oauth_consumer_key="ck", oauth_token="at"'},
        {"Authorization": "Bearer "},
    ],
    ids=["no-authorization", "basic", "oauth1-unsigned", "empty-bearer"],
)
def test_the_x_spec_rejects_a_tweet_without_a_documented_authorization(
    x_spec: SpecCheck, headers: dict[str, str]
) -> None:
    request = prepared("POST", f"{TWEEPYS_X}/2/tweets", json={"text": "hi"}, headers=headers)

    with pytest.raises(WrongSecurity):
        x_spec.validate(request)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": 'OAuth oauth_consumer_key="ck"'}, {"Authorization": "Token tok-1"}],
    ids=["no-authorization", "oauth1", "other-kind"],
)
def test_the_mastodon_spec_rejects_a_status_without_a_bearer_token(
    mastodon_spec: SpecCheck, headers: dict[str, str]
) -> None:
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json={"status": "hi"}, headers=headers)

    with pytest.raises(WrongSecurity):
        mastodon_spec.validate(request, instances=INSTANCES)


def test_the_security_check_reads_the_document_not_a_list_of_its_own(x_spec: SpecCheck) -> None:
    # GET /2/tweets also takes an app-only BearerToken; POST /2/tweets and /2/users/me name
    # only user tokens. A document that took OAuth 1.0a away would refuse tweepy's request.
    signed = prepared("POST", f"{X}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT)
    x_spec.check_security(signed, [{"UserToken": []}])
    with pytest.raises(WrongSecurity):
        x_spec.check_security(signed, [{"OAuth2UserToken": ["tweet.write"]}])
    x_spec.check_security(prepared("GET", f"{X}/2/tweets"), [{}])  # an empty requirement: none needed


# --- the server --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base", ["https://api.x.example", "http://api.x.com", "https://api.x.com:8443", "https://twitter.com"]
)
def test_the_x_spec_rejects_a_host_that_is_not_xs(x_spec: SpecCheck, base: str) -> None:
    request = prepared("POST", f"{base}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT)

    with pytest.raises(WrongServer):
        x_spec.validate(request)


def test_the_x_alias_is_allowed_only_where_it_is_named() -> None:
    without_alias = SpecCheck("x-api-v2.openapi.json")

    with pytest.raises(WrongServer):
        without_alias.validate(prepared("POST", f"{TWEEPYS_X}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT))


@pytest.mark.parametrize("instances", [[], ["https://other.example"], ["http://social.example"]])
def test_the_mastodon_spec_rejects_a_host_that_is_not_the_configured_instance(
    mastodon_spec: SpecCheck, instances: list[str]
) -> None:
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json={"status": "hi"}, headers=BEARER)

    with pytest.raises(WrongServer):
        mastodon_spec.validate(request, instances=instances)


# --- the answers -------------------------------------------------------------------------------


def test_the_x_spec_accepts_the_fakes_answers(x_spec: SpecCheck) -> None:
    request = prepared("POST", f"{TWEEPYS_X}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT)
    x_spec.validate_response(request, answer(201, x_fake.created("1", "hi")))
    problem = x_fake.problem("invalid-request", 400, "Invalid Request", "Text is too long")
    x_spec.validate_response(request, answer(400, json.loads(problem["body"]), x_fake.PROBLEM_JSON))


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (201, {"data": {"id": "1"}}, "application/json"),  # no text
        (201, {"data": {"id": "not-a-number", "text": "hi"}}, "application/json"),  # id's pattern
        (400, {"type": "about:blank", "title": "Bad Request", "detail": "x"}, x_fake.PROBLEM_JSON),
        (400, {"title": "Bad Request"}, "application/json"),  # an Error needs code and message
    ],
    ids=["created-without-text", "id-not-digits", "undocumented-problem-type", "error-without-code"],
)
def test_the_x_spec_rejects_answers_x_does_not_give(
    x_spec: SpecCheck, status: int, body: object, content_type: str
) -> None:
    request = prepared("POST", f"{TWEEPYS_X}/2/tweets", json={"text": "hi"}, auth=USER_CONTEXT)

    with pytest.raises(InvalidData):
        x_spec.validate_response(request, answer(status, body, content_type))


@pytest.mark.parametrize(
    ("status", "body", "rejection"),
    [
        (200, {k: v for k, v in mastodon_fake.status("1").items() if k != "account"}, InvalidData),
        (200, {**mastodon_fake.status("1"), "visibility": "everyone"}, InvalidData),
        (422, {"message": "no error field"}, InvalidData),
        (418, mastodon_fake.error("a status the document does not list"), ResponseNotFound),
    ],
    ids=["status-without-account", "visibility-enum", "error-without-error", "undocumented-status"],
)
def test_the_mastodon_spec_rejects_answers_mastodon_does_not_give(
    mastodon_spec: SpecCheck, status: int, body: object, rejection: type[OpenAPIError]
) -> None:
    request = prepared("POST", f"{MASTODON}/api/v1/statuses", json={"status": "hi"}, headers=BEARER)
    mastodon_spec.validate_response(request, answer(200, mastodon_fake.status("1")), instances=INSTANCES)

    with pytest.raises(rejection):
        mastodon_spec.validate_response(request, answer(status, body), instances=INSTANCES)


# --- the fake checks every call of every test ---------------------------------------------------


def run_in_checked_fake(contract: Contract, url: str, answer: dict[str, Any], send: Any, mark: Any = None) -> None:
    """One call through a fake of its own, checked as the ``fake`` fixture checks each test."""
    with checked_fake(contract, mark) as inner:
        inner.post(url, **answer)
        send()


def test_the_fake_fails_a_test_whose_x_answer_is_not_documented(contract: Contract, post: OutgoingPost) -> None:
    x = XConnector({}, {name: "s" for name in XConnector.secrets})
    without_text = {"status": 201, "json": {"data": {"id": "1"}}}

    with pytest.raises(InvalidData):
        run_in_checked_fake(contract, f"{TWEEPYS_X}/2/tweets", without_text, lambda: x.publish(post))


def test_the_fake_fails_a_test_whose_connector_sends_to_another_mastodon_host(contract: Contract) -> None:
    MastodonConnector({"base_url": MASTODON}, {"access_token": "t"})  # the configured instance
    elsewhere = "https://other.example/api/v1/statuses"

    def send() -> None:
        requests.post(elsewhere, json={"status": "hi"}, headers=BEARER, timeout=5)

    with pytest.raises(WrongServer):
        run_in_checked_fake(contract, elsewhere, {"json": mastodon_fake.status("1")}, send)


def test_the_fake_fails_a_test_whose_request_has_no_authorization(contract: Contract) -> None:
    MastodonConnector({"base_url": MASTODON}, {"access_token": "t"})
    statuses = f"{MASTODON}/api/v1/statuses"

    def send() -> None:
        requests.post(statuses, json={"status": "hi"}, timeout=5)

    with pytest.raises(WrongSecurity):
        run_in_checked_fake(contract, statuses, {"json": mastodon_fake.status("1")}, send)


def test_the_fake_fails_an_off_contract_mark_that_is_not_needed(contract: Contract) -> None:
    MastodonConnector({"base_url": MASTODON}, {"access_token": "t"})
    statuses = f"{MASTODON}/api/v1/statuses"
    mark = pytest.mark.off_contract("said to be off the document").mark

    def send() -> None:
        requests.post(statuses, json={"status": "hi"}, headers=BEARER, timeout=5)

    with pytest.raises(pytest.fail.Exception, match="every answer fits"):
        run_in_checked_fake(contract, statuses, {"json": mastodon_fake.status("1")}, send, mark)


def test_the_x_spec_rejects_the_x_connectors_own_request_once_it_is_broken(
    fake: responses.RequestsMock, x_spec: SpecCheck, post: OutgoingPost
) -> None:
    fake.post(f"{TWEEPYS_X}/2/tweets", status=201, json=x_fake.created("1", post.body))
    XConnector({}, {name: "s" for name in XConnector.secrets}).publish(post)
    sent = fake.calls[0].request
    x_spec.validate(sent)

    broken = sent.copy()
    broken.prepare_body(None, None, json={"text": post.body, "reply_settings": "everyone"})

    with pytest.raises(InvalidRequestBody):
        x_spec.validate(broken)


def test_the_mastodon_spec_rejects_the_mastodon_connectors_request_without_status(
    fake: responses.RequestsMock, mastodon_spec: SpecCheck, post: OutgoingPost
) -> None:
    fake.post(f"{MASTODON}/api/v1/statuses", json=mastodon_fake.status("1"))
    MastodonConnector({"base_url": MASTODON}, {"access_token": "t"}).publish(post)
    sent = fake.calls[0].request
    mastodon_spec.validate(sent, instances=INSTANCES)

    broken = sent.copy()
    without_status = {k: v for k, v in json.loads(sent.body or b"{}").items() if k != "status"}
    broken.prepare_body(None, None, json=without_status)

    with pytest.raises(InvalidRequestBody):
        mastodon_spec.validate(broken, instances=INSTANCES)
