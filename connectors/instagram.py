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

Resumable: when the publish step fails the error carries ``progress={"container_id": ...}``,
and a retry with that progress only publishes the container. Instagram's API cannot delete
published media, so ``delete`` always fails permanently.

Readiness: ``GET /{ig_user_id}?fields=username`` on the account's Graph host names the account
the token reaches (a revoked or expired token is Graph error 190: permanent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready, Setting
from connectors.facebook import FacebookConnector
from connectors.http import new_session
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import graph_version

# "The media you are trying to access has expired": the container must be made again.
CONTAINER_EXPIRED = 2207020
# Facebook Login tokens work on the first, Instagram Login tokens on the second only.
HOSTS = ("graph.facebook.com", "graph.instagram.com")


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
        self.base = f"https://{host}/{graph_version(self.config)}/{self.config['ig_user_id']}"

    def publish(self, post: OutgoingPost) -> Published:
        container = post.progress.get("container_id") or self._create_container(post)
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

    def delete(self, remote_id: str) -> None:
        raise ConnectorError(
            f"Instagram's API cannot delete published media ({remote_id}); delete it in the Instagram app",
            permanent=True,
        )

    def _create_container(self, post: OutgoingPost) -> str:
        # A container is not a post: if its answer is lost, making another is harmless.
        body = FacebookConnector.graph(
            self.session,
            "POST",
            f"{self.base}/media",
            token=self.secret["access_token"],
            idempotent=True,
            data={"image_url": self.config["image_url"], "caption": post.body},
        )
        container = body.get("id")
        if not container:
            raise ConnectorError("Instagram made a media container but gave no id", permanent=False)
        return str(container)
