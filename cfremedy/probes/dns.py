"""Resolving the names outside a zone that Cloudflare must resolve to reach an origin.

A real DNS client (dnspython), not `getaddrinfo`: `getaddrinfo` cannot tell a name that does
not exist (NXDOMAIN) from one without addresses (NODATA) from a resolver that failed
(SERVFAIL, timeout), and the first two are Cloudflare's 530 / error 1016 while the last may
only be this machine's resolver. The system resolver is used by default; `--resolver IP` asks
another one (Cloudflare resolves from the public Internet, so a split-horizon name that only
resolves inside a company network is a classic 1016).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import dns.asyncresolver
import dns.exception
import dns.resolver

from cfremedy.probes.results import Resolution

OK = "ok"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
SERVFAIL = "servfail"
TIMEOUT = "timeout"
ERROR = "error"


def parse_resolver(text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` to (address, port); ValueError naming the problem."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not IP, IP:PORT or [IPv6]:PORT")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IP address (a resolver is named by its address)") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is out of range")
    return address, port


class NameResolver:
    """One resolver for a run; each name is asked once (A and AAAA together)."""

    def __init__(self, resolver: str | None, timeout: float) -> None:
        self.timeout = timeout
        if resolver is None:
            try:
                self._resolver = dns.asyncresolver.Resolver()
                self.label = "the system resolver (" + ", ".join(map(str, self._resolver.nameservers)) + ")"
            except dns.resolver.NoResolverConfiguration:
                self._resolver = dns.asyncresolver.Resolver(configure=False)
                self.label = "no resolver configured on this machine"
        else:
            address, port = parse_resolver(resolver)
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [address]
            self._resolver.port = port
            self.label = f"resolver {resolver}"
        self._resolver.cache = None
        self._answers: dict[str, asyncio.Future[Resolution]] = {}

    async def resolve(self, name: str) -> Resolution:
        future = self._answers.get(name)
        if future is None:
            future = asyncio.ensure_future(self._resolve(name))
            self._answers[name] = future
        return await asyncio.shield(future)

    @property
    def resolutions(self) -> tuple[Resolution, ...]:
        return tuple(f.result() for f in self._answers.values() if f.done() and not f.cancelled())

    async def _resolve(self, name: str) -> Resolution:
        start = time.perf_counter()
        if not self._resolver.nameservers:
            return Resolution(name, ERROR, resolver=self.label, detail="no nameserver to ask")
        v4, v6 = await asyncio.gather(self._ask(name, "A"), self._ask(name, "AAAA"))
        elapsed = round((time.perf_counter() - start) * 1000, 3)
        addresses = (*v4[1], *v6[1])
        statuses = {v4[0], v6[0]}
        if addresses:
            status = OK
        elif NXDOMAIN in statuses:
            status = NXDOMAIN
        elif statuses == {NODATA}:
            status = NODATA
        elif SERVFAIL in statuses:
            status = SERVFAIL
        elif TIMEOUT in statuses:
            status = TIMEOUT
        else:
            status = ERROR
        detail = "; ".join(d for d in (v4[2], v6[2]) if d)
        return Resolution(name, status, tuple(dict.fromkeys(addresses)), self.label, detail, elapsed)

    async def _ask(self, name: str, rdtype: str) -> tuple[str, tuple[str, ...], str]:
        try:
            answer = await self._resolver.resolve(name, rdtype, lifetime=self.timeout, search=False)
        except dns.resolver.NXDOMAIN:
            return NXDOMAIN, (), f"{rdtype}: NXDOMAIN (the name does not exist)"
        except dns.resolver.NoAnswer:
            return NODATA, (), f"{rdtype}: no {rdtype} record"
        except dns.resolver.NoNameservers as exc:
            return SERVFAIL, (), f"{rdtype}: {_first_line(exc)}"
        except (dns.resolver.LifetimeTimeout, dns.exception.Timeout):
            return TIMEOUT, (), f"{rdtype}: no answer within {self.timeout:g} s"
        except dns.exception.DNSException as exc:
            return ERROR, (), f"{rdtype}: {_first_line(exc)}"
        return OK, tuple(str(r.address) for r in answer), ""


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
