"""Images and a video for a Bluesky post: each file goes to the account's PDS with
``com.atproto.repo.uploadBlob`` (https://docs.bsky.app/docs/api/com-atproto-repo-upload-blob),
and the blobs it answers with are put in the post's one embed, ``app.bsky.embed.images``
(up to 4, each with ``alt`` and ``aspectRatio``) or ``app.bsky.embed.video`` (``alt``,
``aspectRatio`` and ``captions``: the WebVTT cues uploaded as a ``text/vtt`` blob with their
``lang``). Limits are the official lexicons' (app/bsky/embed/images.json, video.json). A PDS
checks them again, against its own copy, when the record refers to the blobs: the reference
PDS in the tests (@atproto/pds 0.4.217) still holds images to 1,000,000 bytes and a video to
100,000,000, and refuses the record (400, permanent: the item is named); it also takes at most
PDS_BLOB_UPLOAD_LIMIT bytes in one upload (5 MB unless set), refusing more with a 413.

An upload only stores an unattached file on the PDS, invisible to anyone: it publishes nothing,
so a 5xx or a lost answer on it is a plain transient failure, never "may be live".
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import IO, Any

from atproto_client import models

from connectors.base import ConnectorError, OutgoingMedia
from connectors.bluesky_session import KeptSession

UPLOAD = "com.atproto.repo.uploadBlob"
MAX_IMAGES = 4  # app.bsky.embed.images: images maxLength
IMAGE_MAX_BYTES = 2_000_000  # app.bsky.embed.images#image: image maxSize ("formerly 1 MB")
VIDEO_MAX_BYTES = 300_000_000  # app.bsky.embed.video: video maxSize ("formerly 100mb")
VIDEO_MIME = "video/mp4"  # app.bsky.embed.video: video accept
CAPTIONS_MAX_BYTES = 20_000  # app.bsky.embed.video#caption: file maxSize
CAPTIONS_MIME = "text/vtt"  # app.bsky.embed.video#caption: file accept


def refuse_unsendable(media: Sequence[OutgoingMedia]) -> None:
    """Raise a permanent ConnectorError, before anything is sent, for media the lexicon forbids:
    the drafting check refuses them first, so one arriving here is a bug to see, not to send."""
    videos = [item for item in media if item.kind == "video"]
    if videos and len(media) > 1:
        raise ConnectorError("a Bluesky post takes one video alone, without images", permanent=True)
    if len(media) > MAX_IMAGES:
        raise ConnectorError(f"a Bluesky post takes at most {MAX_IMAGES} images, not {len(media)}", permanent=True)
    for name, item in named(media):
        if item.kind == "image":
            _refuse_over(name, _size(name, item), IMAGE_MAX_BYTES, "an image")
            if not item.mime.startswith("image/"):
                raise ConnectorError(f"{name} is {item.mime}, not an image", permanent=True)
        elif item.kind == "video":
            _refuse_over(name, _size(name, item), VIDEO_MAX_BYTES, "a video")
            if item.mime != VIDEO_MIME:
                raise ConnectorError(f"{name} is {item.mime}; Bluesky takes MP4 video only", permanent=True)
            if item.captions_vtt is not None:
                _refuse_over(f"{name}'s captions", len(item.captions_vtt.encode()), CAPTIONS_MAX_BYTES, "captions")
        else:
            raise ConnectorError(f"{name} is a {item.kind!r}, neither an image nor a video", permanent=True)


def _size(name: str, item: OutgoingMedia) -> int:
    """The larger of the size the item was checked at and its file's now: the file is what is
    sent, so no change since the check can slip a file over the limit."""
    try:
        return max(item.size, os.path.getsize(item.path))
    except OSError as exc:
        raise ConnectorError(f"{name} cannot be read from the media store: {exc}", permanent=True) from exc


def _refuse_over(name: str, size: int, limit: int, what: str) -> None:
    if size > limit:
        raise ConnectorError(
            f"{name} is {size:,} bytes, over the {limit:,} Bluesky takes for {what}; it was not sent",
            permanent=True,
        )


def named(media: Sequence[OutgoingMedia]) -> list[tuple[str, OutgoingMedia]]:
    """Each item with the name a press officer knows it by: "image 2", "the video"."""
    return [(f"image {n}" if item.kind == "image" else "the video", item) for n, item in enumerate(media, 1)]


# Where the PDS says a refused record went wrong: "... at $.record.embed.images[0].image".
_REFUSED_AT = re.compile(r"\$\.record\.embed\.(?:images\[(?P<image>\d+)\]|(?P<captions>captions)|video)")


def name_the_refused_item(exc: ConnectorError, media: Sequence[OutgoingMedia]) -> None:
    """Put the item's name before a refusal of the record that the PDS blames on one of its
    media (a blob over this PDS's own limit: "image 1: ... blob too big")."""
    found = _REFUSED_AT.search(exc.message) if exc.permanent and media else None
    if found is None:
        return
    if found["image"] is not None:
        name = f"image {int(found['image']) + 1}"
    else:
        name = "the video's captions" if found["captions"] else "the video"
    exc.message = f"{name}: {exc.message}"
    exc.args = (exc.message,)


def media_embed(kept: KeptSession, media: Sequence[OutgoingMedia]) -> Any:
    """Upload the media and return the embed that shows them: ``AppBskyEmbedImages.Main`` or
    ``AppBskyEmbedVideo.Main`` (atproto's models, untyped), None without media."""
    if not media:
        return None
    if media[0].kind == "video":
        return _video_embed(kept, media[0])
    images = [
        models.AppBskyEmbedImages.Image(
            image=upload_blob(kept, name, _file(item.path), item.mime),
            alt=item.alt_text,
            aspect_ratio=_aspect_ratio(item),
        )
        for name, item in named(media)
    ]
    return models.AppBskyEmbedImages.Main(images=images)


def _video_embed(kept: KeptSession, video: OutgoingMedia) -> Any:
    blob = upload_blob(kept, "the video", _file(video.path), VIDEO_MIME)
    captions = None
    if video.captions_vtt is not None:  # a live clip has none; its transcript is had on request
        cues = video.captions_vtt.encode()
        file = upload_blob(kept, "the video's captions", lambda: io.BytesIO(cues), CAPTIONS_MIME)
        captions = [models.AppBskyEmbedVideo.Caption(file=file, lang=video.captions_lang)]
    return models.AppBskyEmbedVideo.Main(
        video=blob, alt=video.alt_text or None, aspect_ratio=_aspect_ratio(video), captions=captions
    )


def _aspect_ratio(item: OutgoingMedia) -> Any:
    return models.AppBskyEmbedDefs.AspectRatio(width=item.width, height=item.height)


def _file(path: str) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    """What opens the stored file for one upload (closed by ``upload_blob``'s ``with``)."""
    return lambda: open(path, "rb")


def upload_blob(
    kept: KeptSession, name: str, opener: Callable[[], AbstractContextManager[IO[bytes]]], mime: str
) -> Any:
    """uploadBlob one file, streamed from ``opener`` (opened again if the call is repeated for
    a refused token), and the blob the PDS made of it; failures name the item."""

    def send(client: Any) -> Any:
        with opener() as body:
            # content=, not atproto's data=: httpx streams a file given as content, in chunks,
            # with its Content-Length; the Content-Type is the file's, not atproto's "*/*".
            return client.com.atproto.repo.upload_blob(None, content=body, headers={"Content-Type": mime})

    try:
        answer = kept.call(UPLOAD, send)
    except ConnectorError as exc:
        raise ConnectorError(
            f"{name}: {exc.message}",
            permanent=exc.permanent,
            ambiguous=exc.ambiguous,
            retry_after=exc.retry_after,
            status=exc.status,
        ) from exc
    return answer.blob
