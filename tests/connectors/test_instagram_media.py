"""Images and video on Instagram, against a fake Graph API whose answers follow Meta's reference
pages (``graph_fake``). Meta fetches each file from its ``public_url``
(https://developers.facebook.com/docs/instagram-platform/content-publishing/: "We cURL media used
in publishing attempts"): one image is a container with ``image_url`` and ``alt_text`` (added
March 24, 2025, "for image posts ... Reels and stories are not supported"), one video a
``media_type=REELS`` container with ``video_url``, and 2 to 10 items a carousel: one container per
item with ``is_carousel_item=true``, then a ``CAROUSEL`` container with ``children``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media),
each polled to ``FINISHED``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container),
then ``media_publish``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost
from connectors.instagram import STATUS_READS, STILL_PROCESSING_RETRY, InstagramConnector
from connectors.versions import DEFAULT_GRAPH_VERSION
from tests.connectors import graph_fake
from tests.media_samples import outgoing_image, outgoing_video

GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"
USER = f"{GRAPH}/17841400000000000"
SIGNED = "https://lockdown.liverpool.ac.uk/media/{name}?sig=abc&exp=1764400000"
FALLBACK = "https://www.liverpool.ac.uk/media/open-day.jpg"
STATUS_FIELDS = matchers.query_param_matcher({"fields": "status_code,status"})
CAPTION = "Open day tomorrow, 10:00 in the Guild"


def container_is(fake: responses.RequestsMock, container: str, *states: str, status: str | None = None) -> None:
    for state in states:
        fake.get(
            f"{GRAPH}/{container}", json=graph_fake.container_status(container, state, status), match=[STATUS_FIELDS]
        )


def makes_container(fake: responses.RequestsMock, container: str) -> None:
    fake.post(f"{USER}/media", json=graph_fake.container(container))


def sent(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(str(call.request.body))


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(waits: list[float], **settings: str) -> InstagramConnector:
    made = InstagramConnector({"ig_user_id": "17841400000000000", **settings}, {"access_token": "ig-tok"})
    made.sleep = waits.append
    return made


@pytest.fixture
def instagram(waits: list[float]) -> InstagramConnector:
    """An account with no fixed image_url: every post brings its own media."""
    return connector(waits)


def image(tmp_path: Path, name: str, alt: str = "A red square") -> OutgoingMedia:
    return outgoing_image(tmp_path, name=name, alt_text=alt, public_url=SIGNED.format(name=f"{name}.jpg"))


def video(tmp_path: Path, name: str) -> OutgoingMedia:
    return outgoing_video(tmp_path, name=name, public_url=SIGNED.format(name=f"{name}.mp4"))


def with_media(make_post: Callable[..., OutgoingPost], *media: OutgoingMedia, **changes: object) -> OutgoingPost:
    return make_post(media=tuple(media), **changes)


# --- one image, one video ------------------------------------------------------------------------


def test_instagram_one_image_is_fetched_from_its_public_url_with_its_alt_text(
    fake: responses.RequestsMock, waits: list[float], make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # The account's fixed image_url is not used when the post brings its own.
    instagram = connector(waits, image_url=FALLBACK)
    photo = image(tmp_path, "quad", alt="The Quad in spring sunshine")
    makes_container(fake, "c-1")
    container_is(fake, "c-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(with_media(make_post, photo)).remote_id == "m-9"

    create, _status, publish = fake.calls
    assert sent(create) == {
        "image_url": [SIGNED.format(name="quad.jpg")],
        "alt_text": ["The Quad in spring sunshine"],
        "caption": [CAPTION],
    }
    assert sent(publish) == {"creation_id": ["c-1"]}


def test_instagram_one_video_is_a_reel_fetched_from_its_public_url(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    makes_container(fake, "c-1")
    container_is(fake, "c-1", "IN_PROGRESS", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(with_media(make_post, video(tmp_path, "clip"))).remote_id == "m-9"

    # Reels take no alt_text ("Reels and stories are not supported"); the captions are burnt in
    # or not at all: the API has no captions file for a Reel.
    assert sent(fake.calls[0]) == {
        "media_type": ["REELS"],
        "video_url": [SIGNED.format(name="clip.mp4")],
        "caption": [CAPTION],
    }


# --- a carousel ----------------------------------------------------------------------------------


def test_instagram_two_to_ten_items_are_a_carousel_of_finished_children(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    items = (image(tmp_path, "quad", "The Quad"), video(tmp_path, "tour"), image(tmp_path, "map", "Campus map"))
    for child in ("k-1", "k-2", "k-3"):
        makes_container(fake, child)
    container_is(fake, "k-1", "FINISHED")
    container_is(fake, "k-2", "IN_PROGRESS", "FINISHED")
    container_is(fake, "k-3", "FINISHED")
    makes_container(fake, "p-1")
    container_is(fake, "p-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert instagram.publish(with_media(make_post, *items)).remote_id == "m-9"

    creates = [sent(call) for call in fake.calls if call.request.url == f"{USER}/media"]
    assert creates == [
        {"image_url": [SIGNED.format(name="quad.jpg")], "alt_text": ["The Quad"], "is_carousel_item": ["true"]},
        {"media_type": ["VIDEO"], "video_url": [SIGNED.format(name="tour.mp4")], "is_carousel_item": ["true"]},
        {"image_url": [SIGNED.format(name="map.jpg")], "alt_text": ["Campus map"], "is_carousel_item": ["true"]},
        {"media_type": ["CAROUSEL"], "children": ["k-1,k-2,k-3"], "caption": [CAPTION]},
    ]
    assert sent(fake.calls[-1]) == {"creation_id": ["p-1"]}


def test_instagram_a_lost_answer_to_the_carousel_publish_is_ambiguous_and_keeps_every_container(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    unanswered: Exception,
) -> None:
    makes_container(fake, "k-1")
    makes_container(fake, "k-2")
    container_is(fake, "k-1", "FINISHED")
    container_is(fake, "k-2", "FINISHED")
    makes_container(fake, "p-1")
    container_is(fake, "p-1", "FINISHED")
    fake.post(f"{USER}/media_publish", body=unanswered)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, image(tmp_path, "a"), image(tmp_path, "b")))

    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)
    assert caught.value.progress == {"media:0": "k-1", "media:1": "k-2", "container_id": "p-1"}


def test_instagram_a_video_child_still_processing_is_kept_with_the_others_for_a_later_attempt(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    waits: list[float],
) -> None:
    makes_container(fake, "k-1")
    makes_container(fake, "k-2")
    container_is(fake, "k-1", *["IN_PROGRESS"] * STATUS_READS)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, video(tmp_path, "tour"), image(tmp_path, "b")))

    error = caught.value
    assert (error.permanent, error.ambiguous, error.retry_after) == (False, False, STILL_PROCESSING_RETRY)
    assert error.progress == {"media:0": "k-1", "media:1": "k-2"}
    assert "video 1" in error.message
    assert "IN_PROGRESS" in error.message


def test_instagram_a_retry_polls_the_children_it_kept_and_makes_only_the_missing_one(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    makes_container(fake, "k-2")
    container_is(fake, "k-1", "FINISHED")
    container_is(fake, "k-2", "FINISHED")
    makes_container(fake, "p-1")
    container_is(fake, "p-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    post = with_media(make_post, video(tmp_path, "tour"), image(tmp_path, "b"), progress={"media:0": "k-1"})
    assert instagram.publish(post).remote_id == "m-9"

    creates = [sent(call) for call in fake.calls if call.request.url == f"{USER}/media"]
    assert creates[0]["image_url"] == [SIGNED.format(name="b.jpg")]
    assert creates[1]["children"] == ["k-1,k-2"]
    assert len(creates) == 2


def test_instagram_a_retry_with_a_finished_carousel_only_publishes_it(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    container_is(fake, "p-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    progress = {"media:0": "k-1", "media:1": "k-2", "container_id": "p-1"}
    post = with_media(make_post, image(tmp_path, "a"), image(tmp_path, "b"), progress=progress)
    assert instagram.publish(post).remote_id == "m-9"
    assert [call.request.method for call in fake.calls] == ["GET", "POST"]


def test_instagram_expired_containers_are_made_again(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # A day later: the carousel and its children all expired ("not published within 24 hours").
    container_is(fake, "p-1", "EXPIRED")
    container_is(fake, "k-1", "EXPIRED")
    container_is(fake, "k-2", "EXPIRED")
    makes_container(fake, "k-3")
    container_is(fake, "k-3", "FINISHED")
    makes_container(fake, "k-4")
    container_is(fake, "k-4", "FINISHED")
    makes_container(fake, "p-2")
    container_is(fake, "p-2", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    progress = {"media:0": "k-1", "media:1": "k-2", "container_id": "p-1"}
    post = with_media(make_post, image(tmp_path, "a"), image(tmp_path, "b"), progress=progress)
    assert instagram.publish(post).remote_id == "m-9"

    parent = [sent(call) for call in fake.calls if call.request.url == f"{USER}/media"][-1]
    assert parent["children"] == ["k-3,k-4"]
    assert sent(fake.calls[-1]) == {"creation_id": ["p-2"]}


def test_instagram_a_child_it_cannot_process_fails_the_post_naming_it(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    makes_container(fake, "k-1")
    makes_container(fake, "k-2")
    container_is(fake, "k-1", "FINISHED")
    container_is(fake, "k-2", "ERROR", status="Error: 2207026")

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, image(tmp_path, "a"), video(tmp_path, "tour")))

    error = caught.value
    assert (error.permanent, error.ambiguous) == (True, False)
    assert "video 2" in error.message
    assert "2207026" in error.message
    assert error.progress == {"media:0": "k-1", "media:1": ""}


@pytest.mark.parametrize("failure", ["server", "lost"])
@pytest.mark.parametrize("step", ["child", "carousel"])
def test_instagram_a_failure_making_a_container_is_transient_and_keeps_the_children_made(
    fake: responses.RequestsMock,
    instagram: InstagramConnector,
    make_post: Callable[..., OutgoingPost],
    tmp_path: Path,
    step: str,
    failure: str,
) -> None:
    # A container is stored, unseen: whatever became of the request, nothing was posted.
    if failure == "server":
        answer: dict[str, object] = graph_fake.error("An unexpected error has occurred", 2, status=503)
    else:
        answer = {"body": requests.ReadTimeout("read timed out")}
    makes_container(fake, "k-1")
    if step == "child":
        fake.post(f"{USER}/media", **answer)
        kept = {"media:0": "k-1"}
    else:
        makes_container(fake, "k-2")
        container_is(fake, "k-1", "FINISHED")
        container_is(fake, "k-2", "FINISHED")
        fake.post(f"{USER}/media", **answer)
        kept = {"media:0": "k-1", "media:1": "k-2"}

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, image(tmp_path, "a"), image(tmp_path, "b")))

    error = caught.value
    assert (error.permanent, error.ambiguous, error.status) == (False, False, None)
    assert error.progress == kept
    assert ("HTTP 503" if failure == "server" else "no answer") in error.message
    assert ("image 2" if step == "child" else "the carousel") in error.message
    assert sum(call.request.method == "POST" for call in fake.calls) == len(kept) + 1, "not retried in the client"


def test_instagram_a_refused_image_url_is_permanent_and_names_the_item(
    fake: responses.RequestsMock, instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    fake.post(
        f"{USER}/media",
        **graph_fake.error("Media download has failed: the image URL is not reachable", 9004, 2207052),
    )

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, image(tmp_path, "a")))

    assert (caught.value.permanent, caught.value.ambiguous) == (True, False)
    assert caught.value.message.startswith("Instagram refused image 1:")
    assert "Media download has failed" in caught.value.message


# --- what Instagram cannot be sent ---------------------------------------------------------------


def test_instagram_media_without_a_public_address_fails_permanently_before_any_call(
    instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    private = outgoing_image(tmp_path, public_url=None)

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, private))

    assert caught.value.permanent
    assert "image 1" in caught.value.message
    assert "LOCKDOWN_PUBLIC_URL" in caught.value.message


def test_instagram_takes_jpeg_images_only(
    instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # "JPEG is the only image format supported" (Content Publishing, Limitations).
    png = outgoing_image(tmp_path, fmt="PNG", public_url=SIGNED.format(name="map.png"))

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, png))

    assert caught.value.permanent
    assert "image 1 is image/png" in caught.value.message
    assert "JPEG" in caught.value.message


def test_instagram_takes_at_most_ten_items(
    instagram: InstagramConnector, make_post: Callable[..., OutgoingPost], tmp_path: Path
) -> None:
    # "Carousels are limited to 10 images, videos, or a mix of the two."
    items = [image(tmp_path, f"p{index}") for index in range(11)]

    with pytest.raises(ConnectorError) as caught:
        instagram.publish(with_media(make_post, *items))

    assert caught.value.permanent
    assert "at most 10" in caught.value.message


def test_instagram_a_post_without_media_needs_the_accounts_image_url(
    instagram: InstagramConnector, post: OutgoingPost
) -> None:
    with pytest.raises(ConnectorError) as caught:
        instagram.publish(post)

    assert caught.value.permanent
    assert "Instagram needs an image or a video" in caught.value.message


def test_instagram_a_post_without_media_falls_back_to_the_accounts_image_url(
    fake: responses.RequestsMock, waits: list[float], post: OutgoingPost
) -> None:
    makes_container(fake, "c-1")
    container_is(fake, "c-1", "FINISHED")
    fake.post(f"{USER}/media_publish", json=graph_fake.media("m-9"))

    assert connector(waits, image_url=FALLBACK).publish(post).remote_id == "m-9"
    assert sent(fake.calls[0]) == {"image_url": [FALLBACK], "caption": [CAPTION]}
