"""Where Cloudflare really sends each hostname's traffic (`cfremedy.routes.build_routes`).

Probes, playbooks, `diagnose` and the report judge the routes built here, not the DNS records
alone: a load balancer of the same name, a Cloudflare Tunnel, an Origin Rule's port, Host, SNI
or DNS record override, a Configuration Rule's SSL mode and a Cache Rule's timeout each change
what Cloudflare connects to. A wrong route means probing the wrong address or port and a wrong
verdict, so these tests pin every endpoint field on hand-built snapshots (no network).
"""

from __future__ import annotations

from typing import Any

import pytest

from cfremedy.models import (
    CacheRule,
    DnsRecord,
    IngressRule,
    LoadBalancer,
    OriginRule,
    Pool,
    PoolOrigin,
    SslRule,
    Tunnel,
    Zone,
    ZoneSnapshot,
    frozen_mapping,
)
from cfremedy.routes import (
    Endpoint,
    NameToResolve,
    Route,
    Routes,
    TunnelRoute,
    build_routes,
    effective_timeout,
    match_ingress,
    tunnel_id_of,
)

ZONE = Zone(id="z1", name="example.com", plan="enterprise")
HOST = "app.example.com"
UUID = "6ff42ae2-765d-4adf-8112-31c55c1551ef"
TUNNEL_TARGET = f"{UUID}.cfargotunnel.com"
FULL_HOST = f'http.host eq "{HOST}"'
V2_PATH = f'http.host eq "{HOST}" and starts_with(http.request.uri.path, "/v2/")'


# -- building snapshots ----------------------------------------------------------------------------


def a(name: str, address: str, rid: str, proxied: bool = True) -> DnsRecord:
    return DnsRecord(rid, "AAAA" if ":" in address else "A", name, address, proxied)


def cname(name: str, target: str, rid: str, proxied: bool = True) -> DnsRecord:
    return DnsRecord(rid, "CNAME", name, target, proxied)


def snapshot(*records: DnsRecord, **parts: Any) -> ZoneSnapshot:
    return ZoneSnapshot(zone=ZONE, records=records, **parts)


def route_of(snap: ZoneSnapshot, hostname: str = HOST) -> Route:
    route = build_routes(snap).get(hostname)
    assert route is not None, f"no route for {hostname}"
    return route


def origin_rule(rid: str, expression: str = FULL_HOST, position: int = 0, **overrides: Any) -> OriginRule:
    return OriginRule(rid, expression, description=rid, position=position, **overrides)


def plain(address: str, rid: str, hostname: str = HOST, **fields: Any) -> Endpoint:
    """A proxied DNS endpoint, as an A/AAAA record gives it, with fields changed."""
    return Endpoint(hostname, address, True, record_id=rid, **fields)


# -- plain DNS records -----------------------------------------------------------------------------


def test_proxied_a_and_aaaa_records_give_one_endpoint_each_on_443_and_80() -> None:
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), a(HOST, "2001:DB8:0::1", "r2")))
    assert (route.kind, route.proxied, route.problem, route.names) == ("dns", True, "", ())
    assert route.endpoints == (
        Endpoint(HOST, "192.0.2.10", True, record_id="r1"),
        Endpoint(HOST, "2001:db8::1", True, record_id="r2"),  # the address in its canonical form
    )
    assert all((e.https_port, e.http_port, e.kind, e.label) == (443, 80, "dns", "") for e in route.endpoints)


def test_record_names_are_compared_without_case_or_trailing_dot() -> None:
    routes = build_routes(snapshot(a("App.Example.COM.", "192.0.2.10", "r1")))
    assert list(routes.by_hostname) == [HOST]
    assert routes.get("APP.example.com.") is routes.get(HOST)


def test_a_dns_only_a_record_gives_an_unproxied_route() -> None:
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1", proxied=False)))
    assert (route.kind, route.proxied) == ("dns", False)
    assert route.endpoints == (Endpoint(HOST, "192.0.2.10", False, record_id="r1"),)


def test_a_dns_only_cname_gives_no_route() -> None:
    routes = build_routes(snapshot(cname(HOST, "shop.example.net", "c1", proxied=False)))
    assert routes.get(HOST) is None
    assert dict(routes.by_hostname) == {}


