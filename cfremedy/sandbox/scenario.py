"""Scenario files: the zones, tokens, origins and faults one sandbox run is made of.

A scenario is TOML (stdlib `tomllib`, no extra dependency). It is parsed into frozen pydantic
models with unknown keys forbidden, so a typo in a test fixture fails loudly with the key's path
instead of silently producing a healthy zone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PLANS = ("free", "pro", "business", "enterprise")

# What an origin does on its TLS port (443).
HttpsBehaviour = Literal[
    "valid",  # certificate chained to the sandbox CA (pass it as --origin-ca), name matches
    "self_signed",  # self-signed certificate for the right names (526 under strict)
    "expired",  # sandbox-CA certificate whose validity ended (526 under strict)
    "wrong_name",  # sandbox-CA certificate for other names only (526 under strict)
    "untrusted",  # certificate from a CA nobody trusts (526 under strict)
    "plain_http",  # speaks plain HTTP on 443 (525)
    "tls_alert",  # aborts every handshake with a fatal alert (525)
    "silent",  # accepts TCP, never answers (TLS handshake times out)
    "reset",  # accepts TCP, then resets the connection
    "closed",  # nothing listens: connection refused (521)
    "drop",  # SYN never answered: connect times out (522)
]
# What an origin does on its plain-HTTP port (80).
HttpBehaviour = Literal["ok", "redirect_https", "closed", "drop", "silent"]
# What an origin that negotiated h2 over ALPN does with an HTTP/2 request.
H2Behaviour = Literal[
    "ok",  # a correct HTTP/2 server
    "http1_reply",  # answers the h2 preface with an HTTP/1.1 response (garbage to an h2 client)
    "goaway",  # sends GOAWAY(PROTOCOL_ERROR) right after the preface
    "rst_stream",  # resets every request stream
    "close",  # closes the connection after the handshake
]
# How the origin's HTTP/1.1 pages look: on 443 when TLS (or plain_http) leads to HTTP/1.1, and
# on 80 when `http = "ok"`. Never applied to `http = "redirect_https"` redirects nor to h2.
ResponseBehaviour = Literal[
    "ok",  # a correct page; gzip-compressed (right Content-Length) when Accept-Encoding has gzip
    # Cloudflare's 502 (or 520) of compression at the origin: a valid gzip body whose
    # Content-Length is the uncompressed size, then the connection closes short of it. Only
    # when the request accepts gzip, like a real compression module; otherwise a correct page.
    "gzip_bad_length",
    # Cloudflare's 502 (or 520) of broken gzip: Content-Encoding: gzip on bytes that are not
    # a valid gzip stream (a gzip header, then an invalid deflate block). Only when the request
    # accepts gzip, as above; otherwise a correct page.
    "gzip_corrupt",
    "huge_headers",  # 520: a 200 whose header block exceeds 16 KB (24 cookies of ~1 KB)
    "no_status_line",  # 520: header lines and a body, but no HTTP status line
    "empty_reply",  # 520: reads the request, closes the connection without sending a byte
]
# The highest TLS version an origin with a certificate speaks (`tls_max_version`).
# An outdated origin is the 525 "cipher suites do not match": Cloudflare still offers TLS
# 1.0/1.1 to origins, but only with RSA suites, and the sandbox's certificates are EC.
TlsVersion = Literal[
    "TLSv1",  # TLS 1.0 only (an outdated origin: 525 with an EC certificate)
    "TLSv1.1",  # TLS 1.0 and 1.1 (likewise)
    "TLSv1.2",  # up to TLS 1.2: what an origin limited by `tls_ciphers` speaks at most
    "TLSv1.3",  # up to TLS 1.3: the same as leaving it out
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenSpec(_Strict):
    name: str = "default"
    value: str
    # Cloudflare permission group names, e.g. "Zone Read", "DNS Write", "Zone Settings Read".
    permissions: tuple[str, ...] = ()
    # Zone name globs the token is scoped to; zones outside are invisible to it.
    zones: tuple[str, ...] = ("*",)
    status: Literal["active", "disabled", "expired"] = "active"


class RecordSpec(_Strict):
    type: str = "A"
    name: str  # relative to the zone ("www", "@") or fully qualified
    content: str
    proxied: bool = False
    ttl: int = 1
    id: str | None = None


class AnalyticsSpec(_Strict):
    """One hourly bucket of a zone's 5xx traffic, as the GraphQL Analytics API reports it.

    Hours are relative to the current hour so a scenario keeps meaning "errors in the last day"
    whenever it runs; a fixed date would fall out of every audit window a week later.
    """

    edge_status: int  # what the visitor got: 500-599
    origin_status: int = 0  # what the origin answered; 0: it never answered (e.g. 522)
    count: int = Field(ge=1)
    hours_ago: int = Field(default=0, ge=0)  # 0 = the current hour, 1 = the hour before, ...

    @field_validator("edge_status")
    @classmethod
    def _edge_5xx(cls, status: int) -> int:
        if not 500 <= status <= 599:
            raise ValueError(f"edge_status {status} is not a 5xx status (500-599)")
        return status

    @field_validator("origin_status")
    @classmethod
    def _origin_status(cls, status: int) -> int:
        if status != 0 and not 100 <= status <= 599:
            raise ValueError(f"origin_status {status} is neither 0 (no answer) nor 100-599")
        return status


# The SSL/TLS modes a Configuration Rule or a Page Rule can set (the OpenAPI document's enum).
SslMode = Literal["off", "flexible", "full", "strict", "origin_pull"]
# A Page Rule target as the OpenAPI document constrains it (`zones_url_target`).
_PAGE_RULE_URL = re.compile(r"^(https?://)?(([-a-zA-Z0-9*]*\.)+[-a-zA-Z0-9]{2,20})(:(8080|8443|443|80))?(/\S+)?$")


class ConfigRuleSpec(_Strict):
    """A Configuration Rule in the zone's `http_config_settings` entry point ruleset.

    Without `ssl` it stands for a rule that overrides something else (the sandbox serves it
    with `automatic_https_rewrites`), which a reader of SSL rules must skip.
    """

    expression: str = Field(min_length=1)  # Rules language, e.g. '(http.host eq "api.example.com")'
    ssl: SslMode | None = None
    description: str = ""
    enabled: bool = True
    id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")


class PageRuleSpec(_Strict):
    """A Page Rule with one URL target. Without `ssl` it stands for a rule with another action
    (the sandbox serves it with `browser_check`)."""

    url: str  # the target's pattern, e.g. "*api.example.com/*"
    ssl: SslMode | None = None
    priority: int = Field(default=1, ge=1)  # higher wins; the API lists highest first
    status: Literal["active", "disabled"] = "active"
    id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")

    @field_validator("url")
    @classmethod
    def _pattern(cls, url: str) -> str:
        if not _PAGE_RULE_URL.match(url):
            raise ValueError(f'{url!r} is not a Page Rule URL pattern (e.g. "*api.example.com/*")')
        return url


class ZoneSpec(_Strict):
    name: str
    id: str | None = None
    plan: str = "free"
    account: str = "acc00000000000000000000000000001"
    status: str = "active"
    settings: dict[str, Any] = Field(default_factory=dict)
    records: tuple[RecordSpec, ...] = ()
    # Extra DNS-only TXT records, for load tests and benchmarks.
    generate_records: int = 0
    # 5xx traffic the GraphQL Analytics API reports for this zone.
    analytics: tuple[AnalyticsSpec, ...] = ()
    # When set, GraphQL answers this zone with this error message instead of data (the other
    # zones of the same query are still answered: GraphQL's partial data).
    graphql_error: str | None = None
    # Configuration Rules (the `http_config_settings` entry point ruleset, in order) and Page
    # Rules; a zone without Configuration Rules has no entry point ruleset at all (404).
    config_rules: tuple[ConfigRuleSpec, ...] = ()
    page_rules: tuple[PageRuleSpec, ...] = ()

    @field_validator("plan")
    @classmethod
    def _known_plan(cls, plan: str) -> str:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; expected one of {', '.join(PLANS)}")
        return plan

    @property
    def zone_id(self) -> str:
        return self.id or stable_id("zone", self.name)


# The account zones and Pages projects belong to unless a scenario says otherwise.
DEFAULT_ACCOUNT: str = ZoneSpec.model_fields["account"].default


class PagesProjectSpec(_Strict):
    """A Cloudflare Pages project of an account (`GET /accounts/{id}/pages/projects`)."""

    name: str
    account: str = DEFAULT_ACCOUNT
    domains: tuple[str, ...] = ()  # custom domains attached to the project
    subdomain: str | None = None  # default "<name>.pages.dev"

    @field_validator("name")
    @classmethod
    def _project_name(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?", name):
            raise ValueError(f"{name!r} is not a Pages project name (lower-case letters, digits, -)")
        return name

    @field_validator("domains")
    @classmethod
    def _domains(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lower().rstrip(".") for d in domains)

    @property
    def pages_subdomain(self) -> str:
        return (self.subdomain or f"{self.name}.pages.dev").lower()


class OriginSpec(_Strict):
    """A real server the sandbox starts on loopback to stand in for an origin address."""

    address: str  # the address DNS records name; probes reach it via --connect-to or a netns
    hostnames: tuple[str, ...] = ()  # names its certificate is issued for
    https: HttpsBehaviour = "valid"
    http: HttpBehaviour = "ok"
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    h2: H2Behaviour = "ok"
    # Seconds each HTTP response waits before being sent (a slow endpoint).
    delay_seconds: float = 0.0
    # How its HTTP/1.1 pages look (see `ResponseBehaviour`).
    response: ResponseBehaviour = "ok"
    # Only for origins that present a certificate (`https` = valid, self_signed, expired,
    # wrong_name, untrusted):
    # The highest TLS version it accepts (see `TlsVersion`). A TLS 1.0/1.1 origin accepts down
    # to TLS 1.0 and runs at OpenSSL security level 0, as such an old server does. None: up to
    # TLS 1.3, or up to TLS 1.2 when `tls_ciphers` is set.
    tls_max_version: TlsVersion | None = None
    # An OpenSSL cipher string for TLS <= 1.2 (TLS 1.3 suites cannot be restricted this way,
    # hence the implied TLS 1.2 maximum): the 525 "cipher suites do not match those Cloudflare
    # offers" when it shares none with Cloudflare, e.g. "ECDHE-ECDSA-CHACHA20-POLY1305". The
    # certificate's key is EC P-256, so the string must keep an ECDHE-ECDSA suite usable up to
    # the maximum version. This OpenSSL build has no 3DES or RC4 suites.
    tls_ciphers: str | None = None
    # The certificate expires this many days from now (plus an hour, so that whole days left,
    # rounded down, are exactly this while the sandbox runs): the "expires in N days" check.
    # Not for `https = "expired"`, whose certificate has already expired.
    cert_days_left: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("address")
    @classmethod
    def _ip(cls, address: str) -> str:
        return str(ipaddress.ip_address(address))

    @field_validator("tls_ciphers")
    @classmethod
    def _cipher_string(cls, ciphers: str | None) -> str | None:
        if ciphers is not None and not ciphers.strip():
            raise ValueError("tls_ciphers is empty; leave it out for the default ciphers")
        return ciphers

    @model_validator(mode="after")
    def _tls_parameters(self) -> OriginSpec:
        certificate = self.https in ("valid", "self_signed", "expired", "wrong_name", "untrusted")
        if self.response != "ok" and not (certificate or self.https == "plain_http" or self.http == "ok"):
            raise ValueError(
                f"response = {self.response!r} needs a port that serves pages: https with a"
                ' certificate or "plain_http", or http = "ok"'
            )
        for name in ("tls_max_version", "tls_ciphers", "cert_days_left"):
            if getattr(self, name) is not None and not certificate:
                raise ValueError(
                    f"{name} needs an origin that presents a certificate (https = valid,"
                    f" self_signed, expired, wrong_name or untrusted), not https = {self.https!r}"
                )
        if self.cert_days_left is not None and self.https == "expired":
            raise ValueError('cert_days_left contradicts https = "expired" (already expired)')
        if self.tls_ciphers is None:
            return self
        if self.tls_max_version == "TLSv1.3":
            raise ValueError(
                "tls_ciphers cannot restrict TLS 1.3 suites: set tls_max_version to TLSv1.2 or"
                " lower (or leave it out, which means TLSv1.2)"
            )
        import ssl  # only scenarios with tls_ciphers pay for it

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.set_ciphers(self.tls_cipher_string or "")
        except ssl.SSLError:
            raise ValueError(
                f"tls_ciphers {self.tls_ciphers!r} selects no cipher this OpenSSL"
                f" ({ssl.OPENSSL_VERSION}) knows; 3DES and RC4 are not available"
            ) from None
        rank = {"SSLv3": 0, "TLSv1.0": 1, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3}
        ceiling = rank[self.tls_maximum or "TLSv1.2"]
        if not any(
            cipher["auth"] == "auth-ecdsa" and rank.get(cipher["protocol"], 9) <= ceiling
            for cipher in context.get_ciphers()
        ):
            raise ValueError(
                f"tls_ciphers {self.tls_ciphers!r} has no ECDHE-ECDSA suite usable up to"
                f" {self.tls_maximum}: the sandbox certificate is EC, so no handshake could succeed"
                ' (use https = "tls_alert" for an origin that fails every handshake)'
            )
        return self

    @property
    def tls_maximum(self) -> TlsVersion | None:
        """The highest TLS version served: `tls_max_version`, or TLS 1.2 under `tls_ciphers`."""
        if self.tls_max_version is None and self.tls_ciphers is not None:
            return "TLSv1.2"
        return self.tls_max_version

    @property
    def tls_cipher_string(self) -> str | None:
        """The cipher string the origin's TLS context gets; None keeps Python's default.

        TLS 1.0/1.1 need security level 0 in OpenSSL 3 (their handshakes sign with SHA-1),
        so an old origin gets "@SECLEVEL=0" appended, or "ALL:@SECLEVEL=0" without ciphers.
        """
        ciphers = self.tls_ciphers
        if self.tls_maximum in ("TLSv1", "TLSv1.1"):
            ciphers = ciphers or "ALL"
            if "@SECLEVEL" not in ciphers.upper():
                ciphers += ":@SECLEVEL=0"
        return ciphers


class FaultSpec(_Strict):
    """A fault the API injects: deterministic under the sandbox seed."""

    kind: Literal["429", "500", "403", "reset"]
    rate: float = Field(default=1.0, ge=0.0, le=1.0)  # probability per matching request
    count: int | None = None  # stop after injecting this many
    method: str | None = None  # only requests with this method ("GET", "PATCH", ...)
    path: str | None = None  # only paths matching this regular expression
    retry_after: float = 1.0  # seconds, for 429


class EdgeSpec(_Strict):
    """What Cloudflare's edge answers for one proxied hostname (what `cfremedy diagnose` sees).

    The article tells Cloudflare's own error pages from the origin's by the word "cloudflare" in
    the body; `branded` picks which of the two the sandbox edge serves.
    """

    hostname: str
    status: int = 200
    branded: bool = True  # a Cloudflare error page (mentions "cloudflare", shows the Ray ID)
    error_1xxx: int | None = None  # for 530: the 1xxx error the page names (e.g. 1016)
    body: str = ""  # the origin's own page when not branded (default: a plain nginx page)
    colo: str = "SJC"
    set_cookie: str = ""  # a Set-Cookie header to send (it must never reach a bundle)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, hostname: str) -> str:
        name = hostname.strip().lower().rstrip(".")
        if not name or any(c.isspace() or c in ":/[]" for c in name):
            raise ValueError(f"{hostname!r} is not a hostname")
        return name

    @field_validator("status")
    @classmethod
    def _status(cls, status: int) -> int:
        if not 200 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP status the edge answers (200-599)")
        return status

    @field_validator("error_1xxx")
    @classmethod
    def _error_1xxx(cls, code: int | None) -> int | None:
        if code is not None and not 1000 <= code <= 1999:
            raise ValueError(f"error_1xxx {code} is not a Cloudflare 1xxx error (1000-1999)")
        return code

    @field_validator("colo")
    @classmethod
    def _colo(cls, colo: str) -> str:
        if not colo.isalnum():  # it ends up in a header and in the trace, unquoted
            raise ValueError(f"colo {colo!r} must be letters and digits (e.g. SJC)")
        return colo

    @field_validator("set_cookie")
    @classmethod
    def _one_header_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("set_cookie must be a single header line")
        return value


class SandboxOptions(_Strict):
    latency_ms: float = 0.0
    seed: int = 0
    faults: tuple[FaultSpec, ...] = ()
    # Server-side limit: more than `requests` in `window` seconds per token answers 429.
    rate_limit_requests: int | None = None
    rate_limit_window: float = 300.0


class Scenario(_Strict):
    description: str = ""
    tokens: tuple[TokenSpec, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()
    origins: tuple[OriginSpec, ...] = ()
    sandbox: SandboxOptions = SandboxOptions()
    # Hostnames the sandbox edge answers for, over plain HTTP (see `sandbox/edge.py`).
    edge: tuple[EdgeSpec, ...] = ()
    # An inventory file (README, "The inventory") that goes with the scenario; a relative path is relative to
    # the scenario file, and `load_scenario` makes it absolute.
    inventory: str | None = None
    # Cloudflare Pages projects, per account (`account` defaults to the zones' default).
    pages_projects: tuple[PagesProjectSpec, ...] = ()

    @field_validator("pages_projects")
    @classmethod
    def _unique_projects(cls, projects: tuple[PagesProjectSpec, ...]) -> tuple[PagesProjectSpec, ...]:
        seen: set[tuple[str, str]] = set()
        for project in projects:
            if (project.account, project.name) in seen:
                raise ValueError(f"Pages project {project.name} appears twice in account {project.account}")
            seen.add((project.account, project.name))
        return projects

    @field_validator("edge")
    @classmethod
    def _unique_edge_hostnames(cls, edge: tuple[EdgeSpec, ...]) -> tuple[EdgeSpec, ...]:
        """The edge picks a page by Host header: two specs for one name would be a coin toss."""
        seen: set[str] = set()
        for spec in edge:
            if spec.hostname in seen:
                raise ValueError(f"edge hostnames must be unique: {spec.hostname} appears twice")
            seen.add(spec.hostname)
        return edge

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        names = [z.name for z in self.zones]
        if len(names) != len(set(names)):
            raise ValueError("zone names must be unique")
        addresses = [o.address for o in self.origins]
        if len(addresses) != len(set(addresses)):
            raise ValueError("origin addresses must be unique")
        return self


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


def stable_id(*parts: str) -> str:
    """A 32-hex identifier derived from its parts, so scenario ids are the same on every run."""
    return hashlib.md5("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def builtin_scenarios() -> list[str]:
    files = resources.files("cfremedy.sandbox") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario from a TOML file path, or a built-in one by name (e.g. "demo")."""
    path = Path(source)
    if not path.suffix and str(source) in builtin_scenarios():
        # Installed packages are plain directories, so the resource is a real file path.
        path = Path(str(resources.files("cfremedy.sandbox") / "scenarios" / f"{source}.toml"))
        text = path.read_text(encoding="utf-8")
        label = f"built-in scenario {source!r}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
        label = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: invalid TOML: {exc}") from None
    if isinstance(data.get("inventory"), str):
        inventory = path.parent / data["inventory"]
        if not inventory.is_file():
            raise ScenarioError(f"{label}: inventory: {inventory} does not exist")
        data["inventory"] = str(inventory.resolve())
    return parse_scenario(data, label)


def parse_scenario(data: dict[str, Any], label: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ScenarioError(f"{label}: {where}: {first['msg']}") from None
