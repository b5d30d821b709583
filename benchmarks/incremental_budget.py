"""What a nightly `audit account --incremental` costs next to a full audit, when a few zones changed.

The sandbox runs in a child process with N zones. The auditor runs the account audit pipeline
(every playbook, no probes) as `cfremedy audit account` does: once in full (the figure to beat),
once with `--incremental` and an empty store (it stores every zone's snapshot), then C zones are
changed through the API (a setting on half of them, a new DNS record on the other half, each
writing the account's audit log as Cloudflare does), then once more with `--incremental`. The
changed zones' findings must be what a full audit finds, and the goal of issue 15 is printed
beside the figure: the incremental run costs at most 5 % of the full run's requests.

    python benchmarks/incremental_budget.py --zones 1000 --changed 10
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sandbox_process import sandbox_in_child

from cfremedy.audit import AuditOptions, audit
from cfremedy.gateway import CloudflareGateway
from cfremedy.incremental import Incremental, StoredZone
from cfremedy.models import Report
from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import SandboxOptions, Scenario, TokenSpec, ZoneSpec, stable_id
from cfremedy.selection import AccountSelection
from cfremedy.snapshot_store import SnapshotStore

TOKEN = "benchmark-token"
PERMISSIONS = (
    "Zone Read", "Zone Settings Write", "DNS Write", "Config Rules Read", "Page Rules Read", "Origin Rules Read",
    "Cache Rules Read", "Load Balancers Read", "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read",
    "Account Settings Read",
)  # fmt: skip
GOAL = 0.05


def scenario(zones: int, records: int, latency_ms: float) -> Scenario:
    return Scenario(
        tokens=(TokenSpec(value=TOKEN, permissions=PERMISSIONS),),
        zones=tuple(
            ZoneSpec(
                name=f"zone{i:05d}.example",
                plan="enterprise" if i % 10 == 0 else "pro",
                settings={"ssl": "strict"},
                generate_records=records,
            )
            for i in range(zones)
        ),
        sandbox=SandboxOptions(latency_ms=latency_ms),
    )


async def account_audit(url: str, options: AuditOptions) -> tuple[Report, int, float]:
    started = time.perf_counter()
    async with CloudflareGateway(SecretStr(TOKEN), url) as gateway:
        report = await audit(gateway, AccountSelection(), options)
        return report, gateway.requests_sent, time.perf_counter() - started


def change(url: str, names: list[str]) -> None:
    """Half the zones get Flexible SSL (a finding), half a new proxied record (none)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for n, name in enumerate(names):
            zone = stable_id("zone", name)
            if n % 2 == 0:
                answer = client.patch(f"zones/{zone}/settings/ssl", json={"value": "flexible"})
            else:
                record = {"type": "A", "name": f"new.{name}", "content": "93.184.215.34", "proxied": True}
                answer = client.post(f"zones/{zone}/dns_records", json=record)
            answer.raise_for_status()


def findings(report: Report) -> list[tuple[Any, ...]]:
    return sorted((f.playbook, f.resource, f.key, f.severity.value, f.message) for f in report.findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()

    playbooks = load_registry().playbooks
    names = [f"zone{i:05d}.example" for i in range(args.zones)]
    spec = scenario(args.zones, args.records, args.latency_ms)
    with tempfile.TemporaryDirectory() as state, sandbox_in_child(spec) as (url, _):
        full_options = AuditOptions(playbooks=playbooks, probe=None)
        _, full, full_time = asyncio.run(account_audit(url, full_options))

        def incremental(store: SnapshotStore) -> tuple[Report, int, float, int]:
            fresh: list[StoredZone] = []
            options = AuditOptions(
                playbooks=playbooks, probe=None, incremental=Incremental(store.load_all()), remember=fresh.append
            )
            report, requests, seconds = asyncio.run(account_audit(url, options))
            return report, requests, seconds, store.save(fresh)

        with SnapshotStore(Path(state) / "snapshots.sqlite3") as store:
            _, first, first_time, stored = incremental(store)
            change(url, names[:: max(1, args.zones // args.changed)][: args.changed])
            after, nightly, nightly_time, restored = incremental(store)
        full_after, _, _ = asyncio.run(account_audit(url, full_options))

    share = nightly / full
    same = findings(after) == findings(full_after)
    print(f"zones={args.zones} changed={args.changed} records/zone={args.records} latency={args.latency_ms:g} ms")
    print(f"full audit:                      {full:6d} requests, {full_time:5.1f} s")
    print(f"first --incremental (stores):    {first:6d} requests, {first_time:5.1f} s, {stored} snapshots stored")
    print(f"nightly --incremental:           {nightly:6d} requests, {nightly_time:5.1f} s, {restored} zones read again")
    verdict = "met" if share <= GOAL else "MISSED"
    print(f"nightly / full:                  {share:.1%}   goal: <= {GOAL:.0%}   {verdict}")
    print(f"findings identical to a full audit after the changes: {'yes' if same else 'NO'}")
    return 0 if share <= GOAL and same and restored == args.changed else 1


if __name__ == "__main__":
    sys.exit(main())
