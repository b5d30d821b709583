"""Where Cloudflare really sends each hostname's traffic: one pure function, `build_routes`.

A hostname's DNS records are only the start. A Load Balancer of the same name takes
precedence and spreads traffic over its pools' origins (each with its own address, port and
Host header); a CNAME to `<id>.cfargotunnel.com` goes through a Cloudflare Tunnel, never to
an address; Origin Rules change the destination port, the Host header, the SNI, or the host
name that is resolved; Configuration Rules and Page Rules change the SSL mode, Cache Rules the
proxy read timeout. Probes, playbooks, `diagnose` and the report all read the routes built
here, so they judge what Cloudflare connects to, and each verdict can say which route it
judged ("via load balancer lb.example.com pool eu-1 origin 2").

Rules are evaluated for the host part of their expressions (`cfremedy.rules_language`): a
rule that covers all of a hostname's traffic changes its route; one that covers part of it (a
path) adds a second set of endpoints, marked partial; one whose expression cannot be evaluated
is listed as unknown, never guessed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from cfremedy.edge_profile import DEFAULT_PROXY_READ_TIMEOUT, MAX_PROXY_READ_TIMEOUT
from cfremedy.models import (
    TUNNEL_SUFFIX,
    CacheRule,
    DnsRecord,
    IngressRule,
    LoadBalancer,
    OriginRule,
    Pool,
    PoolOrigin,
    Tunnel,
    ZoneSnapshot,
    frozen_mapping,
    normalise_name,
)
from cfremedy.rules_language import Match, Unsupported, match_expression
from cfremedy.ssl_modes import EffectiveMode, effective_mode

HTTPS_PORT = 443
HTTP_PORT = 80
PLAIN_MODES = ("off", "flexible")  # Cloudflare talks plain HTTP to the origin
PAGES_SUFFIX = ".pages.dev"


@dataclass(frozen=True)
class Endpoint:
    """One place Cloudflare connects to for a hostname, and how."""

    hostname: str  # the visitor's hostname (may be a wildcard record's `*.example.com`)
    address: str  # an IP address, or a host name to resolve (`resolve`)
    proxied: bool = True
    resolve: bool = False  # `address` is a name outside the zone: DNS decides where it goes
    https_port: int = HTTPS_PORT
    http_port: int = HTTP_PORT
    sni: str = ""  # "" : the hostname
    host_header: str = ""  # "" : the hostname
    via: tuple[str, ...] = ()  # the route's steps, for people: "load balancer ...", "pool ..."
    kind: str = "dns"  # "dns" | "load_balancer"
    partial: bool = False  # reached only by part of the traffic (a path-specific Origin Rule)
    record_id: str = ""  # the DNS record it comes from (DNS routes)
    via_cname: str = ""  # the hostname's CNAME target, when the address came from one
    pool_id: str = ""
    origin_name: str = ""

    @property
    def label(self) -> str:
        """How to name the route in a message: "" for a plain DNS record."""
        return " ".join(self.via)


@dataclass(frozen=True)
class EffectiveTimeout:
    """How long Cloudflare waits for the origin's response (524 past it)."""

    seconds: int
    rule: CacheRule | None = None  # None: the zone setting (or its default) decides
    # Cache Rules that set another timeout for part of the hostname's traffic (a path).
    partial: tuple[CacheRule, ...] = ()
    unknown: tuple[CacheRule, ...] = ()  # rules whose expression cfremedy cannot evaluate

    @property
    def source(self) -> str:
        return self.rule.label if self.rule is not None else "the zone setting"


@dataclass(frozen=True)
class TunnelRoute:
    """A hostname published through a Cloudflare Tunnel (a proxied CNAME to its UUID)."""

    tunnel_id: str
    target: str  # <id>.cfargotunnel.com
    tunnel: Tunnel | None  # None: no such tunnel in the account (or tunnels were not read)
    tunnels_read: bool  # whether the account's tunnels were read at all
    ingress: IngressRule | None = None  # the rule that serves the hostname (remote-managed)
    # Path-specific rules for the hostname, ahead of the one that serves the rest.
    ingress_paths: tuple[IngressRule, ...] = ()


@dataclass(frozen=True)
class LoadBalancerRoute:
    load_balancer: LoadBalancer
    pools: tuple[Pool, ...]  # the pools it sends to, in the order it lists them
    missing_pools: tuple[str, ...] = ()  # ids it names that the account's pools do not have


