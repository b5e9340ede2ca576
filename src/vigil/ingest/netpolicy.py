"""Which network addresses cameras and webhooks may reach: link-local and cloud-metadata addresses are
refused unless a deployment allows them (``network`` in the config: ``NetworkConfig``).

A camera URL or a webhook that names such an address (or a host name that resolves to one) would let
whoever adds it make the server fetch from its own metadata service or link-local devices. The check
runs when the URL is added (cameras, the config's webhooks) and again when it is used: before each
webhook delivery and each time a camera's stream is opened (a name may resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from vigil.errors import BadInput
from vigil.ingest.urls import redact_url

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(specs: Sequence[str]) -> tuple[Network, ...]:
    """Parse CIDR blocks ("10.0.0.0/8", "fe80::/10"); a single address is a /32 or /128."""
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


def addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` is (an address itself, or what the resolver says); empty if unresolvable."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_reachable(url: str, what: str, deny: Sequence[Network], allow: Sequence[Network] = ()) -> None:
    """Refuse ``url`` if its host is (or resolves to) an address in ``deny`` and not in ``allow``.

    A host that does not resolve now is let through (opening it fails on its own, with its own error).

    Raises:
        BadInput: naming the URL (credentials masked), the address and the setting that allows it.
    """
    host = urlsplit(url).hostname
    if not host:
        return
    for ip in addresses(host):
        if any(ip in net for net in allow):
            continue
        blocked = next((net for net in deny if ip.version == net.version and ip in net), None)
        if blocked is not None:
            raise BadInput(
                what,
                f"{redact_url(url)}: {host} is {ip}, in {blocked} (link-local, metadata or not routable): "
                "refused; a deployment that needs it lists it in network.allow",
            )


class NetPolicy:
    """A deployment's ``deny`` and ``allow`` networks, checked by :func:`check_reachable`."""

    def __init__(self, deny: Sequence[str] = (), allow: Sequence[str] = ()) -> None:
        self.deny = networks(deny)
        self.allow = networks(allow)

    def check(self, url: str, what: str) -> None:
        check_reachable(url, what, self.deny, self.allow)


OPEN = NetPolicy()
"""No network refused (tools that only read local files, and tests of other things)."""
