"""The X connector's media (issue 16): X API v2's own upload, alt text and captions, then the
post with ``media.media_ids``, against a fake api.twitter.com whose every request and answer
the ``fake`` fixture checks against X's document (``tests/specs/x-api-v2.openapi.json``). The
answers come from ``x_fake``, each from its reference page (https://docs.x.com/x-api/media)."""

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
from connectors.media_progress import fingerprint
from connectors.x import XConnector
from tests.connectors import x_fake
from tests.connectors.openapi_check import Part, multipart_parts
from tests.media_samples import SRT, outgoing_image, outgoing_video

API = "https://api.twitter.com"
UPLOAD = f"{API}/2/media/upload"
INITIALIZE = f"{API}/2/media/upload/initialize"
METADATA = f"{API}/2/media/metadata"
SUBTITLES = f"{API}/2/media/subtitles"
TWEETS = f"{API}/2/tweets"
TWEET_ID = "1346889436626259968"
VIDEO_ID, CAPTIONS_ID = "1880028106020515840", "1880028106020515999"
NOW = 1_900_000_000.0
CHUNK = 1024
SECRETS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def x(slept: list[float]) -> XConnector:
    connector = XConnector({}, SECRETS)
    connector.sleep = slept.append
    connector.clock = lambda: NOW
    connector.chunk_size = CHUNK  # a test video goes in several chunks
    return connector


def parts(call: Any) -> dict[str, Part]:
    request = call.request
    return {part.name: part for part in multipart_parts(request.body, request.headers["Content-Type"])}


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def calls_to(fake: responses.RequestsMock, url: str) -> list[Any]:
    return [call for call in fake.calls if call.request.url.split("?")[0] == url]


def expect_video(fake: responses.RequestsMock, video: OutgoingMedia, *, chunks: int) -> None:
    """X's answers to a video's upload, processing, alt text and captions, in order."""
    fake.post(INITIALIZE, json=x_fake.initialized(VIDEO_ID))
    for _ in range(chunks):
        fake.post(f"{UPLOAD}/{VIDEO_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{VIDEO_ID}/finalize", json=x_fake.finalized(VIDEO_ID, video.size, check_after=3))
    fake.get(UPLOAD, json=x_fake.upload_status(VIDEO_ID, "in_progress", check_after=2))
    fake.get(UPLOAD, json=x_fake.upload_status(VIDEO_ID, "succeeded"))
    fake.post(METADATA, json=x_fake.metadata_created(VIDEO_ID, video.alt_text))
    expect_captions(fake)


def expect_captions(fake: responses.RequestsMock) -> None:
    fake.post(INITIALIZE, json=x_fake.initialized(CAPTIONS_ID))
    fake.post(f"{UPLOAD}/{CAPTIONS_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{CAPTIONS_ID}/finalize", json=x_fake.finalized(CAPTIONS_ID, len(SRT), state=None))
    fake.post(SUBTITLES, json=x_fake.subtitles_created(VIDEO_ID, CAPTIONS_ID, "EN"))


