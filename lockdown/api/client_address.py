"""The client's address behind reverse proxies the installation trusts (LOCKDOWN_TRUSTED_PROXIES)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

from lockdown.settings import IPNetwork

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class TrustedProxies:
    """WSGI middleware: a request relayed by a trusted proxy gets the client address it forwarded.

    From the right of X-Forwarded-For, every hop that is itself a trusted proxy is passed over; the
    first that is not is the client, as the outermost trusted proxy saw it (hops further left are
    whatever the client claimed). Werkzeug's ProxyFix then puts that hop in REMOTE_ADDR. A request
    from any other peer keeps its own address, whatever header it sent.
    """

    def __init__(self, app: WSGIApplication, networks: Iterable[IPNetwork]) -> None:
        self.app = app
        self.networks = tuple(networks)

    def trusted(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self.trusted(environ.get("REMOTE_ADDR", "")):
            return self.app(environ, start_response)
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if not forwarded.strip():
            return self.app(environ, start_response)
        # Split exactly as ProxyFix does, so the hop counted here is the hop it takes.
        hops = forwarded.split(",")
        depth = next((n for n, hop in enumerate(reversed(hops), start=1) if not self.trusted(hop)), len(hops))
        # Only the address: nothing here depends on the scheme or host a proxy reports.
        return ProxyFix(self.app, x_for=depth, x_proto=0)(environ, start_response)
