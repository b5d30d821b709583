"""Real origin servers on loopback, each misbehaving the way one `OriginSpec` says.

The probes are only trustworthy if they are tested against sockets that fail the way real
origins fail: a refused port, a SYN that is never answered, a TLS handshake aborted by an
alert, an h2 server that breaks HTTP/2. Mocks of `ssl` or `socket` would test our assumptions
about those failures instead of the failures themselves, so every behaviour here is a real
listener driven by one asyncio event loop in a background thread (the caller's own loop, if
any, stays free for the probes).

Each origin's HTTP/1.1 pages follow `OriginSpec.response` (gzip done right or wrong, a header
block over 16 KB, no status line, no bytes at all) and may close the connection after every
answer (`keepalive = false`); its TLS port can be limited to old versions or chosen ciphers
(`tls_max_version`, `tls_ciphers`), reject handshakes that name a server (`sni = "reject"`),
and present a certificate that expires in a few days (`cert_days_left`) or that names the
fleet's OCSP responder (`ocsp`), which answers good or revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gzip
import ipaddress
import re
import select
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import warnings
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from cfremedy.sandbox.certs import CERT_BEHAVIOURS, LeafFiles, SandboxPki
from cfremedy.sandbox.ocsp import OcspResponder
from cfremedy.sandbox.scenario import OriginSpec

HTTPS_PORT = 443
HTTP_PORT = 80

# A TLS record carrying a fatal handshake_failure alert: what an origin whose TLS configuration
# shares nothing with the client (no common cipher, no common version) answers a ClientHello with.
HANDSHAKE_FAILURE_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])

# How long a finished connection may wait for the peer's TLS close_notify before it is aborted:
# asyncio's own default is 30 s, which would stall `stop()` on a peer that vanished.
_CLOSE_GRACE = 2.0
_MAX_HEAD = 64 * 1024
# The start of an HTTP request line: a method token (possibly still arriving) then a space.
_REQUEST_START = re.compile(rb"[A-Z]{1,20}(?: |$)")

# `response = "huge_headers"`: this many Set-Cookie headers of about 1 KB each, a header block
# of some 25 KB, well over the 16 KB Cloudflare accepts from an origin.
_HUGE_COOKIES = 24
_COOKIE_VALUE = "v" * 1000
# `response = "gzip_corrupt"`: a valid gzip member header (magic, deflate, no flags, mtime 0,
# unknown OS), then a deflate block of the reserved type 3, which every inflater rejects
# ("invalid block type"), then bytes that are nothing at all.
_CORRUPT_GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x07" + bytes(range(0x80, 0xC0))
_TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _strip_port(host: str) -> str:
    """The Host header without its port: a redirect to HTTPS must not keep ":80"."""
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class _BadRequest(Exception):
    """The bytes on the connection are not HTTP/1.x (e.g. a TLS ClientHello on a plain port)."""


async def _read_head(reader: asyncio.StreamReader, buffer: bytearray) -> bytes | None:
    """Read one request head; None on a clean EOF.

    Checks the bytes as they arrive instead of waiting for CRLFCRLF, so a client that opened
    a TLS handshake against a plain-HTTP port gets its 400 at once (as nginx answers) rather
    than hanging until its own timeout.
    """
    while b"\r\n\r\n" not in buffer:
        if buffer and not _REQUEST_START.match(bytes(buffer[:21])):
            raise _BadRequest
        if len(buffer) > _MAX_HEAD:
            raise _BadRequest
        chunk = await reader.read(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


async def _discard_body(reader: asyncio.StreamReader, buffer: bytearray, length: int) -> None:
    taken = min(length, len(buffer))
    del buffer[:taken]
    if length > taken:
        await reader.readexactly(length - taken)


def _response(
    status: str | None,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes,
    *,
    keep_alive: bool,
    content_length: int | None = None,
) -> bytes:
    """An HTTP/1.1 response; `status=None` leaves out the status line (a broken origin)."""
    fields = list(headers.items()) if isinstance(headers, dict) else headers
    lines = [f"HTTP/1.1 {status}"] if status is not None else []
    lines += [f"{k}: {v}" for k, v in fields]
    length = len(body) if content_length is None else content_length
    lines += [f"Content-Length: {length}", f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _body(spec: OriginSpec) -> bytes:
    """The origin's page: its address first, then a few hundred repetitive bytes, so that
    gzip (done right or wrong) really shrinks it."""
    lines = [f"cfremedy sandbox origin {spec.address}"]
    lines += [f"line {n}: this page stands in for the content of the origin server." for n in range(8)]
    return ("\n".join(lines) + "\n").encode()


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value lists gzip (or x-gzip) with a non-zero q-value."""
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        if coding.lower() not in ("gzip", "x-gzip"):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _page(spec: OriginSpec, request_headers: dict[str, str], *, keep_alive: bool) -> tuple[bytes, bool]:
    """The bytes answering one page request as `spec.response` says, and whether the
    connection may stay open after them."""
    mode = spec.response
    body = _body(spec)
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Vary", "Accept-Encoding")]
    gzip_ok = _accepts_gzip(request_headers.get("accept-encoding", ""))
    if mode == "empty_reply":
        return b"", False
    if mode == "no_status_line":  # nothing after it could be framed, so close
        return _response(None, headers, body, keep_alive=False), False
    if mode == "gzip_bad_length" and gzip_ok:
        # Declares the uncompressed size, sends the smaller gzip body, then closes: the client
        # is left waiting for bytes that will never come.
        data = _response(
            "200 OK",
            [*headers, ("Content-Encoding", "gzip")],
            gzip.compress(body, mtime=0),
            keep_alive=False,
            content_length=len(body),
        )
        return data, False
    if mode == "gzip_corrupt" and gzip_ok:
        data = _response("200 OK", [*headers, ("Content-Encoding", "gzip")], _CORRUPT_GZIP, keep_alive=keep_alive)
        return data, keep_alive
    if mode == "huge_headers":
        headers += [
            ("Set-Cookie", f"cfr_session_{n:02d}={_COOKIE_VALUE}; Path=/; HttpOnly") for n in range(_HUGE_COOKIES)
        ]
    if gzip_ok:
        body = gzip.compress(body, mtime=0)
        headers.append(("Content-Encoding", "gzip"))
    return _response("200 OK", headers, body, keep_alive=keep_alive), keep_alive


