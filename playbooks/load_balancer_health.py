"""A load-balanced hostname must have somewhere healthy to send its visitors.

Anti-pattern:
    A Load Balancer answers for its hostname ahead of any DNS record of that name, and sends
    visitors to its pools' origins. When every pool it uses is disabled or unhealthy,
    Cloudflare sends them to the fallback pool anyway, and visitors get the errors of origins
    that fail their health checks (521 refused, 522 timed out). A pool with no enabled origin
    can never serve; a pool origin at a private, reserved or documentation address can never
    be reached (522/523); a pool the load balancer names but the account does not have sends
    nothing.

Fix:
    No change is proposed: enabling a pool or an origin is a decision about capacity and
    failover that a person must make. Fix or re-enable the origins (their health-check
    failures say why), give each pool at least one enabled origin at a public address, and
    correct the load balancer's pool list. Every other origin playbook (SSL, HTTP/2,
    ciphers, expiry, compression, headers) judges the pools' origins like DNS origins.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    Finding,
    LoadBalancerRoute,
    Severity,
    ZoneFacts,
    address_problem,
    finding,
    section_url,
)

id = "load_balancer_health"
title = "Load balancers with no healthy pool, empty pools, unreachable pool origins"
severity = Severity.CRITICAL
error_codes = (521, 522, 523)
docs_url = section_url(522)
read_permissions = ("Zone Read", "Load Balancers Read", "Load Balancing: Monitors and Pools Read")
write_permissions = ()
uses_probes = False
reads = ("load_balancers",)


def _balancer(facts: ZoneFacts, hostname: str, route: LoadBalancerRoute) -> list[Finding]:
    lb = route.load_balancer
    findings: list[Finding] = []
    usable = [p for p in route.pools if p.enabled and any(o.enabled for o in p.origins) and p.healthy is not False]
    if not usable and route.pools:
        states = {
            p.name: (
                "disabled"
                if not p.enabled
                else "no enabled origin"
                if not any(o.enabled for o in p.origins)
                else "unhealthy"
            )
            for p in route.pools
        }
        fallback = next((p.name for p in route.pools if p.id == lb.fallback_pool), lb.fallback_pool or "none")
        findings.append(
            finding(
                id,
                Severity.CRITICAL,
                (521, 522),
                hostname,
                f"load balancer {lb.name} has no usable pool ({', '.join(f'{n}: {s}' for n, s in states.items())}):"
                f" Cloudflare sends visitors to the fallback pool ({fallback}) anyway, and they get its"
                " origins' errors",
                {"load_balancer": lb.name, "pools": states, "fallback_pool": fallback},
                docs_url=docs_url,
                key=f"{lb.id}:no-pool",
                remediation=(
                    "Read the pools' health-check failures (Traffic > Load Balancing > Pools), fix"
                    " or re-enable their origins, or enable a healthy pool.",
                ),
            )
        )
    for missing in route.missing_pools:
        findings.append(
            finding(
                id,
                Severity.HIGH,
                (),
                hostname,
                f"load balancer {lb.name} names pool {missing}, which the account does not have",
                {"load_balancer": lb.name, "pool_id": missing},
                docs_url=docs_url,
                key=f"{lb.id}:missing:{missing}",
                remediation=("Remove the pool from the load balancer, or create it again.",),
            )
        )
    for pool in route.pools:
        if pool.enabled and not any(o.enabled for o in pool.origins) and usable:
            findings.append(
                finding(
                    id,
                    Severity.MEDIUM,
                    (),
                    hostname,
                    f"pool {pool.name} of load balancer {lb.name} has no enabled origin: it can never serve,"
                    " and traffic steered to it fails over",
                    {"load_balancer": lb.name, "pool": pool.name},
                    docs_url=docs_url,
                    key=f"{pool.id}:empty",
                    remediation=("Enable an origin of the pool, or remove the pool from the load balancer.",),
                )
            )
        for index, origin in enumerate(pool.origins, start=1):
            problem = address_problem(origin.address, facts.cloudflare_ranges) if _is_ip(origin.address) else None
            if problem is None or not origin.enabled:
                continue
            reason, code = problem
            findings.append(
                finding(
                    id,
                    Severity.CRITICAL,
                    (522, 523) if code != 1000 else (1000,),
                    hostname,
                    f"origin {index} ({origin.name or origin.address}) of pool {pool.name} is at {reason}:"
                    " Cloudflare cannot connect to it",
                    {"load_balancer": lb.name, "pool": pool.name, "origin": origin.name, "address": origin.address},
                    docs_url=docs_url,
                    key=f"{pool.id}:{origin.address}",
                    remediation=("Give the origin its public address, or publish it through Cloudflare Tunnel.",),
                )
            )
    return findings


def _is_ip(text: str) -> bool:
    """Pool origins given by host name are judged by `origin_dns` and the probes."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def detect(facts: ZoneFacts) -> list[Finding]:
    findings = []
    for route in facts.routes:
        if route.load_balancer is not None:
            findings += _balancer(facts, route.hostname, route.load_balancer)
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []
