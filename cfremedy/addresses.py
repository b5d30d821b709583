"""Addresses an origin can never have: what Cloudflare's edge cannot connect to, and why.

A proxied record, a load-balancer pool origin or a resolved name that lands on a private,
reserved, documentation or Cloudflare address sends visitors an error, whatever the origin
does: the classes are checked here once for every playbook that meets an address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cfremedy.models import IPNetwork

# Address classes Cloudflare's edge can never connect to, checked in this order.
UNROUTABLE: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (reserved)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (reserved)"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped (not a real IPv6 origin)"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local (private IPv6)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
UNROUTABLE_NETS = tuple((ipaddress.ip_network(n), label) for n, label in UNROUTABLE)


def address_problem(address: str, cloudflare_ranges: Iterable[IPNetwork]) -> tuple[str, int] | None:
    """Why Cloudflare cannot use this address, and the error visitors get (523, or 1000 for a
    Cloudflare address); None if it can."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address", 523
    for network, label in UNROUTABLE_NETS:
        if ip.version == network.version and ip in network:
            return f"{label} address {ip} (in {network})", 523
    for network in cloudflare_ranges:
        if ip.version == network.version and ip in network:
            return f"{ip} is a Cloudflare address (in {network}), not an origin", 1000
    return None
