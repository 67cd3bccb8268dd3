"""Native schedules (``connectors.native``): listing, withdrawing and restoring posts that were
scheduled on the platform itself, for Mastodon and Facebook, against fake platforms. Every
Mastodon request is checked against Mastodon's OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import responses
from responses import matchers

from connectors import native
from connectors.base import Connector, ConnectorError
from connectors.facebook import FacebookConnector
from connectors.mastodon import MastodonConnector
from connectors.native import NativeScheduled, SupportsNativeSchedules, supports_native_schedules
from connectors.outbox import OutboxConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from connectors.webhook import WebhookConnector
from connectors.x import XConnector
from tests.connectors import graph_fake, mastodon_fake

NOW = datetime(2030, 4, 30, 12, 0, tzinfo=UTC)

BASE = "https://social.example"
SCHEDULED = f"{BASE}/api/v1/scheduled_statuses"
PARAMS = {
    "text": "Open day tomorrow, 10:00 in the Guild",
    "visibility": "public",
    "media_ids": ["110"],
    "sensitive": None,
    "spoiler_text": None,
    "scheduled_at": None,
    "application_id": 1,
    "with_rate_limit": False,
    "idempotency": None,
    "in_reply_to_id": None,
    "language": "en",
    "poll": None,
}
TOOT = {
    "id": "3",
    "scheduled_at": "2030-05-01T09:00:00.000Z",
    "params": PARAMS,
    "media_attachments": [],
}

GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
PAGE_ID = "1234567890"
SCHEDULED_POSTS = f"{GRAPH}/{PAGE_ID}/scheduled_posts"
FEED = f"{GRAPH}/{PAGE_ID}/feed"
# https://developers.facebook.com/docs/graph-api/reference/page/scheduled_posts/ lists Page Post
# nodes (https://developers.facebook.com/docs/graph-api/reference/pagepost/): a post's link is
# in its attachments (unshimmed_url); the old ``link`` field is deprecated since v3.3.
FIELDS = {"fields": "id,message,scheduled_publish_time,attachments{type,unshimmed_url}"}
POST_ID = f"{PAGE_ID}_987654321"
NEW_POST_ID = f"{PAGE_ID}_987654999"
MAY_1_0900 = int(datetime(2030, 5, 1, 9, 0, tzinfo=UTC).timestamp())
FB_ITEM = NativeScheduled(
    remote_id=POST_ID,
    scheduled_at="2030-05-01T09:00:00Z",
    content={"message": "Open day tomorrow", "link": "https://liverpool.example/open-day"},
)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "utc_now", lambda: NOW)


@pytest.fixture
def mastodon() -> MastodonConnector:
    return MastodonConnector({"base_url": f"{BASE}/"}, {"access_token": "tok-1"})


@pytest.fixture
def facebook() -> FacebookConnector:
    return FacebookConnector({"page_id": PAGE_ID}, {"page_access_token": "page-tok"})


def mastodon_item(scheduled_at: str = "2030-05-01T09:00:00.000Z") -> NativeScheduled:
    return NativeScheduled(remote_id="3", scheduled_at=scheduled_at, content=dict(PARAMS))


def fb_item(scheduled_at: datetime) -> NativeScheduled:
    return NativeScheduled(POST_ID, native.iso_utc(scheduled_at), dict(FB_ITEM.content))


def put_body(call: Any) -> Any:
    return json.loads(call.request.body)


def form(call: Any) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


# --- NativeScheduled and the interface ------------------------------------------------------


def test_a_native_scheduled_post_round_trips_through_json() -> None:
    item = NativeScheduled(
        remote_id="3",
        scheduled_at="2030-05-01T09:00:00.000Z",
        content={**PARAMS, "text": "Café on the 1st — 10:00 ✓", "poll": {"options": ["a"]}},
    )

    text = item.to_json()

    assert json.loads(text) == {
        "remote_id": "3",
        "scheduled_at": "2030-05-01T09:00:00.000Z",
        "content": item.content,
    }
    assert NativeScheduled.from_json(text) == item
    assert NativeScheduled.from_json(text.encode()) == item
    assert NativeScheduled.from_json(json.loads(text)) == item


def test_a_native_scheduled_post_without_content_reads_back_with_empty_content() -> None:
    item = NativeScheduled.from_json('{"remote_id": "9", "scheduled_at": "2030-05-01T09:00:00Z"}')

    assert item == NativeScheduled("9", "2030-05-01T09:00:00Z", {})


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"scheduled_at": "2030-05-01T09:00:00Z"}',
        '{"remote_id": 3, "scheduled_at": "2030-05-01T09:00:00Z"}',
        '{"remote_id": "3"}',
        '{"remote_id": "3", "scheduled_at": "2030-05-01T09:00:00Z", "content": []}',
        "not json",
    ],
)
def test_from_json_refuses_what_is_not_a_native_scheduled_post(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError is a ValueError too
        NativeScheduled.from_json(text)


def test_a_native_scheduled_post_is_frozen() -> None:
    with pytest.raises(AttributeError):
        FB_ITEM.remote_id = "other"  # type: ignore[misc]


def test_mastodon_and_facebook_support_native_schedules(
    mastodon: MastodonConnector, facebook: FacebookConnector
) -> None:
    supporting: list[SupportsNativeSchedules] = [mastodon, facebook]  # checked by mypy too

    for connector in supporting:
        assert supports_native_schedules(connector)
        assert isinstance(connector, SupportsNativeSchedules)
    assert supports_native_schedules(MastodonConnector)
    assert supports_native_schedules(FacebookConnector)


@pytest.mark.parametrize(
    "build",
    [
        lambda: XConnector(
            {},
            {
                "consumer_key": "ck",
                "consumer_secret": "cs",
                "access_token": "at",
                "access_token_secret": "ats",
            },
        ),
        lambda: WebhookConnector({"url": "https://hooks.example/post"}, {}),
        lambda: OutboxConnector({}, {}),
    ],
    ids=["x", "webhook", "outbox"],
)
def test_other_connectors_do_not_support_native_schedules(build: Callable[[], Connector]) -> None:
    connector = build()

    assert not supports_native_schedules(connector)
    assert not supports_native_schedules(type(connector))
    assert not isinstance(connector, SupportsNativeSchedules)


# --- Mastodon -------------------------------------------------------------------------------


def test_mastodon_lists_native_schedules_with_their_params_as_content(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    other = {**TOOT, "id": "2", "scheduled_at": "2030-05-02T18:30:00.000Z"}
    fake.get(
        SCHEDULED,
        json=[TOOT, other],
        match=[
            matchers.query_param_matcher({"limit": "40"}),
            matchers.header_matcher({"Authorization": "Bearer tok-1"}),
        ],
    )

    items = mastodon.list_native_scheduled()

    assert items == [
        NativeScheduled("3", "2030-05-01T09:00:00.000Z", PARAMS),
        NativeScheduled("2", "2030-05-02T18:30:00.000Z", PARAMS),
    ]
    assert [NativeScheduled.from_json(item.to_json()) for item in items] == items


@pytest.mark.off_contract("a listed ScheduledStatus without its required scheduled_at")
def test_mastodon_a_listed_status_without_a_time_is_an_error_not_skipped(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.get(SCHEDULED, json=[TOOT, {"id": "2", "params": PARAMS}])

    with pytest.raises(ConnectorError) as caught:
        mastodon.list_native_scheduled()

    assert not caught.value.permanent


def test_mastodon_withdraws_by_postponing_a_year_then_restores_the_original_time(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.put(f"{SCHEDULED}/3", json={**TOOT, "scheduled_at": "2031-05-01T09:00:00.000Z"})
    fake.put(f"{SCHEDULED}/3", json=TOOT)
    item = mastodon_item()

    withdrawn = mastodon.withdraw_native(item)
    stored = withdrawn.to_json()  # what the incident code keeps meanwhile
    remote_id = mastodon.restore_native(NativeScheduled.from_json(stored))

    assert withdrawn == item  # the original time is kept for the restore
    assert remote_id == "3"
    postpone, restore = fake.calls
    for call in (postpone, restore):
        assert call.request.method == "PUT"
        assert call.request.url == f"{SCHEDULED}/3"
        assert call.request.headers["Authorization"] == "Bearer tok-1"
        assert call.request.headers["Content-Type"] == "application/json"
    assert put_body(postpone) == {"scheduled_at": "2031-05-01T09:00:00Z"}
    assert put_body(restore) == {"scheduled_at": "2030-05-01T09:00:00.000Z"}


def test_mastodon_withdrawing_a_status_already_due_postpones_it_a_year_from_now(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.put(f"{SCHEDULED}/3", json=TOOT)

    withdrawn = mastodon.withdraw_native(mastodon_item("2030-04-30T11:58:00.000Z"))

    assert put_body(fake.calls[0]) == {"scheduled_at": "2031-04-30T12:00:00Z"}
    assert withdrawn.scheduled_at == "2030-04-30T11:58:00.000Z"


@pytest.mark.parametrize(
    ("original", "sent"),
    [
        ("2030-04-30T09:00:00.000Z", "2030-04-30T12:06:00Z"),  # already past
        ("2030-04-30T12:03:00.000Z", "2030-04-30T12:06:00Z"),  # inside Mastodon's 5 minutes
        ("2030-04-30T12:05:30.000Z", "2030-04-30T12:06:00Z"),  # too close to them
        ("2030-04-30T12:06:00.000Z", "2030-04-30T12:06:00.000Z"),  # far enough: unchanged
        ("2030-04-30T14:00:00+00:00", "2030-04-30T14:00:00+00:00"),
    ],
)
def test_mastodon_restores_a_time_that_has_passed_to_six_minutes_from_now(
    fake: responses.RequestsMock, mastodon: MastodonConnector, original: str, sent: str
) -> None:
    fake.put(f"{SCHEDULED}/3", json=TOOT)

    assert mastodon.restore_native(mastodon_item(original)) == "3"

    assert put_body(fake.calls[0]) == {"scheduled_at": sent}


def test_mastodon_a_withdraw_that_got_no_answer_is_safe_to_retry(
    fake: responses.RequestsMock, mastodon: MastodonConnector
) -> None:
    fake.put(f"{SCHEDULED}/3", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        mastodon.withdraw_native(mastodon_item())

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)


MASTODON_OPERATIONS: dict[str, Callable[[MastodonConnector], object]] = {
    "list": lambda connector: connector.list_native_scheduled(),
    "withdraw": lambda connector: connector.withdraw_native(mastodon_item()),
    "restore": lambda connector: connector.restore_native(mastodon_item()),
}


@pytest.mark.parametrize("operation", sorted(MASTODON_OPERATIONS))
@pytest.mark.parametrize(
    ("status", "headers", "permanent", "retry_after"),
    [
        (429, {"Retry-After": "30"}, False, 30),
        # the answers https://docs.joinmastodon.org/methods/scheduled_statuses/ documents
        (401, {}, True, None),
        (404, {}, True, None),
        (422, {}, True, None),
        (503, {}, False, None),
    ],
)
def test_mastodon_native_schedule_errors_say_whether_to_retry(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    operation: str,
    status: int,
    headers: dict[str, str],
    permanent: bool,
    retry_after: float | None,
) -> None:
    method = responses.GET if operation == "list" else responses.PUT
    url = SCHEDULED if operation == "list" else f"{SCHEDULED}/3"
    if operation == "list" and status == 422:  # the listing's 422 is a ValidationError
        body = mastodon_fake.validation_failed("Nope", "limit", "ERR_INVALID", "is not a number")
    else:
        body = mastodon_fake.error("Nope")
    fake.add(method, url, status=status, json=body, headers=headers)

    with pytest.raises(ConnectorError) as caught:
        MASTODON_OPERATIONS[operation](mastodon)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (permanent, False, status)
    assert error.retry_after == retry_after
    assert "Nope" in error.message


def test_mastodon_an_unreadable_time_is_refused_before_anything_is_sent(
    mastodon: MastodonConnector,
) -> None:
    with pytest.raises(ConnectorError) as caught:
        mastodon.withdraw_native(mastodon_item("next Tuesday"))

    assert caught.value.permanent


# --- Facebook -------------------------------------------------------------------------------


def test_facebook_lists_scheduled_posts_across_pages(fake: responses.RequestsMock, facebook: FacebookConnector) -> None:
    next_page = f"{SCHEDULED_POSTS}?{urlencode(FIELDS)}&after=QVFI"
    fake.get(
        SCHEDULED_POSTS,
        json={
            "data": [
                {
                    "id": POST_ID,
                    "message": "Open day tomorrow",
                    "attachments": {"data": [{"type": "share", "unshimmed_url": "https://liverpool.example/open-day"}]},
                    "scheduled_publish_time": MAY_1_0900,
                }
            ],
            "paging": {"cursors": {"before": "QVFA", "after": "QVFI"}, "next": next_page},
        },
        match=[matchers.query_param_matcher(FIELDS)],
    )
    fake.get(
        SCHEDULED_POSTS,
        json={
            "data": [{"id": f"{PAGE_ID}_2", "message": "Later", "scheduled_publish_time": "1904040000"}],
            "paging": {"cursors": {"before": "QVFJ", "after": "QVFK"}},
        },
        match=[matchers.query_param_matcher({**FIELDS, "after": "QVFI"})],
    )

    items = facebook.list_native_scheduled()

    assert items == [
        FB_ITEM,
        NativeScheduled(f"{PAGE_ID}_2", "2030-05-03T12:00:00Z", {"message": "Later"}),
    ]
    for call in fake.calls:
        assert call.request.method == "GET"
        assert call.request.headers["Authorization"] == "Bearer page-tok"
        assert "page-tok" not in (call.request.url or "")


def test_facebook_asks_the_page_only_for_current_page_post_fields(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(SCHEDULED_POSTS, json={"data": []})

    facebook.list_native_scheduled()

    asked = parse_qs(urlsplit(fake.calls[0].request.url or "").query)["fields"][0]
    assert "link" not in asked.split(",")


def test_facebook_never_follows_a_next_page_to_another_host(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.get(
        SCHEDULED_POSTS,
        json={
            "data": [{"id": POST_ID, "message": "a", "scheduled_publish_time": MAY_1_0900}],
            "paging": {"next": "https://graph.facebook.com.evil.example/v21.0/steal"},
        },
    )

    assert [item.remote_id for item in facebook.list_native_scheduled()] == [POST_ID]
    assert len(fake.calls) == 1


def test_facebook_an_empty_page_ends_the_listing(fake: responses.RequestsMock, facebook: FacebookConnector) -> None:
    fake.get(SCHEDULED_POSTS, json={"data": [], "paging": {"next": f"{SCHEDULED_POSTS}?after=x"}})

    assert facebook.list_native_scheduled() == []
    assert len(fake.calls) == 1


def test_facebook_follows_at_most_twenty_pages(fake: responses.RequestsMock, facebook: FacebookConnector) -> None:
    fake.get(
        SCHEDULED_POSTS,
        json={
            "data": [{"id": POST_ID, "message": "a", "scheduled_publish_time": MAY_1_0900}],
            "paging": {"next": f"{SCHEDULED_POSTS}?after=again"},
        },
    )

    assert len(facebook.list_native_scheduled()) == 20
    assert len(fake.calls) == 20


@pytest.mark.parametrize(
    "post",
    [
        {"message": "no id", "scheduled_publish_time": MAY_1_0900},
        {"id": POST_ID, "message": "no time"},
        {"id": POST_ID, "message": "odd time", "scheduled_publish_time": "soon"},
    ],
)
def test_facebook_a_listed_post_it_cannot_read_is_an_error_not_skipped(
    fake: responses.RequestsMock, facebook: FacebookConnector, post: dict[str, object]
) -> None:
    fake.get(SCHEDULED_POSTS, json={"data": [post]})

    with pytest.raises(ConnectorError) as caught:
        facebook.list_native_scheduled()

    assert not caught.value.permanent


def test_facebook_withdraws_by_deleting_then_restores_as_a_new_scheduled_post(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.delete(f"{GRAPH}/{POST_ID}", json=graph_fake.deleted())
    fake.post(FEED, json=graph_fake.page_post(PAGE_ID, "987654999"))

    withdrawn = facebook.withdraw_native(FB_ITEM)
    stored = withdrawn.to_json()  # what the incident code keeps meanwhile
    new_id = facebook.restore_native(NativeScheduled.from_json(stored))

    assert withdrawn == FB_ITEM
    assert new_id == NEW_POST_ID
    delete, schedule = fake.calls
    assert (delete.request.method, delete.request.url) == ("DELETE", f"{GRAPH}/{POST_ID}")
    assert (schedule.request.method, schedule.request.url) == ("POST", FEED)
    assert form(schedule) == {
        "message": ["Open day tomorrow"],
        "link": ["https://liverpool.example/open-day"],
        "published": ["false"],
        "scheduled_publish_time": [str(MAY_1_0900)],
    }
    assert schedule.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    for call in (delete, schedule):
        assert call.request.headers["Authorization"] == "Bearer page-tok"
        assert "page-tok" not in (call.request.url or "")


def test_facebook_restores_a_post_without_a_link_with_its_message_only(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.post(FEED, json=graph_fake.page_post(PAGE_ID, "987654999"))

    facebook.restore_native(NativeScheduled(POST_ID, FB_ITEM.scheduled_at, {"message": "Hi"}))

    assert form(fake.calls[0]) == {
        "message": ["Hi"],
        "published": ["false"],
        "scheduled_publish_time": [str(MAY_1_0900)],
    }


@pytest.mark.parametrize(
    ("original", "sent"),
    [
        (NOW - timedelta(hours=3), NOW + timedelta(minutes=15)),  # already past
        (NOW + timedelta(minutes=8), NOW + timedelta(minutes=15)),  # inside Facebook's 10
        (NOW + timedelta(minutes=10, seconds=30), NOW + timedelta(minutes=15)),  # too close
        (NOW + timedelta(minutes=11), NOW + timedelta(minutes=11)),  # far enough: unchanged
        (NOW + timedelta(days=3), NOW + timedelta(days=3)),
    ],
)
def test_facebook_restores_a_time_that_has_passed_to_fifteen_minutes_from_now(
    fake: responses.RequestsMock, facebook: FacebookConnector, original: datetime, sent: datetime
) -> None:
    fake.post(FEED, json=graph_fake.page_post(PAGE_ID, "987654999"))

    assert facebook.restore_native(fb_item(original)) == NEW_POST_ID

    assert form(fake.calls[0])["scheduled_publish_time"] == [str(int(sent.timestamp()))]


def test_facebook_will_not_delete_a_post_it_could_not_put_back(
    facebook: FacebookConnector,
) -> None:
    with pytest.raises(ConnectorError) as caught:
        facebook.withdraw_native(NativeScheduled(POST_ID, FB_ITEM.scheduled_at, {}))

    assert caught.value.permanent


def test_facebook_a_restore_that_got_no_answer_is_ambiguous(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.post(FEED, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as caught:
        facebook.restore_native(FB_ITEM)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_restore_answered_without_an_id_is_ambiguous(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.post(FEED, json={})

    with pytest.raises(ConnectorError) as caught:
        facebook.restore_native(FB_ITEM)

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_withdraw_graph_does_not_confirm_is_permanent(
    fake: responses.RequestsMock, facebook: FacebookConnector
) -> None:
    fake.delete(f"{GRAPH}/{POST_ID}", json=graph_fake.deleted(False))

    with pytest.raises(ConnectorError) as caught:
        facebook.withdraw_native(FB_ITEM)

    assert caught.value.permanent


FACEBOOK_OPERATIONS: dict[str, tuple[str, str, Callable[[FacebookConnector], object]]] = {
    "list": (responses.GET, SCHEDULED_POSTS, lambda c: c.list_native_scheduled()),
    "withdraw": (responses.DELETE, f"{GRAPH}/{POST_ID}", lambda c: c.withdraw_native(FB_ITEM)),
    "restore": (responses.POST, FEED, lambda c: c.restore_native(FB_ITEM)),
}


@pytest.mark.parametrize("operation", sorted(FACEBOOK_OPERATIONS))
@pytest.mark.parametrize(
    ("answer", "headers", "permanent", "retry_after"),
    [
        # The Graph API's rate limits come as HTTP 400 with their code; Retry-After is honoured
        # where something in front of it sends one.
        (graph_fake.error("(#4) Application request limit reached", 4), {"Retry-After": "30"}, False, 30),
        (graph_fake.error("(#100) Invalid parameter", 100), {}, True, None),
        (graph_fake.error("(#200) Requires pages_manage_posts permission", 200), {}, True, None),
        (graph_fake.error("(#32) Page request limit reached", 32), {}, False, None),
    ],
)
def test_facebook_native_schedule_errors_say_whether_to_retry(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    operation: str,
    answer: dict[str, Any],
    headers: dict[str, str],
    permanent: bool,
    retry_after: float | None,
) -> None:
    method, url, run = FACEBOOK_OPERATIONS[operation]
    fake.add(method, url, **answer, headers=headers)

    with pytest.raises(ConnectorError) as caught:
        run(facebook)

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (permanent, False, 400)
    assert error.retry_after == retry_after
    assert answer["json"]["error"]["message"] in error.message