def test_a_dns_only_address_record_ignores_origin_rules() -> None:
    """Cloudflare is not in the path of a DNS-only record: no rule changes where browsers go."""
    rule = origin_rule("to 8443", origin_port=8443)
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1", proxied=False), origin_rules=(rule,)))
    assert route.endpoints == (Endpoint(HOST, "192.0.2.10", False, record_id="r1"),)
    assert route.origin_rules == ()


# -- CNAME chains --------------------------------------------------------------------------------


def test_an_in_zone_cname_chain_is_followed_to_the_address_record() -> None:
    snap = snapshot(
        cname(HOST, "Web.example.com.", "c1"),
        cname("web.example.com", "origin.example.com", "c2", proxied=False),
        a("origin.example.com", "198.51.100.7", "o1", proxied=False),
    )
    route = route_of(snap)
    assert (route.kind, route.proxied, route.problem, route.names) == ("dns", True, "", ())
    # The endpoint keeps the hostname's own record id and names the CNAME target it came through.
    assert route.endpoints == (plain("198.51.100.7", "c1", via_cname="web.example.com"),)


def test_a_cname_chain_that_loops_leads_nowhere_and_says_so() -> None:
    snap = snapshot(
        cname(HOST, "b.example.com", "c1"),
        cname("b.example.com", "c.example.com", "c2"),
        cname("c.example.com", "b.example.com", "c3"),
    )
    route = route_of(snap)
    assert (route.kind, route.proxied, route.endpoints) == ("none", True, ())
    assert route.problem == "the CNAME chain loops (b.example.com -> c.example.com -> b.example.com)"


def test_a_cname_chain_ending_at_a_name_without_address_records_is_a_problem() -> None:
    snap = snapshot(
        cname(HOST, "gone.example.com", "c1"),
        DnsRecord("t1", "TXT", "gone.example.com", "v=spf1 -all"),
    )
    route = route_of(snap)
    assert (route.kind, route.endpoints, route.names) == ("none", (), ())
    assert route.problem == "gone.example.com has no A, AAAA or CNAME record in the zone"


def test_an_out_of_zone_cname_target_is_a_name_to_resolve() -> None:
    # `cdn.notexample.com` ends with "example.com" but is not in the zone.
    snap = snapshot(
        cname(HOST, "shops.myshopify.com.", "c1"),
        cname("cdn.example.com", "edge.example.com", "c2"),
        cname("edge.example.com", "cdn.notexample.com", "c3", proxied=False),
    )
    routes = build_routes(snap)
    app, cdn = routes.get(HOST), routes.get("cdn.example.com")
    assert app is not None and cdn is not None
    assert app.endpoints == (plain("shops.myshopify.com", "c1", resolve=True, via_cname="shops.myshopify.com"),)
    assert app.names == (NameToResolve("shops.myshopify.com", HOST, "CNAME target"),)
    assert cdn.endpoints == (
        plain("cdn.notexample.com", "c2", hostname="cdn.example.com", resolve=True, via_cname="edge.example.com"),
    )
    assert cdn.names == (NameToResolve("cdn.notexample.com", "cdn.example.com", "CNAME target"),)
    assert routes.names == (*app.names, *cdn.names)
    assert routes.get("edge.example.com") is None  # DNS-only CNAME


# -- Cloudflare Tunnels ----------------------------------------------------------------------------


def test_a_proxied_cname_to_a_tunnel_is_a_tunnel_route_without_endpoints() -> None:
    route = route_of(snapshot(cname(HOST, TUNNEL_TARGET + ".", "c1")))
    assert (route.kind, route.proxied, route.endpoints, route.names, route.problem) == ("tunnel", True, (), (), "")
    assert route.tunnel == TunnelRoute(UUID, TUNNEL_TARGET, None, tunnels_read=False)


def test_a_tunnel_reached_through_an_in_zone_cname_chain_is_a_tunnel_route() -> None:
    tunnel = Tunnel(UUID, "prod", "healthy")
    snap = snapshot(
        cname(HOST, "t.example.com", "c1"),
        cname("t.example.com", TUNNEL_TARGET, "c2", proxied=False),
        tunnels=(tunnel,),
    )
    route = route_of(snap)
    assert (route.kind, route.endpoints, route.names) == ("tunnel", (), ())
    assert route.tunnel == TunnelRoute(UUID, TUNNEL_TARGET, tunnel, tunnels_read=True)
    assert build_routes(snap).names == ()  # a tunnel's name is never resolved like an origin's


