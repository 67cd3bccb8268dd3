"""X API v2's own media upload, for the X connector (the document
``tests/specs/x-api-v2.openapi.json``; limits at
https://docs.x.com/x-api/media/quickstart/best-practices):

- a JPEG, PNG or WebP image in one request: ``POST /2/media/upload`` (multipart ``media`` and
  ``media_category=tweet_image``; https://docs.x.com/x-api/media/media-upload);
- a video (``tweet_video``) or a GIF (``tweet_gif``) in chunks:
  ``POST /2/media/upload/initialize`` (JSON ``media_type``, ``media_category``,
  ``total_bytes``), ``POST /2/media/upload/{id}/append`` (multipart ``media`` and
  ``segment_index``, one request a chunk), ``POST /2/media/upload/{id}/finalize``
  (https://docs.x.com/x-api/media/quickstart/media-upload-chunked);
- while X processes it (``processing_info.state`` ``pending`` or ``in_progress``),
  ``GET /2/media/upload?command=STATUS&media_id=`` until ``succeeded``
  (https://docs.x.com/x-api/media/get-media-upload-status), a few reads within one attempt;
- alt text: ``POST /2/media/metadata`` with ``metadata.alt_text.text`` (at most 1,000
  characters; https://docs.x.com/x-api/media/media-metadata-create);
- captions: the SubRip file uploaded in chunks as ``media_category=subtitles``,
  ``media_type=text/srt``, then ``POST /2/media/subtitles`` ties it to the video with a
  two-letter upper-case ``language_code`` (https://docs.x.com/x-api/media/media-subtitles-create).

Every call is signed like tweepy's own (OAuth 1.0a user context) and sent through tweepy's
session to tweepy's host. None of them publishes anything: a media id is invisible until a post
names it, so a 5xx or a lost answer is a plain transient failure, never "may be live".

What is done is kept in the progress, so a retry does not upload again while X keeps the media
(``expires_after_secs``, a day for finalized media): ``media:<n>`` the media id,
``media:<n>:of`` which item it was (``connectors.media_progress``),
``media:<n>:expires`` when X forgets it (epoch seconds), ``media:<n>:state`` how far it got
(``uploaded``, ``processed``, ``ready`` once its alt text and captions are set),
``media:<n>:captions`` the subtitles' media id. An empty ``media:<n>`` (expired, or a file X
could not process) means upload it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import requests
import tweepy
from requests.auth import AuthBase

from connectors.base import ConnectorError, OutgoingMedia
from connectors.http import network_error
from connectors.media_progress import fingerprint, kept_id, label

API = "https://api.twitter.com"
# Sent in one request; the rest go in chunks, as X asks for GIFs and videos.
ONE_REQUEST = {"image/jpeg", "image/png", "image/webp"}
CHUNKED_CATEGORY = {"image/gif": "tweet_gif", "video/mp4": "tweet_video"}
# X's v1.1 reference capped a chunk at 5 MB; the v2 document caps segment_index at 999.
CHUNK = 4 * 1024 * 1024
MAX_SEGMENTS = 1000
# Status reads within one attempt, each after X's check_after_secs (at most this long); a video
# still processing after them is left to a later attempt.
STATUS_READS = 4
LONGEST_WAIT = 10.0
STILL_PROCESSING_RETRY = 60.0
# A media id kept from an earlier attempt is used only if X keeps it this much longer.
EXPIRY_MARGIN = 600.0
# Finalized media lives a day when X does not say (the quickstart's example).
DEFAULT_LIFETIME = 86400
# How far an item has gone, in ``media:<n>:state``.
UPLOADED, PROCESSED, READY = "uploaded", "processed", "ready"
# display_name of the subtitles X shows in its player, for the languages a UK university posts in.
LANGUAGES = {"EN": "English", "CY": "Cymraeg", "GA": "Gaeilge", "GD": "Gàidhlig", "FR": "Français",
             "DE": "Deutsch", "ES": "Español", "IT": "Italiano", "ZH": "中文", "AR": "العربية"}  # fmt: skip


class MediaUploader:
    """Uploads a post's media to X and keeps what is done in ``progress`` (see the module)."""

    def __init__(
        self,
        session: requests.Session,
        auth: AuthBase,
        progress: MutableMapping[str, str],
        *,
        read_error: Callable[[tweepy.HTTPException], ConnectorError],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        chunk_size: int = CHUNK,
    ) -> None:
        self.session = session
        self.auth = auth
        self.progress = progress
        self.read_error = read_error
        self.sleep = sleep
        self.clock = clock
        self.chunk_size = chunk_size

    def media_ids(self, media: tuple[OutgoingMedia, ...]) -> list[str]:
        """Every item uploaded, processed, described and captioned: their ids, in order."""
        return [self._ready(index, item) for index, item in enumerate(media)]

    def _ready(self, index: int, item: OutgoingMedia) -> str:
        key = f"media:{index}"
        media_id = self._kept(index, item)
        state = self.progress.get(f"{key}:state") if media_id else ""
        if state == READY:
            return media_id
        if not media_id:
            media_id, processing = self._upload(index, item)
            self._note(index, UPLOADED)
            self._wait_until_processed(index, item, media_id, processing)
        elif state != PROCESSED:
            # Kept from an attempt that left X still processing it: ask where it stands.
            self._wait_until_processed(index, item, media_id, None)
        self._note(index, PROCESSED)
        if item.alt_text:
            self._describe(index, item, media_id)
        if item.kind == "video" and item.captions_srt:
            self._caption(index, item, media_id)
        self._note(index, READY)
        return media_id

    def _note(self, index: int, state: str) -> None:
        self.progress[f"media:{index}:state"] = state

    def _kept(self, index: int, item: OutgoingMedia) -> str:
        """A media id an earlier attempt uploaded for this same item, if X keeps it long enough
        yet; else "" (and what was kept of it is cleared)."""
        key = f"media:{index}"
        media_id = kept_id(self.progress, index, item)
        try:
            expires = float(self.progress.get(f"{key}:expires") or 0)
        except ValueError:
            expires = 0.0
        if media_id and expires - self.clock() > EXPIRY_MARGIN:
            return media_id
        for stale in (key, f"{key}:of", f"{key}:expires", f"{key}:state", f"{key}:captions"):
            if stale in self.progress:
                self.progress[stale] = ""
        return ""

    def _upload(self, index: int, item: OutgoingMedia) -> tuple[str, Mapping[str, Any]]:
        """The new media id and its ``processing_info`` (empty: nothing to wait for)."""
        if item.mime in ONE_REQUEST:
            data = self._call(
                index, item, "POST", "/2/media/upload",
                files={"media": (f"image-{index + 1}", item.read(), item.mime)},
                data={"media_category": "tweet_image"},
            )  # fmt: skip
        elif item.mime in CHUNKED_CATEGORY:
            data = self._chunked(index, item, item.path, item.mime, CHUNKED_CATEGORY[item.mime], item.size)
        else:
            raise ConnectorError(f"{label(index, item)}: X takes no {item.mime} files", permanent=True)
        media_id = self._media_id(index, item, data)
        lifetime = data.get("expires_after_secs") or DEFAULT_LIFETIME
        self.progress[f"media:{index}"] = media_id
        self.progress[f"media:{index}:of"] = fingerprint(item)
        self.progress[f"media:{index}:expires"] = str(int(self.clock() + lifetime))
        return media_id, data.get("processing_info") or {}

    def _chunked(
        self, index: int, item: OutgoingMedia, source: str | bytes, mime: str, category: str, size: int
    ) -> dict[str, Any]:
        """initialize, append each chunk, finalize: the finalized media's ``data``. ``source``
        is the file's path, or the bytes themselves (captions)."""
        if -(-size // self.chunk_size) > MAX_SEGMENTS:
            raise ConnectorError(f"{label(index, item)} is too big to upload to X in chunks", permanent=True)
        started = self._call(
            index, item, "POST", "/2/media/upload/initialize",
            json={"media_type": mime, "media_category": category, "total_bytes": size},
        )  # fmt: skip
        upload_id = self._media_id(index, item, started)
        for segment, chunk in enumerate(self._chunks(source)):
            self._call(
                index, item, "POST", f"/2/media/upload/{upload_id}/append",
                files={"media": ("chunk", chunk, "application/octet-stream")}, data={"segment_index": str(segment)},
            )  # fmt: skip
        return self._call(index, item, "POST", f"/2/media/upload/{upload_id}/finalize")

    def _chunks(self, source: str | bytes) -> Iterator[bytes]:
        if isinstance(source, bytes):
            for start in range(0, len(source), self.chunk_size):
                yield source[start : start + self.chunk_size]
            return
        # A video is read a chunk at a time, never whole.
        with open(source, "rb") as handle:
            while chunk := handle.read(self.chunk_size):
                yield chunk

    def _wait_until_processed(
        self, index: int, item: OutgoingMedia, media_id: str, processing: Mapping[str, Any] | None
    ) -> None:
        """Until X says ``succeeded`` (or gives no ``processing_info``: nothing to process),
        reading the status after ``check_after_secs``; ``processing`` None: read it first.
        Permanent if X could not process the file, transient if it still is after the reads."""
        info = processing if processing is not None else self._status(index, item, media_id)
        reads = 0 if processing is not None else 1
        while True:
            state = str(info.get("state") or "succeeded")
            if state == "succeeded":
                return
            if state == "failed":
                self.progress[f"media:{index}"] = ""  # a retry uploads it again
                raise ConnectorError(
                    f"{label(index, item)}: X could not process the file; check that it plays, or choose another",
                    permanent=True,
                )
            if reads >= STATUS_READS:
                raise ConnectorError(
                    f"{label(index, item)} was uploaded to X and is still being processed; it is tried again later",
                    permanent=False,
                    retry_after=max(float(info.get("check_after_secs") or 0), STILL_PROCESSING_RETRY),
                )
            self.sleep(min(float(info.get("check_after_secs") or 1), LONGEST_WAIT))
            info = self._status(index, item, media_id)
            reads += 1

    def _status(self, index: int, item: OutgoingMedia, media_id: str) -> Mapping[str, Any]:
        data = self._call(index, item, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id})
        return data.get("processing_info") or {}

    def _describe(self, index: int, item: OutgoingMedia, media_id: str) -> None:
        """The alt text, where X reads it (setting it again on a retry changes nothing)."""
        self._call(
            index, item, "POST", "/2/media/metadata",
            json={"id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}},
        )  # fmt: skip

    def _caption(self, index: int, item: OutgoingMedia, video_id: str) -> None:
        """Upload the SubRip captions as subtitles media (once) and tie them to the video."""
        key = f"media:{index}:captions"
        captions_id = self.progress.get(key) or ""
        if not captions_id:
            srt = (item.captions_srt or "").encode("utf-8")
            data = self._chunked(index, item, srt, "text/srt", "subtitles", len(srt))
            captions_id = self._media_id(index, item, data)
            self.progress[key] = captions_id
        language = item.captions_lang[:2].upper()
        subtitles: dict[str, str] = {"id": captions_id, "language_code": language}
        if language in LANGUAGES:
            subtitles["display_name"] = LANGUAGES[language]
        self._call(
            index, item, "POST", "/2/media/subtitles",
            json={"id": video_id, "media_category": "TweetVideo", "subtitles": subtitles},
        )  # fmt: skip

    @staticmethod
    def _media_id(index: int, item: OutgoingMedia, data: Mapping[str, Any]) -> str:
        media_id = data.get("id")
        if not media_id:
            raise ConnectorError(f"{label(index, item)}: X answered the upload without a media id", permanent=False)
        return str(media_id)

    def _call(self, index: int, item: OutgoingMedia, method: str, route: str, **kwargs: Any) -> dict[str, Any]:
        """One media request, signed as tweepy signs; its ``data``, or ConnectorError naming
        the item. Nothing here publishes: sent-but-unanswered and 5xx are only "later"."""
        try:
            response = self.session.request(method, API + route, auth=self.auth, **kwargs)
        except requests.RequestException as exc:
            failure = network_error(exc, idempotent=True)
            raise ConnectorError(f"{label(index, item)}: {failure.message}", permanent=failure.permanent) from exc
        if not 200 <= response.status_code < 300:
            raise self._refused(index, item, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise ConnectorError(f"{label(index, item)}: X's answer could not be read", permanent=False) from exc
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else {}

    def _refused(self, index: int, item: OutgoingMedia, response: requests.Response) -> ConnectorError:
        failure = self.read_error(tweepy.HTTPException(response))
        # The one rule (connectors.base) reads a 5xx status as "may be live"; an upload is not
        # a post, so the status is left out and the message keeps it for people.
        server_error = (failure.status or 0) >= 500
        refused = "X refused it: " if failure.permanent else ""
        return ConnectorError(
            f"{label(index, item)}: {refused}{failure.message}",
            permanent=failure.permanent,
            retry_after=failure.retry_after,
            status=None if server_error else failure.status,
        )
