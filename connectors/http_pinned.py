"""The outbound policy for clients built on httpx (atproto's): the same rules as the requests
wrapper in ``connectors.http``. The host is resolved when each request is sent, every address
is checked by ``OutboundPolicy.resolve``, and the connection goes to the checked address, so a
second lookup cannot answer differently; TLS still verifies the certificate for the name (the
``sni_hostname`` extension). No redirect is followed, no proxy is read from the environment, and
connect and read time out as in ``connectors.http``."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from connectors.http import CONNECT_TIMEOUT, READ_TIMEOUT
from connectors.outbound import DestinationRefused, OutboundPolicy

TIMEOUT = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)


class RefusedDestination(httpx.TransportError):
    """The outbound policy refused the address; the request never left."""


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport that connects only where the outbound policy allows, never retrying."""

    def __init__(self, outbound: OutboundPolicy | None) -> None:
        # No retries of its own: a retry is the dispatcher's decision, after the hold check.
        super().__init__(retries=0)
        self.outbound = outbound

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.outbound is not None:
            self._pin(request, self.outbound)
        return super().handle_request(request)

    @staticmethod
    def _pin(request: httpx.Request, outbound: OutboundPolicy) -> None:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            address = outbound.resolve(host, port)
        except DestinationRefused as exc:
            raise RefusedDestination(str(exc), request=request) from exc
        except (socket.gaierror, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        if address is None or address == host:
            return
        # The Host header was set from the name when the request was built and stays so; the
        # certificate is checked for the name too.
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        request.url = request.url.copy_with(host=address)


def new_client(outbound: OutboundPolicy | None, on_send: Callable[[httpx.Request], None] | None = None) -> httpx.Client:
    """An httpx client under the outbound policy (None only for a destination the operator set
    in the environment): timeouts, no redirects, no proxies from the environment. ``on_send``
    is told of each request as it is handed to the transport."""
    return httpx.Client(
        event_hooks={"request": [on_send] if on_send else []},
        transport=PinnedTransport(outbound),
        timeout=TIMEOUT,
        # A redirect would carry a token to a host nobody chose.
        follow_redirects=False,
        # A proxy would resolve and reach the host itself, past the address check.
        trust_env=False,
    )
