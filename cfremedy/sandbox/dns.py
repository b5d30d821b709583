"""A small authoritative DNS server on loopback that answers what a scenario's `[[dns]]` says.

cfremedy resolves names itself to tell a broken DNS answer (NXDOMAIN, no address, SERVFAIL, a
resolver that never replies) from a broken origin. Tests and the demo point it at this server
(`SandboxSession.env()` sets `CFREMEDY_RESOLVER`), so every answer kind is exercised over the
real protocol, UDP and TCP on one port, without a packet leaving the machine.

Answers, per `DnsAnswerSpec.answer`: `nxdomain` -> NXDOMAIN; `nodata` -> NOERROR with no
record; `servfail` -> SERVFAIL; `timeout` -> no reply at all (the query is still logged);
`addresses` -> the A records for an A query, the AAAA records for an AAAA query, both for ANY,
NOERROR with no record (NODATA) when the name has no address of the asked family or for any
other type. A name no entry names, exactly or through a `*` label (`*.example.net` covers
`a.example.net`, an exact entry wins), answers NXDOMAIN. Every answer is authoritative (AA),
records have a TTL of 60 seconds; an opcode other than QUERY answers NOTIMP, a class other than
IN REFUSED, a query that does not parse FORMERR when its id can be read (else nothing). A UDP
answer that does not fit the client's payload size is sent truncated (TC), so the client
retries over TCP. Queries and answers are built and parsed with dnspython; the servers are
the standard library's `socketserver`, in daemon threads like the other sandbox servers.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from cfremedy.sandbox.loopback import is_loopback
from cfremedy.sandbox.scenario import DnsAnswerSpec

TTL = 60
UDP_PAYLOAD = 512  # what a client without EDNS accepts over UDP


@dataclass(frozen=True)
class DnsQuery:
    """One query the server received: the name asked (lower case, no final dot), the type's
    mnemonic ("A", "AAAA", ...), the transport ("udp" or "tcp"), and what it was answered
    (the rcode's name, or "timeout" when no reply was sent)."""

    name: str
    rdtype: str
    transport: str
    answer: str
    at: float


class DnsServer:
    """The DNS server for one scenario's `[[dns]]` entries; start()/stop() or a context manager."""

    kind = "sandbox DNS server"

    def __init__(self, answers: Iterable[DnsAnswerSpec], host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_loopback(host):
            raise ValueError(f"the {self.kind} binds to loopback only, not {host!r}")
        self._host = host
        self._port = port
        self._answers = {spec.name: spec for spec in answers}
        self._udp: _UdpServer | None = None
        self._tcp: _TcpServer | None = None
        self._threads: list[threading.Thread] = []
        self._log: list[DnsQuery] = []
        self._log_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._udp is not None:
            return self
        self._udp, self._tcp = self._bind()
        for server, transport in ((self._udp, "udp"), (self._tcp, "tcp")):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.01},  # stop() returns within ~10 ms
                name=f"{self.kind} {transport}:{self.port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self) -> tuple[_UdpServer, _TcpServer]:
        """UDP and TCP on one port; with port 0, retry when the port UDP got is taken for TCP."""
        for _ in range(50):
            udp = _UdpServer((self._host, self._port), _UdpHandler, self)
            try:
                tcp = _TcpServer((self._host, udp.server_address[1]), _TcpHandler, self)
            except OSError:
                udp.server_close()
                if self._port:
                    raise
                continue
            return udp, tcp
        raise OSError(f"the {self.kind} found no port free for both UDP and TCP")

    def stop(self) -> None:
        udp, tcp, self._udp, self._tcp = self._udp, self._tcp, None, None
        for server in (udp, tcp):
            if server is not None:
                server.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:  # wake TCP handlers waiting for the next query
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for server in (udp, tcp):
            if server is not None:
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._udp is None:
            raise RuntimeError(f"the {self.kind} is not running; call start() first")
        return int(self._udp.server_address[1])

    @property
    def address(self) -> str:
        """Where the server listens, as `CFREMEDY_RESOLVER` takes it: 127.0.0.1:PORT ([::1]:PORT)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    # -- the log -----------------------------------------------------------------------------------

    @property
    def queries(self) -> list[DnsQuery]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # -- answering -------------------------------------------------------------------------------

    def reply(self, wire: bytes, transport: str, max_size: int = 65535) -> bytes | None:
        """The response to one query in wire format, or None to send nothing."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _format_error(wire)
        response = self.respond(query, transport)
        if response is None:
            return None
        if transport == "udp":
            max_size = max(UDP_PAYLOAD, query.payload) if query.edns >= 0 else UDP_PAYLOAD
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=max_size)

    def respond(self, query: dns.message.Message, transport: str = "udp") -> dns.message.Message | None:
        """The response to a parsed query (None: no reply), logged."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        # An RRset without rdatas (what a question is) is falsy: compare with None.
        question = query.question[0] if query.question else None
        name = question.name.to_text(omit_final_dot=True).lower() if question is not None else ""
        rdtype = dns.rdatatype.to_text(question.rdtype) if question is not None else ""
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif question is None:
            response.set_rcode(dns.rcode.FORMERR)
        elif question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            spec = self._lookup(name)
            if spec is not None and spec.answer == "timeout":
                self._record(name, rdtype, transport, "timeout")
                return None
            if spec is None or spec.answer == "nxdomain":
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif spec.answer == "servfail":
                response.set_rcode(dns.rcode.SERVFAIL)
            elif spec.answer == "addresses":
                response.answer.extend(_address_rrsets(question.name, question.rdtype, spec.addresses))
            # "nodata": NOERROR and nothing else
        self._record(name, rdtype, transport, dns.rcode.to_text(response.rcode()))
        return response

    def _lookup(self, name: str) -> DnsAnswerSpec | None:
        """The entry for a name: its own, else the closest `*` entry above it."""
        spec = self._answers.get(name)
        labels = name.split(".")
        for start in range(1, len(labels)):
            if spec is not None:
                return spec
            spec = self._answers.get("*." + ".".join(labels[start:]))
        return spec

    def _record(self, name: str, rdtype: str, transport: str, answer: str) -> None:
        with self._log_lock:
            self._log.append(DnsQuery(name, rdtype, transport, answer, time.time()))

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def _address_rrsets(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, addresses: Sequence[str]
) -> list[dns.rrset.RRset]:
    """The A and/or AAAA record sets a query of this type gets (none: NODATA)."""
    families: tuple[dns.rdatatype.RdataType, ...] = {
        dns.rdatatype.A: (dns.rdatatype.A,),
        dns.rdatatype.AAAA: (dns.rdatatype.AAAA,),
        dns.rdatatype.ANY: (dns.rdatatype.A, dns.rdatatype.AAAA),
    }.get(rdtype, ())
    rrsets = []
    for family in families:
        wanted = [a for a in addresses if (":" in a) == (family == dns.rdatatype.AAAA)]
        if wanted:
            rrsets.append(dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, family, wanted))
    return rrsets


def _format_error(wire: bytes) -> bytes | None:
    """FORMERR for a query that does not parse, if at least its id can be read."""
    if len(wire) < 2:
        return None
    (query_id,) = struct.unpack("!H", wire[:2])
    response = dns.message.Message(id=query_id)
    response.flags = dns.flags.QR
    response.set_rcode(dns.rcode.FORMERR)
    return response.to_wire()


# -- the servers -----------------------------------------------------------------------------------


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_UdpHandler], owner: DnsServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that went away is routine, and nothing here may reach a terminal."""


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[_TcpHandler], owner: DnsServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent, as above."""


class _UdpHandler(socketserver.BaseRequestHandler):
    """One datagram, one answer (or none)."""

    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        answer = self.server.owner.reply(data, "udp")
        if answer is not None:
            sock.sendto(answer, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    """Length-prefixed queries on one connection until the client closes it (RFC 7766)."""

    server: _TcpServer
    timeout = 30.0  # an idle connection is closed after this

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(self.timeout)
        owner = self.server.owner
        owner._track(connection, add=True)
        try:
            while True:
                header = _read_exactly(connection, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                wire = _read_exactly(connection, length)
                if wire is None:
                    return
                answer = owner.reply(wire, "tcp")
                if answer is not None:
                    connection.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            return
        finally:
            owner._track(connection, add=False)


def _read_exactly(connection: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data
