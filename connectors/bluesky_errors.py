"""What an atproto (or httpx) failure means for a Bluesky call, as one ConnectorError.

atproto raises its own errors for an answer (``RequestErrorBase`` with the ``response``) and
wraps some httpx failures (``NetworkError``, ``InvokeTimeoutError``) while letting others out
raw (``RemoteProtocolError``), so the httpx failure is looked for along the chain of causes.
Whether a publish that may have reached the PDS is ambiguous is judged once, in
``connectors.base.judge_publish_failure``; here a call only says what happened.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from atproto_client.exceptions import RateLimitExceededError, RequestErrorBase
from atproto_client.models.common import XrpcError

from connectors.base import ConnectorError
from connectors.http import TRANSIENT_4XX
from connectors.http_pinned import RefusedDestination

# Failures before anything was sent: always safe to try again.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Sent, and no (whole) answer came back: the PDS may have acted.
LOST_AFTER_SENDING = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# What the PDS says when the access token is no good (400 today, 401 on older servers).
TOKEN_REFUSED = frozenset({"ExpiredToken", "InvalidToken"})


def xrpc_error_name(exc: BaseException) -> str | None:
    """The XRPC ``error`` name of a PDS answer (``ExpiredToken``, ``RateLimitExceeded``)."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        if isinstance(content, XrpcError):
            return str(content.error)
    return None


def token_refused(exc: BaseException) -> bool:
    """Whether the PDS refused the call for its token alone: it did nothing, and a call with a
    fresh token is safe."""
    return xrpc_error_name(exc) in TOKEN_REFUSED


def connector_error(method: str, exc: Exception, *, publishes: bool, sent: bool = True) -> ConnectorError:
    """Map a failed call of ``method``. ``publishes``: the call creates a post, so an answer
    lost after sending means it may be live. A call that publishes nothing (a login, a handle
    lookup, a deletion) is safe to repeat, and its 5xx is named in the message but not given as
    the status, so a publish that failed before its record was sent is never judged ambiguous.
    ``sent``: whether a request had left when ``exc`` was raised."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        return _answered(method, exc, publishes=publishes)
    cause = _httpx_cause(exc)
    if isinstance(cause, RefusedDestination):
        return ConnectorError(str(cause), permanent=True)
    if isinstance(cause, NEVER_SENT):
        return ConnectorError(f"{method}: could not connect: {cause}", permanent=False)
    if isinstance(cause, LOST_AFTER_SENDING):
        return ConnectorError(f"{method}: no answer after sending: {cause!r}", permanent=False, ambiguous=publishes)
    if cause is not None:
        return ConnectorError(f"{method}: request failed: {cause!r}", permanent=True)
    if not sent:  # atproto refused before sending (a token it cannot read, a bad argument)
        return ConnectorError(f"{method}: failed before sending: {exc!r}", permanent=False)
    # Anything else came after a 2xx (an answer atproto could not read): the call was done.
    return ConnectorError(f"{method}: unreadable answer: {exc!r}", permanent=False, ambiguous=publishes)


def _answered(method: str, exc: RequestErrorBase, *, publishes: bool) -> ConnectorError:
    response: Any = exc.response
    status = int(response.status_code)
    said = _said(response.content)
    message = f"{method}: HTTP {status}: {said}" if said else f"{method}: HTTP {status}"
    if 300 <= status < 400:
        return ConnectorError(
            f"{message}: the PDS answered with a redirect, which is not followed; check service_url",
            permanent=True,
            status=status,
        )
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        return ConnectorError(message, permanent=True, status=status)
    shown = status if publishes or status < 500 else None
    return ConnectorError(message, permanent=False, status=shown, retry_after=_retry_after(exc))


def _said(content: Any) -> str:
    if isinstance(content, XrpcError):
        return ": ".join(str(part) for part in (content.error, content.message) if part)
    if isinstance(content, bytes):
        return content[:300].decode("utf-8", "replace").strip()
    return str(content)[:300] if content else ""


def _retry_after(exc: RequestErrorBase) -> float | None:
    """The PDS's ``Retry-After``, else its ``RateLimit-Reset`` (epoch seconds)."""
    if not isinstance(exc, RateLimitExceededError):
        return None
    if exc.retry_after is not None:
        return float(exc.retry_after)
    if exc.reset_at is not None:
        return max(0.0, float(exc.reset_at.timestamp()) - time.time())
    return None


def _httpx_cause(exc: BaseException) -> httpx.HTTPError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.HTTPError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
