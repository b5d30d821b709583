"""A stand-in for Cloudflare's edge: what a visitor gets for each proxied hostname of a scenario.

`cfremedy diagnose` looks at a hostname from the outside, as the 5xx article tells a person to,
and reads the error page's own structure: Cloudflare's 5xx page has three status boxes
(browser, Cloudflare, host) and marks one as the failing hop — the host when the origin
answered 502/504 itself, although the page is Cloudflare's; Cloudflare's 1xxx pages name their
code in the heading; when Cloudflare's own proxy fails it answers a bare page signed
"cloudflare". The origin's own pages are passed through, and a DNS-only hostname answers
without Cloudflare's headers at all. Those checks are only trustworthy against real HTTP with
real headers and real markup, so every `EdgeSpec` is served by stdlib HTTP servers on loopback,
chosen by the Host header, and reached through `connect_to()` rules exactly as probes reach the
stand-in origins.

Two listeners: plain HTTP (rules for port 80) and HTTPS (rules for port 443). Over HTTPS each
hostname presents, by SNI, its zone's universal certificate (the zone and one level below, the
hosts and expiry its certificate pack lists) signed by the sandbox edge CA, which no client
trusts unless told to (`ca_file`, e.g. through `SSL_CERT_FILE`), or a self-signed certificate
no pack has (what a TLS-inspecting middlebox presents).

Ray ids are deterministic (host and request number), so two runs of one test see the same
pages. The page shows the 16 hex digits alone, as Cloudflare's pages do; the `cf-ray` header
adds "-<colo>".
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any

from cfremedy.article import error_1xxx
from cfremedy.sandbox.certs import make_ca, make_leaf
from cfremedy.sandbox.loopback import LoopbackServer, QuietServer, TrackedHandler
from cfremedy.sandbox.scenario import EdgeSpec, stable_id
from cfremedy.sandbox.zone import CERTIFICATE_EXPIRES, EDGE_CA_ORGANIZATION

EDGE_PORT = 80  # the ports edge rules are keyed on: http:// and https:// URLs
EDGE_TLS_PORT = 443

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

# The city a colo's status box names (the page shows the city, the ray the code).
COLO_CITIES = {"SJC": "San Jose", "NRT": "Tokyo", "FRA": "Frankfurt", "CDG": "Paris", "LHR": "London"}

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


def failing_hop(spec: EdgeSpec) -> str:
    """The box a branded 5xx page marks: the spec's, or the host for 520-527 and for 502/504
    (Cloudflare's page for the origin's own 502/504), Cloudflare itself for the rest."""
    if spec.failing:
        return spec.failing
    return "host" if 520 <= spec.status <= 527 or spec.status in (502, 504) else "cloudflare"


_WHAT_HAPPENED = {
    "host": "The web server reported an error, or Cloudflare could not get a valid answer from it.",
    "cloudflare": "Cloudflare's network could not complete the request.",
    "browser": "The request sent by the browser could not be processed.",
}
_BOX = (
    '<div id="cf-{hop}-status" class="{marker}relative w-1/3 md:w-full py-15 md:p-0 md:py-8 md:text-left'
    " md:border-solid md:border-0 md:border-b md:border-gray-400 overflow-hidden float-left md:float-none"
    ' text-center">\n'
    '  <div class="relative mb-10 md:m-0">\n'
    '    <span class="cf-icon-{icon} block md:hidden h-20 bg-center bg-no-repeat"></span>\n'
    '    <span class="cf-icon-{state_icon} w-12 h-12 absolute left-1/2 md:left-auto md:right-0 md:top-0 -ml-6'
    ' -bottom-4"></span>\n'
    "  </div>\n"
    '  <span class="md:block w-full truncate">{label}</span>\n'
    '  <h3 class="md:inline-block mt-3 md:mt-0 text-2xl text-gray-600 font-light leading-1.3">{name}</h3>\n'
    '  <span class="leading-1.3 text-2xl {state_class}">{state}</span>\n'
    "</div>\n"
)


def _box(hop: str, label: str, failing: bool) -> str:
    icon, name = {"browser": ("browser", "Browser"), "cloudflare": ("cloud", "Cloudflare"),
                  "host": ("server", "Host")}[hop]  # fmt: skip
    return _BOX.format(
        hop=hop,
        marker="cf-error-source " if failing else "",
        icon=icon,
        state_icon="error" if failing else "ok",
        label=html.escape(label),
        name=name,
        state_class="text-red-error" if failing else "text-green-success",
        state="Error" if failing else "Working",
    )


def _footer(ray: str, host: str, status: int) -> str:
    link = f"https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{status}&amp;utm_campaign={host}"
    return (
        '<div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center'
        ' sm:text-left border-solid border-0 border-t border-gray-300">\n'
        '  <p class="text-13">\n'
        f'    <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">{ray}'
        "</strong></span>\n"
        '    <span class="cf-footer-separator sm:hidden">&bull;</span>\n'
        '    <span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span>'
        f' <a rel="noopener noreferrer" href="{link}" id="brand_link" target="_blank">Cloudflare</a></span>\n'
        "  </p>\n"
        "</div>\n"
    )


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def branded_page(host: str, spec: EdgeSpec, ray: str) -> str:
    """Cloudflare's 5xx page: the three status boxes, one marked as the failing hop."""
    reason = reason_phrase(spec.status)
    name = html.escape(host)
    hop = failing_hop(spec)
    boxes = "".join(
        _box(h, label, h == hop)
        for h, label in (("browser", "You"), ("cloudflare", COLO_CITIES.get(spec.colo, spec.colo)), ("host", host))
    )
    return (
        "<!DOCTYPE html>\n"
        '<html class="no-js" lang="en-US">\n<head>\n'
        f"<title>{name} | {spec.status}: {html.escape(reason)}</title>\n"
        '<meta charset="UTF-8" />\n<meta name="robots" content="noindex, nofollow" />\n'
        '<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />\n'
        "</head>\n<body>\n"
        '<div id="cf-wrapper">\n<div id="cf-error-details" class="p-0">\n'
        '<header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">\n'
        '  <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight'
        ' mr-2">\n'
        f'    <span class="inline-block">{html.escape(reason)}</span>\n'
        f'    <span class="code-label">Error code {spec.status}</span>\n'
        "  </h1>\n"
        f'  <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{spec.status}'
        f'&amp;utm_campaign={name}" target="_blank" rel="noopener noreferrer">cloudflare.com</a> for more'
        " information.</div>\n"
        f'  <div class="mt-3">{_timestamp()}</div>\n'
        "</header>\n"
        '<div class="my-8 bg-gradient-gray"><div class="w-240 lg:w-full mx-auto"><div class="clearfix md:px-8">\n'
        f"{boxes}"
        "</div></div></div>\n"
        '<div class="w-240 lg:w-full mx-auto mb-8 lg:px-8"><div class="clearfix">\n'
        '  <div class="w-1/2 md:w-full float-left pr-6 md:pb-10 md:pr-0 leading-relaxed">\n'
        '    <h2 class="text-3xl font-normal leading-1.3 mb-4">What happened?</h2>\n'
        f"    <p>{_WHAT_HAPPENED[hop]}</p>\n"
        "  </div>\n"
        '  <div class="w-1/2 md:w-full float-left leading-relaxed">\n'
        '    <h2 class="text-3xl font-normal leading-1.3 mb-4">What can I do?</h2>\n'
        "    <p>Please try again in a few minutes.</p>\n"
        "  </div>\n"
        "</div></div>\n"
        f"{_footer(ray, name, spec.status)}"
        "</div>\n</div>\n</body>\n</html>\n"
    )


def error_1xxx_page(host: str, spec: EdgeSpec, ray: str) -> str:
    """Cloudflare's 1xxx page: the code in the heading, no status boxes."""
    code = spec.error_1xxx or 1000
    title = html.escape(error_1xxx(code).name)
    name = html.escape(host)
    return (
        "<!DOCTYPE html>\n"
        '<html class="no-js" lang="en-US">\n<head>\n'
        f"<title>{title} | {name} | Cloudflare</title>\n"
        '<meta charset="UTF-8" />\n<meta name="robots" content="noindex, nofollow" />\n'
        '<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />\n'
        "</head>\n<body>\n"
        '<div id="cf-wrapper">\n'
        '<div id="cf-error-details" class="cf-error-details-wrapper">\n'
        '  <div class="cf-wrapper cf-header cf-error-overview">\n'
        "    <h1>\n"
        '      <span class="cf-error-type" data-translate="error">Error</span>\n'
        f'      <span class="cf-error-code">{code}</span>\n'
        f'      <small class="heading-ray-id">Ray ID: {ray} &bull; {_timestamp()}</small>\n'
        "    </h1>\n"
        f'    <h2 class="cf-subheadline" data-translate="error_desc">{title}</h2>\n'
        "  </div>\n"
        "  <section></section>\n"
        '  <div class="cf-section cf-wrapper"><div class="cf-columns two">\n'
        '    <div class="cf-column"><h2 data-translate="what_happened">What happened?</h2>\n'
        f"      <p>You've requested a page on a website ({name}) that is on the Cloudflare network."
        " The request could not be completed.</p></div>\n"
        '    <div class="cf-column"><h2 data-translate="what_can_i_do">What can I do?</h2>\n'
        "      <p>If you are the owner of this website, check its configuration.</p></div>\n"
        "  </div></div>\n"
        f"{_footer(ray, name, spec.status)}"
        "</div>\n</div>\n</body>\n</html>\n"
    )


