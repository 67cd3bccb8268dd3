"""The non-secret settings each connector kind takes, checked when an account is registered.

Tokens never go here: they are secrets and live in the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class SettingsInvalid(ValueError):
    """A connector setting is missing or malformed; ``field`` names it (``connector.url``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Setting:
    """One setting of a connector kind."""

    name: str
    required: bool = True
    url: bool = False


KINDS: dict[str, tuple[Setting, ...]] = {
    "outbox": (),
    "webhook": (Setting("url", url=True),),
    "x": (),
    "facebook": (Setting("page_id"),),
    "instagram": (Setting("ig_user_id"),),
    "linkedin": (Setting("author"),),
    "mastodon": (Setting("base_url", url=True),),
    "bluesky": (Setting("identifier"), Setting("service_url", required=False, url=True)),
}


def _check_url(field: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsInvalid(field, f"{field} must be an http(s) URL with a host, got {value!r}")


def validate_connector(raw: Any) -> dict[str, str]:
    """Return the cleaned settings, or raise SettingsInvalid naming the first bad field."""
    if raw is None:
        return {"kind": "outbox"}
    if not isinstance(raw, dict):
        raise SettingsInvalid("connector", 'connector must be an object such as {"kind": "outbox"}')
    kind = raw.get("kind", "outbox")
    if kind not in KINDS:
        raise SettingsInvalid(
            "connector.kind", f"connector.kind must be one of {', '.join(KINDS)}, got {kind!r}"
        )
    known = {setting.name: setting for setting in KINDS[kind]}
    cleaned = {"kind": kind}
    for name, value in raw.items():
        if name == "kind":
            continue
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise SettingsInvalid(
                f"connector.{name}",
                f"connector.{name} is not a setting of {kind} (settings: {allowed}); "
                "tokens go in the vault",
            )
        if not isinstance(value, str) or not value.strip():
            raise SettingsInvalid(f"connector.{name}", f"connector.{name} must be non-blank text")
        cleaned[name] = value.strip()
    for setting in KINDS[kind]:
        field = f"connector.{setting.name}"
        if setting.name not in cleaned:
            if setting.required:
                raise SettingsInvalid(field, f"the {kind} connector needs {field}")
            continue
        if setting.url:
            _check_url(field, cleaned[setting.name])
    return cleaned