def test_a_tunnel_missing_from_the_account_is_named_as_read_but_absent() -> None:
    other = Tunnel("0a1b2c3d-0000-4000-8000-000000000000", "other", "healthy")
    route = route_of(snapshot(cname(HOST, TUNNEL_TARGET, "c1"), tunnels=(other,)))
    assert route.tunnel is not None
    assert (route.tunnel.tunnel_id, route.tunnel.tunnel, route.tunnel.tunnels_read) == (UUID, None, True)


def test_a_locally_managed_tunnel_has_no_ingress_rule() -> None:
    tunnel = Tunnel(UUID, "prod", "healthy", ingress=None)
    route = route_of(snapshot(cname(HOST, TUNNEL_TARGET, "c1"), tunnels=(tunnel,)))
    assert route.tunnel == TunnelRoute(UUID, TUNNEL_TARGET, tunnel, True, ingress=None, ingress_paths=())


INGRESS = (
    IngressRule("app.example.com", "^/api/", "http://localhost:9000"),
    IngressRule("other.example.com", "^/admin", "http://localhost:9999"),
    IngressRule("app.example.com", "", "http://localhost:8080"),
    IngressRule("*.example.com", "", "http://localhost:7000"),
    IngressRule("", "", "http_status:404"),
)


@pytest.mark.parametrize(
    "hostname, served_by, paths",
    [
        (HOST, INGRESS[2], (INGRESS[0],)),  # the exact name; its path rule is listed, not served
        ("www.example.com", INGRESS[3], ()),  # the wildcard
        ("a.b.example.com", INGRESS[3], ()),  # `*.` covers one leading label or more
        ("example.com", INGRESS[4], ()),  # nothing matches the apex: the catch-all
    ],
)
def test_a_remote_managed_tunnel_names_the_ingress_rule_serving_the_hostname(
    hostname: str, served_by: IngressRule, paths: tuple[IngressRule, ...]
) -> None:
    tunnel = Tunnel(UUID, "prod", "healthy", remote_config=True, ingress=INGRESS)
    route = route_of(snapshot(cname(hostname, TUNNEL_TARGET, "c1"), tunnels=(tunnel,)), hostname)
    assert route.tunnel == TunnelRoute(UUID, TUNNEL_TARGET, tunnel, True, served_by, paths)


def test_ingress_matching_ignores_case_and_treats_an_all_paths_regex_as_no_path() -> None:
    rules = (
        IngressRule("APP.Example.com.", "^/", "http://localhost:1"),
        IngressRule("", "", "http_status:404"),
    )
    assert match_ingress(rules, "app.EXAMPLE.com.") == (rules[0], ())
    assert match_ingress(rules[:1], "www.example.com") == (None, ())  # no catch-all, no match


# -- load balancers --------------------------------------------------------------------------------


def lb_snapshot(balancer: LoadBalancer, *records: DnsRecord, **parts: Any) -> ZoneSnapshot:
    pools = (
        Pool(
            "p-default",
            "eu-1",
            origins=(
                PoolOrigin("off", "192.0.2.9", enabled=False),
                PoolOrigin("web-1", "192.0.2.1"),
                PoolOrigin("web-2", "192.0.2.2", port=8443, host_header="eu.origin.example.net"),
                PoolOrigin("", "2001:db8::2"),
            ),
        ),
        Pool("p-disabled", "old", enabled=False, origins=(PoolOrigin("old-1", "192.0.2.66"),)),
        Pool("p-region", "us-1", origins=(PoolOrigin("us", "198.51.100.1"),)),
        Pool("p-country", "jp", origins=(PoolOrigin("jp", "198.51.100.2"),)),
        Pool("p-pop", "lax", origins=(PoolOrigin("lax", "198.51.100.3"),)),
        Pool("p-fallback", "fallback", origins=(PoolOrigin("fb", "203.0.113.50", port=8080),)),
        Pool("p-unused", "unused", origins=(PoolOrigin("unused", "203.0.113.99"),)),
    )
    return snapshot(*records, load_balancers=(balancer,), pools=pools, **parts)


