"""The LinkedIn connector's media: images through the Images API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api),
a video with its captions through the Videos API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api),
attached to the post as the Posts API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api) and
the MultiImage API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/multiimage-post-api)
show. Every answer comes from ``linkedin_fake``; the files are real (``tests.media_samples``)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost
from connectors.linkedin import LinkedInConnector
from tests.connectors import linkedin_fake
from tests.media_samples import SRT, outgoing_image, outgoing_video

API = "https://api.linkedin.com/rest"
POSTS = f"{API}/posts"
IMAGES = f"{API}/images"
VIDEOS = f"{API}/videos"
AUTHOR = "urn:li:organization:123"
POST_URN = "urn:li:share:7123456789012345678"
IMAGE = "urn:li:image:C4E10AQFoyyAjHPMQuQ"
VIDEO = "urn:li:video:C5F10AQGKQg_6y2a4sQ"
ENCODED_VIDEO = "urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ"


@pytest.fixture
def linkedin() -> LinkedInConnector:
    connector = LinkedInConnector({"author": AUTHOR}, {"access_token": "li-tok"})
    connector.sleep = lambda seconds: None
    return connector


def image_urn(n: int) -> str:
    return f"{IMAGE}{n}"


def action(name: str) -> list[Any]:
    return [matchers.query_param_matcher({"action": name})]


def expect_image(fake: responses.RequestsMock, urn: str, **failure: Any) -> str:
    """The Images API's two calls for one image; ``failure`` replaces the PUT's answer."""
    init = linkedin_fake.image_upload_initialized(urn)
    fake.post(IMAGES, match=action("initializeUpload"), **init)
    url = init["json"]["value"]["uploadUrl"]
    fake.put(url, **(failure or linkedin_fake.image_uploaded()))
    return str(url)


def expect_video(fake: responses.RequestsMock, media: OutgoingMedia, *, token: str = "") -> list[str]:
    """The Videos API's calls up to finalizeUpload; the parts' ETags in order."""
    size = os.path.getsize(media.path)
    init = linkedin_fake.video_upload_initialized(
        VIDEO, size, upload_token=token, captions=media.captions_srt is not None
    )
    fake.post(VIDEOS, match=action("initializeUpload"), **init)
    etags = []
    for n, part in enumerate(init["json"]["value"]["uploadInstructions"]):
        etags.append(f'"etag-{n}"')
        fake.put(part["uploadUrl"], **linkedin_fake.part_uploaded(etags[-1]))
    if media.captions_srt is not None:
        fake.put(init["json"]["value"]["captionsUploadUrl"], **linkedin_fake.captions_uploaded())
    fake.post(VIDEOS, match=action("finalizeUpload"), **linkedin_fake.finalized())
    return etags


def expect_status(fake: responses.RequestsMock, *statuses: str) -> None:
    for status in statuses:
        fake.get(f"{VIDEOS}/{ENCODED_VIDEO}", **linkedin_fake.video(VIDEO, status, AUTHOR))


def calls_to(fake: responses.RequestsMock, method: str, prefix: str) -> list[Any]:
    return [c for c in fake.calls if c.request.method == method and str(c.request.url).startswith(prefix)]


def posted(fake: responses.RequestsMock) -> dict[str, Any]:
    (call,) = calls_to(fake, "POST", POSTS)
    return dict(json.loads(call.request.body))


def failure_of(linkedin: LinkedInConnector, post: OutgoingPost) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        linkedin.publish(post)
    return caught.value


def big_video(tmp_path: Path) -> OutgoingMedia:
    """A captioned video past one 4 MiB part: a real MP4 followed by noise (LinkedIn's upload
    does not read the file, it cuts it into byte ranges)."""
    clip = outgoing_video(tmp_path)
    data = Path(clip.path).read_bytes() + os.urandom(2 * linkedin_fake.VIDEO_PART + 1000)
    Path(clip.path).write_bytes(data)
    return dataclasses.replace(clip, size=len(data))


# --- images -------------------------------------------------------------------------------


def test_one_image_is_uploaded_by_the_images_api_and_posted_with_its_alt_text(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photo = outgoing_image(tmp_path, alt_text="The Victoria Building's clock tower at dusk")
    url = expect_image(fake, IMAGE)
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    published = linkedin.publish(make_post(media=(photo,)))

    assert published.remote_id == POST_URN
    (init,) = calls_to(fake, "POST", IMAGES)
    assert json.loads(init.request.body) == {"initializeUploadRequest": {"owner": AUTHOR}}
    assert init.request.headers["LinkedIn-Version"]
    assert init.request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    (put,) = calls_to(fake, "PUT", url)
    assert put.request.body == Path(photo.path).read_bytes()
    # The Images API page's upload example sends the token to LinkedIn's upload host.
    assert put.request.headers["Authorization"] == "Bearer li-tok"
    assert posted(fake)["content"] == {"media": {"id": IMAGE, "altText": "The Victoria Building's clock tower at dusk"}}


def test_several_images_become_a_multi_image_post_in_their_order_each_with_its_alt_text(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photos = tuple(
        outgoing_image(tmp_path, fmt=fmt, name=f"p{n}", alt_text=f"Photo {n} of the open day")
        for n, fmt in enumerate(["JPEG", "PNG", "GIF"])
    )
    urls = [expect_image(fake, image_urn(n)) for n in range(3)]
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    linkedin.publish(make_post(media=photos))

    for url, photo in zip(urls, photos, strict=True):
        (put,) = calls_to(fake, "PUT", url)
        assert put.request.body == Path(photo.path).read_bytes()
    assert posted(fake)["content"] == {
        "multiImage": {"images": [{"id": image_urn(n), "altText": f"Photo {n} of the open day"} for n in range(3)]}
    }


def test_a_post_without_media_has_no_content(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, post: OutgoingPost
) -> None:
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    linkedin.publish(post)

    assert "content" not in posted(fake)


def test_uploaded_images_are_kept_when_the_post_fails_and_reused_on_the_retry(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photos = (outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, name="b", fmt="PNG"))
    for n in range(2):
        expect_image(fake, image_urn(n))
    fake.post(POSTS, **linkedin_fake.error(429, "Resource level throttle limit reached"), headers={"Retry-After": "60"})

    error = failure_of(linkedin, make_post(media=photos))

    assert (error.permanent, error.ambiguous, error.retry_after) == (False, False, 60)
    assert error.progress == {
        "media:0": image_urn(0), "media:0:sha256": photos[0].sha256,
        "media:1": image_urn(1), "media:1:sha256": photos[1].sha256,
    }  # fmt: skip

    fake.reset()  # the retry: only the post is sent
    fake.post(POSTS, **linkedin_fake.created(POST_URN))
    linkedin.publish(make_post(media=photos, progress=error.progress))

    assert [c.request.url for c in fake.calls] == [POSTS]
    assert [i["id"] for i in posted(fake)["content"]["multiImage"]["images"]] == [image_urn(0), image_urn(1)]


def test_uploads_are_forgotten_when_linkedin_refuses_the_post(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    expect_image(fake, IMAGE)
    fake.post(POSTS, **linkedin_fake.error(400, "Image urn:li:image:C4E10AQFoyyAjHPMQuQ is not available"))

    error = failure_of(linkedin, make_post(media=(outgoing_image(tmp_path),)))

    # A person changes the post and tries again: the image is uploaded afresh.
    assert (error.permanent, error.status, error.progress) == (True, 400, {})


def test_a_kept_upload_of_another_file_is_not_reused(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photo = outgoing_image(tmp_path)
    expect_image(fake, image_urn(2))
    fake.post(POSTS, **linkedin_fake.created(POST_URN))
    # The post's image was replaced since the attempt that uploaded image 1.
    kept = {"media:0": image_urn(1), "media:0:sha256": "0" * 64}

    linkedin.publish(make_post(media=(photo,), progress=kept))

    assert posted(fake)["content"]["media"]["id"] == image_urn(2)


def test_a_failed_second_image_keeps_the_first(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photos = (outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, name="b"))
    expect_image(fake, image_urn(0))
    expect_image(fake, image_urn(1), body=requests.ReadTimeout("read timed out"))

    error = failure_of(linkedin, make_post(media=photos))

    assert (error.permanent, error.ambiguous) == (False, False)
    assert "image 2" in error.message
    assert error.progress == {"media:0": image_urn(0), "media:0:sha256": photos[0].sha256}
    assert not calls_to(fake, "POST", POSTS)


def test_an_image_linkedin_refuses_is_permanent_and_named(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photos = (outgoing_image(tmp_path, name="a"), outgoing_image(tmp_path, name="b"))
    expect_image(fake, image_urn(0))
    expect_image(fake, image_urn(1), **linkedin_fake.error(400, "Image pixel count exceeds the limit"))

    error = failure_of(linkedin, make_post(media=photos))

    assert (error.permanent, error.ambiguous, error.status) == (True, False, 400)
    assert error.message.startswith("image 2 could not be uploaded to LinkedIn")
    assert "Image pixel count exceeds the limit" in error.message
    assert not calls_to(fake, "POST", POSTS)


def test_a_rate_limited_upload_waits_as_linkedin_says(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    answer = linkedin_fake.error(429, "Resource level throttle limit reached")
    fake.post(IMAGES, match=action("initializeUpload"), headers={"Retry-After": "3600"}, **answer)

    error = failure_of(linkedin, make_post(media=(outgoing_image(tmp_path),)))

    assert (error.permanent, error.ambiguous, error.status, error.retry_after) == (False, False, 429, 3600)
    assert error.message.startswith("image 1 could not be uploaded to LinkedIn")


def test_the_token_goes_only_to_linkedins_own_upload_host(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photo = outgoing_image(tmp_path)
    elsewhere = "https://uploads.example.net/dms-uploads/C4E10AQ/uploaded-image/0?ut=1"
    fake.post(IMAGES, match=action("initializeUpload"), **linkedin_fake.image_upload_initialized(IMAGE, elsewhere))
    fake.put(elsewhere, **linkedin_fake.image_uploaded())
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    linkedin.publish(make_post(media=(photo,)))

    (put,) = calls_to(fake, "PUT", elsewhere)
    assert "Authorization" not in put.request.headers
    assert put.request.body == Path(photo.path).read_bytes()


def test_an_upload_address_the_outbound_policy_refuses_is_never_reached(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    photo = outgoing_image(tmp_path)
    # Not LinkedIn's answer: what the connector must do if an answer ever named this machine.
    inside = "https://127.0.0.1:9/dms-uploads/C4E10AQ/uploaded-image/0"
    fake.post(IMAGES, match=action("initializeUpload"), **linkedin_fake.image_upload_initialized(IMAGE, inside))
    fake.add_passthru(inside)  # past the fake, to the session's own address check

    error = failure_of(linkedin, make_post(media=(photo,)))

    assert (error.permanent, error.ambiguous) == (True, False)
    assert "image 1 could not be uploaded to LinkedIn: refused to connect to 127.0.0.1" in error.message
    assert not calls_to(fake, "POST", POSTS)


@pytest.mark.parametrize(
    "kinds", [("video", "image"), ("image",) * 21], ids=["a-video-with-an-image", "twenty-one-images"]
)
def test_what_no_linkedin_post_can_show_is_refused_before_any_upload(
    linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path, kinds: tuple[str, ...]
) -> None:
    media = tuple(
        outgoing_video(tmp_path) if kind == "video" else outgoing_image(tmp_path, name=f"p{n}")
        for n, kind in enumerate(kinds)
    )

    error = failure_of(linkedin, make_post(media=media))

    assert (error.permanent, error.ambiguous) == (True, False)  # and the fake saw no call at all


# --- video --------------------------------------------------------------------------------


def test_a_captioned_video_is_uploaded_in_its_parts_finalized_and_posted_once_available(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    clip = big_video(tmp_path)
    etags = expect_video(fake, clip, token="upload-token-1")
    expect_status(fake, "PROCESSING", "AVAILABLE")
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    linkedin.publish(make_post(media=(clip,)))

    (init, finalize) = calls_to(fake, "POST", VIDEOS)
    assert json.loads(init.request.body) == {
        "initializeUploadRequest": {
            "owner": AUTHOR, "fileSizeBytes": clip.size, "uploadCaptions": True, "uploadThumbnail": False,
        }
    }  # fmt: skip
    parts = [c for c in calls_to(fake, "PUT", "https://www.linkedin.com/") if "/uploadedVideo/" in str(c.request.url)]
    assert len(parts) == 3
    assert b"".join(c.request.body for c in parts) == Path(clip.path).read_bytes()
    (captions,) = [c for c in calls_to(fake, "PUT", "https://www.linkedin.com/") if "/captions/" in str(c.request.url)]
    assert captions.request.body == SRT.encode()
    assert json.loads(finalize.request.body) == {
        "finalizeUploadRequest": {"video": VIDEO, "uploadToken": "upload-token-1", "uploadedPartIds": etags}
    }
    assert posted(fake)["content"] == {"media": {"id": VIDEO}}


def test_a_live_video_announces_no_captions(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    clip = outgoing_video(tmp_path, captions=False)
    expect_video(fake, clip)
    expect_status(fake, "AVAILABLE")
    fake.post(POSTS, **linkedin_fake.created(POST_URN))

    linkedin.publish(make_post(media=(clip,)))

    init = calls_to(fake, "POST", VIDEOS)[0]
    assert json.loads(init.request.body)["initializeUploadRequest"]["uploadCaptions"] is False
    (part,) = calls_to(fake, "PUT", "https://www.linkedin.com/")
    assert part.request.body == Path(clip.path).read_bytes()


def test_a_video_still_processing_is_kept_and_waited_for_on_the_retry(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    clip = outgoing_video(tmp_path)
    expect_video(fake, clip)
    expect_status(fake, *["PROCESSING"] * 4)

    error = failure_of(linkedin, make_post(media=(clip,)))

    assert (error.permanent, error.ambiguous, error.retry_after) == (False, False, 60)
    assert "still processing the video" in error.message
    assert error.progress == {"media:0": VIDEO, "media:0:sha256": clip.sha256}
    assert not calls_to(fake, "POST", POSTS)

    fake.reset()  # the retry reads the kept video's status and posts it
    expect_status(fake, "AVAILABLE")
    fake.post(POSTS, **linkedin_fake.created(POST_URN))
    linkedin.publish(make_post(media=(clip,), progress=error.progress))

    assert [c.request.method for c in fake.calls] == ["GET", "POST"]
    assert posted(fake)["content"] == {"media": {"id": VIDEO}}


def test_a_video_linkedin_cannot_process_is_permanent_and_not_kept(
    fake: responses.RequestsMock, linkedin: LinkedInConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    clip = outgoing_video(tmp_path)
    expect_video(fake, clip)
    expect_status(fake, "PROCESSING_FAILED")

    error = failure_of(linkedin, make_post(media=(clip,)))

    assert (error.permanent, error.ambiguous) == (True, False)
    assert error.message.startswith("LinkedIn could not process the video")
    assert error.progress == {}
    assert not calls_to(fake, "POST", POSTS)


def test_an_unanswered_post_after_the_uploads_is_still_ambiguous_and_keeps_them(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
) -> None:
    photo = outgoing_image(tmp_path)
    expect_image(fake, IMAGE)
    fake.post(POSTS, body=unanswered)

    error = failure_of(linkedin, make_post(media=(photo,)))

    assert (error.permanent, error.ambiguous) == (False, True)  # the post may be live: #13
    assert error.progress["media:0"] == IMAGE


# --- the calls before the post are not a publish -----------------------------------------

# Each upload step, by the request it fails on: a 5xx or a lost answer there stored nothing
# anyone can see, so it is a plain transient failure, never "may be live".
STEPS = ["image-initialize", "image-put", "video-initialize", "video-part", "captions", "finalize", "video-status"]


def arrange_failing(fake: responses.RequestsMock, step: str, tmp_path: Path, failure: dict[str, Any]) -> OutgoingMedia:
    """Register the calls up to ``step``, whose answer is ``failure``; the medium to publish."""
    if step.startswith("image"):
        photo = outgoing_image(tmp_path)
        init = linkedin_fake.image_upload_initialized(IMAGE)
        fake.post(IMAGES, match=action("initializeUpload"), **(failure if step == "image-initialize" else init))
        if step == "image-put":
            fake.put(init["json"]["value"]["uploadUrl"], **failure)
        return photo
    clip = outgoing_video(tmp_path)
    vinit = linkedin_fake.video_upload_initialized(VIDEO, clip.size, captions=True)
    value = vinit["json"]["value"]
    order: list[tuple[str, str, list[Any], dict[str, Any]]] = [
        ("video-initialize", "POST", action("initializeUpload"), vinit),
        ("video-part", "PUT", [], linkedin_fake.part_uploaded('"e-0"')),
        ("captions", "PUT", [], linkedin_fake.captions_uploaded()),
        ("finalize", "POST", action("finalizeUpload"), linkedin_fake.finalized()),
        ("video-status", "GET", [], linkedin_fake.video(VIDEO, "AVAILABLE", AUTHOR)),
    ]
    urls = {
        "video-initialize": VIDEOS, "video-part": value["uploadInstructions"][0]["uploadUrl"],
        "captions": value["captionsUploadUrl"], "finalize": VIDEOS, "video-status": f"{VIDEOS}/{ENCODED_VIDEO}",
    }  # fmt: skip
    for name, method, match, answer in order:
        fake.add(method, urls[name], match=match, **(failure if name == step else answer))
        if name == step:
            break
    return clip


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_on_an_upload_step_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    step: str,
    status: int,
) -> None:
    medium = arrange_failing(fake, step, tmp_path, linkedin_fake.error(status, "Internal Server Error"))

    error = failure_of(linkedin, make_post(media=(medium,)))

    # status=None: the one rule (connectors.base) would read a 5xx as "may be live".
    assert (error.permanent, error.ambiguous, error.status) == (False, False, None)
    assert f"HTTP {status}" in error.message
    assert ("image 1" if step.startswith("image") else "the video") in error.message
    assert len(fake.calls) == len(fake.registered())  # each call once: nothing retried inside


@pytest.mark.parametrize("step", STEPS)
def test_a_lost_answer_on_an_upload_step_is_transient_not_ambiguous(
    fake: responses.RequestsMock,
    linkedin: LinkedInConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
    step: str,
) -> None:
    medium = arrange_failing(fake, step, tmp_path, {"body": unanswered})

    error = failure_of(linkedin, make_post(media=(medium,)))

    assert (error.permanent, error.ambiguous) == (False, False)
    assert len(fake.calls) == len(fake.registered())  # each call once: nothing retried inside