async def _serve_http1(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: OriginSpec, *, redirect: bool
) -> None:
    buffer = bytearray()
    while True:
        try:
            head = await _read_head(reader, buffer)
        except _BadRequest:
            writer.write(_response("400 Bad Request", {}, b"Bad Request\n", keep_alive=False))
            await writer.drain()
            return
        if head is None:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            writer.write(_response("400 Bad Request", {}, b"Bad Request\n", keep_alive=False))
            await writer.drain()
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = spec.keepalive and version == "HTTP/1.1" and "close" not in connection
        if "chunked" in headers.get("transfer-encoding", "").lower():
            keep_alive = False  # we never read chunked bodies; closing keeps framing honest
        elif headers.get("content-length", "0").isdigit():
            await _discard_body(reader, buffer, int(headers.get("content-length", "0")))
        if spec.delay_seconds:
            await asyncio.sleep(spec.delay_seconds)
        host = headers.get("host") or (spec.hostnames[0] if spec.hostnames else _bracket(spec.address))
        if redirect:
            location = f"https://{_strip_port(host)}{target}"
            data = _response("301 Moved Permanently", {"Location": location}, b"", keep_alive=keep_alive)
        else:
            data, keep_alive = _page(spec, headers, keep_alive=keep_alive)
        if method == "HEAD" and b"\r\n\r\n" in data:
            data = data[: data.index(b"\r\n\r\n") + 4]
        writer.write(data)
        await writer.drain()
        if not keep_alive:
            return


class _FirstRequest:
    """Whether an origin has had its first HTTP/2 request yet (`h2 = "stall_first"`)."""

    seen = False


