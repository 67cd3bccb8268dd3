"""The Mastodon connector's media (issue 16): ``POST /api/v2/media`` with the file and its alt
text, ``GET /api/v1/media/{id}`` while it is processed, then the status with ``media_ids``,
against a fake instance whose every request and answer the ``fake`` fixture checks against
Mastodon's document (``tests/specs/mastodon.openapi.json``). The answers come from
``mastodon_fake``, each from its reference page (https://docs.joinmastodon.org/methods/media/)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost
from connectors.mastodon import MastodonConnector
from connectors.media_progress import fingerprint
from tests.connectors import mastodon_fake
from tests.connectors.openapi_check import Part, multipart_parts
from tests.media_samples import outgoing_image, outgoing_video

BASE = "https://social.example"
UPLOAD = f"{BASE}/api/v2/media"
MEDIA = f"{BASE}/api/v1/media"
STATUSES = f"{BASE}/api/v1/statuses"


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def mastodon(slept: list[float]) -> MastodonConnector:
    connector = MastodonConnector({"base_url": BASE}, {"access_token": "tok-1"})
    connector.sleep = slept.append
    return connector


def parts(call: Any) -> dict[str, Part]:
    request = call.request
    return {part.name: part for part in multipart_parts(request.body, request.headers["Content-Type"])}


def calls_to(fake: responses.RequestsMock, url: str) -> list[Any]:
    return [call for call in fake.calls if call.request.url == url]


def uploaded(fake: responses.RequestsMock, media_id: str, item: OutgoingMedia, *, processed: bool = True) -> None:
    """The instance's answer to an upload: 200 processed, 202 still processing."""
    attachment = mastodon_fake.media_attachment(media_id, item.kind, item.alt_text, processed=processed)
    fake.post(UPLOAD, status=200 if processed else 202, json=attachment)


# --- images -----------------------------------------------------------------------------------


