"""Which addresses the media fetcher and the webhook notifier may connect to.

Only public unicast addresses, unless the operator allows networks in
MEDIA_FETCH_ALLOWED_NETWORKS (and, for webhooks, WEBHOOK_ALLOWED_NETWORKS).
Checked on the resolved address of every connection, so DNS tricks and
redirects cannot reach inside.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_EXTRA_BLOCKED: tuple[Network, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("169.254.0.0/16"),  # link-local incl. cloud metadata
    ipaddress.ip_network("fd00:ec2::/32"),  # AWS metadata over IPv6
)


def refusal_reason(address: str | IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """Why ``address`` may not be fetched from, or None when it may."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed if net.version == ip.version):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        # 6to4 carries an IPv4 address inside; a relay would deliver to it.
        embedded = refusal_reason(ip.sixtofour, allowed)
        if embedded is not None:
            return f"{ip} embeds {embedded}"
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version), "internal"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-global"),
    )
    for flagged, kind in checks:
        if flagged:
            return f"{ip} is a {kind} address"
    return None
