"""Every connector kind answers ``recent_posts``: a list, or Unwatchable saying why not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Connector, OutgoingPost, Published, Ready, Unwatchable
from connectors.outbox import OutboxConnector
from connectors.registry import CONNECTORS, connector_class
from connectors.webhook import WebhookConnector

SINCE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_every_kind_says_for_itself_what_the_watch_reads() -> None:
    # Those with a read API list posts; the outbox and webhook say why they cannot. None is
    # left to the base's generic refusal.
    for kind in CONNECTORS:
        assert connector_class(kind).recent_posts is not Connector.recent_posts, kind


def test_the_outbox_has_nothing_to_watch() -> None:
    with pytest.raises(Unwatchable) as caught:
        OutboxConnector({}, {}).recent_posts(SINCE)
    assert caught.value.permanent
    assert "publishes nothing" in caught.value.message


def test_a_webhook_cannot_be_read_back() -> None:
    hook = WebhookConnector({"url": "https://hooks.example/…"}, {"url": "https://hooks.example/T000/B000/XXX"})
    with pytest.raises(Unwatchable) as caught:
        hook.recent_posts(SINCE)
    assert caught.value.permanent


def test_the_base_default_is_unwatchable() -> None:
    class Plain(Connector):
        kind = "plain"

        def publish(self, post: OutgoingPost) -> Published:
            raise NotImplementedError

        def delete(self, remote_id: str) -> None:
            raise NotImplementedError

        def check(self) -> Ready:
            raise NotImplementedError

    with pytest.raises(Unwatchable, match="this connector cannot list posts"):
        Plain({}, {}).recent_posts(SINCE)
