"""Check an account's non-secret connector settings against its connector's declared ones.

Tokens never go here: they are secrets and live in the vault.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from connectors.base import url_host
from connectors.outbound import is_public
from connectors.registry import CONNECTORS, connector_class


class SettingsInvalid(ValueError):
    """A connector setting is missing or malformed; ``field`` names it (``connector.url``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


MASK = "…"


def mask_url(url: str) -> str:
    """A secret URL as it may be shown: scheme, host and port, the rest (the credential) masked."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{url_host(url)}/{MASK}"


def is_masked(value: str) -> bool:
    """Whether a URL is a masked one (as shown), not a URL to send to."""
    return value.endswith(f"/{MASK}")


def split_secret_settings(cleaned: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Cleaned settings as they may be stored and shown (secret settings masked), and the
    secret settings given in full (a masked one given back is no new value)."""
    declared = {setting.name: setting for setting in connector_class(cleaned["kind"]).settings}
    shown, secret = dict(cleaned), {}
    for name, value in cleaned.items():
        setting = declared.get(name)
        if setting is not None and setting.secret:
            if not is_masked(value):
                secret[name] = value
            shown[name] = mask_url(value)
    return shown, secret


def masked(connector: dict[str, Any]) -> dict[str, Any]:
    """An account's connector as it may be shown: its secret settings masked."""
    kind = connector.get("kind")
    if kind not in CONNECTORS:
        return connector
    secret = {setting.name for setting in connector_class(kind).settings if setting.secret}
    return {k: mask_url(v) if k in secret and isinstance(v, str) else v for k, v in connector.items()}


def _check_url(field: str, value: str, *, public: bool = False) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsInvalid(field, f"{field} must be an http(s) URL with a host, got {value!r}")
    if public and not _may_be_public(parts.hostname):
        raise SettingsInvalid(
            field, f"{field} must name a public host the platform can fetch from, not {parts.hostname!r}"
        )


def _may_be_public(host: str) -> bool:
    """False for a host that is certainly not public: localhost, or an address (in any spelling
    the C library accepts, such as 0x7f000001 or 127.1) outside the public internet. A name is
    judged by the platform that resolves it."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return False
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return True
    return is_public(address)


def validate_connector(raw: Any) -> dict[str, str]:
    """Return the cleaned settings, or raise SettingsInvalid naming the first bad field."""
    if raw is None:
        return {"kind": "outbox"}
    if not isinstance(raw, dict):
        raise SettingsInvalid("connector", 'connector must be an object such as {"kind": "outbox"}')
    kind = raw.get("kind", "outbox")
    if kind not in CONNECTORS:
        raise SettingsInvalid("connector.kind", f"connector.kind must be one of {', '.join(CONNECTORS)}, got {kind!r}")
    declared = connector_class(kind).settings
    known = {setting.name: setting for setting in declared}
    cleaned = {"kind": kind}
    for name, value in raw.items():
        if name == "kind":
            continue
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise SettingsInvalid(
                f"connector.{name}",
                f"connector.{name} is not a setting of {kind} (settings: {allowed}); tokens go in the vault",
            )
        if not isinstance(value, str) or not value.strip():
            raise SettingsInvalid(f"connector.{name}", f"connector.{name} must be non-blank text")
        cleaned[name] = value.strip()
    for setting in declared:
        field = f"connector.{setting.name}"
        if setting.name not in cleaned:
            if setting.required:
                raise SettingsInvalid(field, f"the {kind} connector needs {field}")
            continue
        if setting.url:
            _check_url(field, cleaned[setting.name], public=setting.fetched_by_platform)
    return cleaned
