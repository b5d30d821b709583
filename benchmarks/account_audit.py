"""An account-wide audit against the sandbox: API requests per zone, 429s, wall time.

The sandbox runs in a child process (N zones x M records, a latency per request, optionally its
own rate limit and one forced 429); the auditor runs the audit pipeline on the account
(`AccountSelection`) exactly as `cfremedy audit account` does, under its client-side rate
limiter, without probes. Requests and 429s are counted on the sandbox's request log.

    python benchmarks/account_audit.py --zones 1000 --records 50 --latency-ms 20
    python benchmarks/account_audit.py --zones 200 --server-limit 120/30 --rate-limit 120/30
    python benchmarks/account_audit.py --zones 100 --force-429 90
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time

import httpx
from pydantic import SecretStr
from sandbox_process import sandbox_in_child

from cfremedy.audit import AuditOptions
from cfremedy.audit import audit as run_audit
from cfremedy.gateway import CloudflareGateway
from cfremedy.models import Report
from cfremedy.ratelimit import Rate, RateLimiter
from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import FaultSpec, SandboxOptions, Scenario, TokenSpec, ZoneSpec
from cfremedy.selection import AccountSelection

TOKEN = "benchmark-token"
READ_EVERYTHING = (
    "Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read", "Origin Rules Read",
    "Cache Rules Read", "Load Balancers Read", "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read",
)  # fmt: skip
MODES = ("off", "flexible", "full", "strict")


def scenario(args: argparse.Namespace) -> Scenario:
    server = Rate.parse(args.server_limit) if args.server_limit else None
    faults = (FaultSpec(kind="429", count=1, retry_after=args.force_429, path="/settings$"),) if args.force_429 else ()
    return Scenario(
        tokens=(
            TokenSpec(
                value=TOKEN,
                permissions=READ_EVERYTHING,
            ),
        ),
        zones=tuple(
            ZoneSpec(
                name=f"zone{i:05d}.example",
                plan="enterprise" if i % 10 == 0 else "pro",
                settings={"ssl": MODES[i % 4]},
                generate_records=args.records,
            )
            for i in range(args.zones)
        ),
        sandbox=SandboxOptions(
            latency_ms=args.latency_ms,
            faults=faults,
            rate_limit_requests=server.requests if server else None,
            rate_limit_window=server.window if server else 300.0,
        ),
    )


async def audit(url: str, rate: Rate, parallel: int) -> tuple[Report, RateLimiter]:
    limiter = RateLimiter(rate)
    async with CloudflareGateway(SecretStr(TOKEN), url, limiter=limiter) as gateway:
        options = AuditOptions(playbooks=load_registry().playbooks, probe=None, parallel=parallel)
        return await run_audit(gateway, AccountSelection(), options), limiter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rate-limit", default="100000/300", help="the client's --rate-limit")
    parser.add_argument("--server-limit", default="", help="N/SECONDS enforced by the sandbox")
    parser.add_argument("--force-429", type=float, default=0.0, help="one 429 with this Retry-After")
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()

    spec = scenario(args)
    with sandbox_in_child(spec) as (url, control):
        started = time.perf_counter()
        report, limiter = asyncio.run(audit(url, Rate.parse(args.rate_limit), args.parallel))
        wall = time.perf_counter() - started
        log = httpx.get(f"{control}/requests").json()
    statuses = [entry["status"] for entry in log]
    audited = sum(1 for z in report.zones if not z.errors)
    print(
        f"zones={args.zones} records/zone={args.records} latency={args.latency_ms:g} ms"
        f" client limit={args.rate_limit} server limit={args.server_limit or 'none'}"
        f" forced 429={args.force_429 or 'no'}"
    )
    print(f"API requests: {len(log)} ({len(log) / args.zones:.3f} per zone, zone list pages included)")
    print(
        f"429 answers: {statuses.count(429)}; zones audited: {audited}/{args.zones}; findings: {len(report.findings)}"
    )
    print(f"wall time: {wall:.1f} s; waited for the rate limit / Retry-After: {limiter.waited:.1f} s")
    print(f"peak memory of the auditor: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0 if audited == args.zones else 1


if __name__ == "__main__":
    sys.exit(main())