def bare_page(spec: EdgeSpec) -> str:
    """What Cloudflare's own proxy answers when it fails itself: a bare server page signed
    "cloudflare" (no status boxes, no Ray ID)."""
    line = f"{spec.status} {reason_phrase(spec.status)}"
    return (
        f"<html>\n<head><title>{line}</title></head>\n<body>\n"
        f"<center><h1>{line}</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"
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


def redirect_page(spec: EdgeSpec) -> str:
    """The short page a redirect carries; browsers never show it, they follow the Location."""
    line = f"{spec.status} {reason_phrase(spec.status)}"
    target = html.escape(spec.location)
    return f'<html><head><title>{line}</title></head><body><a href="{target}">{line}</a></body></html>\n'


def ok_page(host: str) -> str:
    name = html.escape(host)
    return f"<!DOCTYPE html><html><head><title>{name}</title></head><body><p>OK</p></body></html>\n"


def page_for(host: str, spec: EdgeSpec, ray: str) -> str:
    if spec.location:
        return redirect_page(spec)
    if spec.status == 200:
        return spec.body or ok_page(host)
    if not spec.branded or not spec.proxied:
        return origin_page(spec)
    if spec.bare:
        return bare_page(spec)
    if spec.error_1xxx:
        return error_1xxx_page(host, spec, ray)
    return branded_page(host, spec, ray)


def trace_text(host: str, client_ip: str, user_agent: str, colo: str, now: float, *, tls_version: str = "") -> str:
    """`/cdn-cgi/trace` as the edge answers it, over plain HTTP (tls, sni and kex off) or HTTPS."""
    fields = [
        ("fl", "29f" + stable_id("fl", host)[:3]),
        ("h", host),
        ("ip", client_ip),
        ("ts", f"{now:.3f}"),
        ("visit_scheme", "https" if tls_version else "http"),
        ("uag", user_agent),
        ("colo", colo),
        ("sliver", "none"),
        ("http", "http/1.1"),
        ("loc", "US"),
        ("tls", tls_version or "off"),
        ("sni", "plaintext" if tls_version else "off"),
        ("warp", "off"),
        ("gateway", "off"),
        ("rbi", "off"),
        ("kex", "X25519" if tls_version else "none"),
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


def zone_of(hostname: str, zones: Sequence[str]) -> str | None:
    """The most specific scenario zone that contains `hostname`."""
    matches = [z for z in zones if hostname == z or hostname.endswith("." + z)]
    return max(matches, key=len) if matches else None


def _location(spec: EdgeSpec) -> list[tuple[str, str]]:
    return [("Location", spec.location)] if spec.location else []


class _Handler(TrackedHandler):
    timeout = 60  # an idle keep-alive connection is dropped after this

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._discard_body()
        self.server.owner._serve(self)  # type: ignore[attr-defined]

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    @property
    def tls_version(self) -> str:
        """ "" over plain HTTP; the negotiated version (e.g. "TLSv1.3") over HTTPS."""
        version = getattr(self.connection, "version", None)
        return str(version() or "") if callable(version) else ""

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


class _TlsHandler(_Handler):
    """The handshake runs in the connection's own thread, so a client refusing the certificate
    (as it must for an untrusted one) costs that thread only, and is not an error here."""

    handshake_ok = False

    def setup(self) -> None:
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
            self.handshake_ok = True
        except (ssl.SSLError, OSError):
            self.handshake_ok = False
        super().setup()

    def handle(self) -> None:
        if self.handshake_ok:
            super().handle()


class _TlsServer(QuietServer):
    def __init__(self, address: tuple[str, int], handler: type[TrackedHandler], owner: _TlsListener) -> None:
        self.tls_context = owner.context
        super().__init__(address, handler, owner)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        return self.tls_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address


class _TlsListener(LoopbackServer):
    """The HTTPS side of the edge: same pages, served by `edge`."""

    handler_class = _TlsHandler
    kind = "sandbox edge (https)"
    server_class = _TlsServer

    def __init__(self, edge: EdgeServer, context: ssl.SSLContext, host: str) -> None:
        super().__init__(host, 0)
        self.edge = edge
        self.context = context

    def _serve(self, handler: _Handler) -> None:
        self.edge._serve(handler)


class EdgeServer(LoopbackServer):
    """Cloudflare's edge for a scenario's `edge` hostnames; start()/stop() or a context manager.

    `zones` are the scenario's zone names: a hostname's certificate is its zone's."""

    handler_class = _Handler
    kind = "sandbox edge"

    def __init__(
        self, specs: Sequence[EdgeSpec], host: str = "127.0.0.1", port: int = 0, zones: Sequence[str] = ()
    ) -> None:
        super().__init__(host, port)
        self.specs = tuple(specs)
        self.zones = tuple(z.lower().rstrip(".") for z in zones)
        self._by_host = {spec.hostname: spec for spec in self.specs}
        if len(self._by_host) != len(self.specs):
            raise ValueError("edge hostnames must be unique: the Host header picks one page")
        self._counter = 0
        self._counter_lock = threading.Lock()
        self._directory: Path | None = None
        self._tls: _TlsListener | None = None

    # -- public surface ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def tls_port(self) -> int:
        if self._tls is None:
            raise RuntimeError(f"the {self.kind} is not running; call start() first")
        return self._tls.address[1]

    @property
    def ca_file(self) -> Path:
        """The sandbox edge CA's certificate (PEM): what a client must trust to verify the edge."""
        if self._directory is None:
            raise RuntimeError(f"the {self.kind} is not running; call start() first")
        return self._directory / "edge-ca.pem"

    def connect_to(self) -> list[str]:
        """curl-style rules sending each edge hostname's ports 80 and 443 to this server.

        Keyed by hostname, not address: a visitor's URL names the host, and the scenario's
        DNS records point it at origins, not at Cloudflare.
        """
        if not self.specs:
            return []
        host, port = self.address
        target = f"[{host}]" if ":" in host else host
        tls_port = self.tls_port
        return [
            rule
            for spec in self.specs
            for rule in (
                f"{spec.hostname}:{EDGE_PORT}:{target}:{port}",
                f"{spec.hostname}:{EDGE_TLS_PORT}:{target}:{tls_port}",
            )
        ]

    def start(self) -> EdgeServer:
        if self._tls is not None:
            return self
        self._directory = Path(tempfile.mkdtemp(prefix="cfremedy-edge-"))
        try:
            context = self._tls_context(self._directory)
            super().start()
            self._tls = _TlsListener(self, context, self._host).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        tls, self._tls = self._tls, None
        if tls is not None:
            tls.stop()
        super().stop()
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    # -- certificates --------------------------------------------------------------------------

    def _tls_context(self, directory: Path) -> ssl.SSLContext:
        """One server context per hostname, picked by SNI; without SNI, the first hostname's."""
        ca = make_ca(directory, "edge-ca", "cfremedy sandbox edge CA", EDGE_CA_ORGANIZATION)
        now = dt.datetime.now(dt.UTC)
        expires = dt.datetime.fromisoformat(CERTIFICATE_EXPIRES.replace("Z", "+00:00"))
        contexts: dict[str, ssl.SSLContext] = {}
        for index, spec in enumerate(self.specs):
            zone = zone_of(spec.hostname, self.zones)
            if spec.certificate == "self_signed" or zone is None:
                names: tuple[str, ...] = (spec.hostname,)
            else:
                names = (zone, f"*.{zone}")
            leaf = make_leaf(
                directory,
                f"edge-{index}",
                names,
                issuer=None if spec.certificate == "self_signed" else ca,
                not_before=now - dt.timedelta(days=1),
                not_after=now + dt.timedelta(days=90) if spec.certificate == "self_signed" else expires,
                organization="cfremedy sandbox edge",
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(leaf.cert_path, leaf.key_path)
            context.set_alpn_protocols(["http/1.1"])  # the stdlib server speaks HTTP/1.1 only
            contexts[spec.hostname] = context
        default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if contexts:
            first = next(iter(contexts.values()))
            default = first
        else:
            leaf = make_leaf(directory, "edge-default", ("localhost",), issuer=ca, not_before=now,
                             not_after=now + dt.timedelta(days=90), organization="cfremedy sandbox edge")  # fmt: skip
            default.load_cert_chain(leaf.cert_path, leaf.key_path)

        def pick(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
            chosen = contexts.get((name or "").lower().rstrip("."))
            if chosen is not None:
                sock.context = chosen

        default.sni_callback = pick
        return default

    # -- serving -------------------------------------------------------------------------------

    def _next_number(self) -> int:
        with self._counter_lock:
            self._counter += 1
            return self._counter

    def _serve(self, handler: _Handler) -> None:
        host = host_of(handler.headers.get("Host"))
        spec = self._by_host.get(host)
        path = handler.path.split("?", 1)[0]
        handler.server_version = "cloudflare"
        if spec is None:
            body = f"no sandbox edge hostname {host or '(no Host header)'}\n".encode()
            headers = [("Content-Type", "text/plain; charset=UTF-8")]
            handler.reply(404, "Not Found", headers, body)
            return
        if not spec.proxied:  # DNS-only: the origin answers, with its own headers
            handler.server_version = "nginx"
            page = page_for(host, spec, "")
            handler.reply(spec.status, reason_phrase(spec.status),
                          [("Content-Type", "text/html; charset=UTF-8"), *_location(spec)], page.encode())  # fmt: skip
            return
        if path == TRACE_PATH:
            text = trace_text(
                host, str(handler.client_address[0]), handler.headers.get("User-Agent", ""),
                spec.colo, time.time(), tls_version=handler.tls_version,
            )  # fmt: skip
            handler.reply(200, "OK", [("Content-Type", "text/plain")], text.encode())
            return
        ray = ray_hex(host, self._next_number())
        headers = [
            ("cf-ray", f"{ray}-{spec.colo}"),
            ("cf-cache-status", "DYNAMIC"),
            ("Content-Type", "text/html; charset=UTF-8"),
        ]
        if spec.set_cookie:
            headers.append(("Set-Cookie", spec.set_cookie))
        headers += _location(spec)
        handler.reply(spec.status, reason_phrase(spec.status), headers, page_for(host, spec, ray).encode())
