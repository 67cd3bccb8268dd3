"""The watch's reads on the Graph API (Facebook Page feed, Instagram media): pages of a listing,
newest first, until one reaches back past ``since``, at most ``WATCH_PAGES`` pages.

A token that lacks the permission to read is Unwatchable: Graph error 10 (permission denied) or
200-299 (a permission not granted), https://developers.facebook.com/docs/graph-api/guides/error-handling.
Everything else reads as every Graph call does (``connectors.graph_errors``): business use case
rate limits (80001 Pages, 80002 Instagram) are transient and wait the window Meta reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from connectors.base import WATCH_PAGES, ConnectorError, RemotePost, Unwatchable
from connectors.graph_errors import graph_error
from connectors.http import check_response, network_error

PERMISSION_CODES = frozenset({10, *range(200, 300)})


def graph_time(value: Any) -> datetime:
    """A Graph time (``2026-11-29T10:30:00+0000``) as an aware UTC datetime."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except ValueError:
        raise ConnectorError(f"the Graph API gave an unreadable time: {value!r}", permanent=False) from None


def read(session: requests.Session, url: str, *, token: str, params: dict[str, str] | None, needs: str) -> Any:
    """One Graph read; a refused permission is Unwatchable naming the permission ``needs``."""
    try:
        response = session.request("GET", url, headers={"Authorization": f"Bearer {token}"}, params=params)
    except requests.RequestException as exc:
        raise network_error(exc, idempotent=True) from exc
    try:
        check_response(response)
    except ConnectorError as exc:
        judged = graph_error(exc, response)
        try:
            code = (response.json().get("error") or {}).get("code")
        except (ValueError, AttributeError):
            code = None
        if isinstance(code, int) and not isinstance(code, bool) and code in PERMISSION_CODES:
            raise Unwatchable(f"{judged.message}; reading the posts needs {needs}", status=exc.status) from None
        raise judged from None
    try:
        return response.json()
    except ValueError:
        raise ConnectorError("the Graph API's answer could not be read", permanent=False) from None


def recent(
    session: requests.Session,
    url: str,
    *,
    token: str,
    params: dict[str, str],
    since: datetime,
    needs: str,
    post: Callable[[dict[str, Any]], RemotePost],
    follow: Callable[[dict[str, Any], str, dict[str, str]], tuple[str, dict[str, str] | None] | None],
) -> list[RemotePost]:
    """Read ``url`` page by page; ``post`` reads one item, ``follow`` gives the next request
    (URL and parameters) from a page, the first URL and its parameters, or None when there is
    none."""
    found: list[RemotePost] = []
    request: tuple[str, dict[str, str] | None] | None = (url, params)
    for _ in range(WATCH_PAGES):
        if request is None:
            break
        body = read(session, request[0], token=token, params=request[1], needs=needs)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ConnectorError("the Graph API's listing had no data list", permanent=False)
        older = False
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                raise ConnectorError(f"the Graph API listed an item without id: {item!r:.200}", permanent=False)
            listed = post(item)
            if listed.posted_at < since:
                older = True
            else:
                found.append(listed)
        request = None if older or not items else follow(body, url, params)
    found.sort(key=lambda listed: listed.posted_at, reverse=True)
    return found
