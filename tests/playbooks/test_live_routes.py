"""Each hostname's real route, judged through the whole stack: load balancers, Origin Rules,
Cache Rules, Cloudflare Tunnels and names outside the zone.

A hostname's DNS record is not always where Cloudflare sends its traffic: a load balancer of
the same name answers first, an Origin Rule changes the port or the Host (and so the SNI), a
Cache Rule changes the read timeout, a CNAME to `<id>.cfargotunnel.com` goes through a tunnel,
and a CNAME out of the zone must resolve in DNS. Judging the record instead of the route gives
false findings and misses real ones, so these tests run the real pipeline (the sandbox API,
the `CloudflareGateway`, real probes against stand-in origins, the sandbox's DNS server, the
playbooks) over one scenario with a zone per behaviour, and check the exact findings, the API
requests and the DNS queries that come out.

One module-scoped fixture runs two account audits: one with a token that reads everything, one
with a token lacking the load-balancing and tunnel permissions (what a narrower token costs).
A spy playbook that finds nothing records each zone's `ZoneFacts` during the audit, so a test
can tell "probed and passed" from "never probed" without a second audit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from cfremedy.audit import AuditOptions, audit
from cfremedy.facts import ZoneFacts
from cfremedy.gateway import CloudflareGateway
from cfremedy.inventory import parse_inventory
from cfremedy.models import Change, Finding, ZoneReport
from cfremedy.probes.results import OriginProbe
from cfremedy.registry import Playbook, load_registry
from cfremedy.sandbox.api import LoggedRequest
from cfremedy.sandbox.dns import DnsQuery
from cfremedy.sandbox.scenario import DEFAULT_ACCOUNT, Scenario
from cfremedy.sandbox.session import SandboxSession
from cfremedy.selection import AccountSelection

FULL_TOKEN = "routes-full-token"
LIMITED_TOKEN = "routes-limited-token"
READ_ALL = (
    "Zone Read",
    "Zone Settings Read",
    "DNS Read",
    "Config Rules Read",
    "Page Rules Read",
    "Origin Rules Read",
    "Cache Rules Read",
    "Load Balancers Read",
    "Load Balancing: Monitors and Pools Read",
    "Cloudflare Tunnel Read",
)
ROUTING_PERMISSIONS = ("Load Balancers Read", "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read")
# Every probe step is bounded by this; only the DNS `timeout` answer waits it out. 2 s rather
# than 1 s: a healthy origin's TLS handshake must never overrun it on a busy CI machine (that
# would read as a 525), and the whole module still takes a few seconds.
PROBE_TIMEOUT = 2.0

TUNNEL_HEALTHY = "6f1c5b1e-2a9d-4c3e-9b7a-1d2e3f4a5b6c"
TUNNEL_DOWN = "0b5c7a7e-3c1f-4d5e-8f6a-9b8c7d6e5f40"
TUNNEL_NO_INGRESS = "2d7e9f10-4b3a-4c5d-8e6f-7a8b9c0d1e2f"
TUNNEL_ELSEWHERE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"  # in no account of the scenario

NXDOMAIN_NAME = "gone.provider.example.net"
NODATA_NAME = "empty.provider.example.net"
SERVFAIL_NAME = "broken.provider.example.net"
TIMEOUT_NAME = "slow.provider.example.net"
RESOLVING_NAME = "good.provider.example.net"
BACKEND_HOST = "backend.hosting.example.net"  # the Host an Origin Rule sends; never resolved

STRICT = {"ssl": "strict", "origin_max_http_version": "1"}
SLOW_EXPORT = 'starts_with(http.request.uri.path, "/export")'


def _a(name: str, address: str) -> dict[str, Any]:
    return {"type": "A", "name": name, "content": address, "proxied": True}


def _cname(name: str, target: str) -> dict[str, Any]:
    return {"type": "CNAME", "name": name, "content": target, "proxied": True}


def _balancer(pool: str) -> dict[str, Any]:
    return {"name": "www", "default_pools": [pool], "fallback_pool": pool, "proxied": True}


def _cache_rule(zone: str, seconds: int) -> dict[str, Any]:
    return {
        "expression": f'(http.host eq "www.{zone}" and {SLOW_EXPORT})',
        "description": f"export: {seconds} s",
        "read_timeout": seconds,
    }


# zone label -> the zone's fields beyond name, plan and settings
ZONES: dict[str, dict[str, Any]] = {
    # 1. a load balancer over a valid and a self-signed origin; the record of the same name
    # points at a dead address (it would be a 521 if it were ever probed)
    "lb-strict": {"records": [_a("www", "93.184.216.10")], "load_balancers": [_balancer("strict-web")]},
    # 2. a pool origin at a private address; a load balancer whose only pool is disabled
    "lb-private": {"load_balancers": [_balancer("private-web")]},
    "lb-disabled": {"load_balancers": [_balancer("off-web")]},
    # 3. an Origin Rule to 8443: the origin listens there / nothing listens there
    "rule-port": {
        "records": [_a("api", "93.184.216.30")],
        "origin_rules": [
            {"expression": '(http.host eq "api.rule-port.example")', "description": "api to 8443", "origin_port": 8443}
        ],
    },
    "rule-port-closed": {
        "records": [_a("api", "93.184.216.31")],
        "origin_rules": [
            {
                "expression": '(http.host eq "api.rule-port-closed.example")',
                "description": "api to 8443",
                "origin_port": 8443,
            }
        ],
    },
    # 4. a Host header override to the only name the origin's certificate has; and the same
    # origin without the rule, which must fail strict (so the pass above is the rule's doing)
    "rule-host": {
        "records": [_a("www", "93.184.216.35")],
        "origin_rules": [
            {
                "expression": '(http.host eq "www.rule-host.example")',
                "description": "www to the backend",
                "host_header": BACKEND_HOST,
            }
        ],
    },
    "no-host-rule": {"records": [_a("www", "93.184.216.35")]},
    # 5. tunnels
    "tunnel-ok": {"records": [_cname("app", f"{TUNNEL_HEALTHY}.cfargotunnel.com")]},
    "tunnel-down": {"records": [_cname("app", f"{TUNNEL_DOWN}.cfargotunnel.com")]},
    "tunnel-elsewhere": {"records": [_cname("app", f"{TUNNEL_ELSEWHERE}.cfargotunnel.com")]},
    "tunnel-no-ingress": {"records": [_cname("app", f"{TUNNEL_NO_INGRESS}.cfargotunnel.com")]},
    # 6. CNAMEs out of the zone, one per DNS answer; the NXDOMAIN name is used by three
    # hostnames in two zones, the resolving one by two hostnames
    "dns-nxdomain": {"records": [_cname("www", NXDOMAIN_NAME), _cname("shop", NXDOMAIN_NAME)]},
    "dns-nxdomain-too": {"records": [_cname("www", NXDOMAIN_NAME)]},
    "dns-nodata": {"records": [_cname("www", NODATA_NAME)]},
    "dns-servfail": {"records": [_cname("www", SERVFAIL_NAME)]},
    "dns-timeout": {"records": [_cname("www", TIMEOUT_NAME)]},
    "dns-resolves": {"records": [_cname("www", RESOLVING_NAME), _cname("api", RESOLVING_NAME)]},
    # 7. Enterprise zones at 100 s, with a Cache Rule for /export at 120 s / 600 s
    "cache-short": {
        "plan": "enterprise",
        "settings": {**STRICT, "proxy_read_timeout": 100},
        "records": [_a("www", "93.184.216.45")],
        "cache_rules": [_cache_rule("cache-short.example", 120)],
    },
    "cache-long": {
        "plan": "enterprise",
        "settings": {**STRICT, "proxy_read_timeout": 100},
        "records": [_a("www", "93.184.216.46")],
        "cache_rules": [_cache_rule("cache-long.example", 600)],
    },
    # 9. nothing but a record: the API budget of a zone without rules, load balancer or tunnel
    "plain": {"records": [_a("www", "93.184.216.50")]},
}

ORIGINS: list[dict[str, Any]] = [
    {"address": "93.184.216.10", "hostnames": ["www.lb-strict.example"], "https": "closed", "http": "closed"},
    {"address": "93.184.216.11", "hostnames": ["www.lb-strict.example"]},
    {"address": "93.184.216.12", "hostnames": ["www.lb-strict.example"], "https": "self_signed"},
    {"address": "93.184.216.20", "hostnames": ["www.lb-private.example"]},
    {"address": "93.184.216.25", "hostnames": ["www.lb-disabled.example"]},
    # HTTPS on 8443 only: without the Origin Rule, nothing would answer on 443
    {"address": "93.184.216.30", "hostnames": ["api.rule-port.example"], "https_port": 8443},
    # HTTPS on 443 only, nothing on 8443 (refused) nor on 80
    {"address": "93.184.216.31", "hostnames": ["api.rule-port-closed.example"], "http_port": 8443, "http": "closed"},
    {"address": "93.184.216.35", "hostnames": [BACKEND_HOST]},
    {"address": "93.184.216.40", "hostnames": ["www.dns-resolves.example", "api.dns-resolves.example"]},
    {"address": "93.184.216.45", "hostnames": ["www.cache-short.example"]},
    {"address": "93.184.216.46", "hostnames": ["www.cache-long.example"]},
    {"address": "93.184.216.50", "hostnames": ["www.plain.example"]},
]

POOLS: list[dict[str, Any]] = [
    {
        "name": "strict-web",
        "origins": [{"name": "web-1", "address": "93.184.216.11"}, {"name": "web-2", "address": "93.184.216.12"}],
    },
    {
        "name": "private-web",
        "origins": [{"name": "app-1", "address": "93.184.216.20"}, {"name": "app-2", "address": "10.0.12.7"}],
    },
    {"name": "off-web", "enabled": False, "origins": [{"name": "old-1", "address": "93.184.216.25"}]},
]

CATCH_ALL = {"service": "http_status:404"}
TUNNELS: list[dict[str, Any]] = [
    {
        "name": "prod",
        "id": TUNNEL_HEALTHY,
        "remote_config": True,
        "ingress": [{"hostname": "app.tunnel-ok.example", "service": "http://localhost:8080"}, CATCH_ALL],
    },
    {"name": "legacy", "id": TUNNEL_DOWN, "status": "down"},
    {
        "name": "common",
        "id": TUNNEL_NO_INGRESS,
        "remote_config": True,
        "ingress": [{"hostname": "other.tunnel-no-ingress.example", "service": "http://localhost:8080"}, CATCH_ALL],
    },
]

DNS: list[dict[str, Any]] = [
    {"name": NXDOMAIN_NAME, "answer": "nxdomain"},
    {"name": NODATA_NAME, "answer": "nodata"},
    {"name": SERVFAIL_NAME, "answer": "servfail"},
    {"name": TIMEOUT_NAME, "answer": "timeout"},
    {"name": RESOLVING_NAME, "addresses": ["93.184.216.40"]},
]

# /export takes 300 s on both Cache Rule zones
SLOW_ENDPOINT = {"path": "/export", "seconds": 300}
INVENTORY = parse_inventory(
    {
        "zones": {
            f"{label}.example": {"slow_endpoints": [{"hostname": f"www.{label}.example", **SLOW_ENDPOINT}]}
            for label in ("cache-short", "cache-long")
        }
    },
    "test inventory",
)


def _scenario() -> Scenario:
    zones = [
        {"name": f"{label}.example", "plan": "pro", "settings": STRICT, **fields} for label, fields in ZONES.items()
    ]
    return Scenario.model_validate(
        {
            "tokens": [
                {"name": "full", "value": FULL_TOKEN, "permissions": list(READ_ALL)},
                {
                    "name": "limited",
                    "value": LIMITED_TOKEN,
                    "permissions": [p for p in READ_ALL if p not in ROUTING_PERMISSIONS],
                },
            ],
            "zones": zones,
            "origins": ORIGINS,
            "pools": POOLS,
            "tunnels": TUNNELS,
            "dns": DNS,
        }
    )


@dataclass
class Audit:
    """One account audit: its reports and each zone's facts (by zone label), and what it asked
    of the API and of the DNS server."""

    reports: dict[str, ZoneReport] = field(default_factory=dict)
    facts: dict[str, ZoneFacts] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)
    queries: list[DnsQuery] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    full: Audit
    limited: Audit


def _label(zone_name: str) -> str:
    return zone_name.removesuffix(".example")


def _spy(into: Audit) -> Playbook:
    """A playbook that finds nothing and records the facts every playbook was given."""
    template = load_registry().get("tunnel_health")

    def detect(facts: ZoneFacts) -> list[Finding]:
        into.facts[_label(facts.snapshot.zone.name)] = facts
        return []

    def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
        return []

    return dataclasses.replace(
        template,
        id="facts_spy",
        uses_probes=False,
        reads=(),
        read_permissions=(),
        builtin=False,
        detect=detect,
        plan_fix=plan_fix,
    )


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with SandboxSession(_scenario()) as session:

        def audit_with(token: str) -> Audit:
            result = Audit()
            options = AuditOptions(
                playbooks=(*load_registry().playbooks, _spy(result)),
                probe=session.probe_options(timeout=PROBE_TIMEOUT),
                inventory=INVENTORY,
            )
            requests_before, queries_before = len(session.api.requests), len(session.dns.queries)

            async def audit_all() -> list[ZoneReport]:
                async with CloudflareGateway(SecretStr(token), session.api.url) as gateway:
                    return list((await audit(gateway, AccountSelection(), options)).zones)

            result.reports = {_label(r.name): r for r in asyncio.run(audit_all())}
            result.requests = list(session.api.requests)[requests_before:]
            result.queries = list(session.dns.queries)[queries_before:]
            return result

        yield Run(full=audit_with(FULL_TOKEN), limited=audit_with(LIMITED_TOKEN))


def summary(report: ZoneReport) -> set[tuple[str, str, str, tuple[int, ...]]]:
    return {(f.playbook, f.severity.value, f.resource, f.error_codes) for f in report.findings}


def messages(report: ZoneReport) -> list[str]:
    return [f.message for f in report.findings]


def probes_of(facts: ZoneFacts, hostname: str) -> list[OriginProbe]:
    return [p for p in facts.probes.probes if p.hostname == hostname]


def zone_requests(audit_run: Audit, label: str) -> list[LoggedRequest]:
    zone_id = audit_run.reports[label].id
    return [r for r in audit_run.requests if r.path == f"/zones/{zone_id}" or r.path.startswith(f"/zones/{zone_id}/")]


# -- the whole run ---------------------------------------------------------------------------------


def test_every_zone_is_audited_with_reads_only_and_no_failed_stage(run: Run) -> None:
    assert set(run.full.reports) == set(ZONES) == set(run.full.facts)
    assert {r.method for r in run.full.requests + run.limited.requests} == {"GET"}
    assert {r.status for r in run.full.requests} == {200}
    assert not [(z, e) for z, r in run.full.reports.items() for e in r.errors]


@pytest.mark.parametrize(
    "label",
    ["rule-port", "rule-host", "tunnel-ok", "dns-resolves", "cache-long", "plain"],
)
def test_zones_whose_routes_work_have_no_finding_and_no_change(run: Run, label: str) -> None:
    report = run.full.reports[label]
    assert report.findings == (), messages(report)
    assert report.changes == ()


# -- 1. a load balancer takes precedence over the record of its name ------------------------------


def test_a_self_signed_pool_origin_is_one_526_that_names_its_load_balancer_route(run: Run) -> None:
    report = run.full.reports["lb-strict"]
    assert summary(report) == {("ssl_origin_cert", "critical", "www.lb-strict.example", (526,))}
    (finding,) = report.findings
    via = "via load balancer www.lb-strict.example pool strict-web origin 2 (web-2)"
    reason = "it is self-signed"
    assert finding.message == f"Full (strict) cannot validate the certificate of 93.184.216.12: {reason} ({via})"
    assert finding.evidence["origin"] == "93.184.216.12"
    assert finding.evidence["route"]["via"] == via
    assert [(c.target, c.before, c.after, c.lowers_security) for c in report.changes] == [
        ("setting:ssl", "strict", "full", True)
    ]


def test_the_dns_record_under_a_load_balancer_is_never_probed(run: Run) -> None:
    facts = run.full.facts["lb-strict"]
    route = facts.routes.get("www.lb-strict.example")
    assert route is not None and route.kind == "load_balancer"
    probes = probes_of(facts, "www.lb-strict.example")
    assert sorted(p.address for p in probes) == ["93.184.216.11", "93.184.216.12"]  # never .10, the record's
    (valid,) = [p for p in probes if p.address == "93.184.216.11"]
    assert valid.tls is not None and valid.tls.verified
    assert valid.via == "via load balancer www.lb-strict.example pool strict-web origin 1 (web-1)"
    assert not [m for m in messages(run.full.reports["lb-strict"]) if "93.184.216.10" in m]


# -- 2. load_balancer_health -------------------------------------------------------------------------


def test_a_pool_origin_at_a_private_address_is_critical(run: Run) -> None:
    report = run.full.reports["lb-private"]
    assert summary(report) == {("load_balancer_health", "critical", "www.lb-private.example", (522, 523))}
    (finding,) = report.findings
    assert finding.message == (
        "origin 2 (app-2) of pool private-web is at private (RFC 1918) address 10.0.12.7 (in 10.0.0.0/8):"
        " Cloudflare cannot connect to it"
    )
    assert finding.evidence["address"] == "10.0.12.7" and finding.evidence["pool"] == "private-web"


def test_a_load_balancer_whose_only_pool_is_disabled_has_no_usable_pool(run: Run) -> None:
    report = run.full.reports["lb-disabled"]
    assert summary(report) == {("load_balancer_health", "critical", "www.lb-disabled.example", (521, 522))}
    (finding,) = report.findings
    assert "load balancer www.lb-disabled.example has no usable pool (off-web: disabled)" in finding.message
    assert "fallback pool (off-web)" in finding.message
    assert dict(finding.evidence["pools"]) == {"off-web": "disabled"}
    # a disabled pool sends nowhere: its origin is not probed
    assert probes_of(run.full.facts["lb-disabled"], "www.lb-disabled.example") == []


# -- 3. Origin Rules: the destination port --------------------------------------------------------


def test_an_origin_rule_port_where_the_origin_listens_is_probed_there_and_passes(run: Run) -> None:
    assert run.full.reports["rule-port"].findings == ()
    (probe,) = probes_of(run.full.facts["rule-port"], "api.rule-port.example")
    assert (probe.https_port, probe.http_port) == (8443, 8443)
    assert probe.via == "via Origin Rule 'api to 8443'"
    assert probe.tls is not None and probe.tls.verified


def test_an_origin_rule_port_where_nothing_listens_is_a_521_via_the_rule(run: Run) -> None:
    # The rule moves HTTPS and HTTP alike to 8443, so a refused 8443 leaves the origin down on
    # both: `origin_ip` reports the 521 once, and `ssl_origin_cert` adds no TLS finding on top.
    report = run.full.reports["rule-port-closed"]
    assert summary(report) == {("origin_ip", "critical", "api.rule-port-closed.example", (521,))}
    (finding,) = report.findings
    assert finding.message.startswith(
        "origin 93.184.216.31: port 8443 refuses connections (the port SSL mode strict connects to)"
    )
    assert not re.search(r"\b(443|80)\b", finding.message)  # only 8443: the default ports are not used
    assert finding.message.endswith("(via Origin Rule 'api to 8443')")
    assert dict(finding.evidence["route"]["ports"]) == {"https": 8443, "http": 8443}


def test_a_refused_origin_rule_port_is_named_once(run: Run) -> None:
    (finding,) = run.full.reports["rule-port-closed"].findings
    assert "8443 and 8443" not in finding.message, finding.message


# -- 4. Origin Rules: the Host header (and with it the SNI) ---------------------------------------


def test_a_host_header_override_sets_the_sni_and_passes_strict(run: Run) -> None:
    assert run.full.reports["rule-host"].findings == ()
    (probe,) = probes_of(run.full.facts["rule-host"], "www.rule-host.example")
    assert (probe.sni, probe.host_header) == (BACKEND_HOST, BACKEND_HOST)
    assert probe.via == "via Origin Rule 'www to the backend'"
    assert probe.tls is not None and probe.tls.verified and probe.tls.hostname_matches


def test_the_same_origin_without_the_host_override_fails_strict(run: Run) -> None:
    report = run.full.reports["no-host-rule"]
    assert summary(report) == {("ssl_origin_cert", "critical", "www.no-host-rule.example", (526,))}
    assert f"www.no-host-rule.example is not in its SANs/CN ({BACKEND_HOST})" in report.findings[0].message


# -- 5. Cloudflare Tunnels ------------------------------------------------------------------------------


def test_a_healthy_tunnel_with_an_ingress_rule_is_silent_and_never_probed(run: Run) -> None:
    facts = run.full.facts["tunnel-ok"]
    route = facts.routes.get("app.tunnel-ok.example")
    assert route is not None and route.kind == "tunnel" and route.endpoints == ()
    assert route.tunnel is not None and route.tunnel.tunnel is not None and route.tunnel.tunnel.name == "prod"
    assert route.tunnel.ingress is not None and route.tunnel.ingress.hostname == "app.tunnel-ok.example"
    assert facts.probes.probes == ()  # no connection attempt: a tunnel has no address
    assert run.full.reports["tunnel-ok"].findings == ()


def test_a_hostname_through_a_down_tunnel_is_530_1033(run: Run) -> None:
    report = run.full.reports["tunnel-down"]
    assert summary(report) == {("tunnel_health", "critical", "app.tunnel-down.example", (530, 1033))}
    (finding,) = report.findings
    assert "goes through tunnel legacy, which is down with 0 connection(s)" in finding.message
    assert finding.evidence["status"] == "down" and finding.evidence["tunnel_id"] == TUNNEL_DOWN


def test_a_cname_to_a_tunnel_outside_the_account_is_critical(run: Run) -> None:
    report = run.full.reports["tunnel-elsewhere"]
    assert summary(report) == {("tunnel_health", "critical", "app.tunnel-elsewhere.example", (530, 1033))}
    (finding,) = report.findings
    assert f"is a CNAME to tunnel {TUNNEL_ELSEWHERE}, which is not in this account" in finding.message
    assert finding.evidence["cname_target"] == f"{TUNNEL_ELSEWHERE}.cfargotunnel.com"


def test_a_tunnel_without_an_ingress_rule_for_the_hostname_serves_the_catch_all(run: Run) -> None:
    report = run.full.reports["tunnel-no-ingress"]
    assert summary(report) == {("tunnel_health", "high", "app.tunnel-no-ingress.example", ())}
    (finding,) = report.findings
    assert "goes through tunnel common, but no ingress rule names it" in finding.message
    assert "the catch-all rule (http_status:404)" in finding.message


@pytest.mark.parametrize("label", ["tunnel-ok", "tunnel-down", "tunnel-elsewhere", "tunnel-no-ingress"])
def test_no_tunnel_hostname_is_ever_probed(run: Run, label: str) -> None:
    assert run.full.facts[label].probes.probes == ()


def test_the_account_tunnels_are_listed_once_however_many_zones_use_tunnels(run: Run) -> None:
    tunnels_path = f"/accounts/{DEFAULT_ACCOUNT}/cfd_tunnel"
    assert len([r for r in run.full.requests if r.path == tunnels_path]) == 1
    # each remote-managed tunnel a zone uses has its ingress read once; the locally managed
    # (down) one and the unknown id have no configuration to read
    configurations = Counter(r.path for r in run.full.requests if r.path.endswith("/configurations"))
    assert configurations == {
        f"{tunnels_path}/{TUNNEL_HEALTHY}/configurations": 1,
        f"{tunnels_path}/{TUNNEL_NO_INGRESS}/configurations": 1,
    }


def test_the_account_pools_are_listed_once_and_each_used_pool_health_read_once(run: Run) -> None:
    pools_path = f"/accounts/{DEFAULT_ACCOUNT}/load_balancers/pools"
    assert len([r for r in run.full.requests if r.path == pools_path]) == 1
    references = Counter(r.path for r in run.full.requests if r.path.endswith("/references"))
    health = Counter(r.path for r in run.full.requests if r.path.endswith("/health"))
    assert len(references) == len(POOLS) and set(references.values()) == {1}
    assert len(health) == len(POOLS) and set(health.values()) == {1}


# -- 6. origin_dns with a real DNS client -------------------------------------------------------------


@pytest.mark.parametrize(
    "label, answer, severity, name, fragment",
    [
        ("dns-nxdomain-too", "nxdomain", "critical", NXDOMAIN_NAME, "does not exist in DNS (NXDOMAIN)"),
        ("dns-nodata", "nodata", "critical", NODATA_NAME, "exists but has no A or AAAA record"),
        ("dns-servfail", "servfail", "high", SERVFAIL_NAME, "could not be resolved: the resolver answered SERVFAIL"),
        ("dns-timeout", "timeout", "high", TIMEOUT_NAME, "could not be resolved: the resolver did not answer in time"),
    ],
)
def test_a_cname_target_that_does_not_resolve_is_530_1016(
    run: Run, label: str, answer: str, severity: str, name: str, fragment: str
) -> None:
    report = run.full.reports[label]
    hostname = f"www.{label}.example"
    assert summary(report) == {("origin_dns", severity, hostname, (530, 1016))}
    (finding,) = report.findings
    assert finding.message.startswith(f"{name} (CNAME target of {hostname}) {fragment}"), finding.message
    assert finding.evidence["needed_as"] == "CNAME target"
    assert finding.evidence["answer"] == answer
    if severity == "high":  # a failed resolver may be this machine's: the finding says which
        assert finding.evidence["resolver"] in finding.message
    assert probes_of(run.full.facts[label], hostname) == []  # no address, nothing to connect to


def test_a_name_shared_by_two_hostnames_is_one_finding_per_hostname(run: Run) -> None:
    report = run.full.reports["dns-nxdomain"]
    assert summary(report) == {
        ("origin_dns", "critical", "www.dns-nxdomain.example", (530, 1016)),
        ("origin_dns", "critical", "shop.dns-nxdomain.example", (530, 1016)),
    }
    assert all("530 / error 1016" in m for m in messages(report))


def test_a_cname_target_that_resolves_leads_to_its_origin_which_is_probed_and_passes(run: Run) -> None:
    facts = run.full.facts["dns-resolves"]
    assert [(r.name, r.status, r.addresses) for r in facts.probes.resolutions] == [
        (RESOLVING_NAME, "ok", ("93.184.216.40",))
    ]
    for hostname in ("www.dns-resolves.example", "api.dns-resolves.example"):
        (probe,) = probes_of(facts, hostname)
        assert (probe.address, probe.via_cname) == ("93.184.216.40", RESOLVING_NAME)
        assert probe.tls is not None and probe.tls.verified
    assert run.full.reports["dns-resolves"].findings == ()


def test_each_name_is_asked_of_the_dns_server_once_however_many_hostnames_use_it(run: Run) -> None:
    asked = Counter((q.name, q.rdtype) for q in run.full.queries)
    names = (NXDOMAIN_NAME, NODATA_NAME, SERVFAIL_NAME, TIMEOUT_NAME, RESOLVING_NAME)
    # only the names outside the zones: no tunnel target, no Host override, no in-zone name
    assert asked == {(name, rdtype): 1 for name in names for rdtype in ("A", "AAAA")}
    assert {q.name: q.answer for q in run.full.queries} == {
        NXDOMAIN_NAME: "NXDOMAIN",
        NODATA_NAME: "NOERROR",
        SERVFAIL_NAME: "SERVFAIL",
        TIMEOUT_NAME: "timeout",
        RESOLVING_NAME: "NOERROR",
    }


# -- 7. Cache Rules and the proxy read timeout -------------------------------------------------------


def test_a_cache_rule_too_short_for_a_slow_endpoint_is_fixed_in_the_rule_not_the_setting(run: Run) -> None:
    report = run.full.reports["cache-short"]
    assert summary(report) == {("proxy_read_timeout", "high", "www.cache-short.example/export", (524,))}
    (finding,) = report.findings
    assert finding.message == (
        "www.cache-short.example/export takes up to 300 s, longer than the proxy read timeout of"
        " 120 s that Cache Rule 'export: 120 s' sets for it"
    )
    assert finding.evidence["timeout_rule"] == "Cache Rule 'export: 120 s'"
    assert any("Raise the Proxy Read Timeout of Cache Rule 'export: 120 s' to 360 s" in r for r in finding.remediation)
    assert report.changes == ()  # the zone setting (100 s) does not govern /export: no change to it


def test_a_cache_rule_long_enough_for_a_slow_endpoint_is_silent(run: Run) -> None:
    # 300 s is over the zone's 100 s, but the rule's 600 s is what /export gets
    report = run.full.reports["cache-long"]
    assert report.findings == () and report.changes == ()
    route = run.full.facts["cache-long"].routes.get("www.cache-long.example")
    assert route is not None and route.timeout.seconds == 100  # the rule covers /export only
    assert [r.read_timeout for r in route.timeout.partial] == [600]


# -- 8. a token without the load-balancing and tunnel permissions ---------------------------------


def test_a_token_without_routing_permissions_still_audits_every_zone(run: Run) -> None:
    assert set(run.limited.reports) == set(ZONES)
    errors = [e for r in run.limited.reports.values() for e in r.errors]
    assert errors and all(e.stage == "routes" and e.degraded for e in errors), errors
    forbidden = {r.path for r in run.limited.requests if r.status == 403}
    assert forbidden == {f"/accounts/{DEFAULT_ACCOUNT}/load_balancers/pools", f"/accounts/{DEFAULT_ACCOUNT}/cfd_tunnel"}


@pytest.mark.parametrize(
    "label, permissions",
    [
        ("lb-strict", ["Load Balancing: Monitors and Pools Read"]),
        ("lb-private", ["Load Balancing: Monitors and Pools Read"]),
        ("lb-disabled", ["Load Balancing: Monitors and Pools Read"]),
        ("tunnel-ok", ["Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read"]),
        ("tunnel-down", ["Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read"]),
        ("tunnel-elsewhere", ["Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read"]),
        ("tunnel-no-ingress", ["Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read"]),
    ],
)
def test_each_affected_zone_carries_a_routes_warning_naming_the_missing_permission(
    run: Run, label: str, permissions: list[str]
) -> None:
    errors = run.limited.reports[label].errors
    assert [e.stage for e in errors] == ["routes"] * len(permissions)
    assert all(e.degraded and e.resource == f"{label}.example" for e in errors)
    for permission, error in zip(permissions, errors, strict=True):
        assert f"lacks the '{permission}' permission" in error.message, error.message
    if "Cloudflare Tunnel Read" in permissions:
        assert "tunnel hostnames were not checked against their tunnels" in errors[-1].message
    assert "load-balanced hostnames were judged by their DNS records" in errors[0].message


@pytest.mark.parametrize(
    "label", ["lb-private", "lb-disabled", "tunnel-ok", "tunnel-down", "tunnel-elsewhere", "tunnel-no-ingress"]
)
def test_no_false_finding_for_load_balanced_or_tunnel_hostnames_without_those_permissions(run: Run, label: str) -> None:
    report = run.limited.reports[label]
    assert report.findings == (), messages(report)
    assert run.limited.facts[label].probes.probes == ()


def test_a_load_balanced_name_with_a_record_is_judged_by_the_record_when_pools_cannot_be_read(run: Run) -> None:
    # What the warning announces: without the pools, the record of the name is the only route
    # cfremedy can see. Nothing from the load balancer leaks in (no pool origin, no 526).
    report = run.limited.reports["lb-strict"]
    assert summary(report) == {("origin_ip", "critical", "www.lb-strict.example", (521,))}
    assert messages(report) == [
        "origin 93.184.216.10: port 443 refuses connections (the port SSL mode strict connects to),"
        " and port 80 does not open either (refused)"
    ]
    assert [p.address for p in run.limited.facts["lb-strict"].probes.probes] == ["93.184.216.10"]


@pytest.mark.parametrize("label", ["rule-port", "rule-host", "dns-resolves", "cache-short", "plain"])
def test_zones_without_load_balancers_or_tunnels_get_the_same_findings_either_way(run: Run, label: str) -> None:
    assert summary(run.limited.reports[label]) == summary(run.full.reports[label])


# -- 9. the API budget of a plain zone ----------------------------------------------------------------


def test_a_plain_zone_costs_four_requests_in_an_account_audit(run: Run) -> None:
    zone_id = run.full.reports["plain"].id
    paths = sorted(r.path.removeprefix(f"/zones/{zone_id}") for r in zone_requests(run.full, "plain"))
    assert paths == ["/dns_records", "/pagerules", "/rulesets", "/settings"]
