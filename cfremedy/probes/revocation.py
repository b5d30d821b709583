"""Is the origin's certificate revoked? Its OCSP responder, and the response the origin staples.

The 526 section of the article lists "the certificate is not revoked" among what Full (strict)
checks. Two places can say so: the OCSP responder the certificate names (its Authority
Information Access extension), asked over HTTP as RFC 6960 describes; and the OCSP response
the origin staples into its handshake when asked to (`status_request`). Python's `ssl` cannot
ask for a staple, so `staple_look` sends its own TLS 1.2 ClientHello and reads the handshake
messages that TLS 1.2 sends in clear (Certificate, CertificateStatus), then hangs up: no key is
ever agreed, nothing is decrypted. An origin that speaks only TLS 1.3 (where the staple travels
encrypted) is reported as such. `offer_look` sends Cloudflare's offer the same way and reads
which version the origin chose and whether its TLS 1.2 first flight asks for a client
certificate (the runner's `client_certificate_demand`).

Only an answer signed by the issuer (or by a responder the issuer delegated to) and still
current counts. A responder that cannot be reached, answers "unknown", or sends something
unsigned or stale leaves the status `unknown`, never `revoked`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from cfremedy.probes.certificates import issued_by
from cfremedy.probes.classify import describe
from cfremedy.probes.results import GOOD, NOT_CHECKED, REVOKED, UNKNOWN, Revocation
from cfremedy.probes.tls import cloudflare_offer

# A response this far in the future or past still counts (clocks differ a little).
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_RESPONSE = 64 * 1024
MAX_HANDSHAKE = 256 * 1024

# TLS 1.2 cipher suites offered by `staple_look`: every common one, since the handshake is never
# finished; what matters is that the origin answers with its certificates.
_SUITES = (
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014,
    0xC023, 0xC027, 0xC024, 0xC028, 0x009C, 0x009D, 0x002F, 0x0035, 0x009E, 0x009F,
    0x000A, 0x00FF,
)  # fmt: skip
_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019)
_SIGNATURES = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201)
_HANDSHAKE, _ALERT = 22, 21
_SERVER_HELLO, _CERTIFICATE, _CERTIFICATE_STATUS, _SERVER_HELLO_DONE = 2, 11, 22, 14
_CERTIFICATE_REQUEST = 13


def ocsp_url(leaf: x509.Certificate) -> str:
    """The OCSP responder the certificate names, "" when it names none."""
    try:
        access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ""
    for description in access:
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return description.access_location.value
    return ""


def find_issuer(leaf: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    return next((c for c in candidates if issued_by(leaf, c)), None)


def _verify_signature(key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _key_hash(certificate: x509.Certificate) -> bytes:
    """RFC 6960's ResponderID byKey: SHA-1 of the subjectPublicKey bits, which is exactly RFC
    5280's first method of computing a subject key identifier."""
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    """The certificate whose key must have signed the response: the issuer, or a responder the
    issuer delegated to (issued by it, with the OCSP signing purpose), included in the response."""

    def named(certificate: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return response.responder_name == certificate.subject
        return response.responder_key_hash == _key_hash(certificate)

    if named(issuer):
        return issuer
    for certificate in response.certificates:
        if not named(certificate) or not issued_by(certificate, issuer):
            continue
        try:
            usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in usage:
            return certificate
    return None


@dataclass(frozen=True)
class Verdict:
    """One OCSP response, judged: `status` is good | revoked | unknown (and why)."""

    status: str
    detail: str
    revoked_at: dt.datetime | None = None
    reason: str = ""


def judge_response(der: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> Verdict:
    """What an OCSP response says about `leaf`, if it can be trusted to say anything."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        return Verdict(UNKNOWN, f"not an OCSP response ({describe(exc)})")
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return Verdict(UNKNOWN, f"the responder answered {response.response_status.name.lower()}")
    signer = _signer(response, issuer)
    if signer is None:
        return Verdict(UNKNOWN, "the response is signed neither by the issuer nor by a responder it delegated to")
    try:
        signed_with = response.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        return Verdict(UNKNOWN, f"the response is signed with an algorithm cfremedy cannot check ({describe(exc)})")
    if not _verify_signature(signer.public_key(), response.signature, response.tbs_response_bytes, signed_with):
        return Verdict(UNKNOWN, "the response's signature does not verify")
    unsupported = ""
    for single in response.responses:
        if single.serial_number != leaf.serial_number:
            continue
        try:
            name_hash = hashes.Hash(single.hash_algorithm)
        except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
            # Which issuer it speaks of cannot be checked: never read as revoked (or good).
            unsupported = describe(exc)
            continue
        name_hash.update(leaf.issuer.public_bytes())
        if single.issuer_name_hash != name_hash.finalize():
            continue
        if single.this_update_utc > now + CLOCK_SKEW:
            return Verdict(UNKNOWN, f"the response is dated in the future ({single.this_update_utc:%Y-%m-%d})")
        if single.next_update_utc is not None and single.next_update_utc < now - CLOCK_SKEW:
            return Verdict(UNKNOWN, f"the response is stale (next update due {single.next_update_utc:%Y-%m-%d})")
        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.REVOKED:
            reason = single.revocation_reason.name if single.revocation_reason is not None else ""
            return Verdict(REVOKED, "revoked", single.revocation_time_utc, reason)
        if status is ocsp.OCSPCertStatus.GOOD:
            return Verdict(GOOD, "good")
        return Verdict(UNKNOWN, "the responder does not know this certificate")
    if unsupported:
        return Verdict(
            UNKNOWN, f"the response identifies the certificate with a hash cfremedy cannot compute ({unsupported})"
        )
    return Verdict(UNKNOWN, "the response is about another certificate")


def ocsp_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
    return builder.build().public_bytes(serialization.Encoding.DER)


async def ask_responder(url: str, request: bytes, timeout: float) -> tuple[bytes | None, str]:
    """POST the request to the responder: (its DER answer, "") or (None, why there is none)."""
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False) as client,
        ):
            headers = {"Content-Type": "application/ocsp-request", "User-Agent": "cfremedy-probe"}
            response = await client.post(url, content=request, headers=headers)
            body = response.content[: MAX_RESPONSE + 1]
    except (TimeoutError, httpx.TimeoutException):
        return None, f"no answer within {timeout:g} s"
    except (httpx.HTTPError, OSError) as exc:
        return None, f"unreachable ({describe(exc)})"
    if response.status_code != 200:
        return None, f"answered HTTP {response.status_code}"
    if len(body) > MAX_RESPONSE:
        return None, "answered more than 64 KB"
    return body, ""


# -- the staple ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StapleLook:
    """What a handshake of our own (a TLS 1.2 one asking for a staple, or Cloudflare's offer)
    showed in clear, before we hung up."""

    status: str  # sent | none | tls13_only | tls13 | failed
    staple: bytes = b""
    chain: tuple[bytes, ...] = ()
    detail: str = ""
    # The first flight asked for a client certificate (a CertificateRequest message).
    certificate_request: bool = False


def _vector(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + _vector(body, 2)


def client_hello(server_name: str) -> bytes:
    """A TLS 1.2 ClientHello record asking for an OCSP staple (`status_request`)."""
    status_request = _extension(5, b"\x01\x00\x00\x00\x00")  # OCSP, no ids, no extensions
    return _hello(server_name, _SUITES, status_request, session=b"")


def offer_hello(server_name: str) -> bytes:
    """A ClientHello record with Cloudflare's offer to an origin: TLS 1.3 down to 1.0
    (`supported_versions`), an x25519 key share (random bytes: the handshake is never finished)
    and the cipher suites `cloudflare_offer` gives a context, TLS 1.3's and the older ones."""
    versions = _extension(43, _vector(b"\x03\x04\x03\x03\x03\x02\x03\x01", 1))
    key_share = _extension(51, _vector(struct.pack("!H", 0x001D) + _vector(os.urandom(32), 2), 2))
    # A session id, as Cloudflare's TLS 1.3 middlebox compatibility mode sends one.
    return _hello(server_name, (*_offered_suites(), 0x00FF), versions + key_share, session=os.urandom(32))


def _offered_suites() -> tuple[int, ...]:
    context = cloudflare_offer(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    return tuple(int(cipher["id"]) & 0xFFFF for cipher in context.get_ciphers())


def _hello(server_name: str, suites: Sequence[int], more: bytes, *, session: bytes) -> bytes:
    extensions = b""
    if server_name and not _is_ip(server_name):
        name = server_name.encode("idna")
        extensions += _extension(0, _vector(b"\x00" + _vector(name, 2), 2))
    extensions += more
    extensions += _extension(10, _vector(b"".join(struct.pack("!H", g) for g in _GROUPS), 2))
    extensions += _extension(11, b"\x01\x00")  # ec_point_formats: uncompressed
    extensions += _extension(13, _vector(b"".join(struct.pack("!H", s) for s in _SIGNATURES), 2))
    body = (
        b"\x03\x03"
        + os.urandom(32)
        + _vector(session, 1)
        + _vector(b"".join(struct.pack("!H", s) for s in suites), 2)
        + b"\x01\x00"
        + _vector(extensions, 2)
    )
    handshake = bytes([1]) + _vector(body, 3)
    return b"\x16\x03\x01" + _vector(handshake, 2)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def parse_server_flight(data: bytes, oldest: int = 0x0303) -> StapleLook | None:
    """The staple and chain in the server's first flight, or None while it is incomplete.

    A ServerHello choosing TLS 1.3 (its `supported_versions` says 0x0304, a HelloRetryRequest
    too) ends the look as `tls13`: what follows is encrypted. One choosing a version older than
    `oldest` (or newer than TLS 1.2 without saying TLS 1.3) is `failed`."""
    messages = bytearray()
    at = 0
    unexpected = alert = -1
    while at + 5 <= len(data):
        kind, length = data[at], int.from_bytes(data[at + 3 : at + 5], "big")
        if at + 5 + length > len(data):
            break
        fragment = data[at + 5 : at + 5 + length]
        at += 5 + length
        if kind != _HANDSHAKE:
            # An alert; TLS 1.3's ChangeCipherSpec and encrypted records (after its ServerHello).
            unexpected, alert = kind, (fragment[1] if kind == _ALERT and len(fragment) > 1 else -1)
            break
        messages += fragment
    chain: tuple[bytes, ...] = ()
    staple = b""
    requested = False
    offset = 0
    while offset + 4 <= len(messages):
        kind, length = messages[offset], int.from_bytes(messages[offset + 1 : offset + 4], "big")
        if offset + 4 + length > len(messages):
            break
        body = bytes(messages[offset + 4 : offset + 4 + length])
        offset += 4 + length
        if kind == _SERVER_HELLO:
            version = _chosen_version(body)
            if version == 0x0304:
                return StapleLook("tls13", detail="the origin chose TLS 1.3")
            if not oldest <= version <= 0x0303:
                return StapleLook("failed", detail=f"the origin chose TLS version {version:04x}")
        if kind == _CERTIFICATE:
            chain = _certificates(body)
        elif kind == _CERTIFICATE_STATUS and body[:1] == b"\x01":
            staple = body[4 : 4 + int.from_bytes(body[1:4], "big")]
        elif kind == _CERTIFICATE_REQUEST:
            requested = True
        elif kind == _SERVER_HELLO_DONE:
            return StapleLook("sent" if staple else "none", staple, chain, certificate_request=requested)
    if unexpected == _ALERT:
        if alert == 70:  # protocol_version: it will not speak TLS 1.2
            return StapleLook("tls13_only", detail="the origin refuses TLS 1.2, so its staple cannot be read")
        return StapleLook("failed", detail=f"the origin answered with TLS alert {alert}")
    if unexpected >= 0:
        return StapleLook("failed", detail=f"unexpected TLS record type {unexpected}")
    return None


def _chosen_version(server_hello: bytes) -> int:
    """The version a ServerHello (or HelloRetryRequest) chose: its `supported_versions`
    extension, else its legacy version field. -1 when it cannot be read."""
    if len(server_hello) < 35:
        return -1
    legacy = int.from_bytes(server_hello[:2], "big")
    at = 34 + 1 + server_hello[34] + 2 + 1  # random, session id, cipher suite, compression
    if at + 2 > len(server_hello):
        return legacy  # no extensions
    end, at = at + 2 + int.from_bytes(server_hello[at : at + 2], "big"), at + 2
    while at + 4 <= min(end, len(server_hello)):
        kind, size = struct.unpack_from("!HH", server_hello, at)
        if kind == 43 and size == 2:  # supported_versions: the one chosen
            return int.from_bytes(server_hello[at + 4 : at + 6], "big")
        at += 4 + size
    return legacy


def _certificates(body: bytes) -> tuple[bytes, ...]:
    total = int.from_bytes(body[:3], "big")
    certificates, at = [], 3
    while at + 3 <= 3 + total:
        length = int.from_bytes(body[at : at + 3], "big")
        certificates.append(body[at + 3 : at + 3 + length])
        at += 3 + length
    return tuple(certificates)


async def staple_look(connect: tuple[str, int], server_name: str, timeout: float) -> StapleLook:
    """Ask the origin for its staple over TLS 1.2, read its first flight, hang up."""
    return await _first_flight(connect, client_hello(server_name), timeout, parse_server_flight)


async def offer_look(connect: tuple[str, int], server_name: str, timeout: float) -> StapleLook:
    """Send Cloudflare's offer (`offer_hello`), read the answer in clear, hang up: `tls13` when
    the origin chose TLS 1.3 from it; a look with `certificate_request` when it chose TLS 1.2 or
    older and its first flight asked for a client certificate; `failed` for an alert, a reset,
    a timeout (which do not say what Cloudflare's handshake would be)."""
    return await _first_flight(
        connect, offer_hello(server_name), timeout, lambda data: parse_server_flight(data, oldest=0x0301)
    )


async def _first_flight(
    connect: tuple[str, int], hello: bytes, timeout: float, parse: Callable[[bytes], StapleLook | None]
) -> StapleLook:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(connect[0], connect[1])
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        return StapleLook("failed", detail=describe(exc))
    try:
        writer.write(hello)
        data = b""
        async with asyncio.timeout(timeout):
            while len(data) < MAX_HANDSHAKE:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                look = parse(data)
                if look is not None:
                    return look
        return StapleLook("failed", detail="the origin closed the connection during the handshake")
    except TimeoutError:
        return StapleLook("failed", detail=f"no complete answer within {timeout:g} s")
    except OSError as exc:
        return StapleLook("failed", detail=describe(exc))
    finally:
        writer.transport.abort()


# -- both together -------------------------------------------------------------------------------


async def check_revocation(
    chain: Sequence[bytes],
    *,
    anchors: Sequence[x509.Certificate],
    connect: tuple[str, int],
    server_name: str,
    timeout: float,
    may_contact: Callable[[str], bool],
    now: dt.datetime | None = None,
) -> Revocation:
    """The leaf's revocation status from its responder and the origin's staple.

    `anchors`: the CA certificates the probes trust, where a leaf sent without its issuer
    finds it. `may_contact(host)` says whether the responder's host may be asked
    (`--connect-to-only` allows loopback only).
    """
    if not chain:
        return Revocation(NOT_CHECKED, "the origin's certificates could not be read")
    try:
        leaf = x509.load_der_x509_certificate(chain[0])
        pool = [*(x509.load_der_x509_certificate(c) for c in chain[1:]), *anchors]
    except ValueError as exc:
        return Revocation(NOT_CHECKED, f"unparseable certificate ({describe(exc)})")
    url = ocsp_url(leaf)
    if not url:
        return Revocation(NOT_CHECKED, "the certificate names no OCSP responder")
    issuer = find_issuer(leaf, pool)
    if issuer is None:
        return Revocation(
            UNKNOWN, "the issuer's certificate is neither sent by the origin nor trusted here", responder=url
        )
    moment = now or dt.datetime.now(dt.UTC)
    host = urlsplit(url).hostname or ""
    staple_task = asyncio.ensure_future(staple_look(connect, server_name, timeout))
    if urlsplit(url).scheme not in ("http", "https"):
        asked: Verdict | None = None
        responder_status, responder_detail = "not_asked", f"not an HTTP URL: {url}"
    elif not may_contact(host):
        asked, responder_status = None, "not_asked"
        responder_detail = f"{host} not contacted (--connect-to-only: only loopback responders are asked)"
    else:
        answer, why = await ask_responder(url, ocsp_request(leaf, issuer), timeout)
        if answer is None:
            asked, responder_status, responder_detail = None, "unreachable", why
        else:
            asked = judge_response(answer, leaf, issuer, moment)
            responder_status, responder_detail = asked.status, asked.detail
    look = await staple_task
    stapled: Verdict | None = None
    if look.status == "sent":
        stapled = judge_response(look.staple, leaf, issuer, moment)
        staple = stapled.status if stapled.status != UNKNOWN else f"invalid: {stapled.detail}"
    else:
        staple = {"none": "none", "tls13_only": "not readable (TLS 1.3 only)"}.get(look.status, "not read")
    verdicts = [(v, source) for v, source in ((asked, "the responder"), (stapled, "the stapled response")) if v]
    parts = [f"responder {url}: {responder_detail}", f"staple: {staple}"]
    for verdict, source in verdicts:
        if verdict.status == REVOKED:
            when = f" on {verdict.revoked_at:%Y-%m-%d}" if verdict.revoked_at else ""
            why = f" ({verdict.reason})" if verdict.reason else ""
            return Revocation(
                REVOKED,
                f"{source} says it was revoked{when}{why}",
                url,
                responder_status,
                staple,
                verdict.revoked_at,
                verdict.reason,
            )
    if any(v.status == GOOD for v, _ in verdicts):
        return Revocation(GOOD, "; ".join(parts), url, responder_status, staple)
    return Revocation(UNKNOWN, "; ".join(parts), url, responder_status, staple)


def loopback_only(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
