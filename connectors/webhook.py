"""POST the post as JSON to a URL, with an Idempotency-Key that is the same on every attempt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Connector, OutgoingPost, Published, Setting, url_host
from connectors.http import new_session, send
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy


class WebhookConnector(Connector):
    kind = "webhook"
    settings = (Setting("url", url=True),)

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        return url_host(str(settings.get("url") or ""))

    def __init__(
        self, settings: dict[str, str], secrets: dict[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)

    def publish(self, post: OutgoingPost) -> Published:
        payload = {
            "post_id": post.post_id,
            "account_id": post.account_id,
            "handle": post.handle,
            "platform": post.platform,
            "body": post.body,
            "scheduled_at": post.scheduled_at,
        }
        # The receiver de-duplicates on the key, so a resend after a lost answer is safe.
        response = send(
            self.session,
            "POST",
            self.config["url"],
            json=payload,
            headers={"Idempotency-Key": post.idempotency_key},
            idempotent=True,
        )
        try:
            remote = response.json().get("id")
        except (ValueError, AttributeError):
            remote = None
        return Published(remote_id=str(remote) if remote is not None else None)

    def delete(self, remote_id: str) -> None:
        send(self.session, "DELETE", f"{self.config['url'].rstrip('/')}/{remote_id}")
