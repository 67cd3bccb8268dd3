"""A fake Graph API's answers (Facebook Pages, Instagram) in the shapes of Meta's reference pages.
Each builder names the page it follows, and refuses a shape the page does not have.

- The error object, https://developers.facebook.com/docs/graph-api/guides/error-handling:
  ``{"error": {"message", "type", "code", "error_subcode", "error_user_title", "error_user_msg",
  "is_transient", "fbtrace_id"}}``, with the codes listed there, the rate-limit codes of
  https://developers.facebook.com/docs/graph-api/overview/rate-limiting, and Instagram's of
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes
  (every one of which is answered with HTTP 400).
- Page feed, https://developers.facebook.com/docs/graph-api/reference/page/feed/: a publish
  answers ``{"id": "{page-id}_{post-id}"}``; deleting a post answers ``{"success": true}``.
- Photo, https://developers.facebook.com/docs/graph-api/reference/photo/ (Creating): a photo
  posted to ``/{page-id}/photos`` answers ``{"id", "post_id"}``; one uploaded with
  ``published=false`` is no post, so only its ``{"id"}`` comes back (the multi-photo flow of
  https://developers.facebook.com/docs/graph-api/photo-uploads/). Error 324: "Missing or
  invalid image file".
- Page videos, https://developers.facebook.com/docs/video-api/guides/publishing: a video posted
  to ``graph-video.facebook.com/{page-id}/videos`` answers ``{"id"}``; its captions
  (https://developers.facebook.com/docs/graph-api/reference/video/captions/, ``POST
  /{video-id}/captions``) answer ``{"success": true}``.
- IG User media, https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media:
  a container answers ``{"id"}``; IG User media_publish
  (.../reference/ig-user/media_publish) answers the media's ``{"id"}``.
- IG Container, https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container:
  ``status_code`` is EXPIRED, ERROR, FINISHED, IN_PROGRESS or PUBLISHED; ``status`` carries the
  error subcode when it is ERROR.
"""

from __future__ import annotations

from typing import Any

ERROR_FIELDS = frozenset(
    {"message", "type", "code", "error_subcode", "error_user_title", "error_user_msg", "is_transient", "fbtrace_id"}
)
ERROR_TYPES = frozenset({"OAuthException", "GraphMethodException", "FacebookApiException"})
# error-handling: 1, 2 (downtime), 3, 4, 10, 17, 100 (invalid parameter), 102, 190, 200-299,
# 341, 368, 506 (duplicate post), 1609005; rate limiting: 4, 17, 32, 613, 80001-80014;
# Instagram error codes: -2, -1, 1, 4, 9, 24, 25, 100, 352, 9004, 9007, 36000-36003; the Photo
# reference (Creating): 324 (missing or invalid image file).
DOCUMENTED_CODES = frozenset(
    {-2, -1, 1, 2, 3, 4, 9, 10, 17, 24, 25, 32, 100, 102, 190, 324, 341, 352, 368, 506, 613, 9004, 9007}
    | set(range(200, 300))
    | set(range(36000, 36004))
    | set(range(80001, 80015))
    | {1609005}
)
# Instagram and most Graph errors are HTTP 400; codes 1 and 2 (the platform's own trouble) may
# come with a 5xx.
SERVER_CODES = frozenset({-1, 1, 2})
CONTAINER_STATES = ("EXPIRED", "ERROR", "FINISHED", "IN_PROGRESS", "PUBLISHED")


def error(
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    status: int = 400,
    kind: str = "OAuthException",
    **fields: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: a Graph error object as the error-handling page shows it."""
    if code not in DOCUMENTED_CODES:
        raise ValueError(f"Graph error code {code} is on none of the reference pages this fake follows")
    if kind not in ERROR_TYPES:
        raise ValueError(f"Graph error type {kind!r} is not one the pages show")
    if status != 400 and not (status >= 500 and code in SERVER_CODES):
        raise ValueError(f"Graph answers code {code} with HTTP 400, not {status}")
    unknown = set(fields) - ERROR_FIELDS
    if unknown:
        raise ValueError(f"a Graph error object has no {sorted(unknown)}")
    body: dict[str, Any] = {"message": message, "type": kind, "code": code, **fields}
    if subcode is not None:
        body["error_subcode"] = subcode
    body.setdefault("fbtrace_id", "AbCdEfGhIjK")
    return {"status": status, "json": {"error": body}}


def page_post(page_id: str, post_id: str) -> dict[str, str]:
    """``POST /{page-id}/feed``: the new post's id."""
    return {"id": f"{page_id}_{post_id}"}


def photo(photo_id: str, post_id: str | None = None) -> dict[str, str]:
    """``POST /{page-id}/photos``: the photo's id, and the Page post it made unless it was
    uploaded with ``published=false``."""
    body = {"id": photo_id}
    if post_id is not None:
        body["post_id"] = post_id
    return body


def video(video_id: str) -> dict[str, str]:
    """``POST graph-video.facebook.com/{page-id}/videos``: the video's id."""
    return {"id": video_id}


def captions_added() -> dict[str, bool]:
    """``POST /{video-id}/captions``: read-after-write of the video, ``{"success": true}``."""
    return {"success": True}


def deleted(success: bool = True) -> dict[str, bool]:
    """``DELETE /{post-id}``."""
    return {"success": success}


def container(container_id: str) -> dict[str, str]:
    """``POST /{ig-user-id}/media``: the container's id."""
    return {"id": container_id}


def media(media_id: str) -> dict[str, str]:
    """``POST /{ig-user-id}/media_publish``: the published media's id."""
    return {"id": media_id}


def container_status(container_id: str, status_code: str, status: str | None = None) -> dict[str, str]:
    """``GET /{ig-container-id}?fields=status_code,status``."""
    if status_code not in CONTAINER_STATES:
        raise ValueError(f"an IG Container's status_code is one of {CONTAINER_STATES}, not {status_code!r}")
    body = {"status_code": status_code, "id": container_id}
    if status is not None:
        body["status"] = status
    return body


def page_feed_post(post_id: str, message: str, created_time: str) -> dict[str, str]:
    """One Page Post as ``GET /{page-id}/feed?fields=id,message,created_time,permalink_url``
    lists it (https://developers.facebook.com/docs/graph-api/reference/page/feed/#read,
    fields of https://developers.facebook.com/docs/graph-api/reference/pagepost/):
    ``created_time`` as Graph writes times, ``2026-11-29T10:30:00+0000``."""
    return {
        "id": post_id,
        "message": message,
        "created_time": created_time,
        "permalink_url": f"https://www.facebook.com/{post_id.replace('_', '/posts/')}",
    }


def ig_media(media_id: str, caption: str, timestamp: str) -> dict[str, str]:
    """One IG Media as ``GET /{ig-user-id}/media?fields=id,caption,timestamp,permalink`` lists it
    (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media)."""
    return {
        "id": media_id,
        "caption": caption,
        "timestamp": timestamp,
        "permalink": f"https://www.instagram.com/p/{media_id[-6:]}/",
    }


def listing(
    data: list[dict[str, str]], *, next_url: str | None = None, after: str | None = None, before: str | None = None
) -> dict[str, Any]:
    """A Graph edge's page (https://developers.facebook.com/docs/graph-api/results): ``data``,
    and ``paging`` with ``cursors`` (cursor-based edges such as IG media) and ``next`` only when
    there is another page (time-based edges such as a Page feed give ``previous``/``next`` URLs
    without cursors)."""
    body: dict[str, Any] = {"data": data}
    paging: dict[str, Any] = {}
    if after or before:
        paging["cursors"] = {"before": before or "QVFIUbefore", "after": after or "QVFIUafter"}
    if next_url:
        paging["next"] = next_url
    if paging:
        body["paging"] = paging
    return body
