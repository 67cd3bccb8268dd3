"""What each platform takes in one post: how many images or videos, which formats, how big, how
long, and how long an alt text may be; checked when a post is drafted and again when it is
approved, so a post that the platform would refuse at its time never gets that far.

The figures are the platforms' own, from the reference page named beside each; the README's
Connectors table shows them. Where an instance may set its own (Mastodon), the default is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lockdown.errors import InvalidInput

MB = 1024 * 1024
STILL = ("image/jpeg", "image/png", "image/webp", "image/gif")


@dataclass(frozen=True)
class MediaLimits:
    """One platform's limits for the media of one post."""

    items: int  # images and videos together
    images: int
    videos: int
    mixed: bool  # whether images and a video may go in one post
    image_types: tuple[str, ...]
    image_bytes: int
    video_bytes: int
    video_seconds: tuple[float, float]  # shortest and longest
    alt_text_chars: int
    captions: str  # where a video's captions go on this platform (for people)
    source: str
    gif_bytes: int | None = None  # a GIF's own ceiling, where it differs
    # An animated GIF or WebP: "yes" goes like any image, "alone" only as the post's one medium
    # (the platform turns it into a video), "no" is refused.
    animated: str = "yes"
    image_pixels: int | None = None  # width x height, where the platform sets a ceiling


LIMITS: dict[str, MediaLimits] = {
    # https://docs.x.com/x-api/media/quickstart/best-practices ; alt text: POST /2/media/metadata
    "x": MediaLimits(
        items=4, images=4, videos=1, mixed=False, image_types=STILL, image_bytes=5 * MB, gif_bytes=15 * MB,
        video_bytes=8 * 1024 * MB, video_seconds=(0.5, 1200), alt_text_chars=1000, animated="alone",
        captions="SubRip, attached with POST /2/media/subtitles",
        source="https://docs.x.com/x-api/media/quickstart/best-practices",
    ),
    # https://docs.joinmastodon.org/user/posting/#media and the instance's configuration.media_attachments
    # (defaults: images 16 MB, videos 99 MB; an animated GIF becomes a video, alone; descriptions
    # 1,500 characters, MAX_DESCRIPTION_LENGTH in Mastodon's source).
    "mastodon": MediaLimits(
        items=4, images=4, videos=1, mixed=False, image_types=STILL, image_bytes=16 * MB,
        video_bytes=99 * MB, video_seconds=(0.1, 3600), alt_text_chars=1500, animated="alone",
        captions="none taken (the description carries the alt text)",
        source="https://docs.joinmastodon.org/methods/media/",
    ),
    # app.bsky.embed.images and app.bsky.embed.video in ../shared/specs/atproto-lexicons allow
    # 2,000,000-byte images and 300 MB videos now, but a PDS of the 0.4 line (the reference
    # server the tests run) still refuses images over 1,000,000 bytes and videos over 100 MB at
    # createRecord: the lower figures hold on any PDS. Three minutes: the video tutorial.
    "bluesky": MediaLimits(
        items=4, images=4, videos=1, mixed=False, image_types=STILL, image_bytes=1_000_000,
        video_bytes=100_000_000, video_seconds=(0.1, 180), alt_text_chars=2000,
        captions="WebVTT blobs in app.bsky.embed.video",
        source="https://docs.bsky.app/docs/tutorials/video",
    ),
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
    # (JPEG only, 8 MB; reels 3 s to 15 min, 300 MB; carousels up to 10 items).
    "instagram": MediaLimits(
        items=10, images=10, videos=10, mixed=True, image_types=("image/jpeg",), image_bytes=8 * MB,
        video_bytes=300 * MB, video_seconds=(3, 900), alt_text_chars=1000,
        captions="none taken through the API",
        source="https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media",
    ),
    # https://developers.facebook.com/docs/graph-api/photo-uploads/ (JPEG, BMP, PNG, GIF, TIFF,
    # under 10 MB; "animated photos are not supported") and
    # https://developers.facebook.com/docs/graph-api/video-uploads (non-resumable: 1 GB, 20 min);
    # captions: https://developers.facebook.com/docs/graph-api/reference/video/captions/
    "facebook": MediaLimits(
        items=10, images=10, videos=1, mixed=False, image_types=("image/jpeg", "image/png", "image/gif"),
        image_bytes=10 * MB, video_bytes=1024 * MB, video_seconds=(1, 1200), alt_text_chars=1000, animated="no",
        captions="SubRip on the video's captions edge",
        source="https://developers.facebook.com/docs/graph-api/photo-uploads/",
    ),
    # https://learn.microsoft.com/linkedin/marketing/community-management/shares/images-api ,
    # .../videos-api (MP4, 75 KB to 500 MB, 3 s to 30 min) and .../multiimage-post-api (2 to 20).
    "linkedin": MediaLimits(
        items=20, images=20, videos=1, mixed=False, image_types=("image/jpeg", "image/png", "image/gif"),
        image_bytes=36 * MB, video_bytes=500 * MB, video_seconds=(3, 1800), alt_text_chars=4086,
        image_pixels=36_152_320,
        captions="SubRip, uploaded with the video",
        source="https://learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api",
    ),
}  # fmt: skip
# A platform with no media flow of its own here (a webhook, an outbox): what most take.
DEFAULT = MediaLimits(
    items=4, images=4, videos=1, mixed=False, image_types=STILL, image_bytes=16 * MB,
    video_bytes=100 * MB, video_seconds=(0.1, 3600), alt_text_chars=1500,
    captions="the webhook's receiver is given the files' links", source="",
)  # fmt: skip
NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "instagram": "Instagram",
         "facebook": "Facebook", "linkedin": "LinkedIn"}  # fmt: skip


