"""Probing many origins at once: every target in parallel, every step bounded.

An account can have hundreds of proxied records and a dead origin costs a full timeout, so
targets run concurrently under one semaphore and ports 443 and 80 are tried in parallel:
the wall time is about `timeout x ceil(targets / concurrency)`, not `targets x timeout`.

A crowd of probes on a busy machine can time out where a lone one would not (a healthy HTTP/2
origin whose answer waited behind 500 handshakes for the CPU). So a target any of whose steps
timed out is probed once more on its own before the timeout may become a finding: once the
run's first pass is over (no first-pass probe in flight), and the result says which steps
timed out the first time (`OriginProbe.retried`). A target whose handshake, request or answer
stalled is retried a few at a time (`RETRY_CONCURRENCY`); one that only failed to connect
(a SYN never answered costs the kernel, not the CPU) under the run's concurrency, so that a
zone of dead origins costs two timeouts, not one per few origins.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from cfremedy.probes.classify import describe
from cfremedy.probes.connect_to import find_rule, format_host, route
from cfremedy.probes.dns import NameResolver
from cfremedy.probes.http1 import keepalive_probe, response_probe
from cfremedy.probes.http2 import http2_probe
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import (
    Http2Result,
    HttpResponseResult,
    KeepAliveResult,
    OriginProbe,
    Outcome,
    ProbeResults,
    StepResult,
    TlsResult,
)
from cfremedy.probes.revocation import check_revocation, loopback_only, offer_look
from cfremedy.probes.targets import ProbeTarget, with_address
from cfremedy.probes.tcp import close, connect
from cfremedy.probes.tls import (
    inspecting_context,
    permissive_context,
    permissive_look,
    sni_look,
    tls_probe,
    verifying_context,
)

if TYPE_CHECKING:
    from cryptography import x509

# Retries run at most this many at a time: alone enough not to be a crowd, many enough that a
# zone of dead origins does not retry them one by one.
RETRY_CONCURRENCY = 8
R = TypeVar("R")  # what a request probe returns

_DNS_ONLY = "DNS-only record: Cloudflare never connects to this origin on port 80"
_ONLY_CONNECT_TO = "--connect-to-only is set and no --connect-to rule covers it"


def _uncovered(target: ProbeTarget, port: int) -> StepResult:
    return StepResult(Outcome.SKIPPED, f"{format_host(target.address)}:{port} not probed: {_ONLY_CONNECT_TO}")


class ProbePool:
    """What every probe of a run shares: options, trust stores, the resolver, and one
    concurrency cap.

    One pool serves a whole run, however many zones it audits at once: dividing the cap between
    zones in flight left a zone with 500 origins 12 slots while the others sat idle.
    """

    def __init__(self, options: ProbeOptions) -> None:
        self.options = options
        self.verify_context = verifying_context(options)
        self.inspect_context = inspecting_context()
        self.request_context = inspecting_context(alpn=["http/1.1"])
        self.permissive_context = permissive_context()
        self.slots = asyncio.Semaphore(options.concurrency)
        self.retry_lane = asyncio.Semaphore(min(RETRY_CONCURRENCY, options.concurrency))
        self.resolver = NameResolver(options.resolver, options.timeout)
        self._first_pass = 0  # first-pass probes in flight
        self._quiet = asyncio.Event()  # set while none is
        self._quiet.set()

    @functools.cached_property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """Cloudflare's Origin CA root and the `--origin-ca` files, parsed once: where the
        revocation check finds the issuer of a leaf the origin sent without it (a public CA's
        leaf always comes with its intermediate)."""
        from cryptography import x509

        from cfremedy.probes.certificates import origin_ca_pem

        found = list(x509.load_pem_x509_certificates(origin_ca_pem().encode("ascii")))
        for path in self.options.origin_ca:
            try:
                found += x509.load_pem_x509_certificates(path.read_bytes())
            except (OSError, ValueError):
                continue  # the verifying context already refused what cannot be read
        return tuple(found)

    def _base(self, target: ProbeTarget, tcp443: StepResult, tcp80: StepResult) -> OriginProbe:
        return OriginProbe(
            hostname=target.hostname,
            address=target.address,
            proxied=target.proxied,
            tcp443=tcp443,
            tcp80=tcp80,
            via_cname=target.via_cname,
            https_port=target.https_port,
            http_port=target.http_port,
            sni=target.sni,
            host_header=target.host_header,
            via=target.via,
            partial=target.partial,
        )

    async def target(self, target: ProbeTarget) -> list[OriginProbe]:
        if not target.resolve:
            return [await self.origin(target)]
        if self.options.only_connect_to and self.options.resolver is None:
            skipped = StepResult(Outcome.SKIPPED, f"{target.address} not resolved: {_ONLY_CONNECT_TO}")
            return [self._base(target, skipped, skipped)]
        async with self.slots:
            resolution = await self.resolver.resolve(target.address)
        if resolution.status != "ok":
            return []  # no address: `origin_dns` judges the name from the resolution itself
        return list(await asyncio.gather(*(self.origin(with_address(target, a)) for a in resolution.addresses)))

    async def origin(self, target: ProbeTarget) -> OriginProbe:
        try:
            async with self.slots:
                self._first_pass += 1
                self._quiet.clear()
                try:
                    probe = await self._origin(target)
                finally:
                    self._first_pass -= 1
                    if not self._first_pass:
                        self._quiet.set()
            steps = timed_out(probe)
            if not steps:
                return probe
            await self._quiet.wait()  # the first pass of the whole run is over
            lane = self.slots if set(steps) <= {"tcp443", "tcp80"} else self.retry_lane
            async with lane:
                return dataclasses.replace(await self._origin(target), retried=steps)
        except Exception as exc:  # noqa: BLE001 - a probe never raises, even on our own bugs
            failed = StepResult(Outcome.ERROR, f"internal error while probing: {describe(exc)}")
            return self._base(target, failed, failed)

    def _destination(self, target: ProbeTarget, port: int) -> tuple[str, int] | None:
        """Where to connect for `port`, or None when `only_connect_to` forbids connecting."""
        rules = self.options.connect_to
        if self.options.only_connect_to and find_rule(rules, target.hostname, target.address, port) is None:
            return None
        return route(rules, target.hostname, target.address, port)

    async def _origin(self, target: ProbeTarget) -> OriginProbe:
        timeout = self.options.timeout
        https = self._destination(target, target.https_port)
        http = self._destination(target, target.http_port) if target.proxied else None

        async def port_443() -> tuple[StepResult, TlsResult | None]:
            if https is None:
                return _uncovered(target, target.https_port), None
            return await self._port_443(target, https)

        async def port_80() -> StepResult:
            if not target.proxied:
                return StepResult(Outcome.SKIPPED, _DNS_ONLY)
            if http is None:
                return _uncovered(target, target.http_port)
            result, connection = await connect(*http, timeout)
            if connection is not None:
                await close(*connection)
            return result

        (tcp443, tls), tcp80 = await asyncio.gather(port_443(), port_80())
        # What was really dialled, the HTTPS port first; a port we did not dial has no entry.
        connected = tuple(f"{format_host(d[0])}:{d[1]}" for d in (https, http) if d is not None)
        probe = dataclasses.replace(self._base(target, tcp443, tcp80), tls=tls, connected_to=connected)
        if target.candidate:
            # An address to check before a DNS rewrite: reachability and TLS; and in Off/Flexible,
            # the plain-HTTP answer Cloudflare would get (a redirect to HTTPS there loops).
            if target.scheme != "http":
                return probe
            return dataclasses.replace(probe, response=await self._response(target, https, http, tls, tcp80))
        http2, response, keepalive = await asyncio.gather(
            self._http2(target, https, tls),
            self._response(target, https, http, tls, tcp80),
            self._keepalive(target, https, http, tls, tcp80),
        )
        probe = dataclasses.replace(probe, http2=http2, response=response, keepalive=keepalive)
        if tls is not None and tls.handshake_ok and not tls.client_certificate:
            # TLS 1.3: the client's side of the handshake completes before the server has read
            # its (empty) Certificate, so the demand comes as an alert on the first read.
            seen = next(
                (s.error for s in (response, keepalive, http2) if s is not None and _cert_required(s.error)), ""
            )
            if seen:
                demand = f"it ends the session after the handshake with a certificate_required alert ({seen})"
                probe = dataclasses.replace(probe, tls=dataclasses.replace(tls, client_certificate=demand))
        return probe

    async def _http2(
        self, target: ProbeTarget, https: tuple[str, int] | None, tls: TlsResult | None
    ) -> Http2Result | None:
        if https is None or not target.proxied or tls is None or not tls.handshake_ok or tls.alpn != "h2":
            return None
        if target.scheme != "https":
            return None  # Off/Flexible: Cloudflare talks plain HTTP/1.1 to the HTTP port, never h2
        return await http2_probe(https, target.server_name, self.options.timeout, host=target.host)

    def _request_route(
        self,
        target: ProbeTarget,
        https: tuple[str, int] | None,
        http: tuple[str, int] | None,
        tls: TlsResult | None,
        tcp80: StepResult,
    ) -> tuple[tuple[str, int], int] | None:
        """Where requests go as Cloudflare sends them (over TLS in Full/Full (strict), plain in
        Off/Flexible) and the port reported, or None when that port did not open."""
        if not target.proxied:
            return None
        if target.scheme == "https" and https is not None and tls is not None and tls.handshake_ok:
            return https, target.https_port
        if target.scheme == "http" and http is not None and tcp80.ok:
            return http, target.http_port
        return None

    async def _response(
        self,
        target: ProbeTarget,
        https: tuple[str, int] | None,
        http: tuple[str, int] | None,
        tls: TlsResult | None,
        tcp80: StepResult,
    ) -> HttpResponseResult | None:
        """The request Cloudflare would send: over TLS in Full/Full (strict), plain in Off/Flexible."""
        return await self._as_cloudflare(response_probe, target, self._request_route(target, https, http, tls, tcp80))

    async def _keepalive(
        self,
        target: ProbeTarget,
        https: tuple[str, int] | None,
        http: tuple[str, int] | None,
        tls: TlsResult | None,
        tcp80: StepResult,
    ) -> KeepAliveResult | None:
        """Two requests on one connection, where and how Cloudflare sends them."""
        return await self._as_cloudflare(keepalive_probe, target, self._request_route(target, https, http, tls, tcp80))

    async def _as_cloudflare(
        self, probe: Callable[..., Awaitable[R]], target: ProbeTarget, where: tuple[tuple[str, int], int] | None
    ) -> R | None:
        """`probe` sent where Cloudflare sends its requests (None: nowhere it could), with the
        target's SNI, scheme, port and Host."""
        if where is None:
            return None
        return await probe(
            where[0],
            target.server_name,
            scheme=target.scheme,
            port=where[1],
            context=self.request_context if target.scheme == "https" else None,
            timeout=self.options.timeout,
            host=target.host,
        )

    async def _port_443(self, target: ProbeTarget, address: tuple[str, int]) -> tuple[StepResult, TlsResult | None]:
        tcp, connection = await connect(*address, self.options.timeout)
        if connection is None:
            return tcp, None
        tls = await tls_probe(
            *connection,
            hostname=target.server_name,
            connect=address,
            verify_context=self.verify_context,
            inspect_context=self.inspect_context,
            timeout=self.options.timeout,
        )
        timeout = self.options.timeout
        if tls.outcome in (Outcome.TLS_ALERT, Outcome.RESET):
            # Cloudflare's offer was refused: is it the versions and ciphers, or the origin?
            offer = await permissive_look(address, target.server_name, self.permissive_context, timeout)
            if offer is not None:
                tls = dataclasses.replace(tls, permissive=offer)
        if tls.outcome in (Outcome.TLS_ALERT, Outcome.RESET):
            demand = await client_certificate_demand(address, target.server_name, tls, timeout)
            if demand:
                tls = dataclasses.replace(tls, client_certificate=demand)
        wrong_name = tls.handshake_ok and tls.leaf is not None and not tls.hostname_matches
        if tls.outcome in (Outcome.TLS_ALERT, Outcome.RESET) or wrong_name:
            # 525 "no SNI support": what does the origin do when no name is sent at all?
            look = await sni_look(address, target.server_name, tls, self.inspect_context, timeout)
            tls = dataclasses.replace(tls, without_sni=look)
        if target.proxied and target.check_revocation and self.options.revocation_check and tls.verified and tls.chain:
            revocation = await check_revocation(
                tls.chain,
                anchors=self.anchors,
                connect=address,
                server_name=target.server_name,
                timeout=timeout,
                may_contact=loopback_only if self.options.only_connect_to else _anywhere,
            )
            tls = dataclasses.replace(tls, revocation=revocation)
        return tcp, tls