BALANCER = LoadBalancer(
    "lb1",
    HOST,
    default_pools=("p-default", "p-missing", "p-disabled"),
    region_pools=frozen_mapping({"WNAM": ("p-region", "p-default")}),
    country_pools=frozen_mapping({"JP": ("p-country",)}),
    pop_pools=frozen_mapping({"LAX": ("p-pop", "p-fallback")}),
    fallback_pool="p-fallback",
)


def lb_endpoint(address: str, pool_id: str, pool_name: str, index: int, name: str, **fields: Any) -> Endpoint:
    label = f"via load balancer {HOST} pool {pool_name} origin {index} ({name or address})"
    return Endpoint(
        HOST, address, True, via=(label,), kind="load_balancer", pool_id=pool_id, origin_name=name, **fields
    )


def test_a_load_balancer_takes_precedence_over_the_a_record_of_its_name() -> None:
    route = route_of(lb_snapshot(BALANCER, a(HOST, "203.0.113.9", "r1")))
    assert (route.kind, route.proxied, route.problem, route.names) == ("load_balancer", True, "", ())
    # Enabled origins of enabled pools, each pool once: defaults, region, country, pop, fallback.
    assert route.endpoints == (
        lb_endpoint("192.0.2.1", "p-default", "eu-1", 2, "web-1"),
        lb_endpoint(
            "192.0.2.2",
            "p-default",
            "eu-1",
            3,
            "web-2",
            https_port=8443,
            http_port=8443,
            sni="eu.origin.example.net",  # the origin's Host header is its SNI too
            host_header="eu.origin.example.net",
        ),
        lb_endpoint("2001:db8::2", "p-default", "eu-1", 4, ""),  # unnamed: the address names it
        lb_endpoint("198.51.100.1", "p-region", "us-1", 1, "us"),
        lb_endpoint("198.51.100.2", "p-country", "jp", 1, "jp"),
        lb_endpoint("198.51.100.3", "p-pop", "lax", 1, "lax"),
        lb_endpoint("203.0.113.50", "p-fallback", "fallback", 1, "fb", https_port=8080, http_port=8080),
    )
    assert route.endpoints[0].label == "via load balancer app.example.com pool eu-1 origin 2 (web-1)"
    lb = route.load_balancer
    assert lb is not None and lb.load_balancer is BALANCER
    assert [p.id for p in lb.pools] == ["p-default", "p-disabled", "p-region", "p-country", "p-pop", "p-fallback"]
    assert lb.missing_pools == ("p-missing",)


def test_a_load_balancer_needs_no_dns_record_of_its_name() -> None:
    route = route_of(lb_snapshot(LoadBalancer("lb1", HOST, default_pools=("p-region",))))
    assert route.kind == "load_balancer"
    assert route.endpoints == (lb_endpoint("198.51.100.1", "p-region", "us-1", 1, "us"),)


def test_a_load_balancer_whose_pools_were_not_read_has_them_all_missing() -> None:
    snap = snapshot(load_balancers=(LoadBalancer("lb1", HOST, default_pools=("p1",), fallback_pool="p2"),))
    route = route_of(snap)
    assert (route.kind, route.endpoints) == ("load_balancer", ())
    assert route.load_balancer is not None
    assert (route.load_balancer.pools, route.load_balancer.missing_pools) == ((), ("p1", "p2"))


def test_a_load_balancer_origin_named_by_host_name_is_followed_or_resolved() -> None:
    pools = (
        Pool(
            "p1",
            "mixed",
            origins=(
                PoolOrigin("heroku", "backend.herokuapp.com"),
                PoolOrigin("inzone", "origin.example.com"),
            ),
        ),
    )
    snap = snapshot(
        a("origin.example.com", "192.0.2.33", "o1", proxied=False),
        load_balancers=(LoadBalancer("lb1", HOST, default_pools=("p1",)),),
        pools=pools,
    )
    route = route_of(snap)
    heroku_via = "via load balancer app.example.com pool mixed origin 1 (heroku)"
    assert route.endpoints == (
        lb_endpoint("backend.herokuapp.com", "p1", "mixed", 1, "heroku", resolve=True),
        lb_endpoint("192.0.2.33", "p1", "mixed", 2, "inzone", record_id="o1"),
    )
    assert route.names == (NameToResolve("backend.herokuapp.com", HOST, heroku_via),)
    assert build_routes(snap).names == route.names


