"""Which (hostname, origin address) pairs an audit probes, derived purely from a snapshot.

Cloudflare connects to the address a proxied record names, sending the record's name as SNI
and Host, so that pair is the unit of probing. A proxied CNAME is followed the way Cloudflare
follows it: inside the zone through the zone's own records, outside it through DNS (which we
postpone to probe time so this module stays pure and testable without a network).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass

from cfremedy.models import DnsRecord, ZoneSnapshot, normalise_name
from cfremedy.probes.options import ProbeOptions
from cfremedy.ssl_modes import effective_mode


@dataclass(frozen=True)
class ProbeTarget:
    hostname: str
    # An IP address; or, for a CNAME leaving the zone, the host name to reach (see `resolve`).
    address: str
    proxied: bool
    via_cname: str = ""  # what the hostname's CNAME record points to, when the address came from one
    # True when `address` is a host name the probe must resolve with DNS before connecting;
    # False for out-of-zone names a `--connect-to` rule already sends somewhere.
    resolve: bool = False
    # How Cloudflare talks to this origin for this hostname: "https" in Full / Full (strict),
    # "http" in Off / Flexible (the zone setting, or a rule overriding it for the hostname).
    scheme: str = "https"

    @property
    def server_name(self) -> str:
        """The SNI and Host a visitor would send: a wildcard record stands for concrete names,
        so it is probed as one (a literal `*.example.com` would match only the wildcard cert
        and no visitor ever sends it)."""
        if self.hostname.startswith("*."):
            return WILDCARD_LABEL + self.hostname[1:]
        return self.hostname


WILDCARD_LABEL = "cfremedy-wildcard-probe"


def _address(content: str) -> str:
    try:
        return str(ipaddress.ip_address(content.strip()))
    except ValueError:
        return content.strip()


def _in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _follow(start: str, by_name: dict[str, list[DnsRecord]], zone: str) -> tuple[list[str], str | None]:
    """Addresses the in-zone chain from `start` ends at, or the out-of-zone name it leaves by.

    A loop, or a chain ending at a name with no records, yields nothing: Cloudflare answers
    such a hostname with an error of its own (1000-series), there is no origin to probe.
    """
    seen: set[str] = set()
    name = start
    while _in_zone(name, zone) and name not in seen:
        seen.add(name)
        records = by_name.get(name, [])
        addresses = [_address(r.content) for r in records if r.is_address]
        if addresses:
            return addresses, None
        cname = next((r for r in records if r.type == "CNAME"), None)
        if cname is None:
            return [], None
        name = normalise_name(cname.content)
    if name in seen:
        return [], None
    return [], name


def plan_targets(snapshot: ZoneSnapshot, options: ProbeOptions) -> list[ProbeTarget]:
    """Every origin Cloudflare would connect to for this zone, each (hostname, address) once.

    DNS-only A/AAAA records are included (with `proxied=False`) because browsers reach those
    origins directly, which is where an Origin CA certificate breaks; proxied CNAMEs are
    followed; DNS-only CNAMEs are not ours to probe.
    """
    zone = normalise_name(snapshot.zone.name)
    by_name: dict[str, list[DnsRecord]] = {}
    for record in snapshot.records:
        by_name.setdefault(normalise_name(record.name), []).append(record)

    planned: dict[tuple[str, str], ProbeTarget] = {}

    def add(target: ProbeTarget) -> None:
        key = (target.hostname, target.address)
        previous = planned.get(key)
        if previous is None:
            planned[key] = target
        elif target.proxied and not previous.proxied:
            planned[key] = target  # any proxied record means Cloudflare connects to it

    for record in snapshot.records:
        hostname = normalise_name(record.name)
        if not record.content.strip():
            continue  # nothing to connect to
        if record.is_address:
            add(ProbeTarget(hostname, _address(record.content), record.proxied))
        elif record.type == "CNAME" and record.proxied:
            via = normalise_name(record.content)
            addresses, outside = _follow(via, by_name, zone)
            for address in addresses:
                add(ProbeTarget(hostname, address, True, via_cname=via))
            if outside is not None:
                routed = _routed(outside, options)
                add(ProbeTarget(hostname, outside, True, via_cname=via, resolve=not routed))
    schemes: dict[str, str] = {}
    for hostname in {t.hostname for t in planned.values()}:
        mode = effective_mode(snapshot.setting("ssl"), snapshot.ssl_rules, hostname).mode
        schemes[hostname] = "http" if mode in PLAIN_MODES else "https"
    return [dataclasses.replace(t, scheme=schemes[t.hostname]) for t in planned.values()]


PLAIN_MODES = ("off", "flexible")


def _routed(host: str, options: ProbeOptions) -> bool:
    """Whether a `--connect-to` rule sends connections for `host` somewhere (any port)."""
    return any(rule.matches(host, host, rule.port or 443) for rule in options.connect_to)
