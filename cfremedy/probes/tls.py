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
import warnings
from pathlib import Path

from cfremedy.edge_profile import ALPN_OFFER as EDGE_ALPN
from cfremedy.edge_profile import CLOUDFLARE_ORIGIN_CIPHERS
from cfremedy.errors import UsageError
from cfremedy.probes.certificates import cert_info, expired, hostname_matches, origin_ca_pem
from cfremedy.probes.classify import classify, describe
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import Outcome, SniCheck, TlsOffer, TlsResult
from cfremedy.probes.tcp import Link, close, elapsed_ms

# What Cloudflare offers an origin (cfremedy.edge_profile): a handshake we complete with this
# offer is one Cloudflare completes.
ALPN_OFFER = list(EDGE_ALPN)


def _legacy_versions(context: ssl.SSLContext) -> None:
    """Allow TLS 1.0 and 1.1, which Cloudflare still offers origins (OpenSSL 3 wants security
    level 0 for them, set by the caller's cipher string)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1


def cloudflare_offer(context: ssl.SSLContext) -> ssl.SSLContext:
    """Make a client context offer what Cloudflare offers an origin: so a handshake we complete
    is one Cloudflare completes, and one that fails here fails there (525)."""
    context.set_ciphers(":".join(CLOUDFLARE_ORIGIN_CIPHERS) + ":@SECLEVEL=0")
    _legacy_versions(context)
    return context


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
    return cloudflare_offer(context)


def _load_ca_file(context: ssl.SSLContext, path: Path) -> None:
    try:
        context.load_verify_locations(cafile=str(path))
    except FileNotFoundError:
        raise ProbeConfigError(f"--origin-ca {path}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise ProbeConfigError(f"--origin-ca {path}: not a readable PEM CA certificate ({describe(exc)})") from None


def inspecting_context(alpn: list[str] | None = None) -> ssl.SSLContext:
    """No verification, Cloudflare's offer: to read what an origin that failed verification
    presents, and to send requests as Full mode would (`alpn=["http/1.1"]`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(alpn or ALPN_OFFER)
    return cloudflare_offer(context)


def permissive_context() -> ssl.SSLContext:
    """Every version and cipher this OpenSSL has: what does the origin accept at all?"""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    _legacy_versions(context)
    return context


async def permissive_look(
    connect: tuple[str, int], hostname: str, context: ssl.SSLContext, timeout: float
) -> TlsOffer | None:
    """After Cloudflare's offer was refused: the version and cipher the origin settles on when
    offered everything, or None when it refuses that too (then ciphers are not the problem)."""
    try:
        async with asyncio.timeout(timeout):
            transport, link = await asyncio.get_running_loop().create_connection(
                Link,
                connect[0],
                connect[1],
                ssl=context,
                server_hostname=hostname,
                ssl_handshake_timeout=timeout + 5,
            )
    except Exception:  # noqa: BLE001 - no answer is an answer: not a cipher mismatch
        return None
    try:
        ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
        cipher = ssl_object.cipher() if ssl_object is not None else None
        version = ssl_object.version() if ssl_object is not None else None
        return TlsOffer(version=version or "", cipher=cipher[0] if cipher else "")
    finally:
        await close(transport, link)


def peer_chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    """The certificates the peer sent, leaf first, as DER (what the revocation check needs: the
    leaf and its issuer). Python 3.13 has `get_unverified_chain` on the SSL object; 3.10 to 3.12
    have it, undocumented, on the `_ssl` object inside. () when neither exists."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return ()
    try:
        certificates = getter() or []
    except (ssl.SSLError, ValueError, AttributeError):
        return ()
    chain: list[bytes] = []
    for certificate in certificates:
        if isinstance(certificate, bytes):
            chain.append(certificate)
        else:  # `_ssl.Certificate` before 3.13
            chain.append(certificate.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return tuple(chain)


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
        chain=peer_chain(ssl_object),
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
                Link,
                connect[0],
                connect[1],
                ssl=context,
                server_hostname=hostname,
                ssl_handshake_timeout=timeout + 5,
            )
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return TlsResult(outcome, f"unverified retry failed: {error}", verify_error=verify_error, elapsed_ms=elapsed)
    try:
        return _session(transport, hostname, verified=False, verify_error=verify_error, elapsed=elapsed)
    finally:
        await close(transport, link)


async def sni_look(
    connect: tuple[str, int], hostname: str, with_sni: TlsResult, context: ssl.SSLContext, timeout: float
) -> SniCheck:
    """A handshake with no server name at all, after the one with SNI failed or served a
    certificate for another name: tells "the origin does not pick its certificate by name"
    (the same certificate either way) from "it has no certificate for this name" and from
    "it rejects server names it does not know" (525: "no SNI support")."""
    try:
        async with asyncio.timeout(timeout):
            transport, link = await asyncio.get_running_loop().create_connection(
                Link, connect[0], connect[1], ssl=context, server_hostname=None, ssl_handshake_timeout=timeout + 5
            )
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return SniCheck(outcome, error)
    try:
        session = _session(transport, hostname, verified=False, verify_error="", elapsed=0.0)
    finally:
        await close(transport, link)
    leaf = session.leaf
    same = leaf is not None and with_sni.leaf is not None and leaf.sha256 == with_sni.leaf.sha256
    return SniCheck(
        Outcome.OK, session.error, leaf=leaf, hostname_matches=session.hostname_matches, same_certificate=same
    )
