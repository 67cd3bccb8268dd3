"""POST the post as JSON to a URL, with an Idempotency-Key that is the same on every attempt.

Settings: ``url``, the receiver. It is a credential (anyone holding a Slack or Teams hook URL
can post to its channel), so it is given with the settings but kept as the secret ``url``:
the settings keep only its masked form (scheme, host and port), which is also where the secret
may be sent. A URL left in the settings by a release before that still works until replaced.

Media: the receiver is given each medium's signed, expiring public address (``url``; None when
the installation has no LOCKDOWN_PUBLIC_URL), what it is, its alt text and captions; the file
itself is not sent in the JSON.

Readiness: a hook URL has no authenticated read. Anything sent to it is a message (to a Slack
or Teams channel, to the receiver's publishing queue), and a GET proves nothing about whether a
POST would be accepted. So ``check`` sends nothing: it reports ready with an ``account`` that
says only the configuration was checked (a URL in the vault, for the connector's host; the
constructor refuses anything else). A failing receiver shows up when a post fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    Connector,
    ConnectorError,
    OutgoingMedia,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
    Unwatchable,
    url_host,
)
from connectors.http import new_session, send
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.settings import is_masked


class WebhookConnector(Connector):
    kind = "webhook"
    settings = (Setting("url", url=True, secret=True),)
    secrets = ("url",)
    # The receiver de-duplicates on the key for as long as it keeps keys, which the contract
    # leaves open: as before, a resend after a 5xx or a lost answer is taken to be safe.
    deduplicates_publish_for = timedelta.max

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        return url_host(str(settings.get("url") or ""))

    def __init__(
        self, settings: dict[str, str], secrets: dict[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        legacy = str(settings.get("url") or "")
        if not secrets.get("url") and legacy and not is_masked(legacy):
            secrets = {**secrets, "url": legacy}
        super().__init__(settings, secrets, outbound=outbound)
        if url_host(self.secret["url"]) != self.destination(settings):
            raise ConnectorError("the webhook URL in the vault is not for the connector's host", permanent=True)
        self.session = new_session(outbound=self.outbound)

    def publish(self, post: OutgoingPost) -> Published:
        payload: dict[str, Any] = {
            "post_id": post.post_id,
            "account_id": post.account_id,
            "handle": post.handle,
            "platform": post.platform,
            "body": post.body,
            "scheduled_at": post.scheduled_at,
        }
        if post.media:
            payload["media"] = [_medium(item) for item in post.media]
        response = send(
            self.session,
            "POST",
            self.secret["url"],
            json=payload,
            headers={"Idempotency-Key": post.idempotency_key},
        )
        try:
            remote = response.json().get("id")
        except (ValueError, AttributeError):
            remote = None
        return Published(remote_id=str(remote) if remote is not None else None)

    def delete(self, remote_id: str) -> None:
        # Deleting twice deletes nothing more: a lost answer is safe to try again.
        send(self.session, "DELETE", f"{self.secret['url'].rstrip('/')}/{remote_id}", idempotent=True)

    def check(self) -> Ready:
        """Ready as far as can be known without posting: the URL is set for its host. Nothing is
        sent (see the module's note)."""
        return Ready(account=f"webhook at {url_host(self.secret['url'])} (not checkable: configuration only)")

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """A hook URL can only be sent to: what the receiver did with a post cannot be read back."""
        raise Unwatchable("a webhook can only be sent to; what the receiver published cannot be listed")


def _medium(item: OutgoingMedia) -> dict[str, Any]:
    """A medium as the receiver is told of it: the file itself is not sent, but its signed,
    expiring public address (when the installation has LOCKDOWN_PUBLIC_URL), what it is, and
    what the accessibility rule asked of it, so the receiver can publish it properly."""
    return {
        "kind": item.kind, "mime": item.mime, "bytes": item.size, "sha256": item.sha256,
        "width": item.width, "height": item.height, "duration": item.duration, "url": item.public_url,
        "alt_text": item.alt_text, "captions_vtt": item.captions_vtt, "captions_lang": item.captions_lang,
        "live": item.live, "transcript_contact": item.transcript_contact or None,
    }  # fmt: skip
