"""Which origins an audit probes, and how: derived purely from the zone's routes.

Cloudflare connects to each endpoint of a hostname's route (`cfremedy.routes`): a DNS
record's address, a load-balancer pool's origin, the target of an Origin Rule's DNS record
override, on the route's ports, with its SNI and Host header. Each becomes one probe target.
A tunnel route is never probed over the network (cloudflared dials out to Cloudflare; there
is no address to connect to). Names outside the zone are resolved at probe time, so this
module stays pure.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from cfremedy.probes.options import ProbeOptions
from cfremedy.routes import HTTP_PORT, HTTPS_PORT, Route, Routes


@dataclass(frozen=True)
class ProbeTarget:
    hostname: str
    # An IP address; or, for a name outside the zone, the host name to reach (see `resolve`).
    address: str
    proxied: bool
    via_cname: str = ""  # what the hostname's CNAME record points to, when the address came from one
    # True when `address` is a host name the probe must resolve with DNS before connecting;
    # False for out-of-zone names a `--connect-to` rule already sends somewhere.
    resolve: bool = False
    # How Cloudflare talks to this origin for this hostname: "https" in Full / Full (strict),
    # "http" in Off / Flexible (the zone setting, or a rule overriding it for the hostname).
    scheme: str = "https"
    https_port: int = HTTPS_PORT  # an Origin Rule or a pool origin may change them
    http_port: int = HTTP_PORT
    sni: str = ""  # "": the hostname
    host_header: str = ""  # "": the hostname
    via: str = ""  # the route, for people ("via load balancer ... pool ... origin 2")
    partial: bool = False  # only part of the hostname's traffic goes here (a path rule)
    # Full (strict): Cloudflare validates the certificate, revocation included.
    strict: bool = False
    # Whether the leaf's revocation is checked: in Full (strict), which validates it, and in Full
    # and Flexible, which `ssl_origin_cert` may propose raising to Full (strict).
    check_revocation: bool = False
    # An inventory address that differs from the record (`origin_ip`'s proposed rewrite): probed
    # the way the route would reach it, but not a route; `record_id` is the record it replaces.
    candidate: bool = False
    record_id: str = ""

    @property
    def server_name(self) -> str:
        """The SNI sent: the route's, else the name a visitor would send. A wildcard record
        stands for concrete names, so it is probed as one (a literal `*.example.com` would
        match only the wildcard certificate, and no visitor ever sends it)."""
        if self.sni:
            return self.sni
        if self.hostname.startswith("*."):
            return WILDCARD_LABEL + self.hostname[1:]
        return self.hostname

    @property
    def host(self) -> str:
        """The Host header sent: the route's override, else the SNI name."""
        return self.host_header or self.server_name


WILDCARD_LABEL = "cfremedy-wildcard-probe"


def plan_targets(routes: Routes, options: ProbeOptions) -> list[ProbeTarget]:
    """Every endpoint Cloudflare would connect to, each (hostname, address, ports, names) once.

    DNS-only address records are included (with `proxied=False`) because browsers reach those
    origins directly, which is where an Origin CA certificate breaks.
    """
    planned: dict[tuple[str, str, int, int, str, str], ProbeTarget] = {}
    for route in routes:
        for endpoint in route.endpoints:
            target = ProbeTarget(
                hostname=endpoint.hostname,
                address=endpoint.address,
                proxied=endpoint.proxied,
                via_cname=endpoint.via_cname,
                resolve=endpoint.resolve and not _routed(endpoint.address, options),
                scheme=route.scheme,
                https_port=endpoint.https_port,
                http_port=endpoint.http_port,
                sni=endpoint.sni,
                host_header=endpoint.host_header,
                via=endpoint.label,
                partial=endpoint.partial,
                strict=route.ssl is not None and route.ssl.mode == "strict",
                check_revocation=_may_validate(route),
            )
            key = (target.hostname, target.address, target.https_port, target.http_port, target.sni, target.host_header)
            previous = planned.get(key)
            if previous is None or (target.proxied and not previous.proxied):
                planned[key] = target  # any proxied endpoint means Cloudflare connects to it
    return list(planned.values())


def plan_candidates(
    routes: Routes, origins_for: Callable[[str], tuple[str, ...]], options: ProbeOptions
) -> list[ProbeTarget]:
    """The inventory's addresses for a proxied A/AAAA record that DNS does not name: each is
    probed as the record's endpoint would be (ports, SNI, Host, SSL mode), so that a proposed
    rewrite of the record can be checked before anyone applies it. Path-specific endpoints and
    names to resolve are not records to rewrite."""
    planned: dict[tuple[str, str, int, int, str, str], ProbeTarget] = {}
    for route in routes:
        if route.kind != "dns" or not route.proxied:
            continue
        named = {e.address for e in route.endpoints}
        for endpoint in route.endpoints:
            if not endpoint.record_id or endpoint.resolve or endpoint.partial or not endpoint.proxied:
                continue
            family = _family(endpoint.address)
            for address in origins_for(route.hostname):
                if address in named or _family(address) != family or family is None:
                    continue
                target = ProbeTarget(
                    hostname=endpoint.hostname,
                    address=address,
                    proxied=True,
                    scheme=route.scheme,
                    https_port=endpoint.https_port,
                    http_port=endpoint.http_port,
                    sni=endpoint.sni,
                    host_header=endpoint.host_header,
                    strict=route.ssl is not None and route.ssl.mode == "strict",
                    check_revocation=_may_validate(route),
                    candidate=True,
                    record_id=endpoint.record_id,
                )
                key = (target.hostname, address, target.https_port, target.http_port, target.sni, target.host_header)
                planned.setdefault(key, target)
    return list(planned.values())


# The modes in which an origin's certificate is, or may be proposed to be, validated.
_VALIDATING = ("strict", "full", "flexible")


def _may_validate(route: Route) -> bool:
    return (route.ssl.mode if route.ssl is not None else "full") in _VALIDATING


def _family(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


def _routed(host: str, options: ProbeOptions) -> bool:
    """Whether a `--connect-to` rule sends connections for `host` somewhere (any port)."""
    return any(rule.matches(host, host, rule.port or HTTPS_PORT) for rule in options.connect_to)


def with_address(target: ProbeTarget, address: str) -> ProbeTarget:
    """The target once its name is resolved to one of its addresses."""
    return dataclasses.replace(target, address=address, resolve=False)
