"""How long probing takes when half the origins never answer.

Without concurrency, 250 dead origins cost 250 timeouts; with it, the first pass should cost
about `timeout x ceil(targets / concurrency)`, and the retry of every timed-out origin (on its
own, once the first pass is over) about `timeout x ceil(dead / concurrency)` more. This starts
500 sandbox origins on loopback (half "drop": SYNs never answered; half "valid": TLS, HTTP/2)
and probes them all.
The origins run in a child process, as real origins run elsewhere: sharing the prober's
interpreter (and its GIL) would make the benchmark measure the fake servers' CPU instead.

    python benchmarks/probe_concurrency.py --timeout 1 --concurrency 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import math
import multiprocessing
import multiprocessing.connection
import time
from pathlib import Path

from cfremedy.probes.connect_to import parse_connect_to
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.runner import probe_origins
from cfremedy.probes.targets import ProbeTarget
from cfremedy.sandbox.origins import OriginFleet
from cfremedy.sandbox.scenario import OriginSpec


def build_specs(count: int) -> list[OriginSpec]:
    base = ipaddress.ip_address("10.200.0.0")
    return [
        OriginSpec(
            address=str(base + i + 1),
            hostnames=(f"o{i}.example.com",),
            https="drop" if i % 2 == 0 else "valid",
            http="drop" if i % 2 == 0 else "ok",
        )
        for i in range(count)
    ]


def serve_origins(count: int, channel: multiprocessing.connection.Connection) -> None:
    """Child process: run the fleet, report its rules and CA, serve until told to stop."""
    with OriginFleet(build_specs(count)) as fleet:
        channel.send((fleet.connect_to(), str(fleet.ca_file)))
        channel.recv()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=1.0, help="probe step timeout, seconds")
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    specs = build_specs(args.targets)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_origins, args=(args.targets, child))
    server.start()
    try:
        rules, ca_file = parent.recv()
        options = ProbeOptions(
            timeout=args.timeout,
            concurrency=args.concurrency,
            connect_to=tuple(parse_connect_to(rule) for rule in rules),
            origin_ca=(Path(ca_file),),
        )
        targets = [ProbeTarget(s.hostnames[0], s.address, True) for s in specs]
        started = time.perf_counter()
        results = asyncio.run(probe_origins(targets, options))
        wall = time.perf_counter() - started
    finally:
        parent.send("stop")
        server.join(timeout=30)

    tally = collections.Counter(
        (p.tcp443.outcome.value, p.tls.outcome.value if p.tls else "-", p.http2.outcome.value if p.http2 else "-")
        for p in results.probes
    )
    bound = args.timeout * math.ceil(args.targets / args.concurrency)
    retried = sum(1 for p in results.probes if p.retried)
    retries = args.timeout * math.ceil(retried / args.concurrency)
    print(f"targets={args.targets} (half drop, half valid) timeout={args.timeout:g}s concurrency={args.concurrency}")
    for (tcp, tls, h2), count in sorted(tally.items()):
        print(f"  {count:4d} x tcp443={tcp} tls={tls} http2={h2}")
    print(f"retried on their own after a timeout: {retried}")
    print(f"wall time: {wall:.2f}s")
    print(f"timeout x (ceil(targets/concurrency) + ceil(retried/concurrency)): {bound + retries:.2f}s")
    print(f"serial worst case (targets x timeout): {args.targets * args.timeout:.0f}s")


if __name__ == "__main__":
    main()
