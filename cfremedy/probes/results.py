"""What a probe saw at an origin, as frozen data the playbooks can judge without doing I/O.

A failure to connect or to shake hands is a *result* (an `Outcome`), never an exception: an
origin that refuses connections is exactly what the 521 playbooks look for.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Outcome(str, enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # RST to our SYN: nothing listens (521)
    TIMEOUT = "timeout"  # no answer within the step's timeout (522)
    UNREACHABLE = "unreachable"  # no route to the address (523)
    RESET = "reset"  # connection reset or closed mid-conversation
    TLS_ALERT = "tls_alert"  # the origin aborted the handshake with an alert (525)
    NOT_TLS = "not_tls"  # something answered on the TLS port, but not TLS (e.g. plain HTTP)
    PROTOCOL_ERROR = "protocol_error"  # the origin broke the protocol it negotiated (520)
    ERROR = "error"  # anything else; `error` says what
    SKIPPED = "skipped"  # not attempted (an earlier step failed, or not applicable)


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    error: str = ""
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class CertInfo:
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    common_name: str
    sans: tuple[str, ...]  # DNS names and IP addresses
    not_before: datetime
    not_after: datetime
    self_signed: bool
    serial: str
    sha256: str
    # Issued by Cloudflare's Origin CA: trusted by Cloudflare in Full (strict), by no browser.
    origin_ca: bool = False


@dataclass(frozen=True)
class TlsOffer:
    """What an origin settled on when offered every protocol version and cipher we have.

    Only looked for when the handshake Cloudflare would attempt failed: it tells "the origin
    speaks only TLS 1.0" or "only ciphers Cloudflare does not offer" apart from a broken stack.
    """

    version: str
    cipher: str


@dataclass(frozen=True)
class SniCheck:
    """A second handshake without SNI, made when the one with SNI failed or presented a
    certificate for another name: does the origin choose its certificate by name at all?"""

    outcome: Outcome
    error: str = ""
    leaf: CertInfo | None = None
    hostname_matches: bool = False  # the certificate served without SNI names the hostname
    same_certificate: bool = False  # the very certificate served with SNI


# What a revocation check concluded (`Revocation.status`).
GOOD = "good"
REVOKED = "revoked"
UNKNOWN = "unknown"  # asked, but no trustworthy answer: never read as revoked
NOT_CHECKED = "not_checked"  # not asked (no responder named, --no-revocation-check, ...)


@dataclass(frozen=True)
class Revocation:
    """Whether the origin's leaf certificate is revoked, by OCSP (526: "the certificate is not
    revoked"): its responder (the Authority Information Access URL) and the response the
    origin staples, when it staples one."""

    status: str  # good | revoked | unknown | not_checked
    detail: str = ""  # why, for people
    responder: str = ""  # the OCSP URL the certificate names
    responder_status: str = ""  # what the responder said: good | revoked | unknown | unreachable | ...
    staple: str = ""  # what the stapled response said: good | revoked | none | invalid | ...
    revoked_at: datetime | None = None
    reason: str = ""  # the CRL reason the response gives, if any


@dataclass(frozen=True)
class TlsResult:
    outcome: Outcome
    error: str = ""
    version: str = ""  # e.g. "TLSv1.3"
    cipher: str = ""
    alpn: str = ""  # negotiated protocol: "h2", "http/1.1" or "" when none
    leaf: CertInfo | None = None
    # Verification as Full (strict) would do it: chain to the system store, Cloudflare's
    # Origin CA root or a `--origin-ca` file, hostname in SAN/CN, within validity.
    verified: bool = False
    verify_error: str = ""  # OpenSSL's reason when not verified ("self-signed certificate", ...)
    hostname_matches: bool = False
    expired: bool = False
    elapsed_ms: float = 0.0
    # Set when this handshake (Cloudflare's offer) failed but a permissive one succeeded.
    permissive: TlsOffer | None = None
    # Set when the handshake with SNI failed or served another name's certificate.
    without_sni: SniCheck | None = None
    # The leaf's revocation status: proxied origins in Full (strict), and in Full or Flexible,
    # which may be proposed a raise to Full (strict); None in Off, DNS-only, when not checked.
    revocation: Revocation | None = None
    # How the origin demanded a client certificate, which the probe cannot present (Cloudflare
    # presents its own with Authenticated Origin Pulls): "" when it did not, or not seen.
    client_certificate: str = ""
    # The certificates the origin sent, leaf first (DER), for the revocation check.
    chain: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    @property
    def handshake_ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class Http2Result:
    """One real HTTP/2 request, made only when the origin negotiated h2 over ALPN."""

    outcome: Outcome
    error: str = ""
    status: int | None = None
    http_version: str = ""  # what httpx reports, "HTTP/2" when h2 really worked
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class HttpResponseResult:
    """One HTTP/1.1 `GET /` sent the way Cloudflare sends it to this origin.

    Over HTTPS on 443 when the hostname's SSL mode is Full or Full (strict), over plain HTTP on
    80 when it is Off or Flexible, with the hostname as Host (and SNI) and `Accept-Encoding:
    gzip`. The bytes are read raw, so a response an HTTP library would reject (no status line,
    an oversized header block, a body shorter than its Content-Length) is measured, not lost.
    """

    outcome: Outcome
    error: str = ""
    scheme: str = ""  # "https" or "http"
    port: int = 0
    status: int | None = None
    status_line: str = ""  # the first line received, cut at 200 characters
    location: str = ""
    header_bytes: int = 0  # the whole header block, status line included
    headers_complete: bool = False  # the blank line ending the header block was received
    content_encoding: str = ""
    content_length: int | None = None  # as declared
    chunked: bool = False
    body_bytes: int = 0  # as received (before decoding)
    body_complete: bool = False  # the body ended where its framing says it should
    capped: bool = False  # we stopped reading at our own size cap
    decode_error: str = ""  # a gzip body that does not decompress
    empty: bool = False  # the origin closed the connection without sending a byte
    # 1xx responses read past before the final one (100 Continue, 103 Early Hints).
    informational: tuple[int, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)


@dataclass(frozen=True)
class KeepAliveResult:
    """Two requests on one HTTP/1.1 connection, as Cloudflare reuses connections to an origin
    (522: "keepalives are disabled at the origin")."""

    outcome: Outcome  # of the exchange as a whole: OK when the first response was read
    error: str = ""
    scheme: str = ""
    port: int = 0
    first_status: int | None = None
    second_status: int | None = None
    reused: bool = False  # the second request was answered on the same connection
    # The origin ended the connection after the first response: how ("Connection: close", ...).
    closed_after_first: str = ""
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class OriginProbe:
    """One origin address as seen for one hostname (SNI and Host are that hostname)."""

    hostname: str
    address: str  # what the DNS record names (an IP, or a CNAME target's resolved address)
    proxied: bool
    tcp443: StepResult
    tcp80: StepResult
    tls: TlsResult | None = None
    http2: Http2Result | None = None
    via_cname: str = ""  # the CNAME target, when the address came from one
    # One request as Cloudflare would send it (proxied records only).
    response: HttpResponseResult | None = None
    # "host:port" actually connected to for 443 and 80 (differs from address under --connect-to).
    connected_to: tuple[str, ...] = ()
    # The route this origin is on (cfremedy.routes): its ports, SNI and Host, and its steps
    # for people ("via load balancer lb.example.com pool eu-1 origin 2 (app-1)"); "" for a
    # plain DNS record. `tcp443`/`tcp80` are the connects to `https_port`/`http_port`.
    https_port: int = 443
    http_port: int = 80
    sni: str = ""
    host_header: str = ""
    via: str = ""
    partial: bool = False  # only part of the hostname's traffic comes here (a path rule)
    keepalive: KeepAliveResult | None = None
    # The steps that timed out the first time ("tcp443", "tls", ...): the whole probe was then
    # run once more on its own, outside the run's crowd of probes, and this is that retry.
    retried: tuple[str, ...] = ()

    @property
    def reachable(self) -> bool:
        return self.tcp443.ok or self.tcp80.ok


@dataclass(frozen=True)
class Resolution:
    """What DNS said about a name outside the zone that a route needs (`origin_dns`)."""

    name: str
    status: str  # ok | nxdomain | nodata | servfail | timeout | error | skipped
    addresses: tuple[str, ...] = ()
    resolver: str = ""  # which resolver answered: the system's, or --resolver
    detail: str = ""
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class ProbeResults:
    probes: tuple[OriginProbe, ...] = ()
    # Names outside the zone that routes lead to, as DNS answered them (each name once).
    resolutions: tuple[Resolution, ...] = ()
    # Inventory addresses that differ from what DNS names, probed as the route would reach them
    # (the same ports, SNI and Host): what `origin_ip` checks before proposing a DNS rewrite.
    # Never a route: no other playbook judges them.
    candidates: tuple[OriginProbe, ...] = ()
    # Why probing was not done at all (e.g. `--no-probe`): the audit reports it as a probe-stage
    # error, so a check that did not run never reads as a pass.
    skipped_reason: str = ""
