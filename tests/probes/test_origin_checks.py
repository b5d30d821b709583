"""Revocation (OCSP), SNI, keepalive and retry probes against real stand-in origins and the
sandbox's OCSP responder, all on loopback; and the pure parts (judging an OCSP response, the
staple's handshake messages, candidate planning) with plain data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cfremedy.inventory import parse_inventory
from cfremedy.models import DnsRecord, Zone, ZoneSnapshot, frozen_mapping
from cfremedy.probes.connect_to import parse_connect_to
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import GOOD, NOT_CHECKED, REVOKED, UNKNOWN, OriginProbe, Outcome
from cfremedy.probes.revocation import (
    client_hello,
    judge_response,
    loopback_only,
    ocsp_request,
    offer_hello,
    offer_look,
    parse_server_flight,
    staple_look,
)
from cfremedy.probes.runner import probe_origins
from cfremedy.probes.targets import ProbeTarget, plan_candidates, plan_targets
from cfremedy.routes import build_routes
from cfremedy.sandbox.certs import Issuer, LeafFiles, make_ca, make_leaf, ocsp_response
from cfremedy.sandbox.ocsp import OcspResponder
from cfremedy.sandbox.origins import OriginFleet
from cfremedy.sandbox.scenario import OriginSpec

TIMEOUT = 1.0


def origin(n: int, **kwargs: object) -> OriginSpec:
    return OriginSpec(address=f"198.51.100.{n}", hostnames=(f"c{n}.example.com",), **kwargs)  # type: ignore[arg-type]


SPECS = {
    "ocsp_good": origin(1, ocsp="good"),
    "ocsp_revoked": origin(2, ocsp="revoked"),
    "ocsp_unreachable": origin(3, ocsp="unreachable"),
    "no_ocsp": origin(4),
    "sni_reject": origin(5, sni="reject"),
    "wrong_name": origin(6, https="wrong_name"),
    "keepalive_off": origin(7, keepalive=False),
    "h2_stall_first": origin(8, h2="stall_first"),
    "candidate_down": origin(9, https="closed", http="closed"),
    "client_cert_tls13": origin(10, client_certificate=True),
    "client_cert_tls12": origin(11, client_certificate=True, tls_max_version="TLSv1.2"),
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[OriginFleet]:
    with OriginFleet(list(SPECS.values())) as running:
        yield running


def options(fleet: OriginFleet, **kwargs: object) -> ProbeOptions:
    values: dict[str, object] = {
        "timeout": TIMEOUT,
        "connect_to": tuple(parse_connect_to(rule) for rule in fleet.connect_to()),
        "origin_ca": (fleet.ca_file,),
        "only_connect_to": True,
    }
    values.update(kwargs)
    return ProbeOptions(**values)  # type: ignore[arg-type]


def target(name: str, **kwargs: object) -> ProbeTarget:
    spec = SPECS[name]
    values: dict[str, object] = {"strict": True, "check_revocation": True, **kwargs}
    return ProbeTarget(spec.hostnames[0], spec.address, True, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def results(fleet: OriginFleet) -> dict[str, OriginProbe]:
    names = [n for n in SPECS if n != "candidate_down"]
    probed = asyncio.run(probe_origins([target(n) for n in names], options(fleet)))
    return dict(zip(names, probed.probes, strict=True))


# -- revocation ------------------------------------------------------------------------------


def test_a_good_answer_from_the_responder(results: dict[str, OriginProbe], fleet: OriginFleet) -> None:
    tls = results["ocsp_good"].tls
    assert tls is not None and tls.verified and tls.revocation is not None
    assert (tls.revocation.status, tls.revocation.responder_status) == (GOOD, GOOD)
    assert fleet.ocsp_responder is not None and tls.revocation.responder == fleet.ocsp_responder.url
    assert tls.revocation.staple == "none"  # the stand-ins staple nothing


def test_a_revoked_certificate(results: dict[str, OriginProbe]) -> None:
    tls = results["ocsp_revoked"].tls
    assert tls is not None and tls.verified  # the chain and name are fine: only OCSP tells
    revocation = tls.revocation
    assert revocation is not None and revocation.status == REVOKED
    assert revocation.reason == "key_compromise" and revocation.revoked_at is not None
    assert revocation.detail.startswith("the responder says it was revoked on ")


def test_an_unreachable_responder_is_unknown_never_revoked(results: dict[str, OriginProbe]) -> None:
    tls = results["ocsp_unreachable"].tls
    assert tls is not None and tls.revocation is not None
    assert (tls.revocation.status, tls.revocation.responder_status) == (UNKNOWN, "unreachable")


def test_a_certificate_without_a_responder_is_not_checked(results: dict[str, OriginProbe]) -> None:
    tls = results["no_ocsp"].tls
    assert tls is not None and tls.revocation is not None
    assert tls.revocation.status == NOT_CHECKED and "names no OCSP responder" in tls.revocation.detail


def test_no_revocation_check_asks_nobody(fleet: OriginFleet) -> None:
    assert fleet.ocsp_responder is not None
    before = len(fleet.ocsp_responder.requests)
    probed = asyncio.run(probe_origins([target("ocsp_revoked")], options(fleet, revocation_check=False)))
    (probe,) = probed.probes
    assert probe.tls is not None and probe.tls.verified and probe.tls.revocation is None
    assert len(fleet.ocsp_responder.requests) == before


@pytest.mark.parametrize(("mode", "checked"), [("strict", True), ("full", True), ("flexible", True), ("off", False)])
def test_revocation_is_checked_where_strict_validates_or_may_be_proposed(
    fleet: OriginFleet, mode: str, checked: bool
) -> None:
    """Full (strict) checks revocation; Full and Flexible may be proposed a raise to it, which a
    revoked certificate must stop, so theirs are checked too; Off is never raised."""
    spec = SPECS["ocsp_revoked"]
    snapshot = ZoneSnapshot(
        zone=Zone(id="z", name="example.com", plan="pro"),
        settings=frozen_mapping({"ssl": mode}),
        records=(DnsRecord(id="r1", type="A", name=spec.hostnames[0], content=spec.address, proxied=True),),
    )
    (planned,) = plan_targets(build_routes(snapshot), options(fleet))
    assert (planned.strict, planned.check_revocation) == (mode == "strict", checked)
    (probe,) = asyncio.run(probe_origins([planned], options(fleet))).probes
    assert probe.tls is not None and probe.tls.verified
    if checked:
        assert probe.tls.revocation is not None and probe.tls.revocation.status == REVOKED
    else:
        assert probe.tls.revocation is None


def test_under_connect_to_only_a_responder_off_loopback_is_not_asked() -> None:
    assert loopback_only("127.0.0.1") and loopback_only("::1") and loopback_only("[::1]")
    assert not loopback_only("ocsp.example-ca.test") and not loopback_only("192.0.2.1")


# -- OCSP responses judged with plain data ----------------------------------------------------

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Issuer, Issuer, x509.Certificate]:
    directory: Path = tmp_path_factory.mktemp("ocsp")
    ca = make_ca(directory, "ca", "test CA")
    other = make_ca(directory, "other", "other CA")
    leaf = make_leaf(
        directory,
        "leaf",
        ("www.example.com",),
        issuer=ca,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=90),
        ocsp_url="http://127.0.0.1:9/",
    )
    assert leaf.cert is not None
    return ca, other, leaf.cert


def _der(response: ocsp.OCSPResponse) -> bytes:
    return response.public_bytes(serialization.Encoding.DER)


def test_responses_signed_by_the_issuer_count(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, _, leaf = pki
    assert judge_response(_der(ocsp_response(leaf, ca, "good", now=NOW)), leaf, ca.cert, NOW).status == GOOD
    revoked = judge_response(_der(ocsp_response(leaf, ca, "revoked", now=NOW)), leaf, ca.cert, NOW)
    assert (revoked.status, revoked.reason) == (REVOKED, "key_compromise")


def test_a_response_signed_by_someone_else_is_unknown(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, other, leaf = pki
    forged = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=ca.cert,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.REVOKED,
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        revocation_time=NOW - dt.timedelta(days=1),
        revocation_reason=None,
    )
    signed = forged.responder_id(ocsp.OCSPResponderEncoding.HASH, other.cert).sign(other.key, hashes.SHA256())
    verdict = judge_response(_der(signed), leaf, ca.cert, NOW)
    assert verdict.status == UNKNOWN and "signed neither by the issuer" in verdict.detail


def test_a_responder_the_issuer_delegated_to_counts(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, _, leaf = pki
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test OCSP responder")])
    delegate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=ca.cert,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        revocation_time=None,
        revocation_reason=None,
    )
    signed = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, delegate).certificates([delegate])
    assert judge_response(_der(signed.sign(key, hashes.SHA256())), leaf, ca.cert, NOW).status == GOOD


def test_stale_unsuccessful_or_garbled_answers_are_unknown(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, _, leaf = pki
    old = ocsp_response(leaf, ca, "revoked", now=NOW - dt.timedelta(days=30))
    stale = judge_response(_der(old), leaf, ca.cert, NOW)
    assert stale.status == UNKNOWN and "stale" in stale.detail
    refused = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    assert judge_response(_der(refused), leaf, ca.cert, NOW).detail == "the responder answered try_later"
    assert judge_response(b"<html>", leaf, ca.cert, NOW).status == UNKNOWN


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _inside(der: bytes) -> list[bytes]:
    """The TLVs inside one DER TLV (a SEQUENCE, an explicit tag, an OCTET STRING)."""

    def head(at: int) -> tuple[int, int]:
        size = der[at + 1]
        at += 2
        if size & 0x80:
            width = size & 0x7F
            size, at = int.from_bytes(der[at : at + width], "big"), at + width
        return at, size

    start, size = head(0)
    parts, at = [], start
    while at < start + size:
        body, length = head(at)
        parts.append(der[at : body + length])
        at = body + length
    return parts


def _resigned(der: bytes, issuer: Issuer, old: bytes, new: bytes, *, in_tbs: bool) -> bytes:
    """An OCSP response with one OID swapped for another (in the signed data, or in the
    signature's algorithm), signed again by the issuer: a response cryptography cannot fully read."""
    status, tagged = _inside(der)
    (response_bytes,) = _inside(tagged)
    kind, octets = _inside(response_bytes)
    tbs, algorithm, _, *certs = _inside(_inside(octets)[0])  # the OCTET STRING holds BasicOCSPResponse
    if in_tbs:
        tbs = tbs.replace(old, new)
    else:
        algorithm = algorithm.replace(old, new)
    signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    basic = _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature) + b"".join(certs))
    return _tlv(0x30, status + _tlv(0xA0, _tlv(0x30, kind + _tlv(0x04, basic))))


