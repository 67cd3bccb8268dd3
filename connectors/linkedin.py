"""LinkedIn (Posts API): ``POST https://api.linkedin.com/rest/posts`` with a public main-feed
post by ``author``; LinkedIn answers 201 with the post's URN in ``x-restli-id``.
``DELETE https://api.linkedin.com/rest/posts/{url-encoded URN}`` deletes it.

Settings: ``author`` (``urn:li:organization:123`` for a Page, ``urn:li:person:...`` for a
member). Secrets: ``access_token`` (OAuth 2.0, ``w_organization_social`` or
``w_member_social``). Every call sends ``LinkedIn-Version`` (the installation's
``LOCKDOWN_LINKEDIN_VERSION``, given as ``linkedin_version`` beside the settings) and
``X-Restli-Protocol-Version: 2.0.0``. A sunset version gets 426 on every call: permanent, and
the error says which version and which setting to change.

The commentary is LinkedIn's "little" text format, where ``\\ | { } @ [ ] ( ) < > * _ ~`` are
markup: unescaped, LinkedIn may cut the post short at the first one, so they are escaped
(outside links, which stay clickable; ``#`` is left alone so hashtags keep working).
A 422 DUPLICATE_POST (the same text again) is permanent.

Media (``OutgoingPost.media``) are uploaded first, inside ``publish``, owned by ``author``:
images by the Images API and a video with its SubRip captions by the Videos API, as
``connectors.linkedin_media`` describes; the post then names them in ``content``: one image or
the video as ``content.media`` (``id``, and an image's ``altText``; Posts API), two to twenty
images as ``content.multiImage.images[]`` (``id``, ``altText``; MultiImage API,
https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/multiimage-post-api).
The uploads are not a publish (a failure there is transient, never "may be live"); the post is,
and keeps the rule below. What was uploaded stays in the error's ``progress`` when a later step
fails, and the next attempt reuses it instead of uploading again.

Readiness: for a Page author, ``GET /rest/organizations/{id}`` (the organization lookup, with
the same version headers) names the organization the token reaches; a sunset version fails it
as it fails a post. A member author is read with ``GET /v2/userinfo`` (OpenID Connect, which
needs the ``openid`` and ``profile`` scopes beside ``w_member_social``). LinkedIn reports no
token expiry on either call (its tokens last 60 days unless refreshed).

The watch (``recent_posts``): the Posts API's "Find Posts by Authors",
``GET /rest/posts?author={urn}&q=author&count=50&start=..&sortBy=LAST_MODIFIED`` with
``X-RestLi-Method: FINDER``
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api).
Sorted by last modification, newest first: a post created at or after ``since`` was modified
then or later, so the listing stops at the first post last modified before ``since``, and keeps
those published (``publishedAt``, else ``createdAt``, epoch milliseconds) at or after it. Reading
needs ``r_organization_social`` (a Page) or ``r_member_social`` (a member, a restricted
permission): a 403 is Unwatchable. LinkedIn's limits are per day per app and per member and
reset at midnight UTC (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits),
which is what a 429 without ``Retry-After`` waits for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import (
    WATCH_PAGES,
    Connector,
    ConnectorError,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
    Unwatchable,
)
from connectors.http import new_session, send
from connectors.linkedin_media import Uploads, content
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import linkedin_version

POSTS = "https://api.linkedin.com/rest/posts"
ORGANIZATIONS = "https://api.linkedin.com/rest/organizations"
USERINFO = "https://api.linkedin.com/v2/userinfo"
ORGANIZATION_URN = re.compile(r"urn:li:organization:(\d+)")
# LinkedIn answers a version it no longer serves with 426 Upgrade Required.
VERSION_SUNSET = 426
FIND_PAGE = 50
RESERVED = re.compile(r"([\\|{}@\[\]()<>*_~])")
LINK = re.compile(r"(https?://\S+)")


class LinkedInConnector(Connector):
    kind = "linkedin"
    host = "api.linkedin.com"
    settings = (Setting("author"),)
    secrets = ("access_token",)

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)
        self.headers = {
            "Authorization": f"Bearer {self.secret['access_token']}",
            "LinkedIn-Version": linkedin_version(self.config),
            "X-Restli-Protocol-Version": "2.0.0",
        }
        # How the connector waits between reads of a video's status (tests pass one that does
        # not sleep).
        self.sleep: Callable[[float], None] = time.sleep

    def publish(self, post: OutgoingPost) -> Published:
        # The media first (connectors.linkedin_media): nothing of them is seen until the post.
        uploads = Uploads(send=self._send, headers=self.headers, owner=str(self.config["author"]), sleep=self.sleep)
        urns, uploaded = uploads.upload(post.media, post.progress)
        payload = {
            "author": self.config["author"],
            "commentary": self.escape(post.body),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
            **content(post.media, urns),
        }
        try:
            # No idempotency key: a lost answer may mean a published post.
            response = self._send("POST", POSTS, json=payload, headers=self.headers)
        except ConnectorError as exc:
            # A retry posts the same uploads, not new ones; after a refusal (a person will have
            # to change the post) they are forgotten, in case they were what LinkedIn refused.
            if not exc.permanent:
                exc.progress.update(uploaded)
            raise
        urn = response.headers.get("x-restli-id")
        if not urn:
            return Published(remote_id=None)
        return Published(remote_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}")

    def delete(self, remote_id: str) -> None:
        self._send(
            "DELETE",
            f"{POSTS}/{quote(remote_id, safe='')}",
            headers={**self.headers, "X-RestLi-Method": "DELETE"},
            idempotent=True,
        )

    def check(self) -> Ready:
        """The organization (or member) the token reaches, by name."""
        author = str(self.config["author"])
        organization = ORGANIZATION_URN.fullmatch(author)
        if organization:
            url, key, headers = f"{ORGANIZATIONS}/{organization.group(1)}", "localizedName", self.headers
        else:
            url, key, headers = USERINFO, "name", {"Authorization": self.headers["Authorization"]}
        name = _json(self._send("GET", url, headers=headers, idempotent=True)).get(key)
        return Ready(account=f"{name} ({author})" if name else author)

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The author's posts published at or after ``since``, newest first (see the module's
        note); ``remote_id`` is the post's URN, as ``x-restli-id`` gave it to ``publish``."""
        author = str(self.config["author"])
        needs = "r_organization_social" if ORGANIZATION_URN.fullmatch(author) else "r_member_social"
        found: list[RemotePost] = []
        headers = {**self.headers, "X-RestLi-Method": "FINDER"}
        for page in range(WATCH_PAGES):
            params = {
                "author": author,
                "q": "author",
                "count": str(FIND_PAGE),
                "start": str(page * FIND_PAGE),
                "sortBy": "LAST_MODIFIED",
            }
            try:
                body = _json(self._send("GET", POSTS, params=params, headers=headers, idempotent=True))
            except ConnectorError as exc:
                if exc.status == 403:
                    raise Unwatchable(
                        f"LinkedIn refused to list the posts ({exc.message}); the token needs {needs}"
                    ) from exc
                raise
            elements = body.get("elements")
            if not isinstance(elements, list):
                raise ConnectorError("LinkedIn's posts by author had no elements list", permanent=False)
            older = False
            for element in elements:
                post, modified = _remote_post(element)
                if modified < since:
                    older = True
                    break
                if post.posted_at >= since:
                    found.append(post)
            if older or len(elements) < FIND_PAGE:
                break
        found.sort(key=lambda post: post.posted_at, reverse=True)
        return found

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One call through the shared HTTP wrapper, a sunset version named as such, and a
        429 without ``Retry-After`` waiting for the daily limits' reset at midnight UTC."""
        try:
            return send(self.session, method, url, **kwargs)
        except ConnectorError as exc:
            if exc.status == 429 and exc.retry_after is None:
                exc.retry_after = _until_midnight_utc(datetime.now(UTC))
            if exc.status != VERSION_SUNSET:
                raise
            version = self.headers["LinkedIn-Version"]
            raise ConnectorError(
                f"LinkedIn no longer serves API version {version} ({exc.message}); set "
                "LOCKDOWN_LINKEDIN_VERSION to a current version (YYYYMM)",
                permanent=True,
                status=exc.status,
            ) from exc

    @staticmethod
    def escape(text: str) -> str:
        """Escape little-format markup outside links (the odd pieces of the split are links)."""
        pieces = LINK.split(text)
        return "".join(p if i % 2 else RESERVED.sub(r"\\\1", p) for i, p in enumerate(pieces))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _remote_post(element: Any) -> tuple[RemotePost, datetime]:
    """One Post (Posts API schema) as a RemotePost, with its ``lastModifiedAt``."""
    if not isinstance(element, dict) or not isinstance(element.get("id"), str):
        raise ConnectorError(f"LinkedIn listed a post without an id: {element!r:.200}", permanent=False)
    urn = element["id"]
    published = _millis(element.get("publishedAt") or element.get("createdAt"), urn)
    modified = _millis(element.get("lastModifiedAt") or element.get("createdAt"), urn)
    post = RemotePost(
        remote_id=urn,
        url=f"https://www.linkedin.com/feed/update/{urn}",
        text=str(element.get("commentary") or ""),
        posted_at=published,
    )
    return post, max(modified, published)


def _millis(value: Any, urn: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConnectorError(f"LinkedIn listed post {urn} without a time: {value!r}", permanent=False)
    return datetime.fromtimestamp(value / 1000, UTC)


def _until_midnight_utc(now: datetime) -> float:
    """Seconds until LinkedIn's daily limits reset (midnight UTC)."""
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