@dataclass(frozen=True)
class NameToResolve:
    """A host name outside the zone that Cloudflare must resolve to reach an origin (530/1016
    when it cannot)."""

    name: str
    hostname: str  # the visitor hostname whose route needs it
    why: str  # "CNAME target", "load balancer ... origin", "Origin Rule ... DNS record override"


@dataclass(frozen=True)
class Route:
    hostname: str
    kind: str  # "dns" | "load_balancer" | "tunnel" | "pages" | "none"
    proxied: bool
    endpoints: tuple[Endpoint, ...] = ()
    ssl: EffectiveMode | None = None
    timeout: EffectiveTimeout = field(default_factory=lambda: EffectiveTimeout(DEFAULT_PROXY_READ_TIMEOUT))
    origin_rules: tuple[OriginRule, ...] = ()  # the rules that change this route (fully or partly)
    unknown_rules: tuple[OriginRule, ...] = ()  # rules cfremedy could not evaluate for it
    tunnel: TunnelRoute | None = None
    load_balancer: LoadBalancerRoute | None = None
    names: tuple[NameToResolve, ...] = ()
    # Why the route leads nowhere inside the zone (a CNAME loop, a name without records).
    problem: str = ""

    @property
    def scheme(self) -> str:
        mode = self.ssl.mode if self.ssl is not None else "full"
        return "http" if mode in PLAIN_MODES else "https"


@dataclass(frozen=True)
class Routes:
    """Every hostname's route, by hostname."""

    by_hostname: Mapping[str, Route] = field(default_factory=frozen_mapping)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.by_hostname.values())

    def get(self, hostname: str) -> Route | None:
        return self.by_hostname.get(normalise_name(hostname))

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for route in self for e in route.endpoints)

    @property
    def names(self) -> tuple[NameToResolve, ...]:
        return tuple(n for route in self for n in route.names)


# -- the pieces ----------------------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def tunnel_id_of(target: str) -> str | None:
    """The tunnel UUID of a `<uuid>.cfargotunnel.com` name, else None."""
    name = normalise_name(target)
    if not name.endswith(TUNNEL_SUFFIX):
        return None
    return name[: -len(TUNNEL_SUFFIX)] or None


@dataclass(frozen=True)
class _Followed:
    """Where a name leads inside the zone: addresses, or the name it leaves the zone by."""

    addresses: tuple[tuple[str, str], ...] = ()  # (address, record id)
    outside: str | None = None
    problem: str = ""


def _follow(start: str, by_name: Mapping[str, list[DnsRecord]], zone: str) -> _Followed:
    """Follow a name through the zone's own records, as Cloudflare's resolver does."""
    seen: list[str] = []
    name = start
    while _in_zone(name, zone):
        if name in seen:
            return _Followed(problem=f"the CNAME chain loops ({' -> '.join([*seen, name])})")
        seen.append(name)
        records = _records_at(name, by_name, zone)
        addresses = tuple((r.content.strip(), r.id) for r in records if r.is_address and r.content.strip())
        if addresses:
            return _Followed(addresses=addresses)
        cname = next((r for r in records if r.type == "CNAME"), None)
        if cname is None:
            return _Followed(problem=f"{name} has no A, AAAA or CNAME record in the zone")
        name = normalise_name(cname.content)
    return _Followed(outside=name)


def _records_at(name: str, by_name: Mapping[str, list[DnsRecord]], zone: str) -> list[DnsRecord]:
    """The records answering for `name`: its own, or, when it has none, those of the closest
    wildcard above it in the zone (`*.example.com` answers for `app.example.com`)."""
    records = by_name.get(name)
    if records:
        return records
    parent = name
    while parent != zone and "." in parent:
        parent = parent.split(".", 1)[1]
        wildcard = by_name.get(f"*.{parent}")
        if wildcard:
            return wildcard
    return []


def _rule_matches(expression: str, hostname: str) -> Match:
    return match_expression(expression, hostname)


