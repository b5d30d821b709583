"""TCP connections the probes open, hand to TLS, and close without leaking.

Probes never read application data on these connections, so they use a bare protocol rather
than asyncio streams: streams upgraded with `start_tls` make Python 3.11 log "returning true
from eof_received() has no effect when using ssl" whenever a peer closes right after the
handshake, which would spray warnings over every audit.
"""

from __future__ import annotations

import asyncio
import socket
import time

from cfremedy.probes.classify import classify, describe
from cfremedy.probes.results import Outcome, StepResult

# How long a finished connection may spend on the TLS close_notify exchange before we cut it.
CLOSE_GRACE = 1.0


class Link(asyncio.Protocol):
    """Ignores the peer's data and remembers when the connection is gone."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


async def connect(host: str, port: int, timeout: float) -> tuple[StepResult, tuple[asyncio.Transport, Link] | None]:
    """TCP connect bounded by `timeout`; the result, and the open connection when it worked."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            transport, link = await asyncio.get_running_loop().create_connection(Link, host, port)
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        if outcome is Outcome.UNREACHABLE:
            local = await no_local_route(host, port)
            if local:
                outcome, error = Outcome.ERROR, local
        return StepResult(outcome, error, elapsed_ms(start)), None
    return StepResult(Outcome.OK, elapsed_ms=elapsed_ms(start)), (transport, link)


async def no_local_route(host: str, port: int) -> str:
    """Why this machine itself cannot send to `host` ("" when it can): a "no route to host" or
    "network unreachable" raised here (no route in our own routing table, no address of that
    family, an interface down) says nothing about whether Cloudflare reaches the origin, so it
    is our side's failure, not a 523. Asked by connecting a UDP socket, which only looks the
    route up and sends nothing; "" too when that socket cannot be created (out of file
    descriptors): the connect's own classification then stands."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return ""
    family, kind, proto, _, address = infos[0]
    try:
        probe = socket.socket(family, kind, proto)
    except OSError:
        return ""  # no socket to ask with (EMFILE under a high --concurrency): cannot tell
    try:
        probe.connect(address)
    except OSError as exc:
        return (
            f"this machine has no route to {host} ({describe(exc)}): a failure on our side, which says"
            " nothing about whether Cloudflare reaches the origin"
        )
    finally:
        probe.close()
    return ""


async def close(transport: asyncio.Transport, link: Link) -> None:
    """Close politely (TLS close_notify) but never wait long for a peer that does not answer.

    A transport already closing was closed under us by a failed `start_tls`; its protocol is
    never told, so waiting for `connection_lost` would always run into the grace period.
    """
    if transport.is_closing():
        transport.abort()
        return
    transport.close()
    try:
        await asyncio.wait_for(asyncio.shield(link.closed), CLOSE_GRACE)
    except TimeoutError:
        transport.abort()
    except asyncio.CancelledError:
        transport.abort()
        raise