@pytest.mark.parametrize(
    "balancer",
    [
        LoadBalancer("lb1", HOST, enabled=False, default_pools=("p-region",)),
        LoadBalancer("lb1", HOST, proxied=False, default_pools=("p-region",)),
    ],
    ids=["disabled", "dns-only"],
)
def test_a_disabled_or_dns_only_load_balancer_leaves_the_dns_route(balancer: LoadBalancer) -> None:
    route = route_of(lb_snapshot(balancer, a(HOST, "203.0.113.9", "r1")))
    assert (route.kind, route.load_balancer) == ("dns", None)
    assert route.endpoints == (plain("203.0.113.9", "r1"),)


# -- Origin Rules -------------------------------------------------------------------------------------


def test_a_full_origin_rule_changes_port_host_header_and_sni() -> None:
    rule = origin_rule("to 8443", origin_port=8443, host_header="internal.example.net")
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,)))
    assert route.endpoints == (
        plain(
            "192.0.2.10",
            "r1",
            https_port=8443,
            http_port=8443,
            host_header="internal.example.net",
            sni="internal.example.net",  # a Host header override sets the SNI too
            via=("via Origin Rule 'to 8443'",),
        ),
    )
    assert route.endpoints[0].label == "via Origin Rule 'to 8443'"
    assert (route.origin_rules, route.unknown_rules) == ((rule,), ())


def test_an_sni_override_beats_the_host_header_for_the_sni() -> None:
    rule = origin_rule("sni", host_header="h.example.net", sni="s.example.net")
    (endpoint,) = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,))).endpoints
    assert (endpoint.host_header, endpoint.sni, endpoint.https_port) == ("h.example.net", "s.example.net", 443)


def test_full_origin_rules_merge_field_by_field_and_the_later_one_wins() -> None:
    first = origin_rule("first", position=0, origin_port=8443, host_header="a.example.net")
    second = origin_rule("second", expression='ends_with(http.host, ".example.com")', position=1, origin_port=8080)
    third = origin_rule("third", position=2, sni="s.example.net", host_header="c.example.net")
    # Given out of order: rules apply by position.
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(third, second, first)))
    assert route.endpoints == (
        plain(
            "192.0.2.10",
            "r1",
            https_port=8080,
            http_port=8080,
            host_header="c.example.net",
            sni="s.example.net",
            via=("via Origin Rule 'first'", "via Origin Rule 'second'", "via Origin Rule 'third'"),
        ),
    )
    assert route.origin_rules == (first, second, third)


def test_a_path_rule_adds_partial_endpoints_next_to_the_base_ones() -> None:
    full = origin_rule("all", position=0, host_header="internal.example.net")
    v2 = origin_rule("v2", expression=V2_PATH, position=1, origin_port=9000)
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(full, v2)))
    base = plain(
        "192.0.2.10",
        "r1",
        host_header="internal.example.net",
        sni="internal.example.net",
        via=("via Origin Rule 'all'",),
    )
    assert route.endpoints == (
        base,
        plain(
            "192.0.2.10",
            "r1",
            https_port=9000,
            http_port=9000,
            host_header="internal.example.net",
            sni="internal.example.net",
            via=("via Origin Rule 'all'", "via Origin Rule 'v2'"),
            partial=True,
        ),
    )
    assert route.origin_rules == (full, v2)


def test_a_path_rule_alone_keeps_the_unchanged_base_endpoint() -> None:
    v2 = origin_rule("v2", expression=V2_PATH, origin_port=9000)
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(v2,)))
    assert route.endpoints == (
        plain("192.0.2.10", "r1"),
        plain("192.0.2.10", "r1", https_port=9000, http_port=9000, via=("via Origin Rule 'v2'",), partial=True),
    )


def test_a_later_full_rule_overrides_an_earlier_path_rule_for_its_path_too() -> None:
    v2 = origin_rule("v2", expression=V2_PATH, position=0, origin_port=9000)
    full = origin_rule("all", position=1, origin_port=8443)
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(v2, full)))
    # /v2/ requests: v2 sets 9000, then `all` sets 8443. Every request reaches port 8443.
    assert {e.https_port for e in route.endpoints} == {8443}