SHA1_OID = bytes.fromhex("06052b0e03021a")  # 1.3.14.3.2.26, the CertID hash of the sandbox's responses
ECDSA_SHA256_OID = bytes.fromhex("06082a8648ce3d040302")  # 1.2.840.10045.4.3.2


@pytest.mark.parametrize(
    ("old", "new", "in_tbs", "detail"),
    [
        # 1.3.14.3.2.27 is no hash cryptography knows: the CertID cannot be matched.
        pytest.param(
            SHA1_OID, bytes.fromhex("06052b0e03021b"), True, "identifies the certificate with a hash", id="certid-hash"
        ),
        # 1.2.840.10045.4.3.9 is no signature algorithm at all.
        pytest.param(
            ECDSA_SHA256_OID, bytes.fromhex("06082a8648ce3d040309"), False, "signed with an algorithm", id="signature"
        ),
    ],
)
def test_a_response_with_an_unknown_hash_algorithm_is_unknown_never_a_crash(
    pki: tuple[Issuer, Issuer, x509.Certificate], old: bytes, new: bytes, in_tbs: bool, detail: str
) -> None:
    ca, _, leaf = pki
    revoked = _der(ocsp_response(leaf, ca, "revoked", now=NOW))
    assert judge_response(_resigned(revoked, ca, old, old, in_tbs=in_tbs), leaf, ca.cert, NOW).status == REVOKED
    verdict = judge_response(_resigned(revoked, ca, old, new, in_tbs=in_tbs), leaf, ca.cert, NOW)
    assert verdict.status == UNKNOWN and detail in verdict.detail


