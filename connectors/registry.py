"""The explicit registry of connector kinds, imported lazily so one broken client library
cannot stop the others (or the register) from loading."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "outbox": "connectors.outbox.OutboxConnector",
    "webhook": "connectors.webhook.WebhookConnector",
    "x": "connectors.x.XConnector",
    "facebook": "connectors.facebook.FacebookConnector",
    "instagram": "connectors.instagram.InstagramConnector",
    "linkedin": "connectors.linkedin.LinkedInConnector",
    "mastodon": "connectors.mastodon.MastodonConnector",
    "bluesky": "connectors.bluesky.BlueskyConnector",
}


def destination(connector: Mapping[str, Any]) -> tuple[str, str]:
    """Where an account's connector (its settings with ``kind``) sends secrets: (kind, host).
    An unknown kind has nowhere to send them: ("", "")."""
    kind = str(connector.get("kind") or "outbox")
    if kind not in CONNECTORS:
        return "", ""
    return kind, connector_class(kind).destination(connector)


def connector_class(kind: str) -> type[Connector]:
    """The class for a connector kind; KeyError for an unknown kind."""
    module_name, _, class_name = CONNECTORS[kind].rpartition(".")
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls
