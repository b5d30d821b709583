"""The sandbox origins, checked with ordinary clients (sockets, ssl, httpx), not with our probes.

If these pass, a probe test that fails is the probe's fault: each stand-in really refuses,
drops, resets, alerts or breaks HTTP/2 the way its `OriginSpec` says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from cfremedy.sandbox.origins import HANDSHAKE_FAILURE_ALERT, OriginFleet
from cfremedy.sandbox.scenario import OriginSpec

HOST = "www.example.com"


def spec(n: int, **kwargs: object) -> OriginSpec:
    return OriginSpec(address=f"203.0.113.{n}", hostnames=(f"o{n}.example.com", HOST), **kwargs)  # type: ignore[arg-type]


SPECS = {
    "valid": spec(1),
    "self_signed": spec(2, https="self_signed"),
    "expired": spec(3, https="expired"),
    "wrong_name": spec(4, https="wrong_name"),
    "untrusted": spec(5, https="untrusted"),
    "plain_http": spec(6, https="plain_http"),
    "tls_alert": spec(7, https="tls_alert"),
    "silent": spec(8, https="silent", http="silent"),
    "reset": spec(9, https="reset"),
    "closed": spec(10, https="closed", http="closed"),
    "drop": spec(11, https="drop", http="drop"),
    "redirect": spec(12, http="redirect_https"),
    "slow": spec(13, delay_seconds=0.3),
    "http1_only": spec(14, alpn=("http/1.1",)),
    "no_alpn": spec(15, alpn=()),
    "h2_http1_reply": spec(16, h2="http1_reply"),
    "h2_goaway": spec(17, h2="goaway"),
    "h2_rst_stream": spec(18, h2="rst_stream"),
    "h2_close": spec(19, h2="close"),
    "v6": OriginSpec(address="2001:db8::20", hostnames=(HOST,)),
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[OriginFleet]:
    with OriginFleet(list(SPECS.values())) as running:
        yield running


def ep(fleet: OriginFleet, name: str, port: int) -> tuple[str, int]:
    return fleet.endpoint(SPECS[name].address, port)


def client_context(*, verify: bool, alpn: list[str] | None = None, cafile: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        context.load_verify_locations(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def tls_session(
    fleet: OriginFleet, name: str, *, alpn: list[str] | None = None
) -> tuple[x509.Certificate, str | None]:
    with socket.create_connection(ep(fleet, name, 443), timeout=3) as raw:
        with client_context(verify=False, alpn=alpn).wrap_socket(raw, server_hostname=HOST) as tls:
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der), tls.selected_alpn_protocol()


def http_exchange(address: tuple[str, int], request: bytes, timeout: float = 3.0) -> bytes:
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def sans(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def h2_get(fleet: OriginFleet, name: str) -> httpx.Response:
    host, port = ep(fleet, name, 443)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(http2=True, verify=False, timeout=3, trust_env=False) as client:
            return await client.get(f"https://{host}:{port}/x", headers={"Host": HOST}, extensions={"sni_hostname": HOST})

    return asyncio.run(get())


# -- lifecycle and addressing ---------------------------------------------------------------


def test_twenty_origins_start_well_under_a_second() -> None:
    specs = [spec(100 + i, https=b) for i, b in enumerate(["valid", "self_signed", "expired", "wrong_name", "untrusted"] * 4)]
    started = time.perf_counter()
    with OriginFleet(specs) as running:
        elapsed = time.perf_counter() - started
        assert len(running.connect_to()) == 40
    assert elapsed < 0.5


def test_stop_removes_certificates_and_listeners_and_thread() -> None:
    running = OriginFleet([spec(1)]).start()
    directory = running.ca_file.parent
    host, port = running.endpoint("203.0.113.1", 80)
    assert running.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    # A kept-alive connection still open at stop time must not keep the fleet alive. (It has
    # answered once, so the fleet has surely accepted it: some kernels, gVisor's among them,
    # leave a connection the listener never accepted hanging when the listener closes.)
    with socket.create_connection((host, port), timeout=3) as lingering:
        lingering.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert lingering.recv(65536).startswith(b"HTTP/1.1 200 OK")
        running.stop()
        assert lingering.recv(1) == b""
    assert not directory.exists()
    assert not any(t.name == "cfremedy-origin-fleet" for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=3).close()
    running.stop()  # idempotent


def test_connect_to_rules_bracket_ipv6_and_match_endpoints(fleet: OriginFleet) -> None:
    rules = fleet.connect_to()
    assert len(rules) == 2 * len(SPECS)
    host, port = fleet.endpoint("2001:db8::20", 443)
    assert f"[2001:db8::20]:443:{host}:{port}" in rules
    host, port = ep(fleet, "valid", 80)
    assert f"203.0.113.1:80:{host}:{port}" in rules
    assert fleet.endpoint("2001:DB8:0::20", 443) == fleet.endpoint("2001:db8::20", 443)
    with pytest.raises(KeyError, match="198.51.100.1:443"):
        fleet.endpoint("198.51.100.1", 443)


def test_ipv6_loopback_host() -> None:
    with OriginFleet([spec(1)], host="::1") as running:
        host, port = running.endpoint("203.0.113.1", 80)
        assert host == "::1"
        assert f"203.0.113.1:80:[::1]:{port}" in running.connect_to()
        assert http_exchange((host, port), b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 200 OK"
        )


# -- certificates ---------------------------------------------------------------------------


def test_valid_certificate_chains_to_the_sandbox_ca(fleet: OriginFleet) -> None:
    cert, _ = tls_session(fleet, "valid")
    ca = x509.load_pem_x509_certificate(fleet.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert sans(cert) == ["o1.example.com", HOST]
    now = dt.datetime.now(dt.timezone.utc)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    # And a real verifying client accepts it for its name.
    with socket.create_connection(ep(fleet, "valid", 443), timeout=3) as raw:
        with client_context(verify=True, cafile=str(fleet.ca_file)).wrap_socket(raw, server_hostname=HOST):
            pass


def test_broken_certificates(fleet: OriginFleet) -> None:
    ca = x509.load_pem_x509_certificate(fleet.ca_file.read_bytes())
    untrusted = x509.load_pem_x509_certificate(fleet.untrusted_ca_file.read_bytes())
    now = dt.datetime.now(dt.timezone.utc)

    self_signed, _ = tls_session(fleet, "self_signed")
    assert self_signed.issuer == self_signed.subject
    self_signed.verify_directly_issued_by(self_signed)

    expired, _ = tls_session(fleet, "expired")
    expired.verify_directly_issued_by(ca)
    assert expired.not_valid_after_utc < now

    wrong, _ = tls_session(fleet, "wrong_name")
    wrong.verify_directly_issued_by(ca)
    assert sans(wrong) == ["wrong.invalid"]
    assert wrong.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "wrong.invalid"

    foreign, _ = tls_session(fleet, "untrusted")
    foreign.verify_directly_issued_by(untrusted)
    assert foreign.issuer != ca.subject


@pytest.mark.parametrize(
    ("name", "expected"), [("valid", "h2"), ("http1_only", "http/1.1"), ("no_alpn", None)]
)
def test_alpn_follows_the_spec(fleet: OriginFleet, name: str, expected: str | None) -> None:
    _, alpn = tls_session(fleet, name, alpn=["h2", "http/1.1"])
    assert alpn == expected


# -- port 443 failure modes -----------------------------------------------------------------


def test_plain_http_on_the_tls_port(fleet: OriginFleet) -> None:
    address = ep(fleet, "plain_http", 443)
    ok = http_exchange(address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK")
    # A ClientHello gets the 400 at once, which a TLS client reads as "wrong version number".
    with socket.create_connection(address, timeout=3) as raw:
        with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER|RECORD_LAYER|PACKET_LENGTH"):
            client_context(verify=False).wrap_socket(raw, server_hostname=HOST)


def test_tls_alert_aborts_the_handshake(fleet: OriginFleet) -> None:
    with socket.create_connection(ep(fleet, "tls_alert", 443), timeout=3) as raw:
        with pytest.raises(ssl.SSLError) as caught:
            client_context(verify=False).wrap_socket(raw, server_hostname=HOST)
    assert caught.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert http_exchange(ep(fleet, "tls_alert", 443), b"\x16\x03\x01hello") == HANDSHAKE_FAILURE_ALERT


def test_silent_accepts_and_never_answers(fleet: OriginFleet) -> None:
    for port in (443, 80):
        with socket.create_connection(ep(fleet, "silent", port), timeout=0.3) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(1)


def test_reset_sends_rst(fleet: OriginFleet) -> None:
    with socket.create_connection(ep(fleet, "reset", 443), timeout=3) as sock:
        sock.sendall(b"\x16\x03\x01hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(1)


def test_closed_refuses(fleet: OriginFleet) -> None:
    for port in (443, 80):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(ep(fleet, "closed", port), timeout=3).close()


def test_drop_times_out_connect(fleet: OriginFleet) -> None:
    for port in (443, 80):
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            socket.create_connection(ep(fleet, "drop", port), timeout=0.3).close()
        assert time.perf_counter() - started >= 0.29


# -- HTTP -----------------------------------------------------------------------------------


def test_http_ok_keeps_alive_and_answers_every_request(fleet: OriginFleet) -> None:
    request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    response = http_exchange(ep(fleet, "valid", 80), request + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert b"cfremedy sandbox origin 203.0.113.1" in response


def test_redirect_https_keeps_host_and_path(fleet: OriginFleet) -> None:
    response = http_exchange(
        ep(fleet, "redirect", 80), b"GET /p?q=1 HTTP/1.1\r\nHost: shop.example.com:80\r\nConnection: close\r\n\r\n"
    )
    assert response.startswith(b"HTTP/1.1 301 ")
    assert b"\r\nLocation: https://shop.example.com/p?q=1\r\n" in response


def test_delay_seconds_slows_each_response(fleet: OriginFleet) -> None:
    started = time.perf_counter()
    response = http_exchange(ep(fleet, "slow", 80), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert time.perf_counter() - started >= 0.3


def test_http1_over_tls_when_alpn_picks_it(fleet: OriginFleet) -> None:
    with socket.create_connection(ep(fleet, "http1_only", 443), timeout=3) as raw:
        with client_context(verify=False, alpn=["h2", "http/1.1"]).wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n")
            assert tls.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_h2_ok_is_a_real_http2_server(fleet: OriginFleet) -> None:
    response = h2_get(fleet, "valid")
    assert (response.http_version, response.status_code) == ("HTTP/2", 200)
    assert response.text == "cfremedy sandbox origin 203.0.113.1\n"


@pytest.mark.parametrize("name", ["h2_http1_reply", "h2_goaway", "h2_rst_stream", "h2_close"])
def test_broken_h2_modes_break_a_real_client(fleet: OriginFleet, name: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        h2_get(fleet, name)


def test_duplicate_addresses_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        OriginFleet([spec(1), spec(1, https="expired")])
