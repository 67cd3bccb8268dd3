"""The one way connectors speak HTTP: a session with connect and read timeouts, no hidden
retries, no redirects, the outbound policy checked on the address it connects to, and one
mapping from HTTP outcomes to ConnectorError."""

from __future__ import annotations

import email.utils
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connectors.base import ConnectorError
from connectors.outbound import DestinationRefused, OutboundPolicy

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 15.0
# 4xx answers are the request's fault and final, except these, which say "later".
TRANSIENT_4XX = frozenset({408, 425, 429})


class RefusedDestination(requests.RequestException):
    """The outbound policy refused the address; the request never left."""


class UnresolvedHost(requests.ConnectionError):
    """The host name did not resolve; the request never left."""


class TimeoutAdapter(HTTPAdapter):
    """An adapter that applies default timeouts, never retries on its own and, given an
    outbound policy, connects only to an address the policy allows."""

    def __init__(
        self,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        outbound: OutboundPolicy | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.timeout = timeout
        self.outbound = outbound

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)

    def build_connection_pool_key_attributes(  # type: ignore[override]
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' hook for choosing the connection: resolve the host here, check every
        address, and pin the connection to the checked one, so no later lookup can swap it."""
        built = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params: dict[str, Any] = dict(built[0])
        pool_kwargs: dict[str, Any] = dict(built[1])
        if self.outbound is None:
            return host_params, pool_kwargs
        host, scheme = str(host_params["host"]), str(host_params["scheme"])
        port = host_params["port"] or (443 if scheme == "https" else 80)
        try:
            address = self.outbound.resolve(host, int(port))
        except DestinationRefused as exc:
            raise RefusedDestination(str(exc), request=request) from exc
        except (socket.gaierror, UnicodeError) as exc:
            raise UnresolvedHost(f"cannot resolve {host}: {exc}", request=request) from exc
        if address is None or address == host.strip("[]"):
            return host_params, pool_kwargs
        # The headers may be shared with the caller (a client's defaults): copy before adding.
        request.headers = CaseInsensitiveDict(request.headers or {})
        request.headers["Host"] = urlsplit(str(request.url)).netloc.rpartition("@")[2]
        if scheme == "https":
            # TLS still checks the certificate (and sends SNI) for the name, not the address.
            pool_kwargs["assert_hostname"] = host
            pool_kwargs["server_hostname"] = host
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs


def new_session(session: requests.Session | None = None, *, outbound: OutboundPolicy | None) -> requests.Session:
    """A session (or the given one, e.g. tweepy's) with timeouts on every request that follows
    no redirect. ``outbound`` is the policy each connection's address must pass; None only for
    a destination the operator set in the environment, never for one typed into the register."""
    session = session or requests.Session()
    adapter = TimeoutAdapter(outbound=outbound)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # A redirect would carry a body (and its secrets) to a host nobody chose: follow none.
    session.max_redirects = 0
    # Nor a proxy from the environment: it would resolve and reach the host itself, past the
    # address check above.
    session.trust_env = False
    return session


def _redirect_message(response: requests.Response | None) -> str:
    if response is None:
        return "the platform answered with a redirect, which is not followed"
    target = urlsplit(response.headers.get("Location", ""))
    where = f" to {target.scheme}://{target.netloc.rpartition('@')[2]}" if target.netloc else ""
    return (
        f"HTTP {response.status_code}: the platform answered with a redirect{where}, which is not followed; "
        "check the connector's URL"
    )


def _never_sent(exc: requests.ConnectionError) -> bool:
    if isinstance(exc, UnresolvedHost):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


LOST_AFTER_SENDING = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def network_error(exc: requests.RequestException, *, idempotent: bool) -> ConnectorError:
    """Map a requests exception: not sent is transient; sent but unanswered is ambiguous
    unless the request is safe to repeat (a read, a deletion). A publish passes False: whether
    the platform's de-duplication excuses it is judged in one place,
    ``connectors.base.judge_publish_failure``."""
    if isinstance(exc, RefusedDestination):
        return ConnectorError(str(exc), permanent=True)
    if isinstance(exc, requests.TooManyRedirects):
        return ConnectorError(_redirect_message(exc.response), permanent=True)
    if isinstance(exc, requests.ConnectionError) and _never_sent(exc):
        return ConnectorError(f"could not connect: {exc}", permanent=False)
    # A reset, a timeout, or an answer that broke off mid-body: the request was sent and may
    # have been acted on.
    if isinstance(exc, LOST_AFTER_SENDING):
        return ConnectorError(f"no answer after sending: {exc}", permanent=False, ambiguous=not idempotent)
    return ConnectorError(f"request failed: {exc}", permanent=True)


def retry_after_seconds(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or a date) or X's ``x-rate-limit-reset``."""
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return float(value)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("x-rate-limit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def platform_message(response: requests.Response) -> str:
    """The platform's own words for a failure, as far as they can be found."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}".strip()
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("error_user_msg")
        for candidate in (
            error, body.get("detail"), body.get("message"), body.get("title"),
            body.get("error_description"),
        ):  # fmt: skip
            if isinstance(candidate, str) and candidate:
                return f"HTTP {response.status_code}: {candidate}"
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return f"HTTP {response.status_code}: {errors[0].get('message') or errors[0]}"
    return f"HTTP {response.status_code}: {str(body)[:300]}"


def check_response(response: requests.Response) -> requests.Response:
    """Return a 2xx response; raise ConnectorError saying whether anything else is permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    message = platform_message(response)
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        return _raise(message, True, status, None)
    return _raise(message, False, status, retry_after_seconds(response))


def _raise(message: str, permanent: bool, status: int, retry: float | None) -> requests.Response:
    raise ConnectorError(message, permanent=permanent, status=status, retry_after=retry)


def send(
    session: requests.Session, method: str, url: str, *, idempotent: bool = False, **kwargs: Any
) -> requests.Response:
    """One request through the session, every failure turned into ConnectorError."""
    try:
        response = session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise network_error(exc, idempotent=idempotent) from exc
    return check_response(response)