def effective_timeout(snapshot: ZoneSnapshot, hostname: str, path: str | None = None) -> EffectiveTimeout:
    """The proxy read timeout for a hostname (and a path, when given): the zone setting, replaced
    by the last Cache Rule with a `read_timeout` that matches (later rules win)."""
    setting = snapshot.setting("proxy_read_timeout", DEFAULT_PROXY_READ_TIMEOUT)
    seconds = (
        setting if isinstance(setting, int) and 1 <= setting <= MAX_PROXY_READ_TIMEOUT else DEFAULT_PROXY_READ_TIMEOUT
    )
    rule: CacheRule | None = None
    partial: list[CacheRule] = []
    unknown: list[CacheRule] = []
    for candidate in sorted((r for r in snapshot.cache_rules or () if r.enabled), key=lambda r: r.position):
        try:
            found = match_expression(candidate.expression, hostname, path)
        except Unsupported:
            unknown.append(candidate)
            continue
        if found is Match.FULL:
            seconds, rule = candidate.read_timeout, candidate
            partial = []  # a later rule for all the traffic overrides the path rules before it
        elif found is Match.PARTIAL:
            partial.append(candidate)
    return EffectiveTimeout(seconds, rule, tuple(r for r in partial if r.read_timeout != seconds), tuple(unknown))


@dataclass(frozen=True)
class _Override:
    """What the matching Origin Rules change, merged in order (later rules win per field)."""

    rules: tuple[OriginRule, ...] = ()
    host_header: str = ""
    origin_host: str = ""
    port: int | None = None
    sni: str = ""

    def merged(self, rule: OriginRule) -> _Override:
        return _Override(
            rules=(*self.rules, rule),
            host_header=rule.host_header or self.host_header,
            origin_host=rule.origin_host or self.origin_host,
            port=rule.origin_port if rule.origin_port is not None else self.port,
            sni=rule.sni or self.sni,
        )


def _overrides(snapshot: ZoneSnapshot, hostname: str) -> tuple[list[tuple[_Override, bool]], list[OriginRule]]:
    """The override for all of the hostname's traffic, then one per rule that covers only part
    of it (each on top of the first), with `partial` flags; and the rules not evaluated."""
    matched: list[tuple[OriginRule, bool]] = []  # (rule, covers all of the hostname's traffic)
    unknown: list[OriginRule] = []
    for rule in sorted((r for r in snapshot.origin_rules or () if r.enabled), key=lambda r: r.position):
        try:
            found = _rule_matches(rule.expression, hostname)
        except Unsupported:
            unknown.append(rule)
            continue
        if found is not Match.NO:
            matched.append((rule, found is Match.FULL))

    def merge(extra: OriginRule | None) -> _Override:
        # Cloudflare merges matching rules in order, later ones winning field by field, so a
        # path rule's change survives only where no later rule sets the same field.
        merged = _Override()
        for rule, full in matched:
            if full or rule is extra:
                merged = merged.merged(rule)
        return merged

    variants = [(merge(None), False), *((merge(rule), True) for rule, full in matched if not full)]
    return variants, unknown


def _apply(endpoint: Endpoint, override: _Override, partial: bool) -> Endpoint:
    if not override.rules:
        return endpoint
    sni = override.sni or override.host_header or endpoint.sni
    port = override.port
    return replace(
        endpoint,
        https_port=port if port is not None else endpoint.https_port,
        http_port=port if port is not None else endpoint.http_port,
        # A load-balancer origin's own Host header takes precedence over an Origin Rule's.
        host_header=endpoint.host_header
        if endpoint.kind == "load_balancer" and endpoint.host_header
        else override.host_header or endpoint.host_header,
        sni=endpoint.sni if endpoint.kind == "load_balancer" and endpoint.sni else sni,
        via=(*endpoint.via, *(f"via {r.label}" for r in override.rules)),
        partial=partial or endpoint.partial,
    )


def _from_name(
    hostname: str, name: str, by_name: Mapping[str, list[DnsRecord]], zone: str, base: Endpoint, why: str
) -> tuple[list[Endpoint], list[NameToResolve], str]:
    """The endpoints a name leads to (through the zone's records, or DNS outside it)."""
    if _is_ip(name):
        return [replace(base, address=str(ipaddress.ip_address(name)))], [], ""
    followed = _follow(name, by_name, zone)
    if followed.problem:
        return [], [], followed.problem
    if followed.outside is not None:
        return (
            [replace(base, address=followed.outside, resolve=True)],
            [NameToResolve(followed.outside, hostname, why)],
            "",
        )
    return (
        [replace(base, address=_address(a), record_id=base.record_id or rid) for a, rid in followed.addresses],
        [],
        "",
    )


def _address(content: str) -> str:
    try:
        return str(ipaddress.ip_address(content))
    except ValueError:
        return content


# -- building the routes ---------------------------------------------------------------------------