class Medium(Protocol):
    """What the check reads of a stored medium."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def bytes(self) -> int: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def alt_text(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def frames(self) -> int: ...


def limits_for(platform: str) -> MediaLimits:
    """The platform's limits, or the common ones for a platform with no media flow here."""
    return LIMITS.get(platform, DEFAULT)


def check_media_limits(platform: str, media: Sequence[Medium], *, field: str = "media_ids") -> None:
    """400 naming ``field`` if the platform would refuse these media in one post."""
    if not media:
        return
    limits, name = limits_for(platform), NAMES.get(platform, platform)
    images = [m for m in media if m.kind == "image"]
    videos = [m for m in media if m.kind == "video"]
    if len(media) > limits.items:
        raise InvalidInput(f"{field}: {name} takes at most {limits.items} images or videos in one post", field=field)
    if len(images) > limits.images:
        raise InvalidInput(f"{field}: {name} takes at most {limits.images} images in one post", field=field)
    if len(videos) > limits.videos:
        raise InvalidInput(f"{field}: {name} takes at most {_count(limits.videos, 'video')} in one post", field=field)
    if images and videos and not limits.mixed:
        raise InvalidInput(f"{field}: {name} takes images or a video in one post, not both", field=field)
    animated = [m for m in images if m.frames > 1]
    if animated and limits.animated == "no":
        raise InvalidInput(f"{field}: {name} takes no animated images; upload the animation as a video", field=field)
    if animated and limits.animated == "alone" and len(media) > 1:
        raise InvalidInput(f"{field}: {name} takes an animated image only as the post's one medium", field=field)
    for position, medium in enumerate(media, start=1):
        _check_one(name, limits, position, medium, field)


def _check_one(name: str, limits: MediaLimits, position: int, medium: Medium, field: str) -> None:
    which = f"{field}: {medium.kind} {position} (media {medium.id})"
    if len(medium.alt_text) > limits.alt_text_chars:
        raise InvalidInput(
            f"{which} has {len(medium.alt_text)} characters of alt text; {name} takes {limits.alt_text_chars}",
            field=field,
        )
    if medium.kind == "image":
        if medium.mime not in limits.image_types:
            formats = ", ".join(t.removeprefix("image/").upper() for t in limits.image_types)
            raise InvalidInput(f"{which} is {_format(medium.mime)}; {name} takes {formats} only", field=field)
        if limits.image_pixels and medium.width * medium.height > limits.image_pixels:
            raise InvalidInput(
                f"{which} has {medium.width * medium.height:,} pixels; {name} takes {limits.image_pixels:,}",
                field=field,
            )
        ceiling = limits.gif_bytes if medium.mime == "image/gif" and limits.gif_bytes else limits.image_bytes
        if medium.bytes > ceiling:
            raise InvalidInput(f"{which} is {_size(medium.bytes)}; {name} takes {_size(ceiling)}", field=field)
        return
    if medium.bytes > limits.video_bytes:
        raise InvalidInput(f"{which} is {_size(medium.bytes)}; {name} takes {_size(limits.video_bytes)}", field=field)
    shortest, longest = limits.video_seconds
    seconds = medium.duration or 0.0
    if not shortest <= seconds <= longest:
        raise InvalidInput(
            f"{which} lasts {seconds:g} s; {name} takes videos of {shortest:g} s to {longest:g} s", field=field
        )


def _format(mime: str) -> str:
    return mime.removeprefix("image/").upper()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _size(count: int) -> str:
    if count >= MB:
        return f"{count / MB:.1f} MB".replace(".0 MB", " MB")
    return f"{count / 1000:.0f} kB" if count >= 1000 else f"{count} bytes"
