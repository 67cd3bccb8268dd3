"""The default connector: publishes nothing, so a fresh installation cannot post by accident.

The post's own row records what "went out" and when; the remote id says it was the outbox.
"""

from __future__ import annotations

from connectors.base import Connector, OutgoingPost, Published


class OutboxConnector(Connector):
    kind = "outbox"

    def publish(self, post: OutgoingPost) -> Published:
        return Published(remote_id=f"outbox-{post.post_id}")

    def delete(self, remote_id: str) -> None:
        """Nothing was published, so there is nothing to delete."""
