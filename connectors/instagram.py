"""Instagram (professional account, through the Graph API's content publishing), two steps:
``POST https://{host}/{version}/{ig_user_id}/media`` with ``image_url`` and
``caption`` makes a media container; ``POST .../{ig_user_id}/media_publish`` with
``creation_id`` publishes it and returns the media id.

Settings: ``ig_user_id`` (the Instagram professional account's id) and ``image_url`` (a public
JPEG or PNG every post carries: Instagram will not publish text alone). Secrets:
``access_token`` (with ``instagram_content_publish``), sent as ``Authorization: Bearer``.
Optional setting ``host``: ``graph.facebook.com`` (the default, for Facebook Login tokens) or
``graph.instagram.com`` (for Instagram Login tokens). The Graph version is the installation's
``LOCKDOWN_GRAPH_VERSION``. The daily publishing quota (error 9, subcode 2207042) is transient
and waits a full 24-hour window (``connectors.graph_errors``).

Between the two steps the container is polled, ``GET /{container_id}?fields=status_code,status``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container),
until it is ``FINISHED``: a few reads a few seconds apart within one attempt; a container still
``IN_PROGRESS`` after them is a transient failure that keeps the container for the next attempt;
``ERROR`` (with the platform's ``status``) fails the post. A container kept from an earlier
attempt that has since ``EXPIRED`` (24 hours) is made again; one already ``PUBLISHED`` is not
published twice.

Resumable: a failure after the container was made carries ``progress={"container_id": ...}``,
and a retry with that progress polls and publishes that container instead of making another.
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
from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready, RemotePost, Setting
from connectors.facebook import FacebookConnector
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


class InstagramConnector(Connector):
    kind = "instagram"
    host = "graph.facebook.com"
    settings = (
        Setting("ig_user_id"),
        Setting("image_url", url=True, fetched_by_platform=True),
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
        container = post.progress.get("container_id") or ""
        state = self._wait_for(container) if container else "EXPIRED"
        if state == "EXPIRED":  # none yet, or one kept from an attempt more than a day ago
            container = self._create_container(post)
            state = self._wait_for(container)
        if state == "PUBLISHED":
            # An earlier attempt's publish went through though its answer was lost; the
            # container does not say which media it became.
            return Published(remote_id=None)
        if state != "FINISHED":
            raise ConnectorError(
                f"Instagram's container {container} was made but is not ready ({state})",
                permanent=False,
                retry_after=STILL_PROCESSING_RETRY,
                progress={"container_id": container},
            )
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
                progress={"container_id": keep},
            ) from exc
        media_id = body.get("id")
        return Published(remote_id=str(media_id) if media_id else None)

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

    def _wait_for(self, container: str) -> str:
        """The container's ``status_code`` once it is not ``IN_PROGRESS``, or after the last
        read; ConnectorError (permanent) if it is ``ERROR``."""
        state = ""
        for read in range(STATUS_READS):
            if read:
                self.sleep(STATUS_INTERVAL)
            try:
                body = self._before_publishing(
                    "GET",
                    f"{self.graph_url}/{container}",
                    params={"fields": "status_code,status"},
                    progress={"container_id": container},
                )
            except ConnectorError as exc:
                if f"subcode {CONTAINER_EXPIRED}" in exc.message:
                    return "EXPIRED"
                raise
            state = str(body.get("status_code") or "")
            if state == "ERROR":
                raise ConnectorError(
                    f"Instagram could not prepare container {container}: {body.get('status') or 'ERROR'}",
                    permanent=True,
                    progress={"container_id": ""},
                )
            if state != "IN_PROGRESS":
                return state
        return state

    def _before_publishing(
        self, method: str, url: str, *, progress: Mapping[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """A call before ``media_publish`` (making or reading a container): nothing is posted
        by it, so a 5xx or a lost answer is only "later", never ambiguous."""
        try:
            return FacebookConnector.graph(
                self.session, method, url, token=self.secret["access_token"], idempotent=True, **kwargs
            )
        except ConnectorError as exc:
            # The one rule (connectors.base) reads a 5xx status as "may be live"; the message
            # keeps the status for people.
            server_error = (exc.status or 0) >= 500
            raise ConnectorError(
                exc.message,
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                status=None if server_error else exc.status,
                progress=progress,
            ) from exc

    def _create_container(self, post: OutgoingPost) -> str:
        # A container is not a post: if its answer is lost, making another is harmless.
        body = self._before_publishing(
            "POST", f"{self.base}/media", data={"image_url": self.config["image_url"], "caption": post.body}
        )
        container = body.get("id")
        if not container:
            raise ConnectorError("Instagram made a media container but gave no id", permanent=False)
        return str(container)


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