def test_mastodon_uploads_each_image_with_its_alt_text_and_posts_them_in_order(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first = outgoing_image(tmp_path, fmt="JPEG", name="a", alt_text="The Victoria Building at dusk")
    second = outgoing_image(tmp_path, fmt="WEBP", name="b", alt_text="Students queueing at the Guild")
    post = make_post(media=(first, second))
    uploaded(fake, "201", first)
    uploaded(fake, "202", second)
    attachments = [mastodon_fake.media_attachment(i, "image", m.alt_text) for i, m in (("201", first), ("202", second))]
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", attachments))

    published = mastodon.publish(post)

    assert published.remote_id == "109"
    for call, image in zip(calls_to(fake, UPLOAD), (first, second), strict=True):
        form = parts(call)
        assert form["file"].data == Path(image.path).read_bytes()
        assert form["file"].content_type == image.mime
        assert form["description"].data.decode() == image.alt_text  # where Mastodon reads alt text
        assert call.request.headers["Authorization"] == "Bearer tok-1"
    (status,) = calls_to(fake, STATUSES)
    assert json.loads(status.request.body) == {"status": post.body, "visibility": "public", "media_ids": ["201", "202"]}
    assert status.request.headers["Idempotency-Key"] == post.idempotency_key


def test_mastodon_an_image_the_instance_refuses_is_permanent_and_named(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first, second = outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, fmt="PNG", name="b")
    uploaded(fake, "201", first)
    refusal = mastodon_fake.error("Validation failed: File content type is invalid, File is invalid")
    fake.post(UPLOAD, status=422, json=refusal)

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(make_post(media=(first, second)))

    assert failure.value.permanent
    assert failure.value.message == (
        "image 2: Mastodon refused it: HTTP 422: Validation failed: File content type is invalid, File is invalid"
    )
    assert failure.value.progress["media:0"] == "201"  # kept for the attempt after a person fixes it
    assert not calls_to(fake, STATUSES)


# --- video ------------------------------------------------------------------------------------


def test_mastodon_waits_for_a_video_to_be_processed_before_posting_it(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    slept: list[float],
) -> None:
    video = outgoing_video(tmp_path)
    post = make_post(media=(video,))
    uploaded(fake, "301", video, processed=False)
    fake.get(f"{MEDIA}/301", status=206)
    fake.get(f"{MEDIA}/301", json=mastodon_fake.media_attachment("301", "video", video.alt_text))
    attachment = mastodon_fake.media_attachment("301", "video", video.alt_text)
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", [attachment]))

    mastodon.publish(post)

    form = parts(calls_to(fake, UPLOAD)[0])
    assert form["file"].data == Path(video.path).read_bytes()
    assert form["file"].content_type == "video/mp4"
    # a video's description is its alt text; Mastodon takes no captions file, so none is sent
    assert form["description"].data.decode() == video.alt_text
    assert set(form) == {"file", "description"}
    assert slept == [3.0, 3.0]
    assert json.loads(calls_to(fake, STATUSES)[0].request.body)["media_ids"] == ["301"]


def test_mastodon_a_video_still_processing_is_transient_and_the_retry_asks_about_the_same_upload(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
) -> None:
    video = outgoing_video(tmp_path)
    post = make_post(media=(video,))
    uploaded(fake, "301", video, processed=False)
    for _ in range(3):
        fake.get(f"{MEDIA}/301", status=206)

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(post)

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.retry_after == 60.0
    assert "still being processed" in failure.value.message
    assert failure.value.progress == {"media:0": "301", "media:0:of": fingerprint(video)}

    fake.calls.reset()
    fake.get(f"{MEDIA}/301", json=mastodon_fake.media_attachment("301", "video", video.alt_text))
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", []))

    mastodon.publish(make_post(media=(video,), progress=failure.value.progress))

    assert not calls_to(fake, UPLOAD)
    assert json.loads(calls_to(fake, STATUSES)[0].request.body)["media_ids"] == ["301"]


def test_mastodon_a_video_it_could_not_process_is_permanent_and_uploaded_again_next_time(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    video = outgoing_video(tmp_path)
    uploaded(fake, "301", video, processed=False)
    fake.get(f"{MEDIA}/301", status=422, json=mastodon_fake.error("Validation failed: File content type is invalid"))

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(make_post(media=(video,)))

    assert failure.value.permanent
    assert failure.value.message.startswith("video 1: Mastodon could not process the file")
    assert "File content type is invalid" in failure.value.message
    assert failure.value.progress["media:0"] == ""


# --- resuming from progress -------------------------------------------------------------------


def test_mastodon_a_retry_reuses_media_the_instance_still_has(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first, second = outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, name="b")
    post = make_post(media=(first, second), progress={"media:0": "201", "media:0:of": fingerprint(first)})
    fake.get(f"{MEDIA}/201", json=mastodon_fake.media_attachment("201", "image", first.alt_text))
    uploaded(fake, "202", second)
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", []))

    mastodon.publish(post)

    (upload,) = calls_to(fake, UPLOAD)
    assert parts(upload)["file"].data == Path(second.path).read_bytes()
    assert json.loads(calls_to(fake, STATUSES)[0].request.body)["media_ids"] == ["201", "202"]


def test_mastodon_media_the_instance_no_longer_has_is_uploaded_again(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path)
    post = make_post(media=(image,), progress={"media:0": "201", "media:0:of": fingerprint(image)})
    # Mastodon removes media never attached to a status after a while: 404 "Record not found"
    fake.get(f"{MEDIA}/201", status=404, json=mastodon_fake.error("Record not found"))
    uploaded(fake, "205", image)
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", []))

    mastodon.publish(post)

    assert json.loads(calls_to(fake, STATUSES)[0].request.body)["media_ids"] == ["205"]


def test_mastodon_media_kept_for_another_item_is_not_reused(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    before = outgoing_image(tmp_path)
    after = dataclasses.replace(before, alt_text="A red square, rewritten")  # edited between attempts
    uploaded(fake, "206", after)
    fake.post(STATUSES, json=mastodon_fake.status_with_media("109", []))

    mastodon.publish(make_post(media=(after,), progress={"media:0": "201", "media:0:of": fingerprint(before)}))

    assert parts(calls_to(fake, UPLOAD)[0])["description"].data.decode() == "A red square, rewritten"
    assert json.loads(calls_to(fake, STATUSES)[0].request.body)["media_ids"] == ["206"]


def test_mastodon_a_status_that_failed_keeps_the_media_and_its_idempotency_rule(
    fake: responses.RequestsMock, mastodon: MastodonConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path)
    post = make_post(media=(image,))
    uploaded(fake, "201", image)
    fake.post(STATUSES, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(post)

    # the status call may have gone through: the Idempotency-Key's hour excuses a retry (base)
    assert not failure.value.ambiguous
    assert "unanswered_since" in failure.value.progress
    assert failure.value.progress["media:0"] == "201"


# --- ambiguity: an upload publishes nothing ---------------------------------------------------


@pytest.mark.parametrize("call", ["upload", "status-read"])
def test_mastodon_a_media_call_that_got_no_answer_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
    call: str,
) -> None:
    video = outgoing_video(tmp_path)
    if call == "upload":
        fake.post(UPLOAD, body=unanswered)
    else:
        uploaded(fake, "301", video, processed=False)
        fake.get(f"{MEDIA}/301", body=unanswered)

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(make_post(media=(video,)))

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert "unanswered_since" not in failure.value.progress  # not read as a publish that may be live
    assert failure.value.message.startswith("video 1: no answer after sending")
    assert not calls_to(fake, STATUSES)


@pytest.mark.parametrize("call", ["upload", "status-read"])
def test_mastodon_a_server_error_on_a_media_call_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    mastodon: MastodonConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    call: str,
) -> None:
    video = outgoing_video(tmp_path)
    unavailable = mastodon_fake.error("Service Unavailable")
    if call == "upload":
        fake.post(UPLOAD, status=503, json=unavailable)
    else:
        uploaded(fake, "301", video, processed=False)
        fake.get(f"{MEDIA}/301", status=503, json=unavailable)

    with pytest.raises(ConnectorError) as failure:
        mastodon.publish(make_post(media=(video,)))

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.status is None  # the one rule must not read it as "may be live"
    assert "unanswered_since" not in failure.value.progress
    assert "HTTP 503" in failure.value.message
    assert [c.response.status_code for c in fake.calls].count(503) == 1  # no retry inside the client
