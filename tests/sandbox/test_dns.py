"""The sandbox's DNS server, queried over real UDP and TCP with dnspython's own resolver.

Each answer kind a scenario's `[[dns]]` can ask for (NXDOMAIN, NODATA, SERVFAIL, no reply, A
and AAAA records) is checked the way a client sees it: through `dns.resolver.Resolver`
pointed at the server, and for the wire details (AA, TTL, TC, TCP) through `dns.query`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from cfremedy.sandbox.dns import DnsServer
from cfremedy.sandbox.scenario import parse_scenario
from cfremedy.sandbox.session import SandboxSession

ANSWERS = [
    {"name": "gone.example.net", "answer": "nxdomain"},
    {"name": "empty.example.net", "answer": "nodata"},
    {"name": "broken.example.net", "answer": "servfail"},
    {"name": "slow.example.net", "answer": "timeout"},
    {"name": "app.example.net", "addresses": ["192.0.2.10", "192.0.2.11", "2001:db8::10"]},
    {"name": "v4only.example.net.", "addresses": ["192.0.2.20"]},
    {"name": "v6only.example.net", "addresses": ["2001:db8::20"]},
    {"name": "*.wild.example.net", "addresses": ["192.0.2.30"]},
    {"name": "exact.wild.example.net", "answer": "nxdomain"},
    {"name": "big.example.net", "addresses": [f"192.0.2.{i}" for i in range(1, 120)]},
]


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(parse_scenario({"dns": ANSWERS}).dns) as running:
        yield running


@pytest.fixture
def resolver(server: DnsServer) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    resolver.timeout = 0.5
    resolver.lifetime = 2.0
    resolver.cache = None
    return resolver


def addresses(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> list[str]:
    return sorted(r.to_text() for r in resolver.resolve(name, rdtype))


def test_address_property_and_loopback_only(server: DnsServer) -> None:
    assert server.address == f"127.0.0.1:{server.port}"
    with pytest.raises(ValueError, match="loopback"):
        DnsServer((), host="0.0.0.0")
    with pytest.raises(RuntimeError, match="not running"):
        _ = DnsServer(()).address


def test_addresses_answer_a_and_aaaa(resolver: dns.resolver.Resolver) -> None:
    assert addresses(resolver, "app.example.net", "A") == ["192.0.2.10", "192.0.2.11"]
    assert addresses(resolver, "app.example.net", "AAAA") == ["2001:db8::10"]
    assert addresses(resolver, "APP.Example.NET.", "A") == ["192.0.2.10", "192.0.2.11"]  # names fold case
    answer = resolver.resolve("v4only.example.net", "A")
    assert answer.rrset is not None and answer.rrset.ttl == 60


@pytest.mark.parametrize(("name", "rdtype"), [("v4only.example.net", "AAAA"), ("v6only.example.net", "A"),
                                              ("app.example.net", "MX"), ("empty.example.net", "A"),
                                              ("empty.example.net", "AAAA")])  # fmt: skip
def test_nodata(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve(name, rdtype)


@pytest.mark.parametrize("name", ["gone.example.net", "not-in-the-scenario.example", "exact.wild.example.net"])
def test_nxdomain(resolver: dns.resolver.Resolver, name: str) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve(name, "A")


def test_wildcards_cover_names_below(resolver: dns.resolver.Resolver) -> None:
    assert addresses(resolver, "a.b.wild.example.net", "A") == ["192.0.2.30"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("wild.example.net", "A")  # the wildcard's own parent is not covered


def test_servfail(server: DnsServer, resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(dns.resolver.NoNameservers) as err:
        resolver.resolve("broken.example.net", "A")
    assert "SERVFAIL" in str(err.value)
    response = dns.query.udp(dns.message.make_query("broken.example.net", "A"), "127.0.0.1", port=server.port,
                             timeout=2)  # fmt: skip
    assert response.rcode() == dns.rcode.SERVFAIL


def test_timeout_sends_no_reply(server: DnsServer, resolver: dns.resolver.Resolver) -> None:
    resolver.lifetime = 0.6
    server.clear_log()
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver.resolve("slow.example.net", "A")
    assert time.monotonic() - started >= 0.5
    logged = server.queries
    assert logged and {(q.name, q.rdtype, q.answer) for q in logged} == {("slow.example.net", "A", "timeout")}
    with pytest.raises(dns.exception.Timeout):  # over TCP too: the connection stays silent
        dns.query.tcp(dns.message.make_query("slow.example.net", "A"), "127.0.0.1", port=server.port, timeout=0.3)


def test_answers_are_authoritative_and_tcp_works(server: DnsServer) -> None:
    query = dns.message.make_query("app.example.net", "A")
    response = dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=2)
    assert response.flags & dns.flags.AA and response.id == query.id
    assert sorted(r.to_text() for r in response.answer[0]) == ["192.0.2.10", "192.0.2.11"]
    assert server.queries[-1].transport == "tcp"


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp(
    server: DnsServer, resolver: dns.resolver.Resolver
) -> None:
    query = dns.message.make_query("big.example.net", "A", use_edns=False)
    udp = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    assert udp.flags & dns.flags.TC and udp.answer == []
    assert len(resolver.resolve("big.example.net", "A")) == 119  # the resolver retries over TCP


def test_garbage_gets_formerr_and_other_opcodes_notimp(server: DnsServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x12\x34\x01", ("127.0.0.1", server.port))
        reply = dns.message.from_wire(sock.recv(512))
    assert reply.id == 0x1234 and reply.rcode() == dns.rcode.FORMERR
    notify = dns.message.make_query("app.example.net", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = dns.query.udp(notify, "127.0.0.1", port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOTIMP


def test_the_session_starts_it_and_names_it_in_the_environment() -> None:
    scenario = parse_scenario({"tokens": [{"value": "tok"}], "dns": [{"name": "gone.example", "answer": "nxdomain"}]})
    with SandboxSession(scenario) as session:
        env = session.env()
        assert env["CFREMEDY_RESOLVER"] == session.dns.address
        host, port = env["CFREMEDY_RESOLVER"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 2.0
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("gone.example", "A")
    with pytest.raises(RuntimeError):
        _ = session.dns.address  # stopped with the session
