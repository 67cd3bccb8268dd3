"""Where a connector may send: public addresses only, unless an allowlist says more.

A connector URL is typed by a person (``base_url``, ``service_url``, ``url``), so it could name
this machine, the cloud's metadata service (169.254.169.254) or the campus network, in any
spelling a resolver accepts (``0x7f000001``, ``[::1]``, a name that resolves there). The check
therefore runs on the addresses a name resolves to, at the moment of connecting
(``connectors.http`` pins the connection to the address it checked, so a second lookup cannot
answer differently). Standard library only, so the settings module can build a policy at start.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that Python 3.11's ``is_global`` still calls global but that reach private space:
# they embed or relay to an IPv4 address (6to4, NAT64, Teredo) or are shared/relay ranges.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # carrier-grade NAT, often routed to internal workloads
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # 6to4 relay anycast
        "2001::/32",  # Teredo (embeds an IPv4 address)
        "2001:20::/28",  # ORCHIDv2
        "2002::/16",  # 6to4 (embeds an IPv4 address)
        "64:ff9b::/96",  # NAT64 (embeds an IPv4 address)
        "64:ff9b:1::/48",  # local-use NAT64
        "5f00::/16",  # segment routing
        "3fff::/20",  # documentation
    )
)


class DestinationRefused(Exception):
    """The destination is not public and not on the allowlist; nothing was sent."""

    def __init__(self, host: str, address: str) -> None:
        shown = host if host == address else f"{host} ({address})"
        super().__init__(
            f"refused to connect to {shown}: not a public address "
            "(a private deployment lists it in the outbound allowlist)"
        )
        self.host = host
        self.address = address


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local,
    multicast, reserved, or a range that embeds one of those)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        return False
    return not any(address in net for net in NOT_PUBLIC if net.version == address.version)


def _address(text: str) -> IPAddress:
    # A link-local IPv6 answer carries its zone ("fe80::1%eth0"); the zone is not part of it.
    return ipaddress.ip_address(text.split("%", 1)[0])


@dataclass(frozen=True)
class OutboundPolicy:
    """Public destinations, plus the allowlist: host names (exact, any case) and networks.
    The default allows nothing but public addresses."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        """Read allowlist entries (``10.0.0.0/8``, ``127.0.0.1``, ``::1``,
        ``mastodon.campus.example``); ValueError naming a bad one."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not _is_host_name(entry):
                raise ValueError(f"{raw.strip()!r} is neither a network (10.0.0.0/8, ::1) nor a host name")
            hosts.add(entry.rstrip("."))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def allows(self, address: IPAddress) -> bool:
        """Whether one resolved address may be connected to."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return is_public(address) or any(address in net for net in self.networks if net.version == address.version)

    def resolve(self, host: str, port: int) -> str | None:
        """The one address to connect to for ``host``, after checking every address it
        resolves to; None for a host name on the allowlist (trusted as named). Raises
        DestinationRefused, or socket.gaierror when the name does not resolve."""
        host = host.strip("[]").lower().rstrip(".")
        if host in self.hosts:
            return None
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(_address(str(info[4][0])) for info in found))
        for address in addresses:
            # Every answer is checked, not only the first: a name with one public and one
            # private answer is refused rather than trusted on the order of the answers.
            if not self.allows(address):
                raise DestinationRefused(host, str(address))
        return str(addresses[0])


def _is_host_name(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return all(_is_label(label) for label in labels) and not text.replace(".", "").isdigit()


def _is_label(label: str) -> bool:
    allowed = all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    return allowed and 0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-")


PUBLIC_ONLY = OutboundPolicy()
