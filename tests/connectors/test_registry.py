"""The six platform connectors in the registry, their declared settings, and their secrets."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import connectors
from connectors.base import ConnectorError, Setting
from connectors.bluesky import BlueskyConnector
from connectors.http import CONNECT_TIMEOUT, READ_TIMEOUT, TimeoutAdapter
from connectors.http_pinned import PinnedTransport
from connectors.outbound import PUBLIC_ONLY
from connectors.registry import CONNECTORS, connector_class
from connectors.settings import SettingsInvalid, validate_connector

PLATFORMS = {
    "x": (
        (Setting("watch_reads", required=False),),
        ("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
    ),
    "facebook": ((Setting("page_id"),), ("page_access_token",)),
    "instagram": (
        (
            Setting("ig_user_id"),
            Setting("image_url", required=False, url=True, fetched_by_platform=True),
            Setting("host", required=False),
        ),
        ("access_token",),
    ),
    "linkedin": ((Setting("author"),), ("access_token",)),
    "mastodon": ((Setting("base_url", url=True),), ("access_token",)),
    "bluesky": (
        (Setting("identifier"), Setting("service_url", required=False, url=True)),
        ("app_password",),
    ),
}


@pytest.mark.parametrize("kind", PLATFORMS)
def test_every_platform_is_registered_with_its_settings_and_secrets(kind: str) -> None:
    cls = connector_class(kind)

    assert CONNECTORS[kind] == f"{cls.__module__}.{cls.__name__}"
    assert cls.kind == kind
    assert (cls.settings, cls.secrets) == PLATFORMS[kind]
    assert cls.__module__ == f"connectors.{kind}"
    doc = sys.modules[cls.__module__].__doc__ or ""
    for name in [setting.name for setting in cls.settings] + list(cls.secrets):
        assert f"``{name}``" in doc, f"the {kind} module's docstring should name {name}"


@pytest.mark.parametrize("kind", PLATFORMS)
def test_a_connector_without_its_secrets_fails_permanently_at_construction(kind: str) -> None:
    cls = connector_class(kind)
    settings = {s.name: "https://example.org" if s.url else "1" for s in cls.settings}

    with pytest.raises(ConnectorError) as caught:
        cls(settings, {})

    assert caught.value.permanent
    for name in cls.secrets:
        assert name in caught.value.message


@pytest.mark.parametrize("kind", [kind for kind in PLATFORMS if kind != "bluesky"])
def test_every_connector_sends_through_a_session_with_timeouts(kind: str) -> None:
    cls = connector_class(kind)
    settings = {s.name: "https://example.org" if s.url else "1" for s in cls.settings}
    settings = {name: value for name, value in settings.items() if name != "host"}  # instagram's is a choice
    connector = cls(settings, {name: "secret" for name in cls.secrets})

    session = connector.session
    assert isinstance(session.get_adapter("https://example.org/"), TimeoutAdapter)
    assert isinstance(session.get_adapter("http://example.org/"), TimeoutAdapter)


def test_bluesky_sends_through_an_httpx_client_under_the_outbound_policy() -> None:
    # atproto speaks httpx, not requests: the same rules through connectors/http_pinned.py.
    connector = BlueskyConnector({"identifier": "livuni.bsky.social"}, {"app_password": "secret"})

    client = connector.kept.client.request._client
    assert isinstance(client._transport, PinnedTransport)
    assert client._transport.outbound == PUBLIC_ONLY
    assert (client.follow_redirects, client.trust_env) == (False, False)
    assert (client.timeout.connect, client.timeout.read) == (CONNECT_TIMEOUT, READ_TIMEOUT)


def test_the_settings_check_knows_the_new_kinds() -> None:
    assert validate_connector({"kind": "mastodon", "base_url": "https://social.example"}) == {
        "kind": "mastodon",
        "base_url": "https://social.example",
    }
    assert validate_connector({"kind": "bluesky", "identifier": "livuni.bsky.social"}) == {
        "kind": "bluesky",
        "identifier": "livuni.bsky.social",
    }
    with pytest.raises(SettingsInvalid) as caught:
        validate_connector({"kind": "instagram", "ig_user_id": "1784", "image_url": "ftp://x"})
    assert caught.value.field == "connector.image_url"
    with pytest.raises(SettingsInvalid) as caught:
        validate_connector({"kind": "x", "access_token": "a token is a secret"})
    assert caught.value.field == "connector.access_token"


def test_connectors_import_nothing_from_lockdown() -> None:
    for kind in PLATFORMS:
        path = Path(connectors.__file__).parent / f"{kind}.py"
        tree = ast.parse(path.read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        ]
        assert not [name for name in imported if name.split(".")[0] == "lockdown"], kind
