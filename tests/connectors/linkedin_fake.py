"""A fake LinkedIn Posts API's answers in the shapes of its reference pages. Each builder names
the page it follows, and refuses a shape the page does not have.

- Posts API, https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api:
  creating a post answers ``201 Created`` with no body and the post's URN in ``x-restli-id``;
  deleting one answers ``204 No Content``; identical content again is ``422`` with the code
  ``DUPLICATE_POST``.
- Images API, https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api:
  ``POST /rest/images?action=initializeUpload`` answers ``{"value": {"uploadUrlExpiresAt",
  "uploadUrl", "image"}}``, the upload URL on ``www.linkedin.com/dms-uploads/...``; the image's
  bytes are ``PUT`` there (``201 Created``).
- Videos API, https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api:
  ``POST /rest/videos?action=initializeUpload`` answers ``{"value": {"uploadUrlsExpireAt",
  "video", "uploadInstructions": [{"uploadUrl", "firstByte", "lastByte"}], "uploadToken"}}``
  (with ``captionsUploadUrl`` when captions were announced); each part is ``PUT`` to its URL and
  answered with its ``ETag``; ``POST /rest/videos?action=finalizeUpload`` answers ``200`` with no
  body; ``GET /rest/videos/{urn}`` gives the video's ``status`` (``WAITING_UPLOAD``,
  ``PROCESSING``, ``AVAILABLE``, ``PROCESSING_FAILED``). Parts are 4 MiB (4,194,304 bytes).
- Errors, https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling:
  ``{"status", "serviceErrorCode", "code", "message"}`` with the statuses that page lists; a
  sunset ``LinkedIn-Version`` is ``426``
  (https://learn.microsoft.com/en-us/linkedin/marketing/versioning).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# error-handling: 400, 401, 403, 404, 405, 411, 429, 500, 503, 504; the Posts API's 422;
# versioning's 426.
DOCUMENTED_STATUSES = frozenset({400, 401, 403, 404, 405, 411, 422, 426, 429, 500, 503, 504})


def created(urn: str) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``POST /rest/posts`` accepted."""
    if not urn.startswith(("urn:li:share:", "urn:li:ugcPost:")):
        raise ValueError(f"a post's URN is urn:li:share:... or urn:li:ugcPost:..., not {urn!r}")
    return {"status": 201, "body": "", "headers": {"x-restli-id": urn}}


