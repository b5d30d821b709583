"""One real HTTP/2 request to an origin that chose h2 over ALPN (the 520 case).

An origin can advertise h2 and then answer with HTTP/1.1, reset streams, or hang up; only a
real request shows it. httpx connects to the (possibly `--connect-to`-rewritten) address while
SNI and Host stay the hostname, as Cloudflare would send them.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from cfremedy.probes.classify import classify_http
from cfremedy.probes.connect_to import format_host
from cfremedy.probes.results import Http2Result, Outcome


async def http2_probe(connect: tuple[str, int], hostname: str, timeout: float, host: str = "") -> Http2Result:
    """One real HTTP/2 request: SNI `hostname`, Host (`:authority`) `host` or the hostname."""
    url = f"https://{format_host(connect[0])}:{connect[1]}/"
    start = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        async with asyncio.timeout(timeout):
            # trust_env=False: an HTTPS_PROXY in the environment must not reroute an origin probe.
            async with httpx.AsyncClient(http2=True, verify=False, timeout=timeout, trust_env=False) as client:
                response = await client.get(
                    url,
                    headers={"Host": host or hostname, "User-Agent": "cfremedy-probe"},
                    extensions={"sni_hostname": hostname},
                )
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify_http(exc, timeout)
        return Http2Result(outcome, error, elapsed_ms=elapsed())
    if response.http_version != "HTTP/2":
        return Http2Result(
            Outcome.ERROR,  # not proof of a broken h2 stack: the origin simply chose differently
            f"h2 was negotiated for the TLS probe but this response came over {response.http_version}",
            status=response.status_code,
            http_version=response.http_version,
            elapsed_ms=elapsed(),
        )
    return Http2Result(
        Outcome.OK, status=response.status_code, http_version=response.http_version, elapsed_ms=elapsed()
    )
