"""The one small contract every connector keeps: publish a post, delete it, fail in one way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from connectors.outbound import PUBLIC_ONLY, OutboundPolicy


@dataclass(frozen=True)
class Setting:
    """One non-secret setting of a connector kind (kept in the account's ``connector``)."""

    name: str
    required: bool = True
    url: bool = False
    # A credential given with the settings (a Slack or Teams hook URL): kept as a secret, and
    # shown only masked (``connectors.settings.mask_url``) where the settings are shown.
    secret: bool = False
    # A URL the platform fetches itself (Instagram's image_url): Lockdown never connects to it,
    # so the outbound policy cannot judge it at send time; it must at least not name this
    # machine or a private network, which the platform could never reach anyway.
    fetched_by_platform: bool = False


@dataclass(frozen=True)
class OutgoingPost:
    """What a connector is given to publish: nothing from the database but this."""

    post_id: int
    account_id: int
    handle: str
    platform: str
    body: str
    scheduled_at: str
    idempotency_key: str
    # What an earlier, interrupted attempt achieved (e.g. an Instagram container id).
    progress: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """The platform accepted the post."""

    remote_id: str | None
    url: str | None = None


class ConnectorError(Exception):
    """Every connector failure. ``permanent``: do not try again. ``ambiguous``: the platform
    may have published it (the request was sent, no answer came back), so a person decides.
    Neither: safe to try again later, not before ``retry_after`` seconds if given."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        ambiguous: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        progress: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.status = status
        self.progress = dict(progress or {})

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "ambiguous" if self.ambiguous else "transient"
        return f"ConnectorError({kind}, status={self.status}, {self.message!r})"


def url_host(url: str) -> str:
    """A URL's host as secrets are bound to it: lower case, with the port if one is given."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


class Connector(ABC):
    """One platform. Built per send from the account's settings and decrypted secrets."""

    kind: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = ()
    secrets: ClassVar[tuple[str, ...]] = ()
    # The host a fixed-address platform's secrets go to; a connector whose host is a setting
    # overrides ``destination``.
    host: ClassVar[str] = ""

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        """The host (and port) this connector sends its secrets to, with these settings: a
        stored secret is valid for this and the kind only."""
        return cls.host

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        # Where this connector may connect: public addresses only unless the caller allows more.
        self.outbound = outbound
        missing = [name for name in self.secrets if not secrets.get(name)]
        if missing:
            raise ConnectorError(
                f"the {self.kind} connector has no {', '.join(missing)} in the vault",
                permanent=True,
            )
        absent = [s.name for s in self.settings if s.required and not settings.get(s.name)]
        if absent:
            raise ConnectorError(f"{self.kind} needs the setting {', '.join(absent)}", permanent=True)
        self.config = dict(settings)
        self.secret = dict(secrets)

    @abstractmethod
    def publish(self, post: OutgoingPost) -> Published:
        """Publish the post, or raise ConnectorError."""

    @abstractmethod
    def delete(self, remote_id: str) -> None:
        """Delete a post this connector published, or raise ConnectorError."""

    def close(self) -> None:
        """Release the HTTP session's connections (a connector is built for each send)."""
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