def test_a_dns_record_override_to_an_in_zone_name_uses_that_names_records() -> None:
    rule = origin_rule("to backend", origin_host="backend.example.com", origin_port=8443)
    snap = snapshot(
        a(HOST, "192.0.2.10", "r1"),
        a("backend.example.com", "192.0.2.77", "b1", proxied=False),
        origin_rules=(rule,),
    )
    route = route_of(snap)
    assert route.endpoints == (
        plain("192.0.2.77", "b1", https_port=8443, http_port=8443, via=("via Origin Rule 'to backend'",)),
    )
    assert (route.kind, route.names, route.problem) == ("dns", (), "")


def test_a_dns_record_override_outside_the_zone_is_a_name_to_resolve() -> None:
    rule = origin_rule("to s3", origin_host="bucket.s3.amazonaws.com")
    snap = snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,))
    route = route_of(snap)
    assert route.endpoints == (
        Endpoint(HOST, "bucket.s3.amazonaws.com", True, resolve=True, via=("via Origin Rule 'to s3'",)),
    )
    expected = NameToResolve("bucket.s3.amazonaws.com", HOST, "Origin Rule 'to s3' DNS record override")
    assert route.names == (expected,)
    assert build_routes(snap).names == (expected,)


def test_a_dns_record_override_to_an_in_zone_name_without_records_leads_nowhere() -> None:
    rule = origin_rule("to nothing", origin_host="nothing.example.com")
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,)))
    assert (route.kind, route.endpoints) == ("none", ())
    assert route.problem == "nothing.example.com has no A, AAAA or CNAME record in the zone"


def test_a_disabled_origin_rule_changes_nothing() -> None:
    rule = OriginRule("r", FULL_HOST, "off", enabled=False, origin_port=8443, origin_host="elsewhere.example.net")
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,)))
    assert route.endpoints == (plain("192.0.2.10", "r1"),)
    assert (route.origin_rules, route.unknown_rules, route.names) == ((), (), ())


def test_an_origin_rule_for_another_hostname_changes_nothing() -> None:
    rule = origin_rule("www only", expression='http.host eq "www.example.com"', origin_port=8443)
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,)))
    assert route.endpoints == (plain("192.0.2.10", "r1"),)
    assert route.origin_rules == ()


@pytest.mark.parametrize(
    "expression",
    [
        "http.host in $internal_hosts",
        f'http.host eq "{HOST}" xor http.request.uri.path eq "/"',
    ],
)
def test_an_origin_rule_that_cannot_be_evaluated_is_unknown_and_changes_nothing(expression: str) -> None:
    rule = origin_rule("opaque", expression=expression, origin_port=8443, origin_host="elsewhere.example.net")
    route = route_of(snapshot(a(HOST, "192.0.2.10", "r1"), origin_rules=(rule,)))
    assert route.endpoints == (plain("192.0.2.10", "r1"),)
    assert (route.origin_rules, route.unknown_rules, route.names) == ((), (rule,), ())


def test_on_a_load_balanced_hostname_the_origins_host_header_wins_and_dns_overrides_are_ignored() -> None:
    pools = (
        Pool(
            "p1",
            "eu-1",
            origins=(
                PoolOrigin("own", "192.0.2.1", host_header="pool.example.net"),
                PoolOrigin("bare", "192.0.2.2"),
            ),
        ),
    )
    rule = origin_rule("rewrite", host_header="rule.example.net", origin_host="elsewhere.example.net", origin_port=8443)
    snap = snapshot(
        load_balancers=(LoadBalancer("lb1", HOST, default_pools=("p1",)),), pools=pools, origin_rules=(rule,)
    )
    route = route_of(snap)
    assert route.endpoints == (
        Endpoint(
            HOST,
            "192.0.2.1",
            True,
            https_port=8443,
            http_port=8443,
            sni="pool.example.net",
            host_header="pool.example.net",
            via=("via load balancer app.example.com pool eu-1 origin 1 (own)", "via Origin Rule 'rewrite'"),
            kind="load_balancer",
            pool_id="p1",
            origin_name="own",
        ),
        Endpoint(
            HOST,
            "192.0.2.2",
            True,
            https_port=8443,
            http_port=8443,
            sni="rule.example.net",
            host_header="rule.example.net",
            via=("via load balancer app.example.com pool eu-1 origin 2 (bare)", "via Origin Rule 'rewrite'"),
            kind="load_balancer",
            pool_id="p1",
            origin_name="bare",
        ),
    )
    assert (route.kind, route.names, route.origin_rules) == ("load_balancer", (), (rule,))


