"""Facebook Page: ``POST https://graph.facebook.com/{version}/{page_id}/feed`` with ``message``
publishes a text post to the Page's feed (photos and video: below); ``DELETE
https://graph.facebook.com/{version}/{post_id}`` deletes.
The version is the installation's ``LOCKDOWN_GRAPH_VERSION`` (``graph_version`` beside the
settings).

Settings: ``page_id`` (the Page's numeric id). Secrets: ``page_access_token`` (a Page access
token with ``pages_manage_posts``), sent as ``Authorization: Bearer`` so it stays out of URLs.

Media (``OutgoingPost.media``, uploaded inside ``publish``, so never for a held account):

- one photo: ``POST /{page_id}/photos`` (multipart: the file as ``source``, the text as
  ``caption``, the alt text as ``alt_text_custom``; the Photo reference,
  https://developers.facebook.com/docs/graph-api/reference/photo/, lists ``message`` as
  deprecated for ``caption``). Published at once, it *is* the post: a lost answer or a 5xx is
  ambiguous. It answers ``{"id", "post_id"}``; ``post_id`` is the remote id.
- several photos (https://developers.facebook.com/docs/graph-api/photo-uploads/): each uploaded
  the same way with ``published=false``, which stores it on no one's feed: a failure there is
  only "later" (a 5xx loses its status so the one rule does not read it as "may be live") and
  is not retried within the call. Their ids go in ``progress`` as ``media:{i}`` and a retry
  reuses them. Then ``POST /{page_id}/feed`` with ``message`` and
  ``attached_media[i]={"media_fbid": id}``, which is the publish (ambiguous on a lost answer).
- a video: ``POST https://graph-video.facebook.com/{version}/{page_id}/videos`` (multipart
  ``source`` and ``description``; "Videos must be published to graph-video.facebook.com",
  https://developers.facebook.com/docs/graph-api/video-uploads, non-resumable: up to 1 GB and
  20 minutes). Published at once, it is the post (ambiguous on a lost answer); its id is the
  remote id. Then its captions: ``POST /{video_id}/captions`` with the SubRip file as
  ``captions_file`` named ``captions.{locale}.srt`` (e.g. ``en_US``) and ``default_locale``
  (https://developers.facebook.com/docs/graph-api/reference/video/captions/, 200 KB at most).
  The video is live before its captions go: a captions failure keeps ``{"video": id}`` in
  ``progress`` and says the video is on the Page; a retry sends only the captions. A live clip
  (no captions file) goes without that call.
- photos and a video together are refused (a Page post carries one or the other).

Alt text cannot go on a video: the Page videos edge has no alt text field; its captions carry
the speech. Posts with media are never scheduled natively (``scheduled_publish_time``): they go
at their time through ``publish``, like every post Lockdown sends; only ``restore_native``
schedules natively, and only a message and link. Deleting a photo post deletes the post (its
id); deleting a video deletes the video. The unpublished photos of a failed multi-photo attempt
are left on Facebook, on no feed.

Graph errors are read by ``connectors.graph_errors``: business use case limits (8000x) wait for
the window the platform reports; suspected spam (code 4, subcode 2207051) is permanent.

Native schedules (``connectors.native``): ``GET /{page_id}/scheduled_posts`` lists them, asking
only for current Page Post fields (a link is in ``attachments``' ``unshimmed_url``). A
scheduled post cannot be moved to "never", so withdrawing one deletes it (its message, link
and time were captured when it was listed) and restoring it schedules a new post with
``POST /{page_id}/feed``, ``published=false`` and ``scheduled_publish_time``, which must be
at least 10 minutes ahead (and at most 30 days, by most accounts). Only the message and link
come back: photos or other attachments of a natively scheduled post are not recreated.

Readiness: ``GET /{page_id}?fields=id,name`` (the token reaches the Page), then
``GET /debug_token?input_token={token}`` with the same token, which reports whether it is
valid, its ``scopes`` and ``expires_at`` (0: never). Without ``pages_manage_posts`` the Page
cannot be posted to: not ready. Meta documents debug_token for "an app access token or an app
developer's user access token" (reference/debug_token); a Page token issued through a
university's own app by its developer is answered (an assumption: not run against Meta here),
another may be refused, and then the check
reports the Page as reached with its permissions "not reported" rather than failing it. Page
tokens fall under the Pages business use case rate limit (4,800 calls per engaged user a day);
two calls every few hours are far within it.

The watch (``recent_posts``): ``GET /{page_id}/posts?fields=id,message,created_time,permalink_url
&since={unix}`` (the Page Feed reference, https://developers.facebook.com/docs/graph-api/reference/page/feed/:
``/posts`` shows only what the Page itself published, where ``/feed`` also holds visitors' posts,
which are not the Page speaking and must not read as out-of-band), newest first, following
``paging.next`` on the Graph host only. Reading the posts needs
``pages_read_engagement``; a token without it (Graph error 10 or 200-299) is Unwatchable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import requests

from connectors import graph_watch, native
from connectors.base import (
    Connector,
    ConnectorError,
    OutgoingMedia,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
)
from connectors.graph_errors import graph_error
from connectors.http import CONNECT_TIMEOUT, check_response, network_error, new_session
from connectors.native import NativeScheduled
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import graph_version

GRAPH_HOST = "https://graph.facebook.com"
# "Videos must be published to graph-video.facebook.com instead of the regular Graph API URL"
# (https://developers.facebook.com/docs/graph-api/video-uploads).
GRAPH_VIDEO_HOST = "https://graph-video.facebook.com"
# A video's answer comes once Facebook has taken the whole file: wait longer for it than for a
# plain call (the read timeout counts from the last byte sent).
UPLOAD_TIMEOUT = (CONNECT_TIMEOUT, 120.0)
# The Page Post's ``link`` field is deprecated since v3.3: its link comes in its attachments.
SCHEDULED_FIELDS = "id,message,scheduled_publish_time,attachments{type,unshimmed_url}"
MAX_SCHEDULED_PAGES = 20
# Facebook schedules 10 minutes to 30 days ahead. A restore whose original time is less than
# RESTORE_AT_LEAST ahead (10 minutes, and one to spare for the request) goes out
# RESTORE_OTHERWISE from now.
RESTORE_AT_LEAST = timedelta(minutes=11)
RESTORE_OTHERWISE = timedelta(minutes=15)
# What publishing to a Page's feed needs (https://developers.facebook.com/docs/pages-api/posts).
NEEDED_PERMISSION = "pages_manage_posts"
FEED_FIELDS = "id,message,created_time,permalink_url"
FEED_PAGE = "100"
READ_PERMISSION = "pages_read_engagement"
# Graph's "invalid OAuth access token" (expired, revoked, password changed).
INVALID_TOKEN = 190


class FacebookConnector(Connector):
    kind = "facebook"
    host = "graph.facebook.com"
    settings = (Setting("page_id"),)
    secrets = ("page_access_token",)

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)
        self.graph_url = f"{GRAPH_HOST}/{graph_version(self.config)}"

    def publish(self, post: OutgoingPost) -> Published:
        if not post.media:
            return self._publish_text(post)
        kinds = {media.kind for media in post.media}
        if kinds == {"video"} and len(post.media) == 1:
            return self._publish_video(post, post.media[0])
        if kinds != {"image"}:
            raise ConnectorError("a Facebook post carries photos or one video, not both", permanent=True)
        if len(post.media) == 1:
            return self._publish_photo(post, post.media[0])
        return self._publish_photos(post)

    def _publish_text(self, post: OutgoingPost) -> Published:
        # The Graph API has no idempotency key: a lost answer may mean a published post.
        body = self._post_graph("feed", data={"message": post.body})
        return _page_post(body.get("id"))

    def _publish_photo(self, post: OutgoingPost, image: OutgoingMedia) -> Published:
        """One photo: its upload, published at once with the text as its caption, is the post
        (so a lost answer is ambiguous, by the one rule)."""
        try:
            body = self._upload_photo(image, caption=post.body)
        except ConnectorError as exc:
            raise _saying_which(exc, "image 1") from exc
        return _page_post(body.get("post_id") or body.get("id"))

    def _publish_photos(self, post: OutgoingPost) -> Published:
        """Several photos: each uploaded unpublished (kept in ``progress`` as ``media:{i}``, and
        reused by a retry), then one feed post that attaches them all, which is the publish."""
        staged: dict[str, str] = {}
        for index, image in enumerate(post.media):
            key = f"media:{index}"
            staged[key] = post.progress.get(key) or self._stage_photo(image, index, staged)
        attached = {
            f"attached_media[{index}]": json.dumps({"media_fbid": staged[f"media:{index}"]})
            for index in range(len(post.media))
        }
        try:
            body = self._post_graph("feed", data={"message": post.body, **attached})
        except ConnectorError as exc:
            exc.progress.update(staged)
            raise
        return _page_post(body.get("id"))

    def _stage_photo(self, image: OutgoingMedia, index: int, staged: Mapping[str, str]) -> str:
        """Upload one photo with ``published=false``: stored on Facebook, on no one's feed, so
        any failure is only "later" (never ambiguous) and keeps what was staged before it."""
        try:
            body = self._upload_photo(image, published=False, idempotent=True)
        except ConnectorError as exc:
            verb = "refused" if exc.permanent else "did not take"
            raise not_a_publish(exc, progress=staged, what=f"Facebook {verb} image {index + 1}") from exc
        photo_id = body.get("id")
        if not photo_id:
            raise ConnectorError(f"Facebook took image {index + 1} but gave no id", permanent=False, progress=staged)
        return str(photo_id)

    def _upload_photo(
        self, image: OutgoingMedia, *, caption: str | None = None, published: bool = True, idempotent: bool = False
    ) -> dict[str, Any]:
        """``POST /{page_id}/photos`` with the file as ``source`` and its alt text as
        ``alt_text_custom`` (the Photo reference's "accessible alternative description")."""
        data = {"alt_text_custom": image.alt_text}
        if caption is not None:
            data["caption"] = caption
        if not published:
            data["published"] = "false"
        with stored_file(image) as handle:
            return self._post_graph(
                "photos", data=data, files={"source": (_file_name(image), handle, image.mime)}, idempotent=idempotent
            )

    def _publish_video(self, post: OutgoingPost, clip: OutgoingMedia) -> Published:
        """A video: its upload to the video host is the post (published at once, so a lost
        answer is ambiguous); its captions are added after. A video kept in ``progress`` is
        already up, and a retry only adds its captions."""
        video_id = post.progress.get("video") or self._upload_video(clip, description=post.body)
        if clip.captions_srt:
            self._add_captions(video_id, clip)
        return Published(remote_id=video_id, url=f"https://www.facebook.com/{self.config['page_id']}/videos/{video_id}")

    def _upload_video(self, clip: OutgoingMedia, *, description: str) -> str:
        """``POST https://graph-video.facebook.com/{version}/{page_id}/videos``, the file as
        ``source`` (a non-resumable upload: up to 1 GB and 20 minutes)."""
        url = f"{GRAPH_VIDEO_HOST}/{graph_version(self.config)}/{self.config['page_id']}/videos"
        try:
            with stored_file(clip) as handle:
                body = self.graph(
                    self.session, "POST", url, token=self.secret["page_access_token"],
                    data={"description": description},
                    files={"source": (_file_name(clip), handle, clip.mime)},
                    timeout=UPLOAD_TIMEOUT,
                )  # fmt: skip
        except ConnectorError as exc:
            raise _saying_which(exc, "the video") from exc
        video_id = body.get("id")
        if not video_id:
            # Answered, but with no id: the video may be on the Page, and nothing says where.
            raise ConnectorError("Facebook took the video but gave no id", permanent=False, ambiguous=True)
        return str(video_id)

    def _add_captions(self, video_id: str, clip: OutgoingMedia) -> None:
        """``POST /{video_id}/captions`` with the SubRip file as ``captions_file``, named
        ``captions.{locale}.srt`` as the Video Captions reference requires, and that locale as
        the default. The video is already up: a failure keeps it in ``progress`` (a retry sends
        only the captions, which replace any of the same locale), and is never ambiguous."""
        locale = facebook_locale(clip.captions_lang)
        srt = (clip.captions_srt or "").encode()
        try:
            self._post_graph(
                f"{video_id}/captions",
                data={"default_locale": locale},
                files={"captions_file": (f"captions.{locale}.srt", srt, "application/x-subrip")},
                idempotent=True,
                page=False,
            )
        except ConnectorError as exc:
            live = f"the video is on the Page (video {video_id}) but its captions were not added"
            raise not_a_publish(exc, progress={"video": video_id}, what=live) from exc

    def _post_graph(
        self, edge: str, *, data: Mapping[str, str], idempotent: bool = False, page: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """``POST`` to an edge of the Page (``{page_id}/{edge}``), or of another node."""
        node = f"{self.config['page_id']}/{edge}" if page else edge
        return self.graph(
            self.session, "POST", f"{self.graph_url}/{node}", token=self.secret["page_access_token"],
            idempotent=idempotent, data=dict(data), **kwargs,
        )  # fmt: skip

    def delete(self, remote_id: str) -> None:
        body = self.graph(
            self.session,
            "DELETE",
            f"{self.graph_url}/{remote_id}",
            token=self.secret["page_access_token"],
            idempotent=True,
        )
        if body.get("success") is False:
            raise ConnectorError(f"Facebook did not delete post {remote_id}", permanent=True)

    def check(self) -> Ready:
        """The Page the token reaches, and the token's own report: valid, with pages_manage_posts."""
        token = self.secret["page_access_token"]
        page = self.graph(
            self.session, "GET", f"{self.graph_url}/{self.config['page_id']}", token=token, idempotent=True,
            params={"fields": "id,name"},
        )  # fmt: skip
        name = page.get("name") or page.get("id")
        if not name:
            raise ConnectorError("Facebook named no Page for page_id", permanent=False)
        try:
            debug = self.graph(
                self.session, "GET", f"{self.graph_url}/debug_token", token=token, idempotent=True,
                params={"input_token": token},
            ).get("data")  # fmt: skip
        except ConnectorError as exc:
            # Meta documents debug_token for an app token or an app developer's token; a Page
            # token obtained by anyone else may be refused (not error 190, which is the token
            # itself). The Page answered, so it is ready as far as can be told, and says so.
            if not exc.permanent or f"code {INVALID_TOKEN}" in exc.message:
                raise
            return Ready(account=f"{name} (permissions not reported: {exc.message})")
        if not isinstance(debug, dict):
            raise ConnectorError("Facebook's debug_token said nothing about the token", permanent=False)
        if debug.get("is_valid") is False:
            said = (debug.get("error") or {}).get("message") if isinstance(debug.get("error"), dict) else None
            raise ConnectorError(f"the Page token is not valid: {said or 'debug_token says so'}", permanent=True)
        scopes = tuple(str(scope) for scope in debug.get("scopes") or () if isinstance(scope, str))
        if NEEDED_PERMISSION not in scopes:
            raise ConnectorError(
                f"the Page token of {name} lacks {NEEDED_PERMISSION} (it has: {', '.join(scopes) or 'none'})",
                permanent=True,
            )
        return Ready(account=str(name), scopes=scopes, expires_at=unix_time(debug.get("expires_at")))

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The Page's own posts created at or after ``since``, newest first (see the module's
        note); ``remote_id`` is the ``{page-id}_{post-id}`` that ``publish`` records."""
        return graph_watch.recent(
            self.session,
            f"{self.graph_url}/{self.config['page_id']}/posts",
            token=self.secret["page_access_token"],
            params={"fields": FEED_FIELDS, "since": str(int(since.timestamp())), "limit": FEED_PAGE},
            since=since,
            needs=READ_PERMISSION,
            post=_feed_post,
            follow=_next_on_graph,
        )

    def list_native_scheduled(self) -> list[NativeScheduled]:
        """The Page's scheduled posts, following ``paging.next`` (on the Graph host only, up
        to 20 pages); content is the post's ``message`` and ``link``, where it has them."""
        token = self.secret["page_access_token"]
        found: list[NativeScheduled] = []
        url: str | None = f"{self.graph_url}/{self.config['page_id']}/scheduled_posts"
        params: dict[str, str] | None = {"fields": SCHEDULED_FIELDS}
        for _ in range(MAX_SCHEDULED_PAGES):
            if url is None or not url.startswith(f"{GRAPH_HOST}/"):
                break  # never send the token to another host
            body = self.graph(self.session, "GET", url, token=token, idempotent=True, params=params)
            params = None  # a next page's URL carries its own query
            page = body.get("data")
            if not isinstance(page, list):
                raise ConnectorError("Facebook's scheduled posts were not a list", permanent=False)
            found.extend(self._native(post) for post in page)
            paging = body.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            url = following if isinstance(following, str) and page else None
        return found

    def withdraw_native(self, item: NativeScheduled) -> NativeScheduled:
        """Delete the scheduled post; the item (its message, link and original time, as
        listed) comes back for ``restore_native``. An item with neither message nor link is
        refused rather than deleted, since it could not be put back."""
        if not (item.content.get("message") or item.content.get("link")):
            raise ConnectorError(
                f"Facebook post {item.remote_id} has no message or link to restore it from; not deleting it",
                permanent=True,
            )
        native.parse_utc(item.scheduled_at)  # a time restore can read, before deleting
        self.delete(item.remote_id)
        return item

    def restore_native(self, item: NativeScheduled) -> str:
        """Schedule the post again as a new, unpublished post with its message and link, at
        its original time, or 15 minutes from now if that time has passed or is less than 11
        minutes ahead (Facebook wants at least 10). Returns the new post's id. Facebook has no
        idempotency key: if the request got no answer, a retry may schedule it twice."""
        when = native.restore_time(
            native.parse_utc(item.scheduled_at),
            now=native.utc_now(),
            at_least=RESTORE_AT_LEAST,
            otherwise=RESTORE_OTHERWISE,
        )
        data = {
            "published": "false",
            "scheduled_publish_time": str(int(when.timestamp())),
        }
        for name in ("message", "link"):
            value = item.content.get(name)
            if isinstance(value, str) and value:
                data[name] = value
        body = self.graph(
            self.session,
            "POST",
            f"{self.graph_url}/{self.config['page_id']}/feed",
            token=self.secret["page_access_token"],
            data=data,
        )
        post_id = body.get("id")
        if not post_id:
            raise ConnectorError(
                f"Facebook accepted post {item.remote_id} again but gave no id",
                permanent=False,
                ambiguous=True,
            )
        return str(post_id)

    @staticmethod
    def _native(post: Any) -> NativeScheduled:
        """One entry of ``scheduled_posts``: ``scheduled_publish_time`` is a unix time."""
        if not isinstance(post, dict) or not post.get("id"):
            raise ConnectorError(
                f"Facebook listed a scheduled post without an id: {post!r:.200}",
                permanent=False,
            )
        when = post.get("scheduled_publish_time")
        try:
            if isinstance(when, bool) or not isinstance(when, int | float | str):
                raise TypeError(when)
            moment = datetime.fromtimestamp(float(when), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ConnectorError(
                f"Facebook post {post['id']} has no usable scheduled_publish_time: {when!r}",
                permanent=False,
            ) from None
        content = {name: post[name] for name in ("message",) if isinstance(post.get(name), str)}
        link = FacebookConnector._attached_link(post.get("attachments"))
        if link:
            content["link"] = link
        return NativeScheduled(remote_id=str(post["id"]), scheduled_at=native.iso_utc(moment), content=content)

    @staticmethod
    def _attached_link(attachments: Any) -> str | None:
        """The link a post shares: its first ``share`` attachment's ``unshimmed_url``."""
        data = attachments.get("data") if isinstance(attachments, dict) else None
        for attachment in data if isinstance(data, list) else []:
            if isinstance(attachment, dict) and attachment.get("type") in ("share", None):
                url = attachment.get("unshimmed_url")
                if isinstance(url, str) and url:
                    return url
        return None

    @staticmethod
    def graph(
        session: requests.Session,
        method: str,
        url: str,
        *,
        token: str,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One Graph API call; its JSON object, or ConnectorError read from the Graph error."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = session.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc
        try:
            check_response(response)
        except ConnectorError as exc:
            raise graph_error(exc, response) from None
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


def _page_post(post_id: Any) -> Published:
    if not post_id:
        return Published(remote_id=None)
    return Published(remote_id=str(post_id), url=f"https://www.facebook.com/{post_id}")


@contextmanager
def stored_file(media: OutgoingMedia) -> Iterator[BinaryIO]:
    """The stored file, open for an upload (requests reads it as it sends); a file that cannot
    be read fails before anything is sent, so only "later" (the media store may be back)."""
    try:
        handle = open(media.path, "rb")  # noqa: SIM115 - closed below, after the upload
    except OSError as exc:
        raise ConnectorError(f"the {media.kind} file could not be read: {exc}", permanent=False) from exc
    with handle:
        yield handle


def _file_name(media: OutgoingMedia) -> str:
    """The name a file is uploaded under: the stored file's own (Lockdown names it)."""
    return os.path.basename(media.path) or f"{media.kind}.{media.mime.rpartition('/')[2]}"


# The locale a bare language is captioned in on Facebook (its locales are language_REGION).
DEFAULT_LOCALES = {"en": "en_US", "cy": "cy_GB", "fr": "fr_FR", "de": "de_DE", "es": "es_ES", "zh": "zh_CN"}


def facebook_locale(lang: str) -> str:
    """A caption language (``en``, ``en-GB``, ``cy``) as a Facebook locale (``en_US``, ``en_GB``,
    ``cy_GB``), the form its captions file names must carry."""
    language, _, region = lang.strip().replace("-", "_").partition("_")
    language = language.lower() or "en"
    if region:
        return f"{language}_{region.upper()}"
    return DEFAULT_LOCALES.get(language, f"{language}_{language.upper()}")


def _saying_which(exc: ConnectorError, what: str) -> ConnectorError:
    """The same failure of a publish, its message saying which media item it was about; the
    status stays, so the one rule still reads a 5xx as "may be live"."""
    lead = f"Facebook refused {what}" if exc.permanent else f"sending {what} to Facebook failed"
    return ConnectorError(
        f"{lead}: {exc.message}", permanent=exc.permanent, ambiguous=exc.ambiguous,
        retry_after=exc.retry_after, status=exc.status, progress=exc.progress,
    )  # fmt: skip


def not_a_publish(exc: ConnectorError, *, progress: Mapping[str, str], what: str = "") -> ConnectorError:
    """A failed call that only stores media on the platform (an unpublished photo, captions on
    a video already up, an Instagram container): nothing went out by it, so it is never
    ambiguous, and a 5xx loses its status, which the one rule (connectors.base) would read as
    "may be live"; the message keeps the status for people. A refusal stays permanent. ``what``
    (e.g. "Facebook did not take image 2") leads the message."""
    server_error = (exc.status or 0) >= 500
    return ConnectorError(
        f"{what}: {exc.message}" if what else exc.message,
        permanent=exc.permanent,
        retry_after=exc.retry_after,
        status=None if server_error else exc.status,
        progress=progress,
    )


def unix_time(value: Any) -> datetime | None:
    """A Graph ``expires_at`` (unix seconds) as a time; 0 or nothing means it does not expire."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _feed_post(item: dict[str, Any]) -> RemotePost:
    """One Page Post (https://developers.facebook.com/docs/graph-api/reference/pagepost/)."""
    link = item.get("permalink_url")
    return RemotePost(
        remote_id=str(item["id"]),
        url=link if isinstance(link, str) and link else f"https://www.facebook.com/{item['id']}",
        text=str(item.get("message") or ""),
        posted_at=graph_watch.graph_time(item.get("created_time")),
    )


def _next_on_graph(body: dict[str, Any], _url: str, _params: dict[str, str]) -> tuple[str, None] | None:
    """``paging.next``, a URL with its own query, followed only on the Graph host: the token
    goes nowhere else."""
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    if isinstance(following, str) and following.startswith(f"{GRAPH_HOST}/"):
        return following, None
    return None
