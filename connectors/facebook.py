"""Facebook Page: ``POST https://graph.facebook.com/v21.0/{page_id}/feed`` with ``message``
publishes to the Page's feed; ``DELETE https://graph.facebook.com/v21.0/{post_id}`` deletes.

Settings: ``page_id`` (the Page's numeric id). Secrets: ``page_access_token`` (a Page access
token with ``pages_manage_posts``), sent as ``Authorization: Bearer`` so it stays out of URLs.

The Graph API answers most failures with HTTP 400, rate limits included, so the error's
``code`` (and ``is_transient``) decides whether a retry can help, not the status alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Setting
from connectors.http import check_response, network_error, new_session, retry_after_seconds

GRAPH = "https://graph.facebook.com/v21.0"
# Graph error codes that say "later": -2/-1/1/2 server trouble, 4/17/32/341/613 rate limits,
# 9 Instagram's daily publishing limit (https://developers.facebook.com/docs/graph-api/guides/
# error-handling and the Instagram Platform's error codes).
TRANSIENT_CODES = frozenset({-2, -1, 1, 2, 4, 9, 17, 32, 341, 613})


class FacebookConnector(Connector):
    kind = "facebook"
    settings = (Setting("page_id"),)
    secrets = ("page_access_token",)

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        super().__init__(settings, secrets)
        for setting in self.settings:
            if setting.required and not self.config.get(setting.name):
                raise ConnectorError(
                    f"{self.kind} needs the setting {setting.name}", permanent=True
                )
        self.session = new_session()

    def publish(self, post: OutgoingPost) -> Published:
        # The Graph API has no idempotency key: a lost answer may mean a published post.
        body = self.graph(
            self.session,
            "POST",
            f"{GRAPH}/{self.config['page_id']}/feed",
            token=self.secret["page_access_token"],
            data={"message": post.body},
        )
        post_id = body.get("id")
        if not post_id:
            return Published(remote_id=None)
        return Published(remote_id=str(post_id), url=f"https://www.facebook.com/{post_id}")

    def delete(self, remote_id: str) -> None:
        body = self.graph(
            self.session,
            "DELETE",
            f"{GRAPH}/{remote_id}",
            token=self.secret["page_access_token"],
            idempotent=True,
        )
        if body.get("success") is False:
            raise ConnectorError(f"Facebook did not delete post {remote_id}", permanent=True)

    @staticmethod
    def graph(
        session: requests.Session,
        method: str,
        url: str,
        *,
        token: str,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One Graph API call; its JSON object, or ConnectorError read from the Graph error."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = session.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc
        try:
            check_response(response)
        except ConnectorError as exc:
            raise FacebookConnector.graph_error(exc, response) from None
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def graph_error(exc: ConnectorError, response: requests.Response) -> ConnectorError:
        """The HTTP mapping, corrected by the Graph error's own code and ``is_transient``."""
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            return exc
        if not isinstance(error, dict):
            return exc
        code, subcode = error.get("code"), error.get("error_subcode")
        said = ", ".join(f"{k} {v}" for k, v in (("code", code), ("subcode", subcode)) if v)
        message = f"{exc.message} ({said})" if said else exc.message
        transient = (
            not exc.permanent or error.get("is_transient") is True or code in TRANSIENT_CODES
        )
        return ConnectorError(
            message,
            permanent=not transient,
            status=exc.status,
            retry_after=retry_after_seconds(response) if transient else None,
        )
