"""The default connector: publishes nothing, so a fresh installation cannot post by accident.

The post's own row records what "went out" and when (its media included: nothing is uploaded
anywhere); the remote id says it was the outbox.
Its readiness check is always ready: it depends on nothing outside this machine.
"""

from __future__ import annotations

from datetime import datetime

from connectors.base import Connector, OutgoingPost, Published, Ready, RemotePost, Unwatchable


class OutboxConnector(Connector):
    kind = "outbox"

    def publish(self, post: OutgoingPost) -> Published:
        return Published(remote_id=f"outbox-{post.post_id}")

    def delete(self, remote_id: str) -> None:
        """Nothing was published, so there is nothing to delete."""

    def check(self) -> Ready:
        """Always ready: the outbox only records posts locally."""
        return Ready(account="outbox (records posts here, publishes nothing)")

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """Nothing to watch: the outbox publishes nothing anywhere."""
        raise Unwatchable("the outbox publishes nothing anywhere, so there is nothing to watch")
