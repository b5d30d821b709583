"""What knowing every hostname's real route costs in API requests, zone by zone.

An account audit (`cfremedy audit account`, every playbook, no probes) against the sandbox in a
child process, over an account of zones of five shapes: plain (no rules, no load balancer, no
tunnel), with Configuration Rules, with Origin and Cache Rules, with a load balancer, with
tunnel CNAMEs. The sandbox's request log is split per zone (by the zone id in the path) and
per account (pools, pool health, tunnels, tunnel configurations, the zone list), and the goal
of docs/architecture.md is printed beside the figure: a zone with no rules, no load balancers
and no tunnels costs at most 4 requests.

    python benchmarks/route_budget.py --zones-per-shape 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import Counter, defaultdict
from typing import Any

import httpx
from pydantic import SecretStr
from sandbox_process import sandbox_in_child

from cfremedy.audit import AuditOptions, audit
from cfremedy.gateway import CloudflareGateway
from cfremedy.ratelimit import Rate, RateLimiter
from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import Scenario, parse_scenario, stable_id
from cfremedy.selection import AccountSelection

TOKEN = "benchmark-token"
READ_EVERYTHING = [
    "Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read", "Origin Rules Read",
    "Cache Rules Read", "Load Balancers Read", "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read",
]  # fmt: skip
SHAPES = ("plain", "config_rules", "origin_cache_rules", "load_balancer", "tunnel")
GOAL_PLAIN = 4


def zone(shape: str, index: int) -> dict[str, Any]:
    name = f"{shape.replace('_', '-')}-{index:03d}.example"
    spec: dict[str, Any] = {
        "name": name,
        "plan": "enterprise",
        "settings": {"ssl": "strict"},
        "records": [{"name": "www", "content": "93.184.215.10", "proxied": True}],
        "generate_records": 20,
    }
    if shape == "config_rules":
        spec["config_rules"] = [{"expression": f'(http.host eq "www.{name}")', "ssl": "full"}]
    if shape == "origin_cache_rules":
        spec["origin_rules"] = [{"expression": f'(http.host eq "www.{name}")', "origin_port": 8443}]
        spec["cache_rules"] = [{"expression": f'(http.host eq "www.{name}")', "read_timeout": 300}]
    if shape == "load_balancer":
        spec["load_balancers"] = [{"name": "www", "default_pools": ["web"], "fallback_pool": "web", "proxied": True}]
    if shape == "tunnel":
        spec["records"].append(
            {"type": "CNAME", "name": "app", "content": f"{TUNNEL}.cfargotunnel.com", "proxied": True}
        )
    return spec


TUNNEL = str(uuid.UUID(int=0x6F1C5B1E2A9D4C3E9B7A1D2E3F4A5B6C))


def _is_id(segment: str) -> bool:
    """An account, pool or tunnel id in a path: 32 hex digits, or a UUID."""
    return len(segment.replace("-", "")) == 32 and all(c in "0123456789abcdef" for c in segment.replace("-", ""))


def scenario(per_shape: int) -> Scenario:
    return parse_scenario({
        "tokens": [{"value": TOKEN, "permissions": READ_EVERYTHING}],
        "zones": [zone(shape, i) for shape in SHAPES for i in range(per_shape)],
        "pools": [{"name": "web", "origins": [{"name": "web-1", "address": "93.184.215.60"}]}],
        "tunnels": [{"name": "prod", "id": TUNNEL, "remote_config": True,
                     "ingress": [{"hostname": "*.example", "service": "http://localhost:8080"},
                                 {"service": "http_status:404"}]}],
    }, "route budget")  # fmt: skip


async def run(url: str) -> int:
    options = AuditOptions(playbooks=load_registry().playbooks, probe=None)
    async with CloudflareGateway(SecretStr(TOKEN), url, limiter=RateLimiter(Rate(10**6, 1))) as gateway:
        report = await audit(gateway, AccountSelection(), options)
        failed = [z.name for z in report.zones if z.errors]
        if failed:
            print(f"zones with errors: {failed[:5]}")  # the figures would not be the audit's
        return gateway.requests_sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones-per-shape", type=int, default=20)
    args = parser.parse_args()
    spec = scenario(args.zones_per_shape)
    shape_of = {stable_id("zone", z.name): z.name.rsplit("-", 1)[0].replace("-", "_") for z in spec.zones}
    with sandbox_in_child(spec) as (url, control):
        sent = asyncio.run(run(url))
        log = httpx.get(f"{control}/requests").json()
    per_zone: dict[str, Counter[str]] = defaultdict(Counter)
    account: Counter[str] = Counter()
    for entry in log:
        parts = entry["path"].strip("/").split("/")
        if parts[0] == "zones" and len(parts) > 1:
            per_zone[parts[1]][parts[-1] if parts[-1] != parts[1] else "zone"] += 1
        else:
            account["/" + "/".join("{id}" if _is_id(p) else p for p in parts)] += 1
    print(f"{len(spec.zones)} zones ({args.zones_per_shape} per shape), {len(log)} requests ({sent} sent)")
    print(f"once per run or per account: {sum(account.values())}")
    for path, count in sorted(account.items()):
        print(f"  {count} x GET {path}")
    ok = True
    for shape in SHAPES:
        counts = [sum(c.values()) for zid, c in per_zone.items() if shape_of[zid] == shape]
        kinds: Counter[str] = Counter()
        for zid, c in per_zone.items():
            if shape_of[zid] == shape:
                kinds.update(c)
        each = max(counts)
        goal = f"  (goal: <= {GOAL_PLAIN})" if shape == "plain" else ""
        ok &= shape != "plain" or each <= GOAL_PLAIN
        detail = ", ".join(f"{k} {v // len(counts)}" for k, v in sorted(kinds.items()))
        print(f"  {shape:<20} {each} requests per zone: {detail}{goal}")
    return 0 if ok and sent == len(log) else 1


if __name__ == "__main__":
    sys.exit(main())
