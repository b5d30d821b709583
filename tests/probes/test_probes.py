"""The probes against real sandbox origins: every outcome comes from a real socket or handshake.

The fleet is probed once per module (all targets concurrently, as an audit would) and each
test reads the result for its origin; pure parts (rules, target planning, certificate
matching) are tested with plain data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from cfremedy.models import DnsRecord, Zone, ZoneSnapshot
from cfremedy.probes.certificates import cert_info, hostname_matches, origin_ca_root
from cfremedy.probes.connect_to import ConnectTo, parse_connect_to, route
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import CertInfo, OriginProbe, Outcome, ProbeResults, StepResult
from cfremedy.probes.runner import probe_origins
from cfremedy.probes.targets import ProbeTarget, plan_targets
from cfremedy.probes.tcp import connect, no_local_route
from cfremedy.probes.tls import ProbeConfigError
from cfremedy.routes import build_routes
from cfremedy.sandbox.dns import DnsServer
from cfremedy.sandbox.origins import OriginFleet
from cfremedy.sandbox.scenario import OriginSpec, parse_scenario
from tests.support import requires_netns

TIMEOUT = 1.0


def origin(n: int, **kwargs: object) -> OriginSpec:
    return OriginSpec(address=f"203.0.113.{n}", hostnames=(f"o{n}.example.com",), **kwargs)  # type: ignore[arg-type]


SPECS = {
    "valid": origin(1),
    "self_signed": origin(2, https="self_signed"),
    "expired": origin(3, https="expired"),
    "wrong_name": origin(4, https="wrong_name"),
    "untrusted": origin(5, https="untrusted"),
    "plain_http": origin(6, https="plain_http"),
    "tls_alert": origin(7, https="tls_alert"),
    "silent": origin(8, https="silent", http="silent"),
    "reset": origin(9, https="reset"),
    "closed": origin(10, https="closed", http="closed"),
    "drop": origin(11, https="drop", http="drop"),
    "redirect": origin(12, http="redirect_https"),
    "http1_only": origin(13, alpn=("http/1.1",)),
    "h2_http1_reply": origin(14, h2="http1_reply"),
    "h2_goaway": origin(15, h2="goaway"),
    "h2_rst_stream": origin(16, h2="rst_stream"),
    "h2_close": origin(17, h2="close"),
    "h2_slow": origin(18, delay_seconds=TIMEOUT + 1),
    "v6": OriginSpec(address="2001:db8::20", hostnames=("v6.example.com",)),
    "external": OriginSpec(address="192.0.2.50", hostnames=("shop.example.com",)),
    "dns_only": OriginSpec(address="192.0.2.60", hostnames=("direct.example.com",), http="drop"),
}


def target(name: str, *, proxied: bool = True) -> ProbeTarget:
    spec = SPECS[name]
    return ProbeTarget(spec.hostnames[0], spec.address, proxied)


@pytest.fixture(scope="module")
def fleet() -> Iterator[OriginFleet]:
    with OriginFleet(list(SPECS.values())) as running:
        yield running


def fleet_options(fleet: OriginFleet, **kwargs: object) -> ProbeOptions:
    defaults: dict[str, object] = {
        "timeout": TIMEOUT,
        "connect_to": tuple(parse_connect_to(rule) for rule in fleet.connect_to()),
        "origin_ca": (fleet.ca_file,),
    }
    defaults.update(kwargs)
    return ProbeOptions(**defaults)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def results(fleet: OriginFleet) -> dict[str, OriginProbe]:
    names = [n for n in SPECS if n not in ("external", "dns_only")]
    probed = asyncio.run(probe_origins([target(n) for n in names], fleet_options(fleet)))
    assert len(probed.probes) == len(names)
    return {name: probe for name, probe in zip(names, probed.probes, strict=True)}


def fetch_der(fleet: OriginFleet, name: str) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(fleet.endpoint(SPECS[name].address, 443), timeout=3) as raw:
        with context.wrap_socket(raw, server_hostname="x.example.com") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der
    return der


# -- --connect-to rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("example.com:443:127.0.0.1:8443", ConnectTo("example.com", 443, "127.0.0.1", 8443)),
        ("WWW.Example.COM.:80:localhost:", ConnectTo("www.example.com", 80, "localhost", None)),
        ("[2001:DB8::1]:443:[::1]:40001", ConnectTo("2001:db8::1", 443, "::1", 40001)),
        ("203.0.113.10:443:[::1]:", ConnectTo("203.0.113.10", 443, "::1", None)),
        ("::127.0.0.1:9000", ConnectTo("", None, "127.0.0.1", 9000)),
        (":::", ConnectTo("", None, "", None)),
        ("::[::1]:", ConnectTo("", None, "::1", None)),
    ],
)
def test_parse_connect_to(rule: str, expected: ConnectTo) -> None:
    assert parse_connect_to(rule) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("example.com:443:127.0.0.1", r"3 fields, expected HOST:PORT:CONNECT_HOST:CONNECT_PORT"),
        ("2001:db8::1:443:127.0.0.1:1", r"put IPv6 addresses in brackets"),
        ("example.com:https:127.0.0.1:1", r"port 'https' is not a number from 1 to 65535"),
        ("example.com:443:127.0.0.1:70000", r"port '70000' is not a number"),
        ("example.com:0:127.0.0.1:1", r"port '0' is not a number"),
        ("[2001:db8::1:443:127.0.0.1:1", r"unclosed '\['"),
        ("[example.com]:443:127.0.0.1:1", r"'\[example.com\]' is not an IPv6 address"),
        ("[::1]x:443:127.0.0.1:1", r"text after '\]'"),
        ("a]:443:127.0.0.1:1", r"unexpected '\]'"),
        ("exa mple.com:443:127.0.0.1:1", r"contains whitespace"),
    ],
)
def test_parse_connect_to_rejects_with_a_clear_message(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_connect_to(rule)
    assert repr(rule) in str(caught.value)


def test_connect_to_rule_round_trips_through_str() -> None:
    for rule in ("[2001:db8::1]:443:[::1]:40001", "example.com::127.0.0.1:", ":::1"):
        assert str(parse_connect_to(rule)) == rule


def test_route_first_match_wins_on_hostname_or_address() -> None:
    rules = [
        parse_connect_to(r)
        for r in (
            "www.example.com:443:127.0.0.1:1001",  # by hostname
            "203.0.113.10:443:127.0.0.1:1002",  # by address, shadowed for www by the first
            "[2001:db8::1]::[::1]:",  # any port, same port
            "203.0.113.20:80::8080",  # same host, other port
            "::127.0.0.9:",  # anything else on any port
        )
    ]
    assert route(rules, "www.example.com", "203.0.113.10", 443) == ("127.0.0.1", 1001)
    assert route(rules, "api.example.com", "203.0.113.10", 443) == ("127.0.0.1", 1002)
    assert route(rules, "v6.example.com", "2001:DB8::1", 80) == ("::1", 80)
    assert route(rules, "a.example.com", "203.0.113.20", 80) == ("203.0.113.20", 8080)
    assert route(rules, "a.example.com", "203.0.113.20", 443) == ("127.0.0.9", 443)
    assert route(rules[:4], "b.example.com", "198.51.100.1", 443) == ("198.51.100.1", 443)


# -- target planning (pure) -----------------------------------------------------------------


def snapshot(*records: tuple[str, str, str, bool]) -> ZoneSnapshot:
    return ZoneSnapshot(
        zone=Zone(id="z1", name="example.com", plan="free"),
        records=tuple(
            DnsRecord(id=f"r{i}", type=type_, name=name, content=content, proxied=proxied)
            for i, (type_, name, content, proxied) in enumerate(records)
        ),
    )


def test_plan_targets_dedups_and_keeps_dns_only_addresses() -> None:
    snap = snapshot(
        ("A", "www.example.com", "203.0.113.10", True),
        ("A", "WWW.example.com.", "203.0.113.10", True),  # same pair, other spelling
        ("AAAA", "www.example.com", "2001:DB8::0:10", True),
        ("A", "direct.example.com", "192.0.2.1", False),
        ("TXT", "www.example.com", "v=spf1 -all", False),
        ("MX", "example.com", "mail.example.com", False),
    )
    assert plan_targets(build_routes(snap), ProbeOptions()) == [
        ProbeTarget("www.example.com", "203.0.113.10", True),
        ProbeTarget("www.example.com", "2001:db8::10", True),
        ProbeTarget("direct.example.com", "192.0.2.1", False),
    ]


def test_plan_targets_follows_proxied_cnames_inside_the_zone() -> None:
    snap = snapshot(
        ("CNAME", "shop.example.com", "lb.example.com", True),
        ("CNAME", "lb.example.com", "pool.example.com", False),
        ("A", "pool.example.com", "203.0.113.1", False),
        ("A", "pool.example.com", "203.0.113.2", False),
        ("CNAME", "blog.example.com", "pool.example.com.", True),
        ("CNAME", "docs.example.com", "pool.example.com", False),  # DNS-only CNAME: not ours
        ("CNAME", "loop1.example.com", "loop2.example.com", True),
        ("CNAME", "loop2.example.com", "loop1.example.com", True),
        ("CNAME", "dangling.example.com", "nothing.example.com", True),
    )
    assert plan_targets(build_routes(snap), ProbeOptions()) == [
        ProbeTarget("shop.example.com", "203.0.113.1", True, via_cname="lb.example.com"),
        ProbeTarget("shop.example.com", "203.0.113.2", True, via_cname="lb.example.com"),
        ProbeTarget("pool.example.com", "203.0.113.1", False),
        ProbeTarget("pool.example.com", "203.0.113.2", False),
        ProbeTarget("blog.example.com", "203.0.113.1", True, via_cname="pool.example.com"),
        ProbeTarget("blog.example.com", "203.0.113.2", True, via_cname="pool.example.com"),
    ]


def test_plan_targets_leaves_the_zone_through_connect_to_or_later_dns() -> None:
    snap = snapshot(
        ("CNAME", "shop.example.com", "origin.example.net", True),
        ("CNAME", "app.example.com", "edge.example.com", True),
        ("CNAME", "edge.example.com", "app.herokudns.com", False),
    )
    routed = ProbeOptions(connect_to=(parse_connect_to("origin.example.net:443:127.0.0.1:1"),))
    assert plan_targets(build_routes(snap), routed) == [
        ProbeTarget("shop.example.com", "origin.example.net", True, via_cname="origin.example.net"),
        ProbeTarget("app.example.com", "app.herokudns.com", True, via_cname="edge.example.com", resolve=True),
    ]
    assert all(t.resolve for t in plan_targets(build_routes(snap), ProbeOptions()))


# -- certificates (pure) --------------------------------------------------------------------


def _info(sans: tuple[str, ...], cn: str = "") -> CertInfo:
    now = dt.datetime.now(dt.UTC)
    return CertInfo("", "", cn, sans, now, now, False, "1", "00")


@pytest.mark.parametrize(
    ("sans", "cn", "hostname", "expected"),
    [
        (("www.example.com",), "", "WWW.example.com.", True),
        (("*.example.com",), "", "www.example.com", True),
        (("*.example.com",), "", "a.b.example.com", False),
        (("*.example.com",), "", "example.com", False),
        (("*.com",), "", "example.com", False),
        (("other.example.com",), "www.example.com", "www.example.com", False),  # CN ignored beside DNS SANs
        ((), "www.example.com", "www.example.com", True),
        (("192.0.2.1",), "www.example.com", "www.example.com", True),  # only IP SANs: CN counts
        (("192.0.2.1", "2001:db8::1"), "", "2001:DB8::1", True),
        (("192.0.2.1",), "", "192.0.2.2", False),
    ],
)
def test_hostname_matches(sans: tuple[str, ...], cn: str, hostname: str, expected: bool) -> None:
    assert hostname_matches(_info(sans, cn), hostname) is expected


def test_origin_ca_detection_needs_a_real_signature(fleet: OriginFleet) -> None:
    assert "CloudFlare Origin SSL Certificate Authority" in origin_ca_root().subject.rfc4514_string()
    sandbox_ca = x509.load_pem_x509_certificate(fleet.ca_file.read_bytes())
    other_ca = x509.load_pem_x509_certificate(fleet.untrusted_ca_file.read_bytes())
    valid = fetch_der(fleet, "valid")
    assert cert_info(valid).origin_ca is False  # the packaged root did not issue it
    assert cert_info(valid, origin_ca=sandbox_ca).origin_ca is True
    assert cert_info(valid, origin_ca=other_ca).origin_ca is False
    assert cert_info(fetch_der(fleet, "untrusted"), origin_ca=sandbox_ca).origin_ca is False


# -- probing the fleet ----------------------------------------------------------------------

VERIFY_FAILURES = {
    "self_signed": "self-signed certificate",
    "expired": "certificate has expired",
    "wrong_name": "Hostname mismatch, certificate is not valid for 'o4.example.com'",
    "untrusted": "unable to get local issuer certificate",
}


def test_valid_origin_passes_full_strict(results: dict[str, OriginProbe], fleet: OriginFleet) -> None:
    probe = results["valid"]
    assert (probe.tcp443.outcome, probe.tcp80.outcome) == (Outcome.OK, Outcome.OK)
    assert probe.reachable
    tls = probe.tls
    assert tls is not None and tls.handshake_ok
    assert (tls.verified, tls.verify_error, tls.alpn) == (True, "", "h2")
    assert tls.version == "TLSv1.3" and tls.cipher
    assert (tls.hostname_matches, tls.expired) == (True, False)
    assert probe.http2 is not None
    assert (probe.http2.outcome, probe.http2.status, probe.http2.http_version) == (Outcome.OK, 200, "HTTP/2")
    host443, port443 = fleet.endpoint("203.0.113.1", 443)
    host80, port80 = fleet.endpoint("203.0.113.1", 80)
    assert probe.connected_to == (f"{host443}:{port443}", f"{host80}:{port80}")


def test_cert_info_fields_match_the_certificate_served(results: dict[str, OriginProbe], fleet: OriginFleet) -> None:
    der = fetch_der(fleet, "valid")
    cert = x509.load_der_x509_certificate(der)
    leaf = results["valid"].tls.leaf  # type: ignore[union-attr]
    assert leaf is not None
    assert leaf.subject == "CN=o1.example.com,O=cfremedy sandbox origin"
    assert leaf.issuer == "CN=cfremedy sandbox CA,O=cfremedy sandbox"
    assert leaf.common_name == "o1.example.com"
    assert leaf.sans == ("o1.example.com",)
    assert leaf.not_before == cert.not_valid_before_utc and leaf.not_before.tzinfo == dt.UTC
    assert leaf.not_after == cert.not_valid_after_utc
    assert leaf.serial == format(cert.serial_number, "x")
    assert leaf.sha256 == hashlib.sha256(der).hexdigest()
    assert (leaf.self_signed, leaf.origin_ca) == (False, False)


@pytest.mark.parametrize("name", sorted(VERIFY_FAILURES))
def test_certificates_full_strict_rejects_are_still_described(results: dict[str, OriginProbe], name: str) -> None:
    tls = results[name].tls
    assert tls is not None
    assert tls.outcome is Outcome.OK  # the handshake itself works (Full, not strict, would pass)
    assert tls.verified is False
    assert VERIFY_FAILURES[name] in tls.verify_error
    assert tls.alpn == "h2" and tls.leaf is not None
    leaf = tls.leaf
    assert tls.hostname_matches is (name != "wrong_name")
    assert tls.expired is (name == "expired")
    assert leaf.self_signed is (name == "self_signed")
    assert leaf.sans == (
        ("wrong.invalid",) if name == "wrong_name" else (f"o{SPECS[name].address.rsplit('.', 1)[1]}.example.com",)
    )
    assert (leaf.issuer == leaf.subject) is (name == "self_signed")
    if name == "untrusted":
        assert leaf.issuer == "CN=cfremedy untrusted CA,O=cfremedy sandbox"
    if name == "expired":
        assert leaf.not_after < dt.datetime.now(dt.UTC)
    # HTTP/2 is judged on its own: an unverified origin can still speak it correctly.
    assert results[name].http2 is not None and results[name].http2.outcome is Outcome.OK  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "tcp443", "tls_outcome", "error"),
    [
        ("plain_http", Outcome.OK, Outcome.NOT_TLS, "did not answer with TLS"),
        ("tls_alert", Outcome.OK, Outcome.TLS_ALERT, "alert handshake failure"),
        ("silent", Outcome.OK, Outcome.TIMEOUT, f"no answer within {TIMEOUT:g} s"),
        ("reset", Outcome.OK, Outcome.RESET, "reset"),
        ("closed", Outcome.REFUSED, None, ""),
        ("drop", Outcome.TIMEOUT, None, ""),
    ],
)
def test_tls_port_failures(
    results: dict[str, OriginProbe], name: str, tcp443: Outcome, tls_outcome: Outcome | None, error: str
) -> None:
    probe = results[name]
    assert probe.tcp443.outcome is tcp443
    if tls_outcome is None:
        assert probe.tls is None
    else:
        assert probe.tls is not None
        assert probe.tls.outcome is tls_outcome
        assert error in probe.tls.error
        assert (probe.tls.verified, probe.tls.leaf, probe.tls.alpn) == (False, None, "")
    assert probe.http2 is None


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("valid", Outcome.OK),
        ("redirect", Outcome.OK),
        ("silent", Outcome.OK),
        ("closed", Outcome.REFUSED),
        ("drop", Outcome.TIMEOUT),
    ],
)
def test_port_80(results: dict[str, OriginProbe], name: str, outcome: Outcome) -> None:
    assert results[name].tcp80.outcome is outcome
    assert results[name].reachable is (name != "closed" and name != "drop")


@pytest.mark.parametrize(
    ("name", "outcome", "error"),
    [
        ("h2_http1_reply", Outcome.PROTOCOL_ERROR, "Server disconnected"),
        ("h2_goaway", Outcome.PROTOCOL_ERROR, "ConnectionTerminated error_code:1"),
        ("h2_rst_stream", Outcome.PROTOCOL_ERROR, "StreamReset stream_id:1"),
        ("h2_close", Outcome.PROTOCOL_ERROR, "Server disconnected"),
        ("h2_slow", Outcome.TIMEOUT, "no answer within"),
    ],
)
def test_broken_http2(results: dict[str, OriginProbe], name: str, outcome: Outcome, error: str) -> None:
    probe = results[name]
    assert probe.tls is not None and probe.tls.verified and probe.tls.alpn == "h2"
    assert probe.http2 is not None
    assert (probe.http2.outcome, probe.http2.status, probe.http2.http_version) == (outcome, None, "")
    assert error in probe.http2.error


def test_no_http2_request_when_alpn_picks_http1(results: dict[str, OriginProbe]) -> None:
    probe = results["http1_only"]
    assert probe.tls is not None and probe.tls.verified and probe.tls.alpn == "http/1.1"
    assert probe.http2 is None


def test_flexible_and_off_send_no_http2_request_and_keepalives_go_where_cloudflare_goes(fleet: OriginFleet) -> None:
    """Off/Flexible: Cloudflare speaks plain HTTP/1.1 to port 80, so an origin whose 443 offers
    (broken) h2 gets no HTTP/2 request; in Full the requests, the two-on-one-connection check
    included, go over TLS to 443."""
    plain, tls = dataclasses.replace(target("h2_goaway"), scheme="http"), target("h2_goaway")
    probed = asyncio.run(probe_origins([plain, tls], fleet_options(fleet)))
    flexible, full = probed.probes
    assert flexible.tls is not None and flexible.tls.alpn == "h2" and flexible.http2 is None
    assert full.http2 is not None and full.http2.outcome is Outcome.PROTOCOL_ERROR
    for probe, scheme, port in ((flexible, "http", 80), (full, "https", 443)):
        assert probe.response is not None and (probe.response.scheme, probe.response.port) == (scheme, port)
        assert probe.keepalive is not None and probe.keepalive.reused
        assert (probe.keepalive.scheme, probe.keepalive.port) == (scheme, port)


def test_ipv6_origin_through_bracketed_rule(results: dict[str, OriginProbe], fleet: OriginFleet) -> None:
    probe = results["v6"]
    assert probe.address == "2001:db8::20"
    assert probe.tls is not None and probe.tls.verified
    assert probe.http2 is not None and probe.http2.ok
    assert probe.connected_to[0] == "{}:{}".format(*fleet.endpoint("2001:db8::20", 443))


def test_dns_only_target_gets_tls_only(fleet: OriginFleet) -> None:
    started = time.perf_counter()
    probed = asyncio.run(probe_origins([target("dns_only", proxied=False)], fleet_options(fleet)))
    elapsed = time.perf_counter() - started
    (probe,) = probed.probes
    assert probe.proxied is False
    assert probe.tls is not None and probe.tls.verified and probe.tls.alpn == "h2"
    assert probe.tcp80.outcome is Outcome.SKIPPED  # its port 80 drops: we never waited on it
    assert probe.http2 is None
    assert len(probe.connected_to) == 1
    assert elapsed < TIMEOUT


def test_cname_leaving_the_zone_goes_through_connect_to(fleet: OriginFleet) -> None:
    snap = snapshot(("CNAME", "shop.example.com", "origin.example.net", True))
    rules = tuple(
        parse_connect_to("origin.example.net:{}:{}:{}".format(port, *fleet.endpoint("192.0.2.50", port)))
        for port in (443, 80)
    )
    options = fleet_options(fleet, connect_to=rules)
    targets = plan_targets(build_routes(snap), options)
    assert targets == [ProbeTarget("shop.example.com", "origin.example.net", True, via_cname="origin.example.net")]
    (probe,) = asyncio.run(probe_origins(targets, options)).probes
    assert (probe.hostname, probe.address, probe.via_cname) == (
        "shop.example.com",
        "origin.example.net",
        "origin.example.net",
    )
    assert probe.tcp80.ok
    assert probe.tls is not None and probe.tls.verified and probe.tls.hostname_matches
    assert probe.http2 is not None and probe.http2.ok


def test_cname_leaving_the_zone_is_resolved_at_probe_time(fleet: OriginFleet) -> None:
    """Resolved by a real DNS server on loopback (never this machine's resolvers): the probe asks
    it, then connects to the address it gave."""
    snap = snapshot(("CNAME", "app.example.com", "origin.provider.example", True))
    plain = ProbeOptions()
    assert plan_targets(build_routes(snap), plain) == [
        ProbeTarget(
            "app.example.com", "origin.provider.example", True, via_cname="origin.provider.example", resolve=True
        )
    ]
    answers = parse_scenario(
        {
            "dns": [
                {"name": "origin.provider.example", "addresses": ["127.0.0.1"]},
                {"name": "gone.provider.example", "answer": "nxdomain"},
            ]
        }
    ).dns
    with DnsServer(answers) as dns_server:
        # Rules keyed on the *resolved* address send it to the stand-in for 192.0.2.50.
        rules = tuple(
            parse_connect_to("127.0.0.1:{}:{}:{}".format(port, *fleet.endpoint("192.0.2.50", port)))
            for port in (443, 80)
        )
        options = dataclasses.replace(fleet_options(fleet, connect_to=rules), resolver=dns_server.address)
        targets = [
            ProbeTarget(
                "shop.example.com", "origin.provider.example", True, via_cname="origin.provider.example", resolve=True
            ),
            ProbeTarget("old.example.com", "gone.provider.example", True, resolve=True),
        ]
        results = asyncio.run(probe_origins(targets, options))
        asked = sorted({q.name for q in dns_server.queries})
        resolver = f"resolver {dns_server.address}"
    probes = {p.address: p for p in results.probes}
    probe = probes["127.0.0.1"]
    assert (probe.hostname, probe.via_cname) == ("shop.example.com", "origin.provider.example")
    assert probe.tcp80.ok and probe.tls is not None and probe.tls.verified
    assert probe.http2 is not None and probe.http2.ok
    # the name that does not exist is no probe at all, only its resolution: origin_dns judges it
    assert "gone.provider.example" not in probes
    answers_by_name = {r.name: r for r in results.resolutions}
    assert answers_by_name["gone.provider.example"].status == "nxdomain"
    assert answers_by_name["origin.provider.example"].addresses == ("127.0.0.1",)
    assert answers_by_name["gone.provider.example"].resolver == resolver
    assert asked == ["gone.provider.example", "origin.provider.example"]


def test_only_connect_to_never_dials_or_resolves_uncovered_destinations(fleet: OriginFleet) -> None:
    """The sandbox's guarantee: with `only_connect_to`, no rule means no packet (and no DNS)."""
    host, port = fleet.endpoint(SPECS["valid"].address, 443)
    options = ProbeOptions(
        timeout=TIMEOUT,
        origin_ca=(fleet.ca_file,),
        only_connect_to=True,
        connect_to=(parse_connect_to(f"o1.example.com:443:{host}:{port}"),),  # 443 only
    )
    targets = [
        ProbeTarget("o1.example.com", "203.0.113.1", True),
        ProbeTarget("www.example.com", "198.51.100.9", True),  # no rule at all
        ProbeTarget("app.example.com", "localhost", True, via_cname="localhost", resolve=True),
    ]
    started = time.perf_counter()
    covered, uncovered, unresolved = asyncio.run(probe_origins(targets, options)).probes
    assert time.perf_counter() - started < TIMEOUT
    assert covered.tcp443.ok and covered.tls is not None and covered.tls.verified
    assert covered.http2 is not None and covered.http2.ok
    assert covered.tcp80.outcome is Outcome.SKIPPED and "203.0.113.1:80 not probed" in covered.tcp80.error
    assert covered.connected_to == (f"{host}:{port}",)
    assert (uncovered.tcp443.outcome, uncovered.tcp80.outcome) == (Outcome.SKIPPED, Outcome.SKIPPED)
    assert (uncovered.tls, uncovered.http2, uncovered.connected_to) == (None, None, ())
    assert unresolved.address == "localhost"  # not 127.0.0.1: it was never resolved
    assert unresolved.tcp443.outcome is Outcome.SKIPPED and "not resolved" in unresolved.tcp443.error


# -- trust ----------------------------------------------------------------------------------


def test_system_trust_store_is_really_used(fleet: OriginFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenSSL reads SSL_CERT_FILE when the default verify paths load: the sandbox CA stands in
    for the system store, with no --origin-ca at all."""
    probe_target = [target("valid")]

    def verified(**kwargs: object) -> tuple[bool, str]:
        (probe,) = asyncio.run(probe_origins(probe_target, fleet_options(fleet, origin_ca=(), **kwargs))).probes
        assert probe.tls is not None and probe.tls.handshake_ok
        return probe.tls.verified, probe.tls.verify_error

    monkeypatch.setenv("SSL_CERT_FILE", str(fleet.ca_file))
    assert verified(trust_system=True) == (True, "")
    assert verified(trust_system=False) == (False, "unable to get local issuer certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(fleet.untrusted_ca_file))
    assert verified(trust_system=True) == (False, "unable to get local issuer certificate")


def test_bad_origin_ca_files_are_configuration_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for path, message in ((missing, "no such file"), (garbage, "not a readable PEM CA certificate")):
        with pytest.raises(ProbeConfigError, match=message) as caught:
            asyncio.run(probe_origins([], ProbeOptions(origin_ca=(path,))))
        assert str(path) in str(caught.value)


def test_probe_options_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ProbeOptions(timeout=0)
    with pytest.raises(ValueError, match="concurrency"):
        ProbeOptions(concurrency=0)


# -- concurrency ----------------------------------------------------------------------------


def test_dead_origins_cost_timeout_per_batch_not_per_target(fleet: OriginFleet) -> None:
    drop_host, drop_port = fleet.endpoint(SPECS["drop"].address, 443)
    # One rule with an empty host sends every probe, both ports, to the full accept queue.
    options = ProbeOptions(timeout=0.5, concurrency=20, connect_to=(parse_connect_to(f"::{drop_host}:{drop_port}"),))
    targets = [ProbeTarget(f"h{i}.example.com", f"198.51.100.{i}", True) for i in range(40)]
    started = time.perf_counter()
    probed = asyncio.run(probe_origins(targets, options))
    elapsed = time.perf_counter() - started
    assert {(p.tcp443.outcome, p.tcp80.outcome) for p in probed.probes} == {(Outcome.TIMEOUT, Outcome.TIMEOUT)}
    assert [p.address for p in probed.probes] == [t.address for t in targets]
    assert {p.retried for p in probed.probes} == {("tcp443", "tcp80")}  # each retried once, on its own
    # Two batches of 20 (the semaphore holds), ports in parallel; then, the first pass over, the
    # retries of connects that timed out, under the same cap: two more batches.
    assert 1.9 < elapsed < 3.5


def test_empty_target_list() -> None:
    assert asyncio.run(probe_origins([], ProbeOptions())) == ProbeResults()


# -- real addresses in a private network namespace ------------------------------------------

NETNS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, subprocess
    from cfremedy.models import DnsRecord, Zone, ZoneSnapshot
    from cfremedy.probes.options import ProbeOptions
    from cfremedy.probes.runner import probe_origins
    from cfremedy.probes.targets import plan_targets
    from cfremedy.routes import build_routes
    from cfremedy.sandbox.origins import OriginFleet
    from cfremedy.sandbox.scenario import OriginSpec

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for address in ("203.0.113.10/32", "203.0.113.11/32", "203.0.113.12/32"):
        subprocess.run(["ip", "addr", "add", address, "dev", "lo"], check=True)
    subprocess.run(["ip", "-6", "addr", "add", "2001:db8::10/128", "dev", "lo", "nodad"], check=True)
    specs = [
        OriginSpec(address="203.0.113.10", hostnames=("www.example.com",)),
        OriginSpec(address="203.0.113.11", hostnames=("closed.example.com",), https="closed", http="closed"),
        OriginSpec(address="203.0.113.12", hostnames=("drop.example.com",), https="drop", http="drop"),
        OriginSpec(address="2001:db8::10", hostnames=("www.example.com",), h2="goaway"),
    ]
    records = [
        DnsRecord("r1", "A", "www.example.com", "203.0.113.10", proxied=True),
        DnsRecord("r2", "AAAA", "www.example.com", "2001:db8::10", proxied=True),
        DnsRecord("r3", "A", "closed.example.com", "203.0.113.11", proxied=True),
        DnsRecord("r4", "A", "drop.example.com", "203.0.113.12", proxied=True),
        DnsRecord("r5", "A", "lost.example.com", "198.51.100.7", proxied=True),
    ]
    snapshot = ZoneSnapshot(zone=Zone("z", "example.com", "free"), records=tuple(records))
    with OriginFleet(specs, real_addresses=True) as fleet:
        assert fleet.connect_to() == []
        assert fleet.endpoint("203.0.113.10", 443) == ("203.0.113.10", 443)
        options = ProbeOptions(timeout=0.5, origin_ca=(fleet.ca_file,))
        results = asyncio.run(probe_origins(plan_targets(build_routes(snapshot), options), options))
    print(json.dumps([
        {"address": p.address, "tcp443": p.tcp443.outcome.value, "tcp80": p.tcp80.outcome.value,
         "error": p.tcp443.error,
         "verified": bool(p.tls and p.tls.verified), "http2": p.http2.outcome.value if p.http2 else None,
         "connected_to": list(p.connected_to)}
        for p in results.probes
    ]))
    """
)


def _no_udp_sockets(real: type[socket.socket]) -> type[socket.socket]:
    """`socket.socket`, except that UDP sockets fail as they do when the process is out of file
    descriptors (EMFILE under a high `--concurrency`)."""

    class Exhausted(real):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, type: int = -1, *args: object, **kwargs: object) -> None:  # noqa: A002
            if type == socket.SOCK_DGRAM:
                raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
            super().__init__(family, type, *args, **kwargs)

    return Exhausted


