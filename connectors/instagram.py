"""Instagram (professional account, through the Graph API's content publishing), two steps:
``POST https://{host}/{version}/{ig_user_id}/media`` makes a media container from a public
address Meta fetches itself; ``POST .../{ig_user_id}/media_publish`` with ``creation_id``
publishes it and returns the media id
(https://developers.facebook.com/docs/instagram-platform/content-publishing/).

What the container is made of (``OutgoingPost.media``; each item's ``public_url`` is the signed,
expiring address at which Lockdown serves the file, LOCKDOWN_PUBLIC_URL):

- one image: ``image_url`` and ``caption``, with ``alt_text`` ("introduced ... March 24, 2025 ...
  for image posts"; Reels and stories take none). "JPEG is the only image format supported":
  another image is refused permanently before any call.
- one video: ``media_type=REELS``, ``video_url`` and ``caption``. The API takes no captions file
  for a Reel: a subtitled video goes without its captions (the drafting check must say so).
- 2 to 10 items: a carousel ("Carousels are limited to 10 images, videos, or a mix of the two").
  One container per item with ``is_carousel_item=true`` (``image_url`` with ``alt_text``, or
  ``media_type=VIDEO`` with ``video_url``), all made first so Instagram processes them side by
  side, each polled to ``FINISHED``; then the ``media_type=CAROUSEL`` container with
  ``children`` (their ids, comma-separated) and ``caption``, polled; then ``media_publish``.
- no media: the account's optional ``image_url`` setting, if it has one; otherwise the post
  fails permanently (Instagram publishes no text alone).

An item with no ``public_url`` (the installation has no LOCKDOWN_PUBLIC_URL) fails the post
permanently: Meta has nowhere to fetch it from. Making or reading a container posts nothing, so
a 5xx or a lost answer there is only "later" (never ambiguous, not retried within the call);
``media_publish`` has no idempotency key, so a lost answer or a 5xx there is ambiguous.

Settings: ``ig_user_id`` (the Instagram professional account's id) and, optionally,
``image_url`` (a public JPEG for posts that bring no media). Secrets:
``access_token`` (with ``instagram_content_publish``), sent as ``Authorization: Bearer``.
Optional setting ``host``: ``graph.facebook.com`` (the default, for Facebook Login tokens) or
``graph.instagram.com`` (for Instagram Login tokens). The Graph version is the installation's
``LOCKDOWN_GRAPH_VERSION``. The daily publishing quota (error 9, subcode 2207042) is transient
and waits a full 24-hour window (``connectors.graph_errors``); a carousel counts as one post.

Between the two steps the container is polled, ``GET /{container_id}?fields=status_code,status``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container),
until it is ``FINISHED``: a few reads a few seconds apart within one attempt; a container still
``IN_PROGRESS`` after them is a transient failure that keeps the container for the next attempt;
``ERROR`` (with the platform's ``status``) fails the post, naming the item ("video 2"). A
container kept from an earlier attempt that has since ``EXPIRED`` (24 hours) is made again; one
already ``PUBLISHED`` is not published twice.

Resumable: a failure after a container was made carries it in ``progress`` (``container_id``
for the post's own container, ``media:{i}`` for a carousel's item containers), and a retry
polls and publishes those instead of making others; any that expired is made again, and a
finished carousel container is published without its items being read again.
Instagram's API cannot delete published media, so ``delete`` always fails permanently.

Readiness: ``GET /{ig_user_id}?fields=username`` on the account's Graph host names the account
the token reaches (a revoked or expired token is Graph error 190: permanent).

The watch (``recent_posts``): ``GET /{ig_user_id}/media?fields=id,caption,timestamp,permalink``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media),
newest first, paged by ``paging.cursors.after`` on the account's own Graph host while Graph
gives a ``paging.next``. ``remote_id`` is the media id ``media_publish`` returns. A token
without the permission to read (Graph error 10 or 200-299) is Unwatchable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors import graph_watch
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
from connectors.facebook import FacebookConnector, not_a_publish
from connectors.http import new_session
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import graph_version

# "The media you are trying to access has expired": the container must be made again.
CONTAINER_EXPIRED = 2207020
# Facebook Login tokens work on the first, Instagram Login tokens on the second only.
HOSTS = ("graph.facebook.com", "graph.instagram.com")
MEDIA_FIELDS = "id,caption,timestamp,permalink"
MEDIA_PAGE = "50"
# Reading the account's media: instagram_basic with Facebook Login, instagram_business_basic
# with Instagram Login.
READ_PERMISSION = "instagram_basic (or instagram_business_basic with Instagram Login)"
# Reads of a container's status within one attempt, and the wait between them: an image is
# usually ready at once, a video may take minutes, which later attempts wait out instead.
STATUS_READS = 4
STATUS_INTERVAL = 3.0
STILL_PROCESSING_RETRY = 60.0
# "Carousels are limited to 10 images, videos, or a mix of the two" (Content Publishing).
CAROUSEL_MAX = 10
# Given what is kept in progress, the container's fields, what is kept now (a carousel's
# children) and how the container is named to people.
ContainerMaker = Callable[[dict[str, str]], tuple[dict[str, str], dict[str, str], str]]


class InstagramConnector(Connector):
    kind = "instagram"
    host = "graph.facebook.com"
    settings = (
        Setting("ig_user_id"),
        Setting("image_url", required=False, url=True, fetched_by_platform=True),
        Setting("host", required=False),
    )
    secrets = ("access_token",)

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        """The Graph host this account's token belongs to (a host not allowed gets none)."""
        chosen = str(settings.get("host") or cls.host).strip().lower()
        return chosen if chosen in HOSTS else ""

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        host = self.destination(self.config)
        if not host:
            raise ConnectorError(
                f"instagram's host must be one of {', '.join(HOSTS)}, got {self.config.get('host')!r}",
                permanent=True,
            )
        self.session = new_session(outbound=self.outbound)
        self.graph_url = f"https://{host}/{graph_version(self.config)}"
        self.base = f"{self.graph_url}/{self.config['ig_user_id']}"
        # How the connector waits between status reads (tests pass one that does not sleep).
        self.sleep: Callable[[float], None] = time.sleep

    def publish(self, post: OutgoingPost) -> Published:
        make = self._container_maker(post)  # refuses, before any call, what cannot be sent
        kept = {key: value for key, value in post.progress.items() if key.startswith("media:")}
        container = post.progress.get("container_id") or ""
        state = self._wait_for(container, what="the post", progress={**kept, "container_id": container})
        if state == "EXPIRED":  # none yet, or one kept from an attempt more than a day ago
            fields, kept, what = make(kept)
            container = self._create_container(fields, progress=kept, what=what)
            state = self._wait_for(container, what=what, progress={**kept, "container_id": container})
        progress = {**kept, "container_id": container}
        if state == "PUBLISHED":
            # An earlier attempt's publish went through though its answer was lost; the
            # container does not say which media it became.
            return Published(remote_id=None)
        if state != "FINISHED":
            raise ConnectorError(
                f"Instagram's container {container} was made but is not ready ({state})",
                permanent=False,
                retry_after=STILL_PROCESSING_RETRY,
                progress=progress,
            )
        return self._media_publish(container, progress)

    def _media_publish(self, container: str, progress: Mapping[str, str]) -> Published:
        try:
            # No idempotency key here: a lost answer may mean published media.
            body = FacebookConnector.graph(
                self.session,
                "POST",
                f"{self.base}/media_publish",
                token=self.secret["access_token"],
                data={"creation_id": container},
            )
        except ConnectorError as exc:
            # An expired container is forgotten (made again next time); any other is kept.
            # connectors.graph_errors names the Graph error's subcode in the message.
            keep = "" if f"subcode {CONTAINER_EXPIRED}" in exc.message else container
            raise ConnectorError(
                exc.message,
                permanent=exc.permanent,
                ambiguous=exc.ambiguous,
                retry_after=exc.retry_after,
                status=exc.status,
                progress={**progress, "container_id": keep},
            ) from exc
        media_id = body.get("id")
        return Published(remote_id=str(media_id) if media_id else None)

    def _container_maker(self, post: OutgoingPost) -> ContainerMaker:
        """How this post's container is made, once one is needed: checked now, so a post that
        can never go (no public address, not JPEG, too many items, nothing to show) fails at
        once and permanently."""
        media = post.media
        if not media:
            fallback = self.config.get("image_url")
            if not fallback:
                raise ConnectorError(
                    "Instagram needs an image or a video: this post has none, and the account has no image_url",
                    permanent=True,
                )
            return lambda kept: ({"image_url": str(fallback), "caption": post.body}, kept, "the image")
        for index, item in enumerate(media):
            refuse_unsendable(item, index)
        if len(media) > CAROUSEL_MAX:
            raise ConnectorError(
                f"Instagram takes at most {CAROUSEL_MAX} images or videos in one post; this one has {len(media)}",
                permanent=True,
            )
        if len(media) == 1:
            return lambda kept: ({**item_fields(media[0]), "caption": post.body}, kept, label(media[0], 0))

        def carousel(kept: dict[str, str]) -> tuple[dict[str, str], dict[str, str], str]:
            children = self._prepare_children(media, kept)
            ids = ",".join(children[f"media:{index}"] for index in range(len(media)))
            return {"media_type": "CAROUSEL", "children": ids, "caption": post.body}, children, "the carousel"

        return carousel

    def _prepare_children(self, media: tuple[OutgoingMedia, ...], kept: dict[str, str]) -> dict[str, str]:
        """A carousel's item containers (``is_carousel_item=true``), each ``FINISHED``: those kept
        from an earlier attempt are reused unless expired; the missing ones are all made first, so
        Instagram fetches and processes them side by side, then each is polled in turn."""
        children = dict(kept)
        for index, item in enumerate(media):
            if not children.get(f"media:{index}"):
                children[f"media:{index}"] = self._make_child(item, index, children)
        for index, item in enumerate(media):
            self._wait_for_child(item, index, children)
        return children

    def _make_child(self, item: OutgoingMedia, index: int, children: Mapping[str, str]) -> str:
        return self._create_container(item_fields(item, carousel=True), progress=children, what=label(item, index))

    def _wait_for_child(self, item: OutgoingMedia, index: int, children: dict[str, str]) -> None:
        """Poll one item's container until ``FINISHED``, making it again if it expired (it is
        replaced in ``children``); a transient failure, keeping them all, if it is not ready."""
        key, what = f"media:{index}", label(item, index)
        state = self._wait_for(children[key], what=what, progress=children, key=key)
        if state == "EXPIRED":
            children[key] = self._make_child(item, index, children)
            state = self._wait_for(children[key], what=what, progress=children, key=key)
        if state != "FINISHED":
            raise ConnectorError(
                f"Instagram's container {children[key]} for {what} was made but is not ready ({state})",
                permanent=False,
                retry_after=STILL_PROCESSING_RETRY,
                progress=children,
            )

    def check(self) -> Ready:
        """The Instagram account the token reaches, by its username."""
        body = FacebookConnector.graph(
            self.session, "GET", self.base, token=self.secret["access_token"], idempotent=True,
            params={"fields": "username"},
        )  # fmt: skip
        username = body.get("username")
        if not username:
            raise ConnectorError("Instagram named no username for ig_user_id", permanent=False)
        return Ready(account=f"@{username}")

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The account's media created at or after ``since``, newest first (see the module's note)."""
        return graph_watch.recent(
            self.session,
            f"{self.base}/media",
            token=self.secret["access_token"],
            params={"fields": MEDIA_FIELDS, "limit": MEDIA_PAGE},
            since=since,
            needs=READ_PERMISSION,
            post=_media_post,
            follow=_after,
        )

    def delete(self, remote_id: str) -> None:
        raise ConnectorError(
            f"Instagram's API cannot delete published media ({remote_id}); delete it in the Instagram app",
            permanent=True,
        )

    def _wait_for(self, container: str, *, what: str, progress: Mapping[str, str], key: str = "container_id") -> str:
        """The container's ``status_code`` once it is not ``IN_PROGRESS``, or after the last
        read; ``EXPIRED`` for no container at all. ConnectorError (permanent, naming ``what``
        and forgetting the container under ``key``) if it is ``ERROR``; a failed read keeps
        ``progress``."""
        if not container:
            return "EXPIRED"
        state = ""
        for read in range(STATUS_READS):
            if read:
                self.sleep(STATUS_INTERVAL)
            try:
                body = self._before_publishing(
                    "GET", f"{self.graph_url}/{container}", params={"fields": "status_code,status"}, progress=progress
                )
            except ConnectorError as exc:
                if f"subcode {CONTAINER_EXPIRED}" in exc.message:
                    return "EXPIRED"
                raise
            state = str(body.get("status_code") or "")
            if state == "ERROR":
                raise ConnectorError(
                    f"Instagram could not prepare {what} (container {container}): {body.get('status') or 'ERROR'}",
                    permanent=True,
                    progress={**progress, key: ""},
                )
            if state != "IN_PROGRESS":
                return state
        return state

    def _before_publishing(
        self, method: str, url: str, *, progress: Mapping[str, str] | None = None, what: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        """A call before ``media_publish`` (making or reading a container): nothing is posted
        by it, so a 5xx or a lost answer is only "later", never ambiguous."""
        try:
            return FacebookConnector.graph(
                self.session, method, url, token=self.secret["access_token"], idempotent=True, **kwargs
            )
        except ConnectorError as exc:
            lead = ""
            if what:
                lead = f"Instagram refused {what}" if exc.permanent else f"Instagram did not take {what}"
            raise not_a_publish(exc, progress=progress or {}, what=lead) from exc

    def _create_container(self, fields: Mapping[str, str], *, progress: Mapping[str, str], what: str) -> str:
        # A container is not a post: if its answer is lost, making another is harmless.
        body = self._before_publishing("POST", f"{self.base}/media", data=dict(fields), progress=progress, what=what)
        container = body.get("id")
        if not container:
            raise ConnectorError(
                f"Instagram made a media container for {what} but gave no id", permanent=False, progress=progress
            )
        return str(container)


def label(item: OutgoingMedia, index: int) -> str:
    """How a press officer finds the item in the post: "image 2", "video 1"."""
    return f"{item.kind} {index + 1}"


def refuse_unsendable(item: OutgoingMedia, index: int) -> None:
    """Refuse, permanently, an item Instagram could never take."""
    what = label(item, index)
    if item.kind not in ("image", "video"):
        raise ConnectorError(f"{what}: Instagram takes images and videos only", permanent=True)
    if not item.public_url:
        raise ConnectorError(
            f"{what} has no public address for Instagram to fetch it from (Meta fetches media itself); "
            "this installation has no LOCKDOWN_PUBLIC_URL",
            permanent=True,
        )
    if item.kind == "image" and item.mime != "image/jpeg":
        raise ConnectorError(f"{what} is {item.mime}: Instagram takes JPEG images only", permanent=True)


def item_fields(item: OutgoingMedia, *, carousel: bool = False) -> dict[str, str]:
    """One item's container fields: an image by ``image_url`` with its ``alt_text`` (image posts
    only, since March 2025), a video as a Reel alone or ``VIDEO`` in a carousel."""
    url = str(item.public_url)
    if item.kind == "image":
        fields = {"image_url": url, **({"alt_text": item.alt_text} if item.alt_text else {})}
    else:
        fields = {"media_type": "VIDEO" if carousel else "REELS", "video_url": url}
    if carousel:
        fields["is_carousel_item"] = "true"
    return fields


def _media_post(item: dict[str, Any]) -> RemotePost:
    """One IG Media (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media)."""
    link = item.get("permalink")
    return RemotePost(
        remote_id=str(item["id"]),
        url=link if isinstance(link, str) and link else None,
        text=str(item.get("caption") or ""),
        posted_at=graph_watch.graph_time(item.get("timestamp")),
    )


def _after(body: dict[str, Any], url: str, params: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The same listing from ``paging.cursors.after``, while Graph says there is a next page."""
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return None if not isinstance(after, str) or not after else (url, {**params, "after": after})