def test_an_origin_rule_for_one_name_under_a_wildcard_record_is_partial_for_the_wildcard() -> None:
    rule = origin_rule("api", expression='http.host eq "api.example.com"', origin_port=8443)
    route = route_of(snapshot(a("*.example.com", "192.0.2.10", "w1"), origin_rules=(rule,)), "*.example.com")
    assert route.origin_rules == (rule,)
    assert any(e.partial and e.https_port == 8443 for e in route.endpoints)


# -- SSL mode ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone_mode, rule_mode, app_scheme, www_scheme",
    [
        ("strict", "flexible", "http", "https"),
        ("flexible", "full", "https", "http"),
        ("full", "off", "http", "https"),
    ],
)
def test_the_ssl_mode_follows_the_zone_setting_and_configuration_rules(
    zone_mode: str, rule_mode: str, app_scheme: str, www_scheme: str
) -> None:
    rule = SslRule("config_rule", "c1", rule_mode, description="app", expression=FULL_HOST)
    snap = snapshot(
        a(HOST, "192.0.2.10", "r1"),
        cname("www.example.com", TUNNEL_TARGET, "c1"),
        settings=frozen_mapping({"ssl": zone_mode}),
        ssl_rules=(rule,),
    )
    app, www = route_of(snap), route_of(snap, "www.example.com")
    assert app.ssl is not None and www.ssl is not None
    assert (app.ssl.mode, app.ssl.rule, app.scheme) == (rule_mode, rule, app_scheme)
    assert (www.ssl.mode, www.ssl.rule, www.scheme) == (zone_mode, None, www_scheme)


# -- proxy read timeout ------------------------------------------------------------------------------


def cache_rule(rid: str, seconds: int, expression: str = FULL_HOST, position: int = 0, **more: Any) -> CacheRule:
    return CacheRule(rid, expression, seconds, description=rid, position=position, **more)


@pytest.mark.parametrize(
    "settings, seconds",
    [
        ({}, 100),
        ({"proxy_read_timeout": 300}, 300),
        ({"proxy_read_timeout": 6000}, 6000),
        ({"proxy_read_timeout": 1}, 1),
        ({"proxy_read_timeout": 0}, 100),
        ({"proxy_read_timeout": 6001}, 100),
        ({"proxy_read_timeout": -5}, 100),
        ({"proxy_read_timeout": "300"}, 100),
        ({"proxy_read_timeout": None}, 100),
    ],
)
def test_the_timeout_is_the_zone_setting_with_100_for_missing_or_invalid_values(
    settings: dict[str, object], seconds: int
) -> None:
    snap = snapshot(a(HOST, "192.0.2.10", "r1"), settings=frozen_mapping(settings))
    timeout = effective_timeout(snap, HOST)
    assert (timeout.seconds, timeout.rule, timeout.source, timeout.partial, timeout.unknown) == (
        seconds,
        None,
        "the zone setting",
        (),
        (),
    )
    assert route_of(snap).timeout == timeout


def test_a_cache_rule_for_the_whole_hostname_sets_the_timeout() -> None:
    rule = cache_rule("slow api", 600)
    snap = snapshot(
        a(HOST, "192.0.2.10", "r1"),
        a("www.example.com", "192.0.2.11", "r2"),
        settings=frozen_mapping({"proxy_read_timeout": 200}),
        cache_rules=(rule,),
    )
    timeout = effective_timeout(snap, "APP.example.com")
    assert (timeout.seconds, timeout.rule, timeout.source) == (600, rule, "Cache Rule 'slow api'")
    assert route_of(snap).timeout == timeout
    assert route_of(snap, "www.example.com").timeout.seconds == 200


def test_the_last_matching_cache_rule_wins_and_disabled_ones_do_not_count() -> None:
    first = cache_rule("first", 600, position=0)
    second = cache_rule("second", 30, expression='ends_with(http.host, "example.com")', position=1)
    off = cache_rule("off", 900, position=2, enabled=False)
    snap = snapshot(cache_rules=(off, second, first))
    timeout = effective_timeout(snap, HOST)
    assert (timeout.seconds, timeout.rule) == (30, second)


