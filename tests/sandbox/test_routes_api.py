"""Where a hostname's traffic goes: the sandbox's rulesets, load balancers, pools and tunnels.

Driven through the official `cloudflare` SDK over real HTTP (`max_retries=0`), like
`test_api.py`: permissions per route and, for the entry point, per phase; which accounts a
token sees; how the SDK pages tunnels; the deleted filter; the health body's shape; unknown
ids; and the scenario keys that describe all of it, refused with the key named. The response
shapes themselves are validated against the OpenAPI document in `test_openapi.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cloudflare
import pytest

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import ScenarioError, parse_scenario, stable_id, stable_uuid
from cfremedy.sandbox.state import SandboxState

Factory = Callable[[Any], SandboxApi]

ACCOUNT = "acc00000000000000000000000000001"
OTHER = "acc00000000000000000000000000002"
ROUTE_GROUPS = [
    "Origin Rules Read",
    "Cache Rules Read",
    "Load Balancers Read",
    "Load Balancing: Monitors and Pools Read",
    "Cloudflare Tunnel Read",
]
FIXED_TUNNEL = "6f1c1e0a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
FIXED_POOL = "0123456789abcdef0123456789abcdef"

TOKENS = [
    {"name": "all", "value": "tok-all", "permissions": ["Zone Read", "Config Rules Read", *ROUTE_GROUPS]},
    {"name": "zone-read", "value": "tok-zone-read", "permissions": ["Zone Read", "Config Rules Read"]},
    *[
        {"name": f"without-{i}", "value": f"tok-without-{i}",
         "permissions": ["Zone Read", "Config Rules Read", *(g for g in ROUTE_GROUPS if g != group)]}
        for i, group in enumerate(ROUTE_GROUPS)
    ],
    {"name": "shop-only", "value": "tok-shop-only", "permissions": ["Zone Read", *ROUTE_GROUPS],
     "zones": ["shop.example"]},
]  # fmt: skip


def scenario(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tokens": TOKENS,
        "zones": [
            {"name": "shop.example", "plan": "business",
             "origin_rules": [
                 {"expression": '(http.host eq "api.shop.example")', "origin_port": 8443, "sni": "api.internal"},
             ],
             "cache_rules": [
                 {"expression": '(starts_with(http.request.uri.path, "/export"))', "read_timeout": 300},
             ],
             "load_balancers": [
                 {"name": "www", "default_pools": ["eu-1", "us-1"], "fallback_pool": "us-1",
                  "region_pools": {"WNAM": ["us-1"]}, "proxied": True},
             ]},
            {"name": "big.example", "plan": "enterprise", "account": OTHER},
        ],
        "pools": [
            {"name": "eu-1", "origins": [
                {"name": "eu-origin-1", "address": "192.0.2.60", "host": "app.internal.example"},
                {"name": "eu-origin-2", "address": "192.0.2.61", "healthy": False, "port": 8080},
            ]},
            {"name": "us-1", "id": FIXED_POOL, "healthy": False,
             "origins": [{"name": "us-origin-1", "address": "192.0.2.70"}]},
            {"name": "far", "account": OTHER, "origins": [{"name": "far-1", "address": "192.0.2.80"}]},
        ],
        "tunnels": [
            {"name": "prod", "remote_config": True, "connections": 2, "ingress": [
                {"hostname": "app.shop.example", "service": "http://localhost:8080"},
                {"service": "http_status:404"},
            ]},
            {"name": "prod", "deleted": True, "status": "down"},
            {"name": "prod", "deleted": True, "status": "inactive"},
            {"name": "fixed", "id": FIXED_TUNNEL, "status": "degraded"},
            {"name": "far", "account": OTHER},
        ],
    }  # fmt: skip
    base.update(extra)
    return base


SHOP = stable_id("zone", "shop.example")
BIG = stable_id("zone", "big.example")
EU1 = stable_id("pool", ACCOUNT, "eu-1")
PROD = stable_uuid("tunnel", ACCOUNT, "prod")


def client(api: SandboxApi, token: str = "tok-all") -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=token, base_url=api.url, max_retries=0, timeout=10)


def error_codes(exc: cloudflare.APIStatusError) -> list[int]:
    return [e["code"] for e in exc.response.json()["errors"]]


@pytest.fixture
def api(sandbox_factory: Factory) -> SandboxApi:
    return sandbox_factory(scenario())


# -- permissions --------------------------------------------------------------------------------

# One read per route, and the group whose absence must make it a 403.
READS: list[tuple[str, Callable[[cloudflare.Cloudflare], Any]]] = [
    ("Origin Rules Read", lambda cf: cf.rulesets.phases.get("http_request_origin", zone_id=SHOP)),
    ("Cache Rules Read", lambda cf: cf.rulesets.phases.get("http_request_cache_settings", zone_id=SHOP)),
    ("Load Balancers Read", lambda cf: list(cf.load_balancers.list(zone_id=SHOP))),
    ("Load Balancing: Monitors and Pools Read", lambda cf: list(cf.load_balancers.pools.list(account_id=ACCOUNT))),
    ("Load Balancing: Monitors and Pools Read", lambda cf: cf.load_balancers.pools.health.get(EU1, account_id=ACCOUNT)),
    ("Cloudflare Tunnel Read", lambda cf: list(cf.zero_trust.tunnels.cloudflared.list(account_id=ACCOUNT))),
    ("Cloudflare Tunnel Read",
     lambda cf: cf.zero_trust.tunnels.cloudflared.configurations.get(PROD, account_id=ACCOUNT)),
]  # fmt: skip


@pytest.mark.parametrize(("group", "read"), READS, ids=[f"{i}-{g}" for i, (g, _) in enumerate(READS)])
def test_each_route_needs_its_group(api: SandboxApi, group: str, read: Callable[[cloudflare.Cloudflare], Any]) -> None:
    assert read(client(api)) is not None
    without = f"tok-without-{ROUTE_GROUPS.index(group)}"
    with pytest.raises(cloudflare.PermissionDeniedError) as err:
        read(client(api, without))
    assert error_codes(err.value) == [10000]
    assert api.requests[-1].status == 403
    for other, other_read in READS:  # the other groups of that token still work
        if other != group:
            assert other_read(client(api, without)) is not None


def test_entrypoint_permission_depends_on_the_phase(api: SandboxApi) -> None:
    zone_only = client(api, "tok-zone-read")  # Zone Read and Config Rules Read
    with pytest.raises(cloudflare.PermissionDeniedError):
        zone_only.rulesets.phases.get("http_request_origin", zone_id=SHOP)
    with pytest.raises(cloudflare.PermissionDeniedError):
        zone_only.rulesets.phases.get("http_request_cache_settings", zone_id=SHOP)
    # Configuration Rules (none in this zone) and any other phase need Config Rules Read: 404.
    for phase in ("http_config_settings", "http_request_firewall_custom"):
        with pytest.raises(cloudflare.NotFoundError) as err:
            zone_only.rulesets.phases.get(phase, zone_id=SHOP)  # type: ignore[arg-type]
        assert error_codes(err.value) == [10003]
    # Without Origin Rules Read the cache phase still answers, and the other way round.
    assert client(api, "tok-without-0").rulesets.phases.get("http_request_cache_settings", zone_id=SHOP)
    assert client(api, "tok-without-1").rulesets.phases.get("http_request_origin", zone_id=SHOP)


def test_rulesets_list_needs_only_zone_read(api: SandboxApi) -> None:
    listed = list(client(api, "tok-zone-read").rulesets.list(zone_id=SHOP))
    assert [(r.phase, r.kind) for r in listed] == [
        ("http_request_origin", "zone"), ("http_request_cache_settings", "zone")
    ]  # fmt: skip
    assert [r.id for r in listed] == [
        stable_id(SHOP, "ruleset", "http_request_origin"), stable_id(SHOP, "ruleset", "http_request_cache_settings")
    ]  # fmt: skip
    assert len(api.requests) == 1  # no cursor: one page
    enterprise = list(client(api).rulesets.list(zone_id=BIG))
    assert [(r.phase, r.kind, r.name) for r in enterprise] == [
        ("http_request_firewall_managed", "managed", "Cloudflare Managed Ruleset")
    ]  # fmt: skip


# -- what the rules, load balancers and pools say -------------------------------------------------


def test_origin_and_cache_rules_through_the_sdk(api: SandboxApi) -> None:
    origin = client(api).rulesets.phases.get("http_request_origin", zone_id=SHOP)
    (rule,) = origin.rules
    assert rule.action == "route" and rule.enabled
    assert rule.id == stable_id(SHOP, "origin_rule", '(http.host eq "api.shop.example")', "0")
    raw = origin.to_dict()["rules"][0]["action_parameters"]
    assert raw == {"origin": {"port": 8443}, "sni": {"value": "api.internal"}}
    cache = client(api).rulesets.phases.get("http_request_cache_settings", zone_id=SHOP)
    assert cache.to_dict()["rules"][0]["action_parameters"] == {"cache": False, "read_timeout": 300}


def test_load_balancers_name_pools_by_id(api: SandboxApi) -> None:
    cf = client(api)
    (lb,) = list(cf.load_balancers.list(zone_id=SHOP))
    pools = {p.name: p.id for p in cf.load_balancers.pools.list(account_id=ACCOUNT)}
    assert pools == {"eu-1": EU1, "us-1": FIXED_POOL}
    assert lb.name == "www.shop.example" and lb.proxied is True and lb.enabled is True
    assert lb.default_pools == [EU1, FIXED_POOL] and lb.fallback_pool == FIXED_POOL
    assert lb.region_pools == {"WNAM": [FIXED_POOL]} and lb.country_pools == {} and lb.pop_pools == {}
    assert lb.id == stable_id(SHOP, "load_balancer", "www.shop.example")
    assert list(cf.load_balancers.list(zone_id=BIG)) == []


def test_pool_origins_carry_host_header_and_port(api: SandboxApi) -> None:
    (eu1, _) = list(client(api).load_balancers.pools.list(account_id=ACCOUNT))
    first, second = (o.to_dict() for o in eu1.origins or [])
    assert first["header"] == {"Host": ["app.internal.example"]} and "port" not in first
    assert second["header"] == {} and second["port"] == 8080


def test_pool_health_is_a_map_by_pop_and_address(api: SandboxApi) -> None:
    cf = client(api)
    health = cf.load_balancers.pools.health.get(EU1, account_id=ACCOUNT).to_dict()
    assert health["pool_id"] == EU1
    assert list(health["pop_health"]) == ["Amsterdam, NL"]
    pop = health["pop_health"]["Amsterdam, NL"]
    assert pop["healthy"] is True  # one healthy origin is the minimum
    (first,), (second,) = (o.items() for o in pop["origins"])
    assert first[0] == "192.0.2.60" and first[1]["healthy"] is True and first[1]["response_code"] == 200
    assert second == ("192.0.2.61", {"healthy": False, "rtt": "0s", "failure_reason": "TCP connection failed",
                                     "response_code": 0})  # fmt: skip
    us1 = cf.load_balancers.pools.health.get(FIXED_POOL, account_id=ACCOUNT).to_dict()
    assert us1["pop_health"]["Amsterdam, NL"]["healthy"] is False  # as the scenario says


def test_pool_health_derives_from_origins_unless_given() -> None:
    pools = parse_scenario({"pools": [
        {"name": "a", "minimum_origins": 2, "origins": [
            {"name": "1", "address": "192.0.2.1"}, {"name": "2", "address": "192.0.2.2", "enabled": False}]},
        {"name": "b", "origins": [{"name": "1", "address": "192.0.2.1", "healthy": False}]},
        {"name": "c", "enabled": False, "origins": [{"name": "1", "address": "192.0.2.1"}]},
        {"name": "d", "healthy": True},
    ]}).pools  # fmt: skip
    assert [p.is_healthy for p in pools] == [False, False, False, True]


def test_unknown_ids_are_404(api: SandboxApi) -> None:
    cf = client(api)
    with pytest.raises(cloudflare.NotFoundError) as err:
        cf.load_balancers.pools.health.get("f" * 32, account_id=ACCOUNT)
    assert err.value.response.json()["errors"] == [{"code": 1002, "message": "Pool not found"}]
    far_pool = stable_id("pool", OTHER, "far")
    with pytest.raises(cloudflare.NotFoundError):  # a pool of another account
        cf.load_balancers.pools.health.get(far_pool, account_id=ACCOUNT)
    assert cf.load_balancers.pools.health.get(far_pool, account_id=OTHER) is not None
    with pytest.raises(cloudflare.NotFoundError) as err:
        cf.zero_trust.tunnels.cloudflared.configurations.get(str(stable_uuid("nope")), account_id=ACCOUNT)
    assert err.value.response.json()["errors"] == [{"code": 1003, "message": "Tunnel not found"}]
    deleted = stable_uuid("tunnel", ACCOUNT, "prod", "deleted-0")
    with pytest.raises(cloudflare.NotFoundError):
        cf.zero_trust.tunnels.cloudflared.configurations.get(deleted, account_id=ACCOUNT)


# -- tunnels ----------------------------------------------------------------------------------------


def test_tunnels_deleted_filter_and_ids(api: SandboxApi) -> None:
    tunnels = client(api).zero_trust.tunnels.cloudflared
    everything = list(tunnels.list(account_id=ACCOUNT))
    assert [(t.name, t.status, t.deleted_at is not None) for t in everything] == [
        ("prod", "healthy", False), ("prod", "down", True), ("prod", "inactive", True), ("fixed", "degraded", False)
    ]  # fmt: skip
    assert [t.id for t in everything] == [
        PROD, stable_uuid("tunnel", ACCOUNT, "prod", "deleted-0"), stable_uuid("tunnel", ACCOUNT, "prod", "deleted-1"),
        FIXED_TUNNEL,
    ]  # fmt: skip
    assert [t.name for t in tunnels.list(account_id=ACCOUNT, is_deleted=False)] == ["prod", "fixed"]
    assert [t.status for t in tunnels.list(account_id=ACCOUNT, is_deleted=True)] == ["down", "inactive"]
    assert [q.query.get("is_deleted") for q in api.requests[-4:]] == ["false", "false", "true", "true"]
    assert [t.name for t in tunnels.list(account_id=OTHER)] == ["far"]


def test_tunnel_connections_follow_the_status(api: SandboxApi) -> None:
    by_status = {t.status: t for t in client(api).zero_trust.tunnels.cloudflared.list(account_id=ACCOUNT)}
    healthy, degraded = by_status["healthy"], by_status["degraded"]
    assert len(healthy.connections or []) == 2 and healthy.conns_active_at is not None
    assert len({c.id for c in healthy.connections or []}) == 2
    assert healthy.conns_inactive_at is None and healthy.deleted_at is None  # left out, not null
    assert len(degraded.connections or []) == 1  # the default for a degraded tunnel
    down, inactive = by_status["down"], by_status["inactive"]
    assert down.connections == [] and down.conns_active_at is not None and down.conns_inactive_at is not None
    assert inactive.connections == [] and inactive.conns_active_at is None
    assert healthy.remote_config is True and by_status["degraded"].remote_config is False


def test_tunnels_page_until_an_empty_page(sandbox_factory: Factory) -> None:
    many = [{"name": f"t{i:02d}"} for i in range(45)]
    api = sandbox_factory(scenario(tunnels=many))

    names = [t.name for t in client(api).zero_trust.tunnels.cloudflared.list(account_id=ACCOUNT, per_page=20)]

    assert names == [f"t{i:02d}" for i in range(45)]
    assert [r.query.get("page", "1") for r in api.requests] == ["1", "2", "3", "4"]
    assert [r.status for r in api.requests] == [200] * 4
    raw = client(api).get(f"/accounts/{ACCOUNT}/cfd_tunnel", cast_to=object, options={"params": {"page": 3}})
    assert raw["result_info"] == {"page": 3, "per_page": 20, "count": 5, "total_count": 45, "total_pages": 3}
    clamped = client(api).get(f"/accounts/{ACCOUNT}/cfd_tunnel", cast_to=object, options={"params": {"per_page": 5000}})
    assert clamped["result_info"]["per_page"] == 1000 and len(clamped["result"]) == 45


def test_tunnel_configurations_remote_and_local(api: SandboxApi) -> None:
    configurations = client(api).zero_trust.tunnels.cloudflared.configurations
    remote = configurations.get(PROD, account_id=ACCOUNT)
    assert remote is not None and remote.source == "cloudflare" and remote.tunnel_id == PROD
    assert remote.config is not None
    assert [(r.hostname, r.service) for r in remote.config.ingress or []] == [
        ("app.shop.example", "http://localhost:8080"), (None, "http_status:404")
    ]  # fmt: skip
    local = configurations.get(FIXED_TUNNEL.upper(), account_id=ACCOUNT)  # ids compare case-insensitively
    assert local is not None and local.source == "local" and local.config is None and local.version == 0


# -- visibility -------------------------------------------------------------------------------------


def test_account_routes_follow_account_visibility(api: SandboxApi) -> None:
    scoped = client(api, "tok-shop-only")  # sees shop.example, so its account, not the other one
    assert [p.name for p in scoped.load_balancers.pools.list(account_id=ACCOUNT)] == ["eu-1", "us-1"]
    assert [t.name for t in scoped.zero_trust.tunnels.cloudflared.list(account_id=ACCOUNT, is_deleted=False)] == [
        "prod", "fixed"
    ]  # fmt: skip
    reads: list[Callable[[], Any]] = [
        lambda: list(scoped.load_balancers.pools.list(account_id=OTHER)),
        lambda: scoped.load_balancers.pools.health.get(stable_id("pool", OTHER, "far"), account_id=OTHER),
        lambda: list(scoped.zero_trust.tunnels.cloudflared.list(account_id=OTHER)),
        lambda: scoped.zero_trust.tunnels.cloudflared.configurations.get(
            stable_uuid("tunnel", OTHER, "far"), account_id=OTHER
        ),
    ]
    for read in reads:
        with pytest.raises(cloudflare.PermissionDeniedError) as err:
            read()
        assert error_codes(err.value) == [10000]
    with pytest.raises(cloudflare.NotFoundError):  # a zone outside the globs is not there
        list(scoped.load_balancers.list(zone_id=BIG))
    with pytest.raises(cloudflare.NotFoundError):
        list(scoped.rulesets.list(zone_id=BIG))


def test_accounts_with_only_pools_or_tunnels_are_known(sandbox_factory: Factory) -> None:
    lone_pool, lone_tunnel = "acc" + "3" * 29, "acc" + "4" * 29
    api = sandbox_factory({
        "tokens": TOKENS,
        "pools": [{"name": "p", "account": lone_pool}],
        "tunnels": [{"name": "t", "account": lone_tunnel}],
    })  # fmt: skip
    assert api.state.accounts() == {lone_pool, lone_tunnel}
    assert [p.name for p in client(api).load_balancers.pools.list(account_id=lone_pool)] == ["p"]
    assert [t.name for t in client(api).zero_trust.tunnels.cloudflared.list(account_id=lone_tunnel)] == ["t"]


# -- the scenario keys --------------------------------------------------------------------------------


def _zone(**extra: Any) -> dict[str, Any]:
    return {"name": "shop.example", **extra}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"zones": [_zone(load_balancers=[{"name": "www", "default_pools": ["nope"], "fallback_pool": "nope"}])]},
         "zones[0].load_balancers[0].default_pools[0]: no pool named 'nope'"),
        ({"zones": [_zone(load_balancers=[{"name": "www", "default_pools": ["p"], "fallback_pool": "p"}])],
          "pools": [{"name": "p", "account": OTHER}]},
         f"no pool named 'p' in account {ACCOUNT}"),
        ({"zones": [_zone(load_balancers=[{"name": "www", "default_pools": ["p"], "fallback_pool": "p",
                                           "region_pools": {"MARS": ["p"]}}])],
          "pools": [{"name": "p"}]}, "unknown region 'MARS'"),
        ({"zones": [_zone(load_balancers=[{"name": "www", "default_pools": [], "fallback_pool": "p"}])]},
         "zones.0.load_balancers.0.default_pools"),
        ({"zones": [_zone(origin_rules=[{"expression": "true", "origin_port": 70000}])]},
         "zones.0.origin_rules.0.origin_port"),
        ({"zones": [_zone(origin_rules=[{"expression": "true"}])]}, "needs at least one of host_header"),
        ({"zones": [_zone(cache_rules=[{"expression": "true", "read_timeout": 300.5}])]},
         "zones.0.cache_rules.0.read_timeout"),
        ({"zones": [_zone(cache_rules=[{"expression": "true", "ttl": 5}])]}, "zones.0.cache_rules.0.ttl"),
        ({"tunnels": [{"name": "t", "status": "sleepy"}]}, "tunnels.0.status"),
        ({"tunnels": [{"name": "t", "status": "down", "connections": 2}]}, "has no active connection"),
        ({"tunnels": [{"name": "t", "connections": 0}]}, "has at least one connection"),
        ({"tunnels": [{"name": "t", "deleted": True}]}, "a deleted tunnel has no connection"),
        ({"tunnels": [{"name": "t", "ingress": [{"service": "http_status:404"}]}]}, "remote_config = true"),
        ({"tunnels": [{"name": "t", "remote_config": True,
                       "ingress": [{"hostname": "a.example", "service": "http://localhost"}]}]},
         "the last rule must match everything"),
        ({"tunnels": [{"name": "t", "remote_config": True, "ingress": [{"service": "ftp://x"}]}]},
         "is not a tunnel service"),
        ({"tunnels": [{"name": "t", "id": "not-a-uuid"}]}, "is not a UUID"),
        ({"tunnels": [{"name": "t"}, {"name": "t"}]}, "tunnel t appears twice"),
        ({"pools": [{"name": "p", "origins": [{"name": "o", "address": "192.0.2.1", "weight": 0.555}]}]},
         "not a multiple of 0.01"),
        ({"pools": [{"name": "bad name"}]}, "is not a pool name"),
        ({"pools": [{"name": "p"}, {"name": "p"}]}, "pool p appears twice"),
        ({"dns": [{"name": "a.example", "addresses": ["not-an-ip"]}]}, "'not-an-ip' is not an IP address"),
        ({"dns": [{"name": "a.example"}]}, 'answer = "addresses" needs at least one address'),
        ({"dns": [{"name": "a.example", "answer": "nxdomain", "addresses": ["192.0.2.1"]}]}, "has no addresses"),
        ({"dns": [{"name": "a.example", "answer": "refused"}]}, "dns.0.answer"),
        ({"dns": [{"name": "a.example", "answer": "nodata"}, {"name": "A.example.", "answer": "timeout"}]},
         "name a.example appears twice"),
    ],
)  # fmt: skip
def test_scenario_keys_are_checked(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "test")
    assert fragment in str(err.value)


def test_load_balancer_names_must_be_in_the_zone() -> None:
    bad = parse_scenario({
        "zones": [_zone(load_balancers=[{"name": "www.elsewhere.net", "default_pools": ["p"], "fallback_pool": "p"}])],
        "pools": [{"name": "p"}],
    })  # fmt: skip
    with pytest.raises(ScenarioError, match=r"zones.shop.example.load_balancers\[0\]: name 'www.elsewhere.net'"):
        SandboxState(bad)
    twice = parse_scenario({
        "zones": [_zone(load_balancers=[{"name": "www", "default_pools": ["p"], "fallback_pool": "p"},
                                        {"name": "www.shop.example", "default_pools": ["p"], "fallback_pool": "p"}])],
        "pools": [{"name": "p"}],
    })  # fmt: skip
    with pytest.raises(ScenarioError, match="comes earlier"):
        SandboxState(twice)