async def _serve_h2(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: OriginSpec, first: _FirstRequest
) -> None:
    """HTTP/2 after ALPN chose h2, correct or broken as `spec.h2` says (the 520 cases)."""
    mode = spec.h2
    if mode == "close":
        return
    if mode == "http1_reply":
        if await reader.read(65536):
            writer.write(_response("200 OK", {"Content-Type": "text/plain"}, b"ok\n", keep_alive=False))
            await writer.drain()
        return

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    responders: set[asyncio.Task[None]] = set()

    async def respond(stream_id: int) -> None:
        if spec.delay_seconds:
            await asyncio.sleep(spec.delay_seconds)
        body = _body(spec)
        with contextlib.suppress(h2.exceptions.H2Error):  # the client may have reset the stream
            conn.send_headers(
                stream_id,
                [(":status", "200"), ("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))],
            )
            conn.send_data(stream_id, body, end_stream=True)
        writer.write(conn.data_to_send())

    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                writer.write(conn.data_to_send())  # h2 queued a GOAWAY of its own
                await writer.drain()
                return
            if mode == "goaway":
                conn.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR, last_stream_id=0)
                writer.write(conn.data_to_send())
                await writer.drain()
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    if mode == "stall_first" and not first.seen:
                        first.seen = True  # as if the answer were stuck behind a busy CPU
                    elif mode == "rst_stream":
                        conn.reset_stream(event.stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                    else:
                        task = asyncio.create_task(respond(event.stream_id))
                        responders.add(task)
                        task.add_done_callback(responders.discard)
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            writer.write(conn.data_to_send())
            await writer.drain()
    finally:
        for task in responders:
            task.cancel()
        await asyncio.gather(*responders, return_exceptions=True)


async def _serve_tls(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    spec: OriginSpec,
    context: ssl.SSLContext,
    first: _FirstRequest,
) -> None:
    _HANDSHAKE_TRANSPORT.set(writer.transport)
    try:
        await writer.start_tls(context)
    except (OSError, EOFError):
        return  # the client rejected our certificate or went away: its business, not ours
    ssl_object = writer.get_extra_info("ssl_object")
    if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
        await _serve_h2(reader, writer, spec, first)
    else:
        await _serve_http1(reader, writer, spec, redirect=False)


async def _send_alert(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await reader.read(65536):  # the ClientHello (or whatever the client opened with)
        writer.write(HANDSHAKE_FAILURE_ALERT)
        await writer.drain()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        pass  # swallow everything, answer nothing, until the client gives up


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Wait for the client's first bytes, then RST: the "reset mid-handshake" origin.

    Waiting makes the outcome deterministic: the TCP connect has certainly succeeded and the
    reset lands on the TLS handshake, which is where a real firewall or crashing origin hits.
    """
    await reader.read(1)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _refused_port(host: str) -> tuple[socket.socket, int]:
    """A port held bound but never listening: connecting to it is refused (RST), and no other
    server of a busy test run can take it over meanwhile, as a released port could be."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock, int(sock.getsockname()[1])


def _drop_listener(host: str, port: int) -> list[socket.socket]:
    """A listener whose accept queue is full, so the kernel drops every further SYN.

    `listen(0)` leaves room for one queued connection; we fill it with our own connections
    and never accept them. A client's `connect()` then retransmits SYNs until it times out,
    exactly like an origin behind a firewall that drops Cloudflare's packets (522).
    """
    family = _family(host)
    listener = socket.socket(family, socket.SOCK_STREAM)
    sockets = [listener]
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(2):
            filler = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(filler)
            filler.setblocking(False)
            filler.connect_ex(address)
        # The first filler must be established (queued) before anyone relies on the drop.
        select.select([], [sockets[1]], [], 2.0)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


# The raw transport of the connection whose TLS handshake is starting (set by `_serve_tls`,
# read by `_OriginTlsContext.wrap_bio`, which asyncio calls synchronously inside start_tls).
_HANDSHAKE_TRANSPORT: contextvars.ContextVar[asyncio.BaseTransport | None] = contextvars.ContextVar(
    "cfremedy_origin_handshake_transport", default=None
)


class _AlertingSSLObject(ssl.SSLObject):
    """An SSLObject whose failed handshake still sends the alert OpenSSL queued for the peer.

    asyncio drops the connection the moment `do_handshake` fails, before sending what OpenSSL
    wrote to the outgoing buffer, so a client of an origin with no common TLS version or cipher
    would see a bare EOF where every real server sends a protocol_version or handshake_failure
    alert. So the first failure is reported as "want read": asyncio then sends the pending
    alert, and on the next turn of the loop the stored error is raised for real (the protocol
    is poked with an empty read), which ends the handshake and the connection as before.
    """

    _failure: ssl.SSLError | None = None
    _raw_transport: asyncio.BaseTransport | None = None

    def do_handshake(self) -> None:
        if self._failure is not None:
            raise self._failure
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLSyscallError):
            raise
        except ssl.SSLError as exc:
            transport, self._raw_transport = self._raw_transport, None
            if transport is None or transport.is_closing():
                raise
            self._failure = exc
            asyncio.get_running_loop().call_soon(_fail_handshake, transport)
            raise ssl.SSLWantReadError("handshake failed; sending the alert first") from exc
        self._raw_transport = None  # done with it: no reference cycle through the transport


def _fail_handshake(transport: asyncio.BaseTransport) -> None:
    protocol = transport.get_protocol()
    if not transport.is_closing() and isinstance(protocol, asyncio.BufferedProtocol):
        protocol.buffer_updated(0)  # re-runs the handshake, which raises the stored failure


class _OriginTlsContext(ssl.SSLContext):
    sslobject_class = _AlertingSSLObject

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        sslobj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        if isinstance(sslobj, _AlertingSSLObject):
            sslobj._raw_transport = _HANDSHAKE_TRANSPORT.get()
        return sslobj


def _server_context(spec: OriginSpec, leaf: LeafFiles) -> ssl.SSLContext:
    """The TLS server context of an origin that presents `leaf`, limited as `spec` says."""
    context = _OriginTlsContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.cert_path, leaf.key_path)
    if spec.sni == "reject":
        context.sni_callback = _reject_server_names
    if spec.client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no session
        context.load_verify_locations(cafile=str(leaf.cert_path))
    if spec.alpn:
        context.set_alpn_protocols(list(spec.alpn))
    maximum = spec.tls_maximum
    if maximum is not None:
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0/1.1; an outdated origin is what this context stands for.
            warnings.simplefilter("ignore", DeprecationWarning)
            if maximum in ("TLSv1", "TLSv1.1"):
                context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = _TLS_VERSIONS[maximum]
    ciphers = spec.tls_cipher_string
    if ciphers:
        context.set_ciphers(ciphers)
    return context


def _reject_server_names(sock: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> int | None:
    """`sni = "reject"`: a handshake naming any server fails with unrecognized_name, one without
    SNI goes on (an origin with a certificate only for its default, nameless host)."""
    return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if server_name else None


class _OriginProtocol(asyncio.StreamReaderProtocol):
    """What `asyncio.start_server` builds, minus a spurious warning on TLS connections.

    Python 3.11 learns that a stream went TLS only when `start_tls` returns; a client that
    closes in the same read as its last handshake flight reaches `eof_received` first, which
    then asks the SSL layer to stay half-open and asyncio logs "returning true from
    eof_received() has no effect when using ssl" for that connection.
    """

    def __init__(self, on_connect: Callable[..., object], *, upgrades_to_tls: bool) -> None:
        super().__init__(asyncio.StreamReader(), on_connect)  # type: ignore[arg-type]
        self._upgrades_to_tls = upgrades_to_tls

    def eof_received(self) -> bool:
        keep_open = bool(super().eof_received())
        return keep_open and not self._upgrades_to_tls


class OriginFleet:
    """Loopback stand-ins for every origin of a scenario, on one background event loop.

    With `real_addresses=True` (inside a private network namespace whose loopback carries the
    scenario's addresses) each origin listens on its own address, ports 443 and 80, so probes
    need no `--connect-to` at all.
    """

    def __init__(self, origins: Sequence[OriginSpec], *, host: str = "127.0.0.1", real_addresses: bool = False) -> None:
        self.origins = tuple(origins)
        addresses = [spec.address for spec in self.origins]
        if len(addresses) != len(set(addresses)):
            raise ValueError("origin addresses must be unique: each one gets its own stand-in")
        self.host = host
        self.real_addresses = real_addresses
        self._endpoints: dict[tuple[str, int], tuple[str, int]] = {}
        self._directory: Path | None = None
        self._pki: SandboxPki | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._raw_sockets: list[socket.socket] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._shared_drop: tuple[str, int] | None = None
        self._ocsp: OcspResponder | None = None
        self._dead_ocsp_url = ""

    # -- public surface ------------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        """The sandbox CA: pass it as `--origin-ca` so "valid" origins pass Full (strict)."""
        if self._pki is None:
            raise RuntimeError("the origin fleet is not started")
        return self._pki.ca.pem_path

    @property
    def untrusted_ca_file(self) -> Path:
        if self._pki is None:
            raise RuntimeError("the origin fleet is not started")
        return self._pki.untrusted_ca.pem_path

    @property
    def ocsp_responder(self) -> OcspResponder | None:
        """The fleet's OCSP responder, when an origin's certificate names it."""
        return self._ocsp

    def endpoint(self, address: str, port: int) -> tuple[str, int]:
        key = (str(ipaddress.ip_address(address)), port)
        try:
            return self._endpoints[key]
        except KeyError:
            raise KeyError(f"no sandbox origin for {_bracket(key[0])}:{port}") from None

    def connect_to(self) -> list[str]:
        """curl-style `--connect-to` rules sending each origin address to its stand-in."""
        if self.real_addresses:
            return []
        return [
            f"{_bracket(address)}:{port}:{_bracket(host)}:{local_port}"
            for (address, port), (host, local_port) in self._endpoints.items()
        ]

    def start(self) -> OriginFleet:
        if self._loop is not None:
            raise RuntimeError("the origin fleet is already started")
        self._directory = Path(tempfile.mkdtemp(prefix="cfremedy-origins-"))
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="cfremedy-origin-fleet", daemon=True)
        self._thread.start()
        try:
            self._pki = SandboxPki(self._directory)
            if any(spec.ocsp in ("good", "revoked") for spec in self.origins):
                self._ocsp = OcspResponder(self._pki.ca).start()
            if any(spec.ocsp == "unreachable" for spec in self.origins):
                holder, port = _refused_port("127.0.0.1")
                self._raw_sockets.append(holder)
                self._dead_ocsp_url = f"http://127.0.0.1:{port}/"
            # Built here, in the caller's thread: silencing the TLS 1.0/1.1 DeprecationWarning
            # touches the process-wide warning filters, which the fleet's thread must not race.
            contexts = self._tls_contexts(self._pki)
            asyncio.run_coroutine_threadsafe(self._open(contexts), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            if thread.is_alive():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=30)
            loop.close()
        if self._ocsp is not None:
            self._ocsp.stop()
            self._ocsp = None
        for sock in self._raw_sockets:
            sock.close()
        self._raw_sockets.clear()
        self._servers.clear()
        self._endpoints.clear()
        self._shared_drop = None
        self._loop = self._thread = None
        self._pki = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> OriginFleet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tls_contexts(self, pki: SandboxPki) -> dict[int, ssl.SSLContext]:
        """A server context, with its own freshly signed leaf, per origin that has a certificate."""
        contexts: dict[int, ssl.SSLContext] = {}
        for index, spec in enumerate(self.origins):
            if spec.https in CERT_BEHAVIOURS:
                names = spec.hostnames or (spec.address,)
                stem = f"origin{index}-{spec.https}"
                if spec.cert_days_left is not None:
                    stem += f"-{spec.cert_days_left}d"
                url = self._ocsp_url(spec)
                leaf = pki.leaf_for(stem, spec.https, names, days_left=spec.cert_days_left, ocsp_url=url)
                if self._ocsp is not None and leaf.cert is not None and spec.ocsp in ("good", "revoked"):
                    self._ocsp.register(leaf.cert, spec.ocsp)
                contexts[index] = _server_context(spec, leaf)
        return contexts

    def _ocsp_url(self, spec: OriginSpec) -> str:
        if spec.ocsp == "unreachable":
            return self._dead_ocsp_url
        if spec.ocsp in ("good", "revoked") and self._ocsp is not None:
            return self._ocsp.url
        return ""

    # -- inside the fleet's loop ---------------------------------------------------------

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _open(self, contexts: dict[int, ssl.SSLContext]) -> None:
        for index, spec in enumerate(self.origins):
            https_handler: Handler | None
            if spec.https in CERT_BEHAVIOURS:
                https_handler = functools.partial(_serve_tls, spec=spec, context=contexts[index], first=_FirstRequest())
            elif spec.https == "plain_http":
                https_handler = functools.partial(_serve_http1, spec=spec, redirect=False)
            elif spec.https == "tls_alert":
                https_handler = _send_alert
            elif spec.https == "silent":
                https_handler = _silent
            elif spec.https == "reset":
                https_handler = _reset
            else:
                https_handler = None
            await self._listen(spec, spec.https_port, spec.https, https_handler)

            http_handlers: dict[str, Handler] = {
                "ok": functools.partial(_serve_http1, spec=spec, redirect=False),
                "redirect_https": functools.partial(_serve_http1, spec=spec, redirect=True),
                "silent": _silent,
            }
            http_handler = http_handlers.get(spec.http)
            await self._listen(spec, spec.http_port, spec.http, http_handler)

    async def _listen(self, spec: OriginSpec, port: int, behaviour: str, handler: Handler | None) -> None:
        address = spec.address
        if behaviour == "closed":
            if self.real_addresses:
                local = (address, port)
            else:
                holder, refused = _refused_port(self.host)
                self._raw_sockets.append(holder)
                local = (self.host, refused)
        elif behaviour == "drop":
            if self.real_addresses:
                self._raw_sockets += _drop_listener(address, port)
                local = (address, port)
            else:
                if self._shared_drop is None:  # one full queue serves every dropping origin
                    sockets = _drop_listener(self.host, 0)
                    self._raw_sockets += sockets
                    self._shared_drop = (self.host, int(sockets[0].getsockname()[1]))
                local = self._shared_drop
        else:
            assert handler is not None, behaviour
            bind_host, bind_port = (address, port) if self.real_addresses else (self.host, 0)
            on_connect = self._guard(handler)
            upgrades = behaviour in CERT_BEHAVIOURS and port == spec.https_port
            server = await asyncio.get_running_loop().create_server(
                lambda: _OriginProtocol(on_connect, upgrades_to_tls=upgrades),
                bind_host,
                bind_port,
                reuse_address=True,
            )
            self._servers.append(server)
            local = (bind_host, int(server.sockets[0].getsockname()[1]))
        self._endpoints[(address, port)] = local

    def _guard(self, handler: Handler) -> Handler:
        """Register each connection the moment it is accepted, then serve it quietly.

        asyncio calls this synchronously from `connection_made`, before the handler task has
        run a single step, so `stop()` can abort even a connection accepted a moment before
        it. Errors stay out of the logs: a probe hanging up on a broken origin is the norm here.
        """

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
            self._writers.add(writer)
            return self._serve(handler, reader, writer)

        return on_connect

    async def _serve(self, handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        cancelled = False
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:  # noqa: BLE001 - every client misbehaviour ends just this connection
            pass
        finally:
            if cancelled:
                writer.transport.abort()
            else:
                await _close(writer)
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _shutdown(self) -> None:
        """End every connection, including ones accepted a moment ago.

        Python 3.11's `Server.close()` leaves accepted connections open, and a connection the
        loop has accepted but not yet handed to `connection_made` is known to no one but the
        loop's own task; so we repeat abort-and-cancel until no task but this one is left.
        """
        loop = asyncio.get_running_loop()
        for server in self._servers:
            server.close()
        current = asyncio.current_task()
        deadline = loop.time() + 5.0
        while True:
            for writer in list(self._writers):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            if not pending or loop.time() > deadline:
                break
            await asyncio.wait(pending, timeout=0.05)
        for server in self._servers:
            await server.wait_closed()
        for _ in range(3):  # let aborted transports run their connection_lost callbacks
            await asyncio.sleep(0)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_GRACE)
    except (TimeoutError, OSError, asyncio.CancelledError):
        writer.transport.abort()