def deleted() -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``DELETE /rest/posts/{urn}`` done."""
    return {"status": 204, "body": ""}


def post(urn: str, author: str, commentary: str, published_ms: int, modified_ms: int | None = None) -> dict[str, Any]:
    """One Post as "Find Posts by Authors" lists it (the Posts API page's Post schema):
    ``id`` the URN, ``commentary``, ``createdAt``/``publishedAt``/``lastModifiedAt`` in epoch ms."""
    if not urn.startswith(("urn:li:share:", "urn:li:ugcPost:")):
        raise ValueError(f"a post's URN is urn:li:share:... or urn:li:ugcPost:..., not {urn!r}")
    return {
        "id": urn,
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": modified_ms is not None},
        "isReshareDisabledByAuthor": False,
        "createdAt": published_ms,
        "publishedAt": published_ms,
        "lastModifiedAt": modified_ms or published_ms,
    }


def posts_by_author(elements: list[dict[str, Any]], *, start: int, count: int, author: str) -> dict[str, Any]:
    """``GET /rest/posts?q=author`` 200: ``elements`` and ``paging`` (``start``, ``count``, and a
    ``next`` link while a full page came back), as the Posts API page shows it."""
    links = []
    if len(elements) == count:
        links.append(
            {
                "type": "application/json",
                "rel": "next",
                "href": f"/rest/posts?author={author}&count={count}&q=author&start={start + count}",
            }
        )
    return {"paging": {"start": start, "count": count, "links": links}, "elements": elements}


def error(
    status: int, message: str, *, service_error_code: int | None = None, code: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: LinkedIn's error body."""
    if status not in DOCUMENTED_STATUSES:
        raise ValueError(f"LinkedIn's pages list no {status} answer; they list {sorted(DOCUMENTED_STATUSES)}")
    body: dict[str, Any] = {"status": status, "message": message}
    if service_error_code is not None:
        body["serviceErrorCode"] = service_error_code
    if code is not None:
        body["code"] = code
    return {"status": status, "json": body}


# Videos API: a video is uploaded in parts of 4 MiB, the last one shorter.
VIDEO_PART = 4_194_304
VIDEO_STATUSES = frozenset({"WAITING_UPLOAD", "PROCESSING", "AVAILABLE", "PROCESSING_FAILED"})
# The pages' upload URLs are LinkedIn's media upload service ("dms-uploads") on www.linkedin.com.
UPLOAD_HOST = "www.linkedin.com"
EXPIRES_MS = 1_924_991_999_000  # far ahead: the pages' samples give epoch milliseconds


def upload_url(asset: str, kind: str = "uploaded-image", part: int = 0) -> str:
    """An upload URL in the shape the Images and Videos API samples show."""
    return f"https://{UPLOAD_HOST}/dms-uploads/{asset}/{kind}/{part}?ca=vector_feedshare&cn=uploads&sync=0&v=beta&ut=0x1Tok"


def _urn(urn: str, kind: str) -> str:
    if not urn.startswith(f"urn:li:{kind}:"):
        raise ValueError(f"an uploaded {kind}'s URN is urn:li:{kind}:..., not {urn!r}")
    return urn


def _upload_target(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.path.startswith("/dms-uploads/"):
        raise ValueError(f"LinkedIn's pages give https://.../dms-uploads/... upload URLs, not {url!r}")
    return url


def image_upload_initialized(image: str, url: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``POST /rest/images?action=initializeUpload`` 200."""
    asset = _urn(image, "image").rsplit(":", 1)[1]
    value = {"uploadUrlExpiresAt": EXPIRES_MS, "uploadUrl": _upload_target(url or upload_url(asset)), "image": image}
    return {"status": 200, "json": {"value": value}}


def image_uploaded() -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: the image's bytes ``PUT`` to its upload URL."""
    return {"status": 201, "body": ""}


def upload_instructions(video: str, size: int) -> list[dict[str, Any]]:
    """The ``uploadInstructions`` for a file of ``size`` bytes: 4 MiB parts, inclusive ranges."""
    asset = _urn(video, "video").rsplit(":", 1)[1]
    return [
        {
            "uploadUrl": upload_url(asset, "uploadedVideo", n),
            "firstByte": first,
            "lastByte": min(first + VIDEO_PART, size) - 1,
        }
        for n, first in enumerate(range(0, size, VIDEO_PART))
    ]


def video_upload_initialized(
    video: str, size: int, *, upload_token: str = "", captions: bool = False
) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``POST /rest/videos?action=initializeUpload`` 200, with
    a ``captionsUploadUrl`` when the request said ``uploadCaptions: true``."""
    value: dict[str, Any] = {
        "uploadUrlsExpireAt": EXPIRES_MS,
        "video": _urn(video, "video"),
        "uploadInstructions": upload_instructions(video, size),
        "uploadToken": upload_token,
    }
    if captions:
        value["captionsUploadUrl"] = upload_url(video.rsplit(":", 1)[1], "captions")
    return {"status": 200, "json": {"value": value}}


def part_uploaded(etag: str) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: one part ``PUT``, its ``ETag`` in the answer's headers."""
    return {"status": 200, "body": "", "headers": {"ETag": etag}}


def captions_uploaded() -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: the captions file ``PUT`` to ``captionsUploadUrl``."""
    return {"status": 200, "body": ""}


def finalized() -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``POST /rest/videos?action=finalizeUpload`` done."""
    return {"status": 200, "body": ""}


def video(urn: str, status: str, owner: str) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``GET /rest/videos/{urn}`` 200, the Video schema's
    ``id``, ``owner`` and ``status``."""
    if status not in VIDEO_STATUSES:
        raise ValueError(f"the Videos API lists no status {status!r}; it lists {sorted(VIDEO_STATUSES)}")
    return {"status": 200, "json": {"id": _urn(urn, "video"), "owner": owner, "status": status}}
