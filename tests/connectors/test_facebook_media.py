"""Photos and video on a Facebook Page post, against a fake Graph API whose answers follow Meta's
reference pages (``graph_fake``):

- one photo: ``POST /{page-id}/photos`` with the file as ``source`` and ``alt_text_custom``
  (https://developers.facebook.com/docs/graph-api/reference/photo/, Creating), answered
  ``{"id", "post_id"}``;
- several: each uploaded with ``published=false``, then ``POST /{page-id}/feed`` with
  ``attached_media[i]={"media_fbid": ...}`` (https://developers.facebook.com/docs/graph-api/photo-uploads/);
- a video: ``POST graph-video.facebook.com/{page-id}/videos`` with ``source`` and ``description``
  (https://developers.facebook.com/docs/video-api/guides/publishing), then its SubRip captions to
  ``POST /{video-id}/captions`` as ``captions_file`` named ``filename.{locale}.srt``
  (https://developers.facebook.com/docs/graph-api/reference/video/captions/).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost
from connectors.facebook import FacebookConnector, facebook_locale
from connectors.versions import DEFAULT_GRAPH_VERSION
from tests.connectors import graph_fake
from tests.connectors.form import form_parts
from tests.media_samples import SRT, outgoing_image, outgoing_video

PAGE = "1234567890"
GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
PHOTOS = f"{GRAPH}/{PAGE}/photos"
FEED = f"{GRAPH}/{PAGE}/feed"
VIDEOS = f"https://graph-video.facebook.com/{DEFAULT_GRAPH_VERSION}/{PAGE}/videos"
VIDEO_ID = "555000111"
CAPTIONS = f"{GRAPH}/{VIDEO_ID}/captions"


@pytest.fixture
def facebook() -> FacebookConnector:
    return FacebookConnector({"page_id": PAGE}, {"page_access_token": "page-tok"})


@pytest.fixture
def two_photos(tmp_path: Path) -> tuple[OutgoingMedia, ...]:
    return (
        outgoing_image(tmp_path, name="quad", alt_text="The Quad in spring sunshine"),
        outgoing_image(tmp_path, fmt="PNG", name="map", alt_text="Campus map with the Guild circled"),
    )


def with_media(make_post: Callable[..., OutgoingPost], *media: OutgoingMedia, **changes: object) -> OutgoingPost:
    return make_post(media=tuple(media), **changes)


# --- one photo: the upload is the post ------------------------------------------------------------


def test_facebook_one_photo_is_uploaded_with_its_alt_text_as_the_post(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path, alt_text="Students on the steps of the Victoria Building")
    fake.post(PHOTOS, json=graph_fake.photo("777", post_id=f"{PAGE}_888"))

    published = facebook.publish(with_media(make_post, image))

    assert published.remote_id == f"{PAGE}_888"
    assert published.url == f"https://www.facebook.com/{PAGE}_888"
    (call,) = fake.calls
    form = form_parts(call.request)
    assert form["source"].data == Path(image.path).read_bytes()
    assert form["source"].content_type == "image/jpeg"
    assert form["caption"].text == "Open day tomorrow, 10:00 in the Guild"
    assert form["alt_text_custom"].text == "Students on the steps of the Victoria Building"
    assert "published" not in form, "a single photo is published at once, as the post"
    assert call.request.headers["Authorization"] == "Bearer page-tok"


def test_facebook_a_lost_answer_to_a_single_photo_is_ambiguous(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
) -> None:
    fake.post(PHOTOS, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_image(tmp_path)))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_server_error_on_a_single_photo_is_ambiguous(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake.post(PHOTOS, **graph_fake.error("An unexpected error has occurred", 2, status=503))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_image(tmp_path)))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_refused_photo_is_permanent_and_named(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake.post(PHOTOS, **graph_fake.error("(#324) Missing or invalid image file", 324))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_image(tmp_path)))

    assert (caught.value.permanent, caught.value.ambiguous) == (True, False)
    assert caught.value.message.startswith("Facebook refused image 1:")
    assert "Missing or invalid image file" in caught.value.message


def test_facebook_a_stored_file_that_cannot_be_read_fails_before_sending(
    facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    image = outgoing_image(tmp_path)
    Path(image.path).unlink()

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, image))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, False)
    assert "image file could not be read" in caught.value.message


# --- several photos: unpublished uploads, then the feed post -------------------------------------


def test_facebook_several_photos_are_staged_unpublished_then_attached_to_one_feed_post(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    two_photos: tuple[OutgoingMedia, ...],
) -> None:
    fake.post(PHOTOS, json=graph_fake.photo("701"))
    fake.post(PHOTOS, json=graph_fake.photo("702"))
    fake.post(FEED, json=graph_fake.page_post(PAGE, "999"))

    published = facebook.publish(with_media(make_post, *two_photos))

    assert published.remote_id == f"{PAGE}_999"
    first, second, feed = fake.calls
    for call, media in ((first, two_photos[0]), (second, two_photos[1])):
        form = form_parts(call.request)
        assert form["source"].data == Path(media.path).read_bytes()
        assert form["source"].content_type == media.mime
        assert form["published"].text == "false"
        assert form["alt_text_custom"].text == media.alt_text
        assert "caption" not in form, "the text goes with the feed post, once"
    assert parse_qs(feed.request.body) == {
        "message": ["Open day tomorrow, 10:00 in the Guild"],
        "attached_media[0]": [json.dumps({"media_fbid": "701"})],
        "attached_media[1]": [json.dumps({"media_fbid": "702"})],
    }


def test_facebook_a_failed_feed_post_keeps_the_uploaded_photos_and_is_ambiguous(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    two_photos: tuple[OutgoingMedia, ...],
    unanswered: Exception,
) -> None:
    fake.post(PHOTOS, json=graph_fake.photo("701"))
    fake.post(PHOTOS, json=graph_fake.photo("702"))
    fake.post(FEED, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, *two_photos))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)
    assert caught.value.progress == {"media:0": "701", "media:1": "702"}


def test_facebook_a_retry_reuses_the_photos_already_uploaded(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    two_photos: tuple[OutgoingMedia, ...],
) -> None:
    fake.post(PHOTOS, json=graph_fake.photo("702"))
    fake.post(FEED, json=graph_fake.page_post(PAGE, "999"))

    post = with_media(make_post, *two_photos, progress={"media:0": "701"})
    assert facebook.publish(post).remote_id == f"{PAGE}_999"

    upload, feed = fake.calls
    assert form_parts(upload.request)["source"].data == Path(two_photos[1].path).read_bytes()
    assert parse_qs(feed.request.body)["attached_media[0]"] == [json.dumps({"media_fbid": "701"})]
    assert parse_qs(feed.request.body)["attached_media[1]"] == [json.dumps({"media_fbid": "702"})]


@pytest.mark.parametrize("failure", ["lost", "server"])
def test_facebook_an_unpublished_photo_upload_that_fails_is_only_transient(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    two_photos: tuple[OutgoingMedia, ...],
    failure: str,
) -> None:
    # An unpublished photo is on no one's feed: whatever became of it, nothing went out.
    fake.post(PHOTOS, json=graph_fake.photo("701"))
    if failure == "lost":
        fake.post(PHOTOS, body=requests.ReadTimeout("read timed out"))
    else:
        fake.post(PHOTOS, **graph_fake.error("An unexpected error has occurred", 2, status=503))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, *two_photos))

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, None)
    assert error.progress == {"media:0": "701"}
    assert error.message.startswith("Facebook did not take image 2")
    assert len(fake.calls) == 2, "not retried inside the client"


def test_facebook_a_refused_second_photo_is_permanent_and_names_it(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    two_photos: tuple[OutgoingMedia, ...],
) -> None:
    fake.post(PHOTOS, json=graph_fake.photo("701"))
    fake.post(PHOTOS, **graph_fake.error("(#324) Missing or invalid image file", 324))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, *two_photos))

    assert (caught.value.permanent, caught.value.ambiguous) == (True, False)
    assert caught.value.message.startswith("Facebook refused image 2:")


# --- a video, then its captions ------------------------------------------------------------------


def test_facebook_a_video_is_uploaded_to_the_video_host_then_its_subrip_captions(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    clip = outgoing_video(tmp_path)
    fake.post(VIDEOS, json=graph_fake.video(VIDEO_ID))
    fake.post(CAPTIONS, json=graph_fake.captions_added())

    published = facebook.publish(with_media(make_post, clip))

    assert published.remote_id == VIDEO_ID
    assert published.url == f"https://www.facebook.com/{PAGE}/videos/{VIDEO_ID}"
    upload, captions = fake.calls
    form = form_parts(upload.request)
    assert form["source"].data == Path(clip.path).read_bytes()
    assert form["source"].content_type == "video/mp4"
    assert form["description"].text == "Open day tomorrow, 10:00 in the Guild"
    assert upload.request.headers["Authorization"] == "Bearer page-tok"
    sent = form_parts(captions.request)
    assert sent["captions_file"].text == SRT
    assert sent["captions_file"].filename == "captions.en_US.srt"
    assert sent["default_locale"].text == "en_US"
    assert captions.request.headers["Authorization"] == "Bearer page-tok"


def test_facebook_a_live_clip_goes_without_a_captions_call(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake.post(VIDEOS, json=graph_fake.video(VIDEO_ID))

    assert facebook.publish(with_media(make_post, outgoing_video(tmp_path, captions=False))).remote_id == VIDEO_ID
    assert len(fake.calls) == 1


def test_facebook_a_lost_answer_to_the_video_upload_is_ambiguous(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
) -> None:
    fake.post(VIDEOS, body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_video(tmp_path)))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)


def test_facebook_a_video_it_cannot_process_is_permanent_and_named(
    fake: responses.RequestsMock, facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake.post(
        VIDEOS,
        **graph_fake.error("Sorry, the video file you selected is in a format that we don't support.", 352),
    )

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_video(tmp_path)))

    assert (caught.value.permanent, caught.value.ambiguous) == (True, False)
    assert caught.value.message.startswith("Facebook refused the video:")
    assert "format that we don't support" in caught.value.message


@pytest.mark.parametrize("failure", ["lost", "server"])
def test_facebook_failed_captions_keep_the_live_video_and_only_they_are_sent_again(
    fake: responses.RequestsMock,
    facebook: FacebookConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    failure: str,
) -> None:
    clip = outgoing_video(tmp_path)
    fake.post(VIDEOS, json=graph_fake.video(VIDEO_ID))
    if failure == "lost":
        fake.post(CAPTIONS, body=requests.ReadTimeout("read timed out"))
    else:
        fake.post(CAPTIONS, **graph_fake.error("An unexpected error has occurred", 2, status=503))

    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, clip))

    error = caught.value
    # Captions are added to a video already up: a repeat replaces them, never posts twice.
    assert (error.permanent, error.ambiguous, error.status) == (False, False, None)
    assert error.progress == {"video": VIDEO_ID}
    assert error.message.startswith(f"the video is on the Page (video {VIDEO_ID}) but its captions were not added")

    fake.post(CAPTIONS, json=graph_fake.captions_added())
    assert facebook.publish(with_media(make_post, clip, progress=error.progress)).remote_id == VIDEO_ID
    assert [call.request.url for call in fake.calls][-1] == CAPTIONS
    assert not any(call.request.url == VIDEOS for call in fake.calls[2:])


def test_facebook_does_not_mix_photos_and_a_video_in_one_post(
    facebook: FacebookConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    with pytest.raises(ConnectorError) as caught:
        facebook.publish(with_media(make_post, outgoing_image(tmp_path), outgoing_video(tmp_path)))

    assert caught.value.permanent
    assert "photos or one video" in caught.value.message


@pytest.mark.parametrize(
    ("lang", "locale"), [("en", "en_US"), ("en-GB", "en_GB"), ("cy", "cy_GB"), ("pt_br", "pt_BR"), ("it", "it_IT")]
)
def test_facebook_names_a_captions_file_by_a_facebook_locale(lang: str, locale: str) -> None:
    # "File name must be in the format filename.locale.srt" (Video Captions reference).
    assert facebook_locale(lang) == locale
