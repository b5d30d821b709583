"""The TLS handshake, verified the way Cloudflare's Full (strict) mode verifies an origin.

Full (strict) accepts a certificate that chains to a public CA or to Cloudflare's Origin CA,
names the hostname, and is within its validity. We reproduce that with one `SSLContext`; when
it rejects the origin we shake hands a second time without verification, because the 526
playbook needs to say *what* the origin presents, not just that it was rejected.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

from cfremedy.errors import UsageError
from cfremedy.probes.certificates import cert_info, expired, hostname_matches, origin_ca_pem
from cfremedy.probes.classify import classify, describe
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import Outcome, TlsResult
from cfremedy.probes.tcp import Link, close, elapsed_ms

# What Cloudflare offers an origin; the origin's pick tells us whether HTTP/2 to origin applies.
ALPN_OFFER = ["h2", "http/1.1"]


class ProbeConfigError(UsageError):
    """Probe options that cannot work (e.g. an unreadable `--origin-ca` file): exit 2, not a probe result."""


def verifying_context(options: ProbeOptions) -> ssl.SSLContext:
    """Trust as Full (strict) does: system store, Cloudflare's Origin CA root, `--origin-ca`."""
    if options.trust_system:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=origin_ca_pem())
    for path in options.origin_ca:
        _load_ca_file(context, Path(path))
    context.set_alpn_protocols(ALPN_OFFER)
    return context


def _load_ca_file(context: ssl.SSLContext, path: Path) -> None:
    try:
        context.load_verify_locations(cafile=str(path))
    except FileNotFoundError:
        raise ProbeConfigError(f"--origin-ca {path}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise ProbeConfigError(f"--origin-ca {path}: not a readable PEM CA certificate ({describe(exc)})") from None


def inspecting_context() -> ssl.SSLContext:
    """No verification at all: only to read what an origin that failed verification presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(ALPN_OFFER)
    return context


def _session(
    transport: asyncio.Transport, hostname: str, *, verified: bool, verify_error: str, elapsed: float
) -> TlsResult:
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:  # pragma: no cover - the handshake succeeded, so there is one
        return TlsResult(Outcome.ERROR, "no TLS session after the handshake", elapsed_ms=elapsed)
    der = ssl_object.getpeercert(binary_form=True)
    leaf = None
    error = ""
    if der:
        try:
            leaf = cert_info(der)
        except ValueError as exc:
            error = f"unparseable certificate: {describe(exc)}"
    cipher = ssl_object.cipher()
    return TlsResult(
        outcome=Outcome.OK,
        error=error,
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        alpn=ssl_object.selected_alpn_protocol() or "",
        leaf=leaf,
        verified=verified,
        verify_error=verify_error,
        hostname_matches=hostname_matches(leaf, hostname) if leaf else False,
        expired=expired(leaf) if leaf else False,
        elapsed_ms=elapsed,
    )


async def tls_probe(
    transport: asyncio.Transport,
    link: Link,
    *,
    hostname: str,
    connect: tuple[str, int],
    verify_context: ssl.SSLContext,
    inspect_context: ssl.SSLContext,
    timeout: float,
) -> TlsResult:
    """Shake hands on the already-connected `transport` (which this closes); on a verification
    failure, look again on a fresh connection to `connect`, since the failed handshake killed
    the first one."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            tls_transport = await loop.start_tls(
                transport, link, verify_context, server_hostname=hostname, ssl_handshake_timeout=timeout + 5
            )
    except ssl.SSLCertVerificationError as exc:
        transport.abort()  # start_tls closed it already; abort only makes that certain
        verify_error = exc.verify_message or describe(exc)
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        transport.abort()
        outcome, error = classify(exc, timeout)
        return TlsResult(outcome, error, elapsed_ms=elapsed_ms(start))
    else:
        assert tls_transport is not None  # None only for protocols that are not ours
        try:
            return _session(tls_transport, hostname, verified=True, verify_error="", elapsed=elapsed_ms(start))
        finally:
            await close(tls_transport, link)
    return await _second_look(connect, hostname, inspect_context, timeout, verify_error, elapsed_ms(start))


async def _second_look(
    connect: tuple[str, int],
    hostname: str,
    context: ssl.SSLContext,
    timeout: float,
    verify_error: str,
    elapsed: float,
) -> TlsResult:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, link = await loop.create_connection(
                Link, connect[0], connect[1], ssl=context, server_hostname=hostname,
                ssl_handshake_timeout=timeout + 5,
            )
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return TlsResult(outcome, f"unverified retry failed: {error}", verify_error=verify_error, elapsed_ms=elapsed)
    try:
        return _session(transport, hostname, verified=False, verify_error=verify_error, elapsed=elapsed)
    finally:
        await close(transport, link)
