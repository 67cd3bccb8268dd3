"""Signed, expiring public addresses for media files, for a platform that fetches a post's
media itself (Instagram makes its containers from an ``image_url`` / ``video_url``).

A link names one stored file and the moment it stops working, signed with a key derived from
the installation's secret key (itsdangerous), so nobody can make one for another file or stretch
its life; anyone holding a live link can fetch that one file, which is what the platform needs.
A link is minted when its post is sent, lives for ``LINK_LIFETIME``, and a retry mints another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from lockdown.errors import Forbidden, NotFound

# Meta fetches the file within seconds of the container call; an hour covers a slow video.
LINK_LIFETIME = timedelta(hours=1)
PATH = "/media/public/"
_SALT = "lockdown.media-link.v1"


@dataclass(frozen=True)
class LinkTarget:
    """The file a link names."""

    sha256: str
    extension: str


class MediaLinks:
    """Mints and checks the public links under ``base`` (LOCKDOWN_PUBLIC_URL)."""

    def __init__(self, secret_key: bytes, base: str) -> None:
        self._signer = URLSafeSerializer(secret_key, salt=_SALT)
        self.base = base.rstrip("/")

    def link(self, sha256: str, extension: str, now: datetime, lifetime: timedelta = LINK_LIFETIME) -> str:
        """A public address for the file, good until ``now + lifetime``."""
        expires = int((now + lifetime).timestamp())
        token = self._signer.dumps([sha256, extension, expires])
        return f"{self.base}{PATH}{token}.{extension}"

    def target(self, token_with_extension: str, now: datetime) -> LinkTarget:
        """The file a link names; 404 if it is not one of ours, 403 once it has expired."""
        token, _, extension = token_with_extension.rpartition(".")
        try:
            payload: Any = self._signer.loads(token)
        except BadSignature:
            raise NotFound("no such media link", field="token") from None
        sha256, named_extension, expires = payload
        if named_extension != extension:
            raise NotFound("no such media link", field="token")
        if now.timestamp() >= expires:
            raise Forbidden("this media link has expired", field="token")
        return LinkTarget(str(sha256), str(named_extension))