def test_a_path_cache_rule_applies_to_its_path_and_is_partial_for_the_hostname() -> None:
    expression = f'http.host eq "{HOST}" and starts_with(http.request.uri.path, "/x/")'
    export = cache_rule("export", 900, expression=expression)
    snap = snapshot(cache_rules=(export,))
    whole = effective_timeout(snap, HOST)
    assert (whole.seconds, whole.rule, whole.partial) == (100, None, (export,))
    on_path = effective_timeout(snap, HOST, "/x/report.csv")
    assert (on_path.seconds, on_path.rule, on_path.partial) == (900, export, ())
    elsewhere = effective_timeout(snap, HOST, "/y/")
    assert (elsewhere.seconds, elsewhere.rule, elsewhere.partial) == (100, None, ())


def test_a_path_cache_rule_with_the_same_timeout_is_not_listed_as_partial() -> None:
    same = cache_rule("same", 100, expression=f'http.host eq "{HOST}" and http.request.uri.path eq "/x"')
    assert effective_timeout(snapshot(cache_rules=(same,)), HOST).partial == ()


def test_a_cache_rule_that_cannot_be_evaluated_is_unknown() -> None:
    opaque = cache_rule("opaque", 900, expression="http.host in $slow_hosts")
    timeout = effective_timeout(snapshot(cache_rules=(opaque,)), HOST)
    assert (timeout.seconds, timeout.rule, timeout.partial, timeout.unknown) == (100, None, (), (opaque,))


def test_an_earlier_path_cache_rule_overridden_by_a_later_full_rule_is_not_partial() -> None:
    export = cache_rule("export", 900, expression=V2_PATH, position=0)
    full = cache_rule("all", 300, position=1)
    snap = snapshot(cache_rules=(export, full))
    assert effective_timeout(snap, HOST, "/v2/x").seconds == 300  # holds today
    assert effective_timeout(snap, HOST).partial == ()


# -- tunnel ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, expected",
    [
        (TUNNEL_TARGET, UUID),
        (f"{UUID.upper()}.CFArgoTunnel.COM.", UUID),
        (f" {TUNNEL_TARGET}. ", UUID),
        ("cfargotunnel.com", None),
        (".cfargotunnel.com", None),
        ("xcfargotunnel.com", None),
        (f"{TUNNEL_TARGET}.example.net", None),
        ("app.example.com", None),
        ("", None),
    ],
)
def test_tunnel_id_of_reads_the_uuid_of_a_tunnel_name_only(target: str, expected: str | None) -> None:
    assert tunnel_id_of(target) == expected


def test_routes_iterate_and_collect_endpoints_in_hostname_order() -> None:
    routes: Routes = build_routes(
        snapshot(a("b.example.com", "192.0.2.2", "r2"), a("a.example.com", "192.0.2.1", "r1"))
    )
    assert [r.hostname for r in routes] == ["b.example.com", "a.example.com"]
    assert [e.address for e in routes.endpoints] == ["192.0.2.2", "192.0.2.1"]


def test_a_cname_to_a_name_only_a_wildcard_record_covers_leads_to_the_wildcard() -> None:
    """`app CNAME web.example.com` with only `*.example.com A ...`: the wildcard answers."""
    snap = snapshot(cname(HOST, "web.example.com", "r1"), a("*.example.com", "192.0.2.9", "w1", proxied=False))
    route = route_of(snap)
    assert route.problem == "" and [e.address for e in route.endpoints] == ["192.0.2.9"]


def test_a_dead_end_for_all_the_traffic_is_not_hidden_by_a_path_rule_that_works() -> None:
    """A rule for every request overrides DNS to a name that does not exist; a later path rule
    sends /v2/ to one that does: most of the traffic still meets the dead end."""
    everything = origin_rule("to nothing", origin_host="nothing.example.com")
    v2 = origin_rule("v2 to backend", expression=V2_PATH, position=1, origin_host="backend.example.com")
    snap = snapshot(
        a(HOST, "192.0.2.1", "r1"), a("backend.example.com", "192.0.2.7", "r2"), origin_rules=(everything, v2)
    )
    route = route_of(snap)
    assert "nothing.example.com" in route.problem