def build_routes(snapshot: ZoneSnapshot) -> Routes:
    """Every hostname's route: proxied DNS records and load balancers, and DNS-only address
    records (browsers reach those origins directly, which is where an Origin CA certificate
    fails). Pure: the snapshot holds everything, DNS outside the zone is named, not resolved."""
    zone = normalise_name(snapshot.zone.name)
    by_name: dict[str, list[DnsRecord]] = {}
    for record in snapshot.records:
        by_name.setdefault(normalise_name(record.name), []).append(record)
    balancers = {lb.name: lb for lb in snapshot.load_balancers or () if lb.enabled}
    pools = {p.id: p for p in snapshot.pools or ()}
    tunnels = {t.id: t for t in snapshot.tunnels or ()}

    routes: dict[str, Route] = {}
    hostnames = dict.fromkeys(
        [
            *(n for n, lb in balancers.items() if lb.proxied),
            *(normalise_name(r.name) for r in snapshot.records if r.is_address or r.type == "CNAME"),
        ]
    )
    for hostname in hostnames:
        route = _route(hostname, snapshot, zone, by_name, balancers, pools, tunnels)
        if route is not None:
            routes[hostname] = route
    return Routes(frozen_mapping(routes))


def _route(
    hostname: str,
    snapshot: ZoneSnapshot,
    zone: str,
    by_name: Mapping[str, list[DnsRecord]],
    balancers: Mapping[str, LoadBalancer],
    pools: Mapping[str, Pool],
    tunnels: Mapping[str, Tunnel],
) -> Route | None:
    ssl = effective_mode(snapshot.setting("ssl"), snapshot.ssl_rules, hostname)
    timeout = effective_timeout(snapshot, hostname)
    balancer = balancers.get(hostname)
    if balancer is not None and balancer.proxied:
        return _balanced(hostname, balancer, snapshot, zone, by_name, pools, ssl, timeout)
    records = [r for r in by_name.get(hostname, []) if r.content.strip()]
    proxied = any(r.proxied for r in records if r.is_address or r.type == "CNAME")
    addresses = [r for r in records if r.is_address]
    cname = next((r for r in records if r.type == "CNAME"), None)
    if not addresses and (cname is None or not cname.proxied):
        return None  # a DNS-only CNAME: browsers follow it, Cloudflare never connects
    base_endpoints: list[Endpoint] = []
    names: list[NameToResolve] = []
    problem = ""
    tunnel: TunnelRoute | None = None
    for record in addresses:
        base_endpoints.append(Endpoint(hostname, _address(record.content.strip()), record.proxied, record_id=record.id))
    if cname is not None and not addresses:
        target = normalise_name(cname.content)
        if cname.proxied and target.endswith(PAGES_SUFFIX):
            # Served by Cloudflare Pages itself: no origin to connect to (`pages_custom_domain`).
            return Route(hostname, "pages", True, ssl=ssl, timeout=timeout)
        tunnel_id = tunnel_id_of(target)
        if tunnel_id is not None:
            tunnel = _tunnel_route(hostname, tunnel_id, target, snapshot, tunnels)
        else:
            base = Endpoint(hostname, target, True, record_id=cname.id, via_cname=target)
            found, needed, problem = _from_name(hostname, target, by_name, zone, base, "CNAME target")
            if found and tunnel_id_of(found[0].address) is not None:
                target = found[0].address
                tunnel = _tunnel_route(hostname, tunnel_id_of(target) or "", target, snapshot, tunnels)
            else:
                base_endpoints += found
                names += needed
    if tunnel is not None:
        return Route(hostname, "tunnel", True, ssl=ssl, timeout=timeout, tunnel=tunnel)
    if not proxied:
        return Route(hostname, "dns", False, tuple(base_endpoints), ssl=ssl, timeout=timeout)
    endpoints, rule_names, applied, unknown, rule_problem = _with_rules(
        hostname, base_endpoints, snapshot, zone, by_name, allow_resolve=True
    )
    return Route(
        hostname,
        "dns" if endpoints or not (problem or rule_problem) else "none",
        True,
        tuple(endpoints),
        ssl=ssl,
        timeout=timeout,
        origin_rules=applied,
        unknown_rules=unknown,
        names=tuple(dict.fromkeys([*names, *rule_names])),
        problem=problem or rule_problem,
    )


