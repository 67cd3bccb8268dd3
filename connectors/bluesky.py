"""Bluesky (AT Protocol): ``POST {service_url}/xrpc/com.atproto.server.createSession`` with
``identifier`` and the app password gives ``accessJwt`` and the account's ``did``; then
``POST {service_url}/xrpc/com.atproto.repo.createRecord`` writes an ``app.bsky.feed.post``
record and returns its ``at://`` URI. Delete: a new session, then
``com.atproto.repo.deleteRecord`` with the URI's last segment as ``rkey``.

Settings: ``identifier`` (the handle, e.g. ``livuni.bsky.social``, or the DID) and
``service_url`` (optional, the PDS; default ``https://bsky.social``). Secrets:
``app_password`` (an app password, never the account's own).

Links in the text are sent as link facets, so they are clickable. createRecord has no
idempotency key: a request that got no answer may have published the post.

Readiness: a session (``createSession``), then ``GET com.atproto.server.getSession`` with it,
which names the handle the app password acts as. (createSession is limited to 30 per 5 minutes
and 300 a day per account; one check every few hours spends one.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready, Setting, url_host
from connectors.http import check_response, network_error, new_session
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy

DEFAULT_SERVICE = "https://bsky.social"
POST = "app.bsky.feed.post"
LINK = re.compile(r"https?://[^\s]*[^\s.,;:!?'\")\]]")


class BlueskyConnector(Connector):
    kind = "bluesky"
    settings = (Setting("identifier"), Setting("service_url", required=False, url=True))
    secrets = ("app_password",)

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        return url_host(str(settings.get("service_url") or DEFAULT_SERVICE))

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)
        self.service = str(self.config.get("service_url") or DEFAULT_SERVICE).rstrip("/")

    def publish(self, post: OutgoingPost) -> Published:
        token, did = self._login()
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        record: dict[str, Any] = {"$type": POST, "text": post.body, "createdAt": now[:-6] + "Z"}
        if facets := self.link_facets(post.body):
            record["facets"] = facets
        body = self._xrpc(
            "com.atproto.repo.createRecord",
            token=token,
            idempotent=False,
            payload={"repo": did, "collection": POST, "record": record},
        )
        uri = body.get("uri")
        if not uri:
            return Published(remote_id=None)
        return Published(remote_id=uri, url=f"https://bsky.app/profile/{did}/post/{uri.rsplit('/', 1)[-1]}")

    def delete(self, remote_id: str) -> None:
        if not remote_id.startswith("at://") or f"/{POST}/" not in remote_id:
            raise ConnectorError(f"{remote_id!r} is not the at:// URI of a Bluesky post", permanent=True)
        token, did = self._login()
        self._xrpc(
            "com.atproto.repo.deleteRecord",
            token=token,
            idempotent=True,
            payload={"repo": did, "collection": POST, "rkey": remote_id.rsplit("/", 1)[-1]},
        )

    def check(self) -> Ready:
        """The handle a fresh session acts as, from ``getSession``."""
        token, did = self._login()
        method = "com.atproto.server.getSession"
        try:
            response = self.session.get(f"{self.service}/xrpc/{method}", headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=True) from exc
        try:
            check_response(response)
        except ConnectorError as exc:
            raise self._xrpc_error(method, exc, response) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        handle = body.get("handle") if isinstance(body, dict) else None
        return Ready(account=f"@{handle}" if handle else did)

    def _login(self) -> tuple[str, str]:
        # A session publishes nothing, so a lost answer is safe to ask again.
        body = self._xrpc(
            "com.atproto.server.createSession",
            token=None,
            idempotent=True,
            payload={
                "identifier": self.config["identifier"],
                "password": self.secret["app_password"],
            },
        )
        if not body.get("accessJwt") or not body.get("did"):
            raise ConnectorError("Bluesky's createSession gave no accessJwt or did", permanent=False)
        return str(body["accessJwt"]), str(body["did"])

    def _xrpc(self, method: str, *, token: str | None, idempotent: bool, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.session.post(f"{self.service}/xrpc/{method}", json=payload, headers=headers)
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc
        try:
            check_response(response)
        except ConnectorError as exc:
            raise self._xrpc_error(method, exc, response) from None
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _xrpc_error(method: str, exc: ConnectorError, response: requests.Response) -> ConnectorError:
        """XRPC errors are ``{"error": "Name", "message": "..."}``: keep both, and read the
        PDS's ``RateLimit-Reset`` (epoch seconds) when there is no ``Retry-After``."""
        try:
            error = response.json()
            said = ": ".join(str(error[k]) for k in ("error", "message") if error.get(k))
        except (ValueError, AttributeError):
            said = ""
        message = f"{method}: HTTP {exc.status}: {said}" if said else f"{method}: {exc.message}"
        retry = exc.retry_after
        reset = response.headers.get("RateLimit-Reset", "")
        if retry is None and not exc.permanent and reset.isdigit():
            retry = max(0.0, int(reset) - time.time())
        return ConnectorError(message, permanent=exc.permanent, status=exc.status, retry_after=retry)

    @staticmethod
    def link_facets(text: str) -> list[dict[str, Any]]:
        """Link facets for the URLs in the text, indexed in UTF-8 bytes as the lexicon asks."""
        facets = []
        for match in LINK.finditer(text):
            start = len(text[: match.start()].encode())
            facets.append(
                {
                    "index": {"byteStart": start, "byteEnd": start + len(match.group().encode())},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group()}],
                }
            )
        return facets
