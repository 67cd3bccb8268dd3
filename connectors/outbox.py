"""The default connector: publishes nothing, so a fresh installation cannot post by accident.

The post's own row records what "went out" and when; the remote id says it was the outbox.
Its readiness check is always ready: it depends on nothing outside this machine.
"""

from __future__ import annotations

from connectors.base import Connector, OutgoingPost, Published, Ready


class OutboxConnector(Connector):
    kind = "outbox"

    def publish(self, post: OutgoingPost) -> Published:
        return Published(remote_id=f"outbox-{post.post_id}")

    def delete(self, remote_id: str) -> None:
        """Nothing was published, so there is nothing to delete."""

    def check(self) -> Ready:
        """Always ready: the outbox only records posts locally."""
        return Ready(account="outbox (records posts here, publishes nothing)")
