"""LinkedIn media: the images or video of a post uploaded by LinkedIn's own flows, before the post
that shows them (``connectors.linkedin``).

Images, by the Images API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api):
``POST https://api.linkedin.com/rest/images?action=initializeUpload`` with
``{"initializeUploadRequest": {"owner": <author>}}`` answers ``value.uploadUrl`` and
``value.image`` (``urn:li:image:...``); the file's bytes are ``PUT`` to ``uploadUrl``.

A video, by the Videos API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api):
``POST https://api.linkedin.com/rest/videos?action=initializeUpload`` with ``owner``,
``fileSizeBytes``, ``uploadCaptions`` (true when it has captions) and ``uploadThumbnail: false``
answers ``value.video`` (``urn:li:video:...``), ``value.uploadToken``,
``value.uploadInstructions`` (``uploadUrl``, ``firstByte``, ``lastByte``: parts of 4 MiB, byte
ranges inclusive) and ``value.captionsUploadUrl``. Each part is ``PUT`` to its URL and answered
with an ``ETag``; the SubRip captions are ``PUT`` to ``captionsUploadUrl``; then
``POST /rest/videos?action=finalizeUpload`` with ``video``, ``uploadToken`` and the
``uploadedPartIds`` (the ETags, in order) completes it. LinkedIn then processes the video:
``GET /rest/videos/{urn}`` is read (a few times, a few seconds apart) until its ``status`` is
``AVAILABLE``, so a post never shows a video that failed (``PROCESSING_FAILED``: permanent) or
is not ready (still ``PROCESSING``: transient, the video kept for the next attempt).

Upload URLs are LinkedIn's (``www.linkedin.com/dms-uploads/...`` in the pages' samples): the
access token goes with a ``PUT`` only to an https address on linkedin.com, as the Images API's
example sends it; to any other address the (pre-signed) URL goes without it. The outbound policy
checks every address as for any call.

None of these calls is a publish: an upload is stored unattached and unseen until a post names
it. So a 5xx or a lost answer on one is a plain transient failure (its status is not passed on,
because the one rule in ``connectors.base`` reads a 5xx as "may be live"), never retried here.
What was uploaded is kept in ``ConnectorError.progress`` as ``media:{i}`` (the URN) and
``media:{i}:sha256`` (the file it was made from), and a later attempt reuses a kept URN only for
the same file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from connectors.base import ConnectorError, OutgoingMedia

IMAGES = "https://api.linkedin.com/rest/images"
VIDEOS = "https://api.linkedin.com/rest/videos"
# The MultiImage API: a post shows 2 to 20 images; the Posts API: one video.
MOST_IMAGES = 20
# Reads of a video's status within one attempt, and the wait between them: a short clip is
# usually ready in seconds, a long one may take minutes, which later attempts wait out instead.
STATUS_READS = 4
STATUS_INTERVAL = 3.0
STILL_PROCESSING_RETRY = 60.0

Send = Callable[..., requests.Response]


def describe(item: OutgoingMedia, index: int) -> str:
    """How a press officer would name the item: "image 2", "the video"."""
    return "the video" if item.kind == "video" else f"image {index + 1}"


def kept_urn(progress: Mapping[str, str], index: int, item: OutgoingMedia) -> str:
    """The URN an earlier attempt uploaded for this very file, or ""."""
    urn = progress.get(f"media:{index}", "")
    return urn if urn and progress.get(f"media:{index}:sha256") == item.sha256 else ""


def check_shape(media: Sequence[OutgoingMedia]) -> None:
    """Refuse, before uploading anything, what no LinkedIn post can show."""
    videos = sum(1 for item in media if item.kind == "video")
    if videos and len(media) > 1:
        raise ConnectorError("a LinkedIn post shows one video alone, without images", permanent=True)
    if len(media) > MOST_IMAGES:
        raise ConnectorError(f"a LinkedIn post shows at most {MOST_IMAGES} images, not {len(media)}", permanent=True)


def content(media: Sequence[OutgoingMedia], urns: Sequence[str]) -> dict[str, Any]:
    """The post's ``content``: ``media`` for one image (with ``altText``) or the video (Posts API),
    ``multiImage.images`` for two or more images (MultiImage API)."""
    if not media:
        return {}
    if media[0].kind == "video":
        return {"content": {"media": {"id": urns[0]}}}
    images = [{"id": urn, "altText": item.alt_text} for item, urn in zip(media, urns, strict=True)]
    if len(images) == 1:
        return {"content": {"media": images[0]}}
    return {"content": {"multiImage": {"images": images}}}


@dataclass
class Uploads:
    """The uploads of one publish, through the connector's ``send`` (its session and errors)."""

    send: Send
    headers: Mapping[str, str]
    owner: str
    sleep: Callable[[float], None]

    def upload(self, media: Sequence[OutgoingMedia], kept: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        """Each item's URN, uploading only what ``kept`` lacks, and the progress to keep; a
        ConnectorError carries the progress made before it."""
        check_shape(media)
        urns: list[str] = []
        progress: dict[str, str] = {}
        for index, item in enumerate(media):
            name = describe(item, index)
            try:
                urn = kept_urn(kept, index, item) or self._upload_one(item, name)
                progress.update({f"media:{index}": urn, f"media:{index}:sha256": item.sha256})
                if item.kind == "video":
                    self._wait_until_available(urn, name)
            except ConnectorError as exc:
                if exc.permanent:  # this item will not do: nothing of it is worth keeping
                    progress.pop(f"media:{index}", None)
                    progress.pop(f"media:{index}:sha256", None)
                exc.progress = dict(progress)
                raise
            urns.append(urn)
        return urns, progress

    def _upload_one(self, item: OutgoingMedia, name: str) -> str:
        return self._upload_video(item, name) if item.kind == "video" else self._upload_image(item, name)

    def _upload_image(self, item: OutgoingMedia, name: str) -> str:
        value = self._initialize(IMAGES, {"owner": self.owner}, name)
        url, urn = value.get("uploadUrl"), value.get("image")
        if not isinstance(url, str) or not isinstance(urn, str):
            raise ConnectorError(f"LinkedIn gave no upload address for {name}", permanent=False)
        self._put(url, item.read(), name)
        return urn

    def _upload_video(self, item: OutgoingMedia, name: str) -> str:
        size = os.path.getsize(item.path)
        captions = item.captions_srt
        request = {"owner": self.owner, "fileSizeBytes": size, "uploadCaptions": captions is not None,
                   "uploadThumbnail": False}  # fmt: skip
        value = self._initialize(VIDEOS, request, name)
        urn, parts = value.get("video"), _parts(value.get("uploadInstructions"), size)
        if not isinstance(urn, str) or not parts:
            raise ConnectorError(f"LinkedIn gave no upload instructions for {name}", permanent=False)
        etags = [self._put_part(item.path, part, name) for part in parts]
        if captions is not None:
            self._put_captions(value.get("captionsUploadUrl"), captions, name)
        finalize = {"video": urn, "uploadToken": str(value.get("uploadToken") or ""), "uploadedPartIds": etags}
        self._call("POST", VIDEOS, name, params={"action": "finalizeUpload"},
                   json={"finalizeUploadRequest": finalize}, headers=self.headers)  # fmt: skip
        return urn

    def _put_part(self, path: str, part: tuple[str, int, int], name: str) -> str:
        url, first, last = part
        with open(path, "rb") as handle:  # one part in memory at a time, not the whole video
            handle.seek(first)
            data = handle.read(last - first + 1)
        etag = self._put(url, data, name).headers.get("ETag")
        if not etag:
            raise ConnectorError(f"LinkedIn did not confirm a part of {name} (no ETag)", permanent=False)
        return etag

    def _put_captions(self, url: Any, captions: str, name: str) -> None:
        if not isinstance(url, str) or not url:
            raise ConnectorError(f"LinkedIn gave no address for the captions of {name}", permanent=False)
        self._put(url, captions.encode("utf-8"), name)

    def _wait_until_available(self, urn: str, name: str) -> None:
        status = ""
        for read in range(STATUS_READS):
            if read:
                self.sleep(STATUS_INTERVAL)
            body = _json(self._call("GET", f"{VIDEOS}/{quote(urn, safe='')}", name, headers=self.headers))
            status = str(body.get("status") or "")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise ConnectorError(
                    f"LinkedIn could not process {name} ({urn}: PROCESSING_FAILED); check that it plays and "
                    "is an MP4 within LinkedIn's limits, then attach it again",
                    permanent=True,
                )
        raise ConnectorError(
            f"LinkedIn is still processing {name} ({status or 'no status'}); the post waits for it",
            permanent=False,
            retry_after=STILL_PROCESSING_RETRY,
        )

    def _initialize(self, endpoint: str, request: Mapping[str, Any], name: str) -> dict[str, Any]:
        response = self._call("POST", endpoint, name, params={"action": "initializeUpload"},
                              json={"initializeUploadRequest": dict(request)}, headers=self.headers)  # fmt: skip
        value = _json(response).get("value")
        return value if isinstance(value, dict) else {}

    def _put(self, url: str, data: bytes, name: str) -> requests.Response:
        headers = {"Content-Type": "application/octet-stream"}
        if _linkedin_https(url):
            headers["Authorization"] = str(self.headers["Authorization"])
        return self._call("PUT", url, name, data=data, headers=headers)

    def _call(self, method: str, url: str, name: str, **kwargs: Any) -> requests.Response:
        """One upload call: safe to repeat (``idempotent``) since nothing it does is seen, and a
        5xx passed on without its status so that it is not read as "may be live"."""
        try:
            return self.send(method, url, idempotent=True, **kwargs)
        except ConnectorError as exc:
            server_error = (exc.status or 0) >= 500
            raise ConnectorError(
                f"{name} could not be uploaded to LinkedIn: {exc.message}",
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                status=None if server_error else exc.status,
            ) from exc


def _parts(instructions: Any, size: int) -> list[tuple[str, int, int]]:
    """The upload instructions as (url, first, last), if they cover the file exactly in order."""
    if not isinstance(instructions, list):
        return []
    parts, expected = [], 0
    for part in instructions:
        url = part.get("uploadUrl") if isinstance(part, dict) else None
        first, last = (part.get("firstByte"), part.get("lastByte")) if isinstance(part, dict) else (None, None)
        if not isinstance(url, str) or first != expected or not isinstance(last, int) or last < first:
            return []
        parts.append((url, first, last))
        expected = last + 1
    return parts if expected == size else []


def _linkedin_https(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == "linkedin.com" or host.endswith(".linkedin.com"))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