def chunk_count(media: OutgoingMedia) -> int:
    return -(-media.size // CHUNK)


# --- images -----------------------------------------------------------------------------------


def test_x_uploads_each_image_in_one_request_sets_its_alt_text_and_posts_them_in_order(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first = outgoing_image(tmp_path, fmt="JPEG", name="a", alt_text="The Victoria Building at dusk")
    second = outgoing_image(tmp_path, fmt="PNG", name="b", alt_text="Students queueing at the Guild")
    post = make_post(media=(first, second))
    fake.post(UPLOAD, json=x_fake.uploaded("111"))
    fake.post(METADATA, json=x_fake.metadata_created("111", first.alt_text))
    fake.post(UPLOAD, json=x_fake.uploaded("222"))
    fake.post(METADATA, json=x_fake.metadata_created("222", second.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    published = x.publish(post)

    assert published.remote_id == TWEET_ID
    uploads, described = calls_to(fake, UPLOAD), calls_to(fake, METADATA)
    for call, image in zip(uploads, (first, second), strict=True):
        form = parts(call)
        assert form["media"].data == Path(image.path).read_bytes()
        assert form["media"].content_type == image.mime
        assert form["media_category"].data == b"tweet_image"
        assert call.request.headers["Authorization"].startswith("OAuth ")
        assert 'oauth_token="at"' in call.request.headers["Authorization"]
    assert [sent_json(call) for call in described] == [
        {"id": "111", "metadata": {"alt_text": {"text": "The Victoria Building at dusk"}}},
        {"id": "222", "metadata": {"alt_text": {"text": "Students queueing at the Guild"}}},
    ]
    assert sent_json(calls_to(fake, TWEETS)[0]) == {"text": post.body, "media": {"media_ids": ["111", "222"]}}


def test_x_a_post_without_media_uploads_nothing(
    fake: responses.RequestsMock, x: XConnector, post: OutgoingPost
) -> None:
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    assert sent_json(fake.calls[0]) == {"text": post.body}


def test_x_an_image_x_refuses_is_permanent_and_named(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first, second = outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, fmt="WEBP", name="b")
    fake.post(UPLOAD, json=x_fake.uploaded("111"))
    fake.post(METADATA, json=x_fake.metadata_created("111", first.alt_text))
    fake.post(UPLOAD, **x_fake.problem("invalid-request", 400, "Invalid Request", "File size exceeds 5242880 bytes."))

    with pytest.raises(ConnectorError) as failure:
        x.publish(make_post(media=(first, second)))

    assert failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.message.startswith("image 2: X refused it: HTTP 400")
    assert "File size exceeds" in failure.value.message
    # the first image is kept for the post's next attempt, once a person fixes the second
    assert failure.value.progress["media:0"] == "111"
    assert failure.value.progress["media:0:state"] == "ready"


def test_x_uploads_a_gif_in_chunks_as_tweet_gif(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # https://docs.x.com/x-api/media/quickstart/best-practices: "Pass media_category=tweet_gif
    # to enable async upload behavior for Posts with an animated GIF" (chunked upload)
    gif = outgoing_image(tmp_path, fmt="GIF", alt_text="A red square, blinking")
    post = make_post(media=(gif,))
    fake.post(INITIALIZE, json=x_fake.initialized("555"))
    for _ in range(chunk_count(gif)):
        fake.post(f"{UPLOAD}/555/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/555/finalize", json=x_fake.finalized("555", gif.size, state="succeeded"))
    fake.post(METADATA, json=x_fake.metadata_created("555", gif.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    assert sent_json(calls_to(fake, INITIALIZE)[0]) == {
        "media_type": "image/gif",
        "media_category": "tweet_gif",
        "total_bytes": gif.size,
    }
    appends = calls_to(fake, f"{UPLOAD}/555/append")
    assert b"".join(parts(call)["media"].data for call in appends) == Path(gif.path).read_bytes()
    assert not calls_to(fake, SUBTITLES)
    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": ["555"]}


# --- video, with captions ---------------------------------------------------------------------


def test_x_uploads_a_video_in_chunks_waits_for_it_and_attaches_alt_text_and_captions(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    slept: list[float],
) -> None:
    video = outgoing_video(tmp_path)
    chunks = chunk_count(video)
    assert chunks > 1
    post = make_post(media=(video,))
    expect_video(fake, video, chunks=chunks)
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    started = calls_to(fake, INITIALIZE)
    assert sent_json(started[0]) == {
        "media_type": "video/mp4",
        "media_category": "tweet_video",
        "total_bytes": video.size,
    }
    appends = calls_to(fake, f"{UPLOAD}/{VIDEO_ID}/append")
    assert [parts(call)["segment_index"].data for call in appends] == [str(i).encode() for i in range(chunks)]
    assert b"".join(parts(call)["media"].data for call in appends) == Path(video.path).read_bytes()
    assert not calls_to(fake, f"{UPLOAD}/{VIDEO_ID}/finalize")[0].request.body
    statuses = calls_to(fake, UPLOAD)
    assert all(call.request.method == "GET" for call in statuses)
    assert "command=STATUS" in statuses[0].request.url
    assert f"media_id={VIDEO_ID}" in statuses[0].request.url
    assert slept == [3.0, 2.0]  # X's check_after_secs, each time
    assert sent_json(calls_to(fake, METADATA)[0])["metadata"] == {"alt_text": {"text": video.alt_text}}
    # the captions: SubRip, uploaded as subtitles media, tied to the video in its language
    assert sent_json(started[1]) == {"media_type": "text/srt", "media_category": "subtitles", "total_bytes": len(SRT)}
    assert parts(calls_to(fake, f"{UPLOAD}/{CAPTIONS_ID}/append")[0])["media"].data == SRT.encode()
    assert sent_json(calls_to(fake, SUBTITLES)[0]) == {
        "id": VIDEO_ID,
        "media_category": "TweetVideo",
        "subtitles": {"id": CAPTIONS_ID, "language_code": "EN", "display_name": "English"},
    }
    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": [VIDEO_ID]}


def test_x_a_live_video_goes_without_captions(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    video = outgoing_video(tmp_path, captions=False)
    post = make_post(media=(video,))
    fake.post(INITIALIZE, json=x_fake.initialized(VIDEO_ID))
    for _ in range(chunk_count(video)):
        fake.post(f"{UPLOAD}/{VIDEO_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{VIDEO_ID}/finalize", json=x_fake.finalized(VIDEO_ID, video.size, state="succeeded"))
    fake.post(METADATA, json=x_fake.metadata_created(VIDEO_ID, video.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    assert not calls_to(fake, SUBTITLES)
    assert len(calls_to(fake, INITIALIZE)) == 1


def test_x_a_video_x_could_not_process_is_permanent_and_uploaded_again_next_time(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    video = outgoing_video(tmp_path)
    fake.post(INITIALIZE, json=x_fake.initialized(VIDEO_ID))
    for _ in range(chunk_count(video)):
        fake.post(f"{UPLOAD}/{VIDEO_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{VIDEO_ID}/finalize", json=x_fake.finalized(VIDEO_ID, video.size))
    fake.get(UPLOAD, json=x_fake.upload_status(VIDEO_ID, "failed"))

    with pytest.raises(ConnectorError) as failure:
        x.publish(make_post(media=(video,)))

    assert failure.value.permanent
    assert failure.value.message.startswith("video 1: X could not process the file")
    assert failure.value.progress["media:0"] == ""


def test_x_a_video_still_processing_is_transient_and_the_retry_waits_for_the_same_upload(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    slept: list[float],
) -> None:
    video = outgoing_video(tmp_path)
    post = make_post(media=(video,))
    fake.post(INITIALIZE, json=x_fake.initialized(VIDEO_ID))
    for _ in range(chunk_count(video)):
        fake.post(f"{UPLOAD}/{VIDEO_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{VIDEO_ID}/finalize", json=x_fake.finalized(VIDEO_ID, video.size))
    for _ in range(4):
        fake.get(UPLOAD, json=x_fake.upload_status(VIDEO_ID, "in_progress", check_after=30))

    with pytest.raises(ConnectorError) as failure:
        x.publish(post)

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.retry_after == 60.0
    assert "still being processed" in failure.value.message
    assert slept == [1.0, 10.0, 10.0, 10.0]  # X's check_after_secs, never more than 10 s at a time
    progress = failure.value.progress
    assert progress["media:0"] == VIDEO_ID
    assert progress["media:0:state"] == "uploaded"
    assert float(progress["media:0:expires"]) == NOW + 86400

    # the next attempt asks about the same media, and uploads nothing again but the captions
    fake.calls.reset()
    fake.get(UPLOAD, json=x_fake.upload_status(VIDEO_ID, "succeeded"))
    fake.post(METADATA, json=x_fake.metadata_created(VIDEO_ID, video.alt_text))
    expect_captions(fake)
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(make_post(media=(video,), progress=progress))

    assert not calls_to(fake, f"{UPLOAD}/{VIDEO_ID}/append")
    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": [VIDEO_ID]}


# --- resuming from progress -------------------------------------------------------------------


def test_x_a_retry_reuses_the_media_an_earlier_attempt_made_ready(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    first, second = outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, name="b", alt_text="A blue door")
    kept = {
        "media:0": "111", "media:0:of": fingerprint(first),
        "media:0:expires": str(int(NOW + 80000)), "media:0:state": "ready",
    }  # fmt: skip
    post = make_post(media=(first, second), progress=kept)
    fake.post(UPLOAD, json=x_fake.uploaded("222"))
    fake.post(METADATA, json=x_fake.metadata_created("222", second.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    (upload,) = calls_to(fake, UPLOAD)
    assert parts(upload)["media"].data == Path(second.path).read_bytes()
    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": ["111", "222"]}


def test_x_media_kept_past_its_expiry_is_uploaded_again(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path)
    # X forgets it in five minutes: too soon to post with it
    kept = {"media:0": "111", "media:0:of": fingerprint(image), "media:0:expires": str(int(NOW + 300)),
            "media:0:state": "ready"}  # fmt: skip
    post = make_post(media=(image,), progress=kept)
    fake.post(UPLOAD, json=x_fake.uploaded("333"))
    fake.post(METADATA, json=x_fake.metadata_created("333", image.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, post.body))

    x.publish(post)

    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": ["333"]}


@pytest.mark.parametrize(
    "edit",
    [{"alt_text": "A red square, rewritten"}, {"sha256": "0" * 64}],
    ids=["alt-text-rewritten", "file-replaced"],
)
def test_x_media_kept_for_another_item_is_not_reused(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    edit: dict[str, str],
) -> None:
    before = outgoing_image(tmp_path)
    kept = {"media:0": "111", "media:0:of": fingerprint(before), "media:0:expires": str(int(NOW + 80000)),
            "media:0:state": "ready"}  # fmt: skip
    after = dataclasses.replace(before, **edit)  # a person changed the post between attempts
    fake.post(UPLOAD, json=x_fake.uploaded("444"))
    fake.post(METADATA, json=x_fake.metadata_created("444", after.alt_text))
    fake.post(TWEETS, status=201, json=x_fake.created(TWEET_ID, "x"))

    x.publish(make_post(media=(after,), progress=kept))

    assert sent_json(calls_to(fake, METADATA)[0])["metadata"] == {"alt_text": {"text": after.alt_text}}
    assert sent_json(calls_to(fake, TWEETS)[0])["media"] == {"media_ids": ["444"]}


def test_x_a_failed_post_keeps_the_uploaded_media_for_the_retry(
    fake: responses.RequestsMock, x: XConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path)
    post = make_post(media=(image,))
    fake.post(UPLOAD, json=x_fake.uploaded("111"))
    fake.post(METADATA, json=x_fake.metadata_created("111", image.alt_text))
    fake.post(TWEETS, **x_fake.problem("internal-error", 503, "Service Unavailable", "Try again later."))

    with pytest.raises(ConnectorError) as failure:
        x.publish(post)

    # the post itself may be live (X has no idempotency key): the existing rule stands
    assert failure.value.ambiguous
    assert failure.value.progress["media:0"] == "111"
    assert failure.value.progress["media:0:state"] == "ready"


# --- ambiguity: no media call is a publish ----------------------------------------------------

# Each media call, and what the fake answers before it so the connector gets there.
VIDEO_STEPS = ["initialize", "append", "finalize", "status", "metadata", "captions-initialize", "subtitles"]


def answer_video_until(fake: responses.RequestsMock, video: OutgoingMedia, step: str, failure: dict[str, Any]) -> None:
    """X's answers to a video's calls up to ``step``, which fails with ``failure``."""
    chunks = chunk_count(video)
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        ("initialize", "POST", INITIALIZE, {"json": x_fake.initialized(VIDEO_ID)}),
        *[("append", "POST", f"{UPLOAD}/{VIDEO_ID}/append", {"json": x_fake.appended()})] * chunks,
        ("finalize", "POST", f"{UPLOAD}/{VIDEO_ID}/finalize", {"json": x_fake.finalized(VIDEO_ID, video.size)}),
        ("status", "GET", UPLOAD, {"json": x_fake.upload_status(VIDEO_ID, "succeeded")}),
        ("metadata", "POST", METADATA, {"json": x_fake.metadata_created(VIDEO_ID, video.alt_text)}),
        ("captions-initialize", "POST", INITIALIZE, {"json": x_fake.initialized(CAPTIONS_ID)}),
    ]
    for name, method, url, answer in plan:
        if name == step:
            fake.add(method, url, **failure)
            return
        fake.add(method, url, **answer)
    assert step == "subtitles"
    fake.post(f"{UPLOAD}/{CAPTIONS_ID}/append", json=x_fake.appended())
    fake.post(f"{UPLOAD}/{CAPTIONS_ID}/finalize", json=x_fake.finalized(CAPTIONS_ID, len(SRT), state=None))
    fake.post(SUBTITLES, **failure)


@pytest.mark.parametrize("step", ["upload", *VIDEO_STEPS])
def test_x_a_media_call_that_got_no_answer_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
    step: str,
) -> None:
    media = media_for(fake, tmp_path, step, {"body": unanswered})

    with pytest.raises(ConnectorError) as failure:
        x.publish(make_post(media=media))

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.message.startswith(f"{media[0].kind} 1: no answer after sending")
    assert not calls_to(fake, TWEETS)
    if step not in ("upload", "initialize", "append", "finalize"):
        assert failure.value.progress["media:0"] == VIDEO_ID


@pytest.mark.parametrize("step", ["upload", *VIDEO_STEPS])
def test_x_a_server_error_on_a_media_call_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    step: str,
) -> None:
    broken = x_fake.problem("internal-error", 503, "Service Unavailable", "Media is over capacity.")
    media = media_for(fake, tmp_path, step, broken)

    with pytest.raises(ConnectorError) as failure:
        x.publish(make_post(media=media))

    assert not failure.value.permanent
    assert not failure.value.ambiguous
    assert failure.value.status is None  # the one rule must not read it as "may be live"
    assert "HTTP 503" in failure.value.message
    # sent once, and nothing after it: no retry inside the client
    assert [call.response.status_code for call in fake.calls].count(503) == 1
    assert fake.calls[-1].response.status_code == 503


def media_for(
    fake: responses.RequestsMock, tmp_path: Path, step: str, failure: dict[str, Any]
) -> tuple[OutgoingMedia, ...]:
    if step == "upload":
        fake.post(UPLOAD, **failure)
        return (outgoing_image(tmp_path),)
    video = outgoing_video(tmp_path)
    answer_video_until(fake, video, step, failure)
    return (video,)


def test_x_a_connection_that_never_opened_on_upload_is_transient(
    fake: responses.RequestsMock,
    x: XConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    never_sent: requests.RequestException,
) -> None:
    fake.post(UPLOAD, body=never_sent)

    with pytest.raises(ConnectorError) as failure:
        x.publish(make_post(media=(outgoing_image(tmp_path),)))

    assert not failure.value.permanent
    assert not failure.value.ambiguous
