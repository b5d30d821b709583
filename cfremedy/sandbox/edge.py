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
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus

from cfremedy.sandbox.loopback import LoopbackServer, TrackedHandler
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
    527: "Railgun Listener to origin error",  # Railgun is retired; older zones may still show it
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


class _Handler(TrackedHandler):
    timeout = 60  # an idle keep-alive connection is dropped after this

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._discard_body()
        self.server.owner._serve(self)  # type: ignore[attr-defined]

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

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


class EdgeServer(LoopbackServer):
    """Cloudflare's edge for a scenario's `edge` hostnames; start()/stop() or a context manager."""

    handler_class = _Handler
    kind = "sandbox edge"

    def __init__(self, specs: Sequence[EdgeSpec], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.specs = tuple(specs)
        self._by_host = {spec.hostname: spec for spec in self.specs}
        if len(self._by_host) != len(self.specs):
            raise ValueError("edge hostnames must be unique: the Host header picks one page")
        self._counter = 0
        self._counter_lock = threading.Lock()

    # -- public surface ------------------------------------------------------------------------

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