def test_the_sandbox_responder_answers_only_for_its_leaves(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, _, leaf = pki
    with OcspResponder(ca) as responder:
        unknown = ocsp.load_der_ocsp_response(responder.answer(ocsp_request(leaf, ca.cert)) or b"")
        assert unknown.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
        responder.register(leaf, "revoked")
        answer = responder.answer(ocsp_request(leaf, ca.cert))
        assert answer is not None
        assert judge_response(answer, leaf, ca.cert, dt.datetime.now(dt.UTC)).status == REVOKED
        assert responder.requests == [leaf.serial_number, leaf.serial_number]


def test_the_staple_is_read_from_a_tls12_first_flight(pki: tuple[Issuer, Issuer, x509.Certificate]) -> None:
    ca, _, leaf = pki
    hello = client_hello("www.example.com")
    assert hello[:3] == b"\x16\x03\x01" and b"www.example.com" in hello
    assert b"\x00\x05\x00\x05\x01\x00\x00\x00\x00" in hello  # status_request: OCSP

    def message(kind: int, body: bytes) -> bytes:
        return bytes([kind]) + len(body).to_bytes(3, "big") + body

    der = leaf.public_bytes(serialization.Encoding.DER)
    staple = _der(ocsp_response(leaf, ca, "revoked", now=NOW))
    flight = (
        message(2, b"\x03\x03" + bytes(32) + b"\x00\xc0\x2b\x00")
        + message(11, (len(der) + 3).to_bytes(3, "big") + len(der).to_bytes(3, "big") + der)
        + message(22, b"\x01" + len(staple).to_bytes(3, "big") + staple)
        + message(14, b"")
    )
    records = b"".join(
        b"\x16\x03\x03" + len(flight[i : i + 1000]).to_bytes(2, "big") + flight[i : i + 1000]
        for i in range(0, len(flight), 1000)
    )
    assert parse_server_flight(records[:-3]) is None  # incomplete: keep reading
    look = parse_server_flight(records)
    assert look is not None and look.status == "sent" and look.staple == staple and look.chain == (der,)
    refused = parse_server_flight(b"\x15\x03\x03\x00\x02\x02\x46")
    assert refused is not None and refused.status == "tls13_only"


# -- SNI, keepalive, retries --------------------------------------------------------------------


def test_an_origin_that_rejects_server_names_is_compared_with_a_handshake_without_sni(
    results: dict[str, OriginProbe],
) -> None:
    tls = results["sni_reject"].tls
    assert tls is not None and tls.outcome is Outcome.TLS_ALERT and "UNRECOGNIZED_NAME" in tls.error
    look = tls.without_sni
    assert look is not None and look.outcome is Outcome.OK and look.hostname_matches and not look.same_certificate


def test_a_wrong_name_certificate_served_with_and_without_sni_is_the_same(results: dict[str, OriginProbe]) -> None:
    tls = results["wrong_name"].tls
    assert tls is not None and tls.handshake_ok and not tls.hostname_matches
    assert tls.without_sni is not None and tls.without_sni.same_certificate
    assert results["ocsp_good"].tls is not None and results["ocsp_good"].tls.without_sni is None  # no need


def test_two_requests_on_one_connection(results: dict[str, OriginProbe]) -> None:
    kept = results["no_ocsp"].keepalive
    assert kept is not None and kept.reused and (kept.first_status, kept.second_status) == (200, 200)
    closed = results["keepalive_off"].keepalive
    assert closed is not None and closed.outcome is Outcome.OK and not closed.reused
    assert closed.closed_after_first == "it answered the first request with Connection: close"


def test_a_timeout_is_retried_once_on_its_own(results: dict[str, OriginProbe]) -> None:
    probe = results["h2_stall_first"]
    assert probe.retried == ("http2",)  # the first HTTP/2 request stalled...
    assert probe.http2 is not None and probe.http2.ok  # ...and the lone retry got its answer
    assert results["no_ocsp"].retried == ()


# -- a client certificate demanded (Authenticated Origin Pulls) -------------------------------


def test_a_client_certificate_demanded_in_a_tls12_handshake_is_seen(results: dict[str, OriginProbe]) -> None:
    tls = results["client_cert_tls12"].tls
    assert tls is not None and tls.outcome is Outcome.TLS_ALERT  # a bare handshake_failure alert...
    assert "CertificateRequest" in tls.client_certificate  # ...after its first flight asked for one


def test_a_client_certificate_demanded_after_a_tls13_handshake_is_seen(results: dict[str, OriginProbe]) -> None:
    probe = results["client_cert_tls13"]
    tls = probe.tls
    assert tls is not None and tls.handshake_ok and tls.verified  # the client's side completes...
    assert probe.response is not None and probe.response.outcome is Outcome.TLS_ALERT  # ...the first read fails
    assert "certificate_required alert" in tls.client_certificate
    assert "CERTIFICATE_REQUIRED" in tls.client_certificate


def test_origins_that_demand_nothing_are_not_said_to(results: dict[str, OriginProbe]) -> None:
    for name in ("ocsp_good", "sni_reject", "keepalive_off"):
        tls = results[name].tls
        assert tls is not None and tls.client_certificate == "", name


def _hello_offer(record: bytes) -> tuple[set[int], set[int]] | None:
    """The cipher suites and supported_versions a ClientHello record lists; None while incomplete."""
    if len(record) < 5 or len(record) < 5 + int.from_bytes(record[3:5], "big"):
        return None
    body = record[9 : 5 + int.from_bytes(record[3:5], "big")]  # past the record and handshake headers
    at = 2 + 32  # legacy_version, random
    at += 1 + body[at]  # session id
    size, at = int.from_bytes(body[at : at + 2], "big"), at + 2
    suites = {int.from_bytes(body[i : i + 2], "big") for i in range(at, at + size, 2)}
    at += size
    at += 1 + body[at]  # compression methods
    end, at = at + 2 + int.from_bytes(body[at : at + 2], "big"), at + 2
    versions: set[int] = set()
    while at + 4 <= end:
        kind, size = int.from_bytes(body[at : at + 2], "big"), int.from_bytes(body[at + 2 : at + 4], "big")
        data, at = body[at + 4 : at + 4 + size], at + 4 + size
        if kind == 43:  # supported_versions
            versions = {int.from_bytes(data[i : i + 2], "big") for i in range(1, len(data), 2)}
    return suites, versions


HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"  # a fatal handshake_failure alert


class AopOrigin:
    """An origin whose TLS 1.2 asks for a client certificate (CertificateRequest) and fails
    without one (nginx's `ssl_verify_client on`), in one of two kinds:

    - `old`: it does not implement TLS 1.3 at all (OpenSSL 1.0.2, CentOS 7's nginx): a
      ClientHello with TLS 1.2 suites gets TLS 1.2 whatever its supported_versions says, one with
      nothing but TLS 1.3's suites a bare handshake_failure (no shared cipher), not the
      protocol_version alert a server that knows TLS 1.3 sends;
    - `tls13_broken`: it speaks TLS 1.3 and chooses it from any hello that offers it (a real
      ServerHello), then fails the handshake for another reason: it resets the connection (a
      plain alert after a TLS 1.3 ServerHello is refused by OpenSSL as a bad record type)."""

    def __init__(self, leaf: LeafFiles, kind: str) -> None:
        self.kind = kind
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(leaf.cert_path, leaf.key_path)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(cafile=str(leaf.cert_path))
        self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.tls13 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls13.load_cert_chain(leaf.cert_path, leaf.key_path)
        self.tls13.minimum_version = ssl.TLSVersion.TLSv1_3
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _server_hello(self, hello: bytes) -> bytes:
        """The first record of a real TLS 1.3 server's answer: its ServerHello."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        engine = self.tls13.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(hello)
        with contextlib.suppress(ssl.SSLWantReadError):
            engine.do_handshake()
        flight = outgoing.read()
        return flight[: 5 + int.from_bytes(flight[3:5], "big")]

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                hello = b""
                deadline = time.monotonic() + 5
                while (offer := _hello_offer(hello)) is None and time.monotonic() < deadline:
                    time.sleep(0.005)
                    hello = connection.recv(65536, socket.MSG_PEEK)
                if offer is None:
                    return
                suites, versions = offer
                if self.kind == "old" and not suites - {0x1301, 0x1302, 0x1303, 0x00FF}:  # no TLS 1.2 suite
                    refusal = HANDSHAKE_FAILURE  # no shared cipher
                elif self.kind == "tls13_broken" and 0x0304 in versions:
                    connection.sendall(self._server_hello(connection.recv(len(hello))))
                    time.sleep(0.05)
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing now resets the connection
                else:
                    self.context.wrap_socket(connection, server_side=True).close()
                    return
                connection.recv(65536)  # read, so that closing sends no reset
                connection.sendall(refusal)
                connection.shutdown(socket.SHUT_WR)
                connection.recv(65536)
            except (OSError, ssl.SSLError):
                return  # no client certificate, or a client that hung up after the first flight

    def close(self) -> None:
        self.listener.close()


def _aop_origin(tmp_path_factory: pytest.TempPathFactory, kind: str) -> AopOrigin:
    directory = tmp_path_factory.mktemp(kind)
    now = dt.datetime.now(dt.UTC)
    leaf = make_leaf(
        directory,
        "leaf",
        ("c20.example.com",),
        issuer=None,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
    )
    return AopOrigin(leaf, kind)


@pytest.fixture(scope="module")
def old_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AopOrigin]:
    origin = _aop_origin(tmp_path_factory, "old")
    yield origin
    origin.close()


@pytest.fixture(scope="module")
def tls13_broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AopOrigin]:
    origin = _aop_origin(tmp_path_factory, "tls13_broken")
    yield origin
    origin.close()


def _probe_c20(port: int) -> OriginProbe:
    rules = (parse_connect_to(f"198.51.100.20:443:127.0.0.1:{port}"),)
    chosen = ProbeOptions(timeout=TIMEOUT, connect_to=rules, only_connect_to=True)
    probed = asyncio.run(probe_origins([ProbeTarget("c20.example.com", "198.51.100.20", True, strict=True)], chosen))
    (probe,) = probed.probes
    return probe


def test_a_client_certificate_demanded_by_an_origin_without_tls13_is_seen(old_origin: AopOrigin) -> None:
    # A TLS 1.3-only hello gets handshake_failure, not protocol_version: that alone told nothing...
    local = ("127.0.0.1", old_origin.port)
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(local, timeout=TIMEOUT) as raw, context.wrap_socket(raw):
            pass
    # ...but Cloudflare's offer gets TLS 1.2 and a CertificateRequest: the demand is proven.
    look = asyncio.run(offer_look(local, "c20.example.com", TIMEOUT))
    assert look.status == "none" and look.certificate_request
    tls = _probe_c20(old_origin.port).tls
    assert tls is not None and tls.outcome is Outcome.TLS_ALERT and "handshake failure" in tls.error
    assert "CertificateRequest" in tls.client_certificate


def test_a_failed_tls13_handshake_is_not_blamed_on_a_tls12_certificate_request(tls13_broken: AopOrigin) -> None:
    # The origin does ask TLS 1.2 clients for a certificate...
    local = ("127.0.0.1", tls13_broken.port)
    assert asyncio.run(staple_look(local, "c20.example.com", TIMEOUT)).certificate_request
    # ...but chooses TLS 1.3 from Cloudflare's offer, which fails for another reason: a 525, not AOP's business.
    assert asyncio.run(offer_look(local, "c20.example.com", TIMEOUT)).status == "tls13"
    tls = _probe_c20(tls13_broken.port).tls
    assert tls is not None and tls.outcome in (Outcome.TLS_ALERT, Outcome.RESET), tls
    assert tls.client_certificate == ""


def _record(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + b"\x03\x03" + len(body).to_bytes(2, "big") + body


def _message(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def _server_hello(version: int | None, legacy: bytes = b"\x03\x03") -> bytes:
    extensions = b"" if version is None else b"\x00\x2b\x00\x02" + version.to_bytes(2, "big")
    body = legacy + bytes(32) + b"\x00" + b"\xc0\x2f" + b"\x00"
    return _message(2, body + len(extensions).to_bytes(2, "big") + extensions)


def test_the_version_chosen_from_cloudflares_offer_is_read_in_clear() -> None:
    request = _message(13, b"\x01\x01\x00\x00\x00\x00")  # CertificateRequest
    done = _message(14, b"")
    for version in (None, 0x0303, 0x0301):
        flight = _record(22, _server_hello(version) + _message(11, b"\x00\x00\x00") + request + done)
        look = parse_server_flight(flight, oldest=0x0301)
        assert look is not None and look.certificate_request, version
    # TLS 1.3 chosen (a ServerHello or a HelloRetryRequest saying 0x0304): what follows is encrypted.
    for tls13 in (_record(22, _server_hello(0x0304)) + _record(20, b"\x01") + _record(23, b"x" * 40),):
        look = parse_server_flight(tls13, oldest=0x0301)
        assert look is not None and look.status == "tls13" and not look.certificate_request
    assert parse_server_flight(_record(22, _server_hello(0x0304)), oldest=0x0301) == parse_server_flight(
        _record(22, _server_hello(0x0304)) + _record(20, b"\x01"), oldest=0x0301
    )
    # An alert says nothing of the version; staple_look's own TLS 1.2 hello still wants TLS 1.2.
    alert = parse_server_flight(HANDSHAKE_FAILURE, oldest=0x0301)
    assert alert is not None and alert.status == "failed" and not alert.certificate_request
    old = parse_server_flight(_record(22, _server_hello(None, b"\x03\x01") + request + done))
    assert old is not None and old.status == "failed"


def test_cloudflares_offer_is_what_the_hello_carries() -> None:
    offer = _hello_offer(offer_hello("c20.example.com"))
    assert offer is not None
    suites, versions = offer
    assert versions == {0x0304, 0x0303, 0x0302, 0x0301}
    assert {0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC013, 0x009C, 0x002F, 0xC030, 0x0035} <= suites
    assert 0xCCA8 not in suites  # ChaCha20 for TLS 1.2: not in Cloudflare's list
    staple = _hello_offer(client_hello("c20.example.com"))
    assert staple is not None and staple[1] == set()  # staple_look's hello stays TLS 1.2 only


# -- candidates: the inventory's addresses, probed before a DNS rewrite ------------------------


def test_candidates_are_planned_from_the_inventory_and_never_routes() -> None:
    snapshot = ZoneSnapshot(
        zone=Zone(id="z", name="example.com", plan="pro"),
        settings=frozen_mapping({"ssl": "strict"}),
        records=(
            DnsRecord(id="r1", type="A", name="www.example.com", content="10.0.0.5", proxied=True),
            DnsRecord(id="r2", type="A", name="ok.example.com", content="93.184.215.10", proxied=True),
            DnsRecord(id="r3", type="A", name="grey.example.com", content="10.0.0.6", proxied=False),
        ),
    )
    inventory = parse_inventory(
        {
            "zones": {
                "example.com": {
                    "origins": {
                        "www.example.com": ["93.184.215.20", "2606:2800:21f::20"],
                        "ok.example.com": ["93.184.215.10"],
                        "grey.example.com": ["93.184.215.30"],
                    }
                }
            }
        }
    ).for_zone("example.com")
    planned = plan_candidates(build_routes(snapshot), inventory.origins_for, ProbeOptions())
    assert [(t.hostname, t.address, t.candidate, t.record_id, t.strict) for t in planned] == [
        ("www.example.com", "93.184.215.20", True, "r1", True)
    ]


def test_candidates_come_back_apart_from_the_probes(fleet: OriginFleet) -> None:
    spec = SPECS["candidate_down"]
    candidate = ProbeTarget(spec.hostnames[0], spec.address, True, candidate=True, record_id="r1")
    probed = asyncio.run(probe_origins([], options(fleet), candidates=[candidate]))
    assert probed.probes == ()
    (checked,) = probed.candidates
    assert checked.tcp443.outcome is Outcome.REFUSED and checked.keepalive is None and checked.response is None


def test_the_no_revocation_check_flag_turns_the_check_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfremedy.cli.flags import ProbeFlags
    from cfremedy.settings import Settings

    for name in ("CFREMEDY_CONNECT_TO", "CFREMEDY_ORIGIN_CA", "CFREMEDY_RESOLVER", "CFREMEDY_CONNECT_TO_ONLY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    on, off = ProbeFlags().probe_options(settings), ProbeFlags(no_revocation_check=True).probe_options(settings)
    assert on is not None and off is not None
    assert (on.revocation_check, off.revocation_check) == (True, False)