def _anywhere(host: str) -> bool:
    return True


def _cert_required(error: str) -> bool:
    return "CERTIFICATE_REQUIRED" in error.upper() or "certificate required" in error


async def client_certificate_demand(connect: tuple[str, int], server_name: str, tls: TlsResult, timeout: float) -> str:
    """After a failed handshake: did the origin demand a client certificate? Said by the alert
    itself (TLS 1.3's certificate_required), or by the CertificateRequest its TLS 1.2 (or older)
    first flight carries in clear, read by a ClientHello of our own with Cloudflare's offer
    (`offer_look`, never finished). "" when not.

    The CertificateRequest explains the failure only if Cloudflare's handshake runs as TLS 1.2
    or older, so the same hello proves the version: an origin that chooses TLS 1.3 from the
    offer is not failed by a demand for a client certificate (it comes as certificate_required,
    in the handshake or right after it), and a TLS 1.3 handshake that fails otherwise is a 525
    of its own, whatever the origin asks of TLS 1.2 clients. An alert, a reset or a timeout to
    the hello does not tell the version: no demand is inferred."""
    if _cert_required(tls.error):
        return f"it refused the handshake with a certificate_required alert ({tls.error})"
    look = await offer_look(connect, server_name, timeout)
    if look.certificate_request:
        return "its TLS 1.2 handshake asks for a client certificate (CertificateRequest) and then fails without one"
    return ""