def test_no_file_descriptor_for_the_route_lookup_keeps_the_connect_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # The connect fails with "network unreachable" and the UDP socket that asks our own routing
    # table cannot even be created: that is no crash, and says nothing either way, so the
    # connect's own classification stands.
    async def unreachable(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))

    async def run() -> tuple[str, tuple[StepResult, object]]:
        loop = asyncio.get_running_loop()
        with monkeypatch.context() as patched:
            patched.setattr(socket, "socket", _no_udp_sockets(socket.socket))
            patched.setattr(loop, "create_connection", unreachable)
            return await no_local_route("127.0.0.1", 9), await connect("127.0.0.1", 9, TIMEOUT)

    local, (result, connection) = asyncio.run(run())
    assert local == ""
    assert connection is None
    assert result.outcome is Outcome.UNREACHABLE and "Network is unreachable" in result.error


@pytest.mark.netns
@requires_netns
def test_real_addresses_in_a_private_namespace(tmp_path: Path) -> None:
    script = tmp_path / "netns_probe.py"
    script.write_text(NETNS_SCRIPT)
    done = subprocess.run(["unshare", "-n", sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    probes = {p["address"]: p for p in json.loads(done.stdout)}
    assert probes["203.0.113.10"] == {
        "address": "203.0.113.10",
        "tcp443": "ok",
        "tcp80": "ok",
        "error": "",
        "verified": True,
        "http2": "ok",
        "connected_to": ["203.0.113.10:443", "203.0.113.10:80"],
    }
    assert probes["2001:db8::10"]["verified"] is True
    assert probes["2001:db8::10"]["http2"] == "protocol_error"
    assert probes["2001:db8::10"]["connected_to"] == ["[2001:db8::10]:443", "[2001:db8::10]:80"]
    assert (probes["203.0.113.11"]["tcp443"], probes["203.0.113.11"]["tcp80"]) == ("refused", "refused")
    assert (probes["203.0.113.12"]["tcp443"], probes["203.0.113.12"]["tcp80"]) == ("timeout", "timeout")
    # No route to it in a namespace with only loopback: this machine's own routing table failed,
    # which says nothing about Cloudflare's route to it (not a 523): a probe error.
    lost = probes["198.51.100.7"]
    assert (lost["tcp443"], lost["tcp80"]) == ("error", "error")
    assert lost["error"].startswith("this machine has no route to 198.51.100.7 ([Errno 101] Network is unreachable)")
