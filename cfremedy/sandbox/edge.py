"""A stand-in for Cloudflare's edge: what a visitor gets for each proxied hostname of a scenario.

`cfremedy diagnose` looks at a hostname from the outside, as the 5xx article tells a person to:
is the error page Cloudflare's own (the word "cloudflare" and a Ray ID in the body) or the
origin's (an origin's 502 passed through), which colo answered, what `/cdn-cgi/trace` says. Those
checks are only trustworthy when they run against real HTTP with real headers, so every
`EdgeSpec` is served by one stdlib HTTP/1.1 server on loopback, chosen by the Host header, and
reached through `connect_to()` rules exactly as probes reach the stand-in origins.

Plain HTTP only: the edge's TLS is not what these checks are about, and a second sandbox CA
for edge certificates would have to be trusted by every client in the tests.

Ray ids are deterministic (host and request number), so two runs of one test see the same
pages. The page shows the 16 hex digits alone, as Cloudflare's pages do; the `cf-ray` header
adds "-<colo>".
"""

from __future__ import annotations

import html
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cfremedy.sandbox.scenario import EdgeSpec, stable_id

EDGE_PORT = 80  # the port edge rules are keyed on: the URLs diagnose requests are plain http://

# Cloudflare's own reason phrases for the statuses its edge generates.
CLOUDFLARE_REASONS: dict[int, str] = {
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
    525: "SSL handshake failed",
    526: "Invalid SSL certificate",
    527: "Railgun error",
    530: "Origin DNS error",
}

TRACE_PATH = "/cdn-cgi/trace"


def reason_phrase(status: int) -> str:
    """Cloudflare's phrase for its 52x/530, the standard one otherwise."""
    if status in CLOUDFLARE_REASONS:
        return CLOUDFLARE_REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def ray_hex(host: str, number: int) -> str:
    """The 16 hex digits of a Ray ID, the same for one host and request number on every run."""
    return stable_id("ray", host, str(number))[:16]


def branded_page(host: str, spec: EdgeSpec, ray: str) -> str:
    """A small Cloudflare error page: enough of the real one for every check diagnose makes."""
    reason = reason_phrase(spec.status)
    name = html.escape(host)
    error_line = f"Error {spec.error_1xxx}" if spec.error_1xxx else f"Error code {spec.status}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en-US"><head><title>{name} | {spec.status}: {html.escape(reason)}</title>'
        '<meta charset="UTF-8" />'
        '<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />'
        "</head><body>"
        '<div id="cf-wrapper"><div id="cf-error-details">'
        f"<h1>{html.escape(reason)}</h1>"
        f"<h2>{error_line}</h2>"
        "<p>Visit cloudflare.com for more information.</p>"
        f'<p class="cf-colo">{html.escape(spec.colo)}</p>'
        '<div class="cf-error-footer">'
        f"<span>Cloudflare Ray ID: {ray}</span> &bull; "
        "<span>Performance &amp; security by Cloudflare</span>"
        "</div></div></div></body></html>\n"
    )


def origin_page(spec: EdgeSpec) -> str:
    """The origin's own page passed through: an nginx-style page that never names Cloudflare."""
    if spec.body:
        return spec.body
    line = f"{spec.status} {reason_phrase(spec.status)}"
    return (
        f"<html><head><title>{line}</title></head><body>"
        f"<center><h1>{line}</h1></center><hr><center>nginx</center></body></html>\n"
    )


def ok_page(host: str) -> str:
    name = html.escape(host)
    return f"<!DOCTYPE html><html><head><title>{name}</title></head><body><p>OK</p></body></html>\n"


def trace_text(host: str, client_ip: str, user_agent: str, colo: str, now: float) -> str:
    """`/cdn-cgi/trace` as the edge answers it over plain HTTP (hence tls, sni and kex off)."""
    fields = [
        ("fl", "29f" + stable_id("fl", host)[:3]),
        ("h", host),
        ("ip", client_ip),
        ("ts", f"{now:.3f}"),
        ("visit_scheme", "http"),
        ("uag", user_agent),
        ("colo", colo),
        ("sliver", "none"),
        ("http", "http/1.1"),
        ("loc", "US"),
        ("tls", "off"),
        ("sni", "off"),
        ("warp", "off"),
        ("gateway", "off"),
        ("rbi", "off"),
        ("kex", "none"),
    ]
    return "".join(f"{key}={value}\n" for key, value in fields)