def timed_out(probe: OriginProbe) -> tuple[str, ...]:
    """The steps of a probe that ran out of time (what makes it worth a second, lone try)."""
    steps = {
        "tcp443": probe.tcp443,
        "tcp80": probe.tcp80,
        "tls": probe.tls,
        "http2": probe.http2,
        "response": probe.response,
        "keepalive": probe.keepalive,
    }
    return tuple(name for name, step in steps.items() if step is not None and step.outcome is Outcome.TIMEOUT)


async def probe_origins(
    targets: Sequence[ProbeTarget],
    options: ProbeOptions,
    pool: ProbePool | None = None,
    candidates: Sequence[ProbeTarget] = (),
) -> ProbeResults:
    """Probe every target, and every candidate address (`targets.plan_candidates`); failures
    are results, never exceptions.

    Only bad options raise (`ProbeConfigError`, e.g. an unreadable `--origin-ca`), before any
    connection is made. `tls` is None when TCP 443 failed; `http2` is None unless the origin
    negotiated h2 for a proxied hostname. `pool`: the run's shared pool (one is made if None).
    """
    prober = pool or ProbePool(options)
    groups, checked = await asyncio.gather(
        asyncio.gather(*(prober.target(t) for t in targets)),
        asyncio.gather(*(prober.target(c) for c in candidates)),
    )
    names = {t.address for t in targets if t.resolve}
    resolutions = tuple(r for r in prober.resolver.resolutions if r.name in names)
    return ProbeResults(
        probes=tuple(probe for group in groups for probe in group),
        resolutions=resolutions,
        candidates=tuple(probe for group in checked for probe in group),
    )