def _with_rules(
    hostname: str,
    base: list[Endpoint],
    snapshot: ZoneSnapshot,
    zone: str,
    by_name: Mapping[str, list[DnsRecord]],
    allow_resolve: bool,
) -> tuple[list[Endpoint], list[NameToResolve], tuple[OriginRule, ...], tuple[OriginRule, ...], str]:
    """The base endpoints under every variant of the Origin Rules that apply to the hostname."""
    variants, unknown = _overrides(snapshot, hostname)
    endpoints: list[Endpoint] = []
    names: list[NameToResolve] = []
    problem = ""
    applied: list[OriginRule] = []
    for override, partial in variants:
        applied += override.rules
        targets = base
        if override.origin_host and allow_resolve:
            label = override.rules[-1].label
            template = Endpoint(hostname, override.origin_host, True)
            targets, needed, found = _from_name(
                hostname, override.origin_host, by_name, zone, template, f"{label} DNS record override"
            )
            problem = problem or found  # one variant's dead end is not hidden by another's
            names += needed
        endpoints += [_apply(e, override, partial) for e in targets]
    unique = list(dict.fromkeys(endpoints))
    return unique, names, tuple(dict.fromkeys(applied)), tuple(unknown), problem


def _balanced(
    hostname: str,
    balancer: LoadBalancer,
    snapshot: ZoneSnapshot,
    zone: str,
    by_name: Mapping[str, list[DnsRecord]],
    pools: Mapping[str, Pool],
    ssl: EffectiveMode,
    timeout: EffectiveTimeout,
) -> Route:
    found = tuple(pools[p] for p in balancer.pool_ids if p in pools)
    missing = tuple(p for p in balancer.pool_ids if p not in pools)
    base: list[Endpoint] = []
    names: list[NameToResolve] = []
    for pool in found:
        if not pool.enabled:
            continue
        for index, origin in enumerate(pool.origins, start=1):
            if not origin.enabled:
                continue
            endpoint = _pool_endpoint(hostname, balancer, pool, index, origin)
            via = " ".join(endpoint.via)
            targets, needed, _ = _from_name(hostname, origin.address, by_name, zone, endpoint, via)
            base += targets
            names += needed
    endpoints, _, applied, unknown, _ = _with_rules(hostname, base, snapshot, zone, by_name, allow_resolve=False)
    return Route(
        hostname,
        "load_balancer",
        True,
        tuple(endpoints),
        ssl=ssl,
        timeout=timeout,
        origin_rules=applied,
        unknown_rules=unknown,
        load_balancer=LoadBalancerRoute(balancer, found, missing),
        names=tuple(dict.fromkeys(names)),
    )


def _pool_endpoint(hostname: str, balancer: LoadBalancer, pool: Pool, index: int, origin: PoolOrigin) -> Endpoint:
    port = origin.port or 0
    return Endpoint(
        hostname,
        origin.address,
        True,
        https_port=port or HTTPS_PORT,
        http_port=port or HTTP_PORT,
        sni=origin.host_header,
        host_header=origin.host_header,
        via=(f"via load balancer {balancer.name} pool {pool.name} origin {index} ({origin.name or origin.address})",),
        kind="load_balancer",
        pool_id=pool.id,
        origin_name=origin.name,
    )


def _tunnel_route(
    hostname: str, tunnel_id: str, target: str, snapshot: ZoneSnapshot, tunnels: Mapping[str, Tunnel]
) -> TunnelRoute:
    tunnel = tunnels.get(tunnel_id)
    ingress: IngressRule | None = None
    paths: tuple[IngressRule, ...] = ()
    if tunnel is not None and tunnel.ingress is not None:
        ingress, paths = match_ingress(tunnel.ingress, hostname)
    return TunnelRoute(tunnel_id, target, tunnel, snapshot.tunnels is not None, ingress, paths)


def match_ingress(rules: tuple[IngressRule, ...], hostname: str) -> tuple[IngressRule | None, tuple[IngressRule, ...]]:
    """The ingress rule that serves a hostname's requests (the first whose hostname matches
    and which has no path; else the catch-all), and the path-specific rules before it, as
    cloudflared matches them: in order, `*.` matching one leading label or more."""
    hostname = normalise_name(hostname)
    paths: list[IngressRule] = []
    for rule in rules:
        if rule.hostname and not _ingress_host(rule.hostname, hostname):
            continue
        if rule.path and rule.path not in ("^/", ".*", "^/.*"):
            paths.append(rule)
            continue
        return rule, tuple(paths)
    return None, tuple(paths)


def _ingress_host(pattern: str, hostname: str) -> bool:
    pattern = normalise_name(pattern)
    if pattern.startswith("*."):
        return hostname.endswith(pattern[1:])
    return pattern == hostname