def host_of(header: str | None) -> str:
    """The Host header's name, lower-case, without port or trailing dot."""
    host = (header or "").strip().lower()
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], edge: EdgeServer) -> None:
        self.edge = edge
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client vanishing mid-request is routine, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudflare"
    sys_version = ""
    server: _Server
    timeout = 60  # an idle keep-alive connection is dropped after this
    wbufsize = 64 * 1024  # headers and body in one segment (see api.py)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.edge._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.edge._track(self.connection, add=False)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._discard_body()
        self.server.edge._serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silent: headers (cookies among them) must never reach a terminal or a log file."""

    def version_string(self) -> str:
        return self.server_version  # "server: cloudflare", without a Python version

    def _discard_body(self) -> None:
        """Read a request body away so the next request on a keep-alive connection parses."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)

    def reply(self, status: int, reason: str, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        try:
            self.send_response(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class EdgeServer:
    """Cloudflare's edge for a scenario's `edge` hostnames; start()/stop() or a context manager."""

    def __init__(self, specs: Sequence[EdgeSpec], host: str = "127.0.0.1", port: int = 0) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the sandbox edge binds to loopback only, not {host!r}")
        self.specs = tuple(specs)
        self._by_host = {spec.hostname: spec for spec in self.specs}
        if len(self._by_host) != len(self.specs):
            raise ValueError("edge hostnames must be unique: the Host header picks one page")
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self._counter_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> EdgeServer:
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() returns within ~10 ms
            name=f"sandbox-edge:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # a pooled keep-alive client must not outlive us
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EdgeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- public surface ------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the sandbox edge is not running; call start() first")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def connect_to(self) -> list[str]:
        """curl-style rules sending each edge hostname's port 80 to this server.

        Keyed by hostname, not address: a visitor's URL names the host, and the scenario's
        DNS records point it at origins, not at Cloudflare.
        """
        if not self.specs:
            return []
        host, port = self.address
        target = f"[{host}]" if ":" in host else host
        return [f"{spec.hostname}:{EDGE_PORT}:{target}:{port}" for spec in self.specs]

    # -- serving -------------------------------------------------------------------------------

    def _next_number(self) -> int:
        with self._counter_lock:
            self._counter += 1
            return self._counter

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _serve(self, handler: _Handler) -> None:
        host = host_of(handler.headers.get("Host"))
        spec = self._by_host.get(host)
        path = handler.path.split("?", 1)[0]
        if spec is None:
            body = f"no sandbox edge hostname {host or '(no Host header)'}\n".encode()
            headers = [("Content-Type", "text/plain; charset=UTF-8")]
            handler.reply(404, "Not Found", headers, body)
            return
        if path == TRACE_PATH:
            text = trace_text(
                host, str(handler.client_address[0]), handler.headers.get("User-Agent", ""),
                spec.colo, time.time(),
            )  # fmt: skip
            handler.reply(200, "OK", [("Content-Type", "text/plain")], text.encode())
            return
        ray = ray_hex(host, self._next_number())
        if spec.status == 200:
            page = spec.body or ok_page(host)
        elif spec.branded:
            page = branded_page(host, spec, ray)
        else:
            page = origin_page(spec)
        headers = [
            ("cf-ray", f"{ray}-{spec.colo}"),
            ("cf-cache-status", "DYNAMIC"),
            ("Content-Type", "text/html; charset=UTF-8"),
        ]
        if spec.set_cookie:
            headers.append(("Set-Cookie", spec.set_cookie))
        handler.reply(spec.status, reason_phrase(spec.status), headers, page.encode())


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address("127.0.0.1" if host == "localhost" else host).is_loopback
    except ValueError:
        return False
