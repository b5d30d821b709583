"""Scenario files: the zones, tokens, origins and faults one sandbox run is made of.

A scenario is TOML (stdlib `tomllib`, no extra dependency). It is parsed into frozen pydantic
models with unknown keys forbidden, so a typo in a test fixture fails loudly with the key's path
instead of silently producing a healthy zone.

Besides zones, tokens, origins and faults, a scenario says where a hostname's traffic really
goes: per zone its Origin Rules, Cache Rules and load balancers (`[[zones.origin_rules]]`,
`[[zones.cache_rules]]`, `[[zones.load_balancers]]`); per account its load-balancing pools and
Cloudflare Tunnels (`[[pools]]`, `[[tunnels]]`); and what the sandbox's DNS server answers for
a name (`[[dns]]`, served by `sandbox/dns.py`). Each model's docstring lists its keys.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

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
    # Never answers the first HTTP/2 request it gets (as if stuck behind a busy machine), then
    # answers every later one: a probe that times out once and passes when retried.
    "stall_first",
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
# Whether the origin's certificate names an OCSP responder, and what it answers (526: "the
# certificate is not revoked"). Only for certificates of the sandbox CA (valid, expired,
# wrong_name), whose responder the sandbox runs.
OcspBehaviour = Literal[
    "none",  # no Authority Information Access: nothing to ask
    "good",  # the sandbox's responder answers good
    "revoked",  # the sandbox's responder answers revoked (a week ago, key compromise)
    "unreachable",  # names a responder on a loopback port nothing listens on
]
# How the origin treats the server name (SNI) a client sends.
SniBehaviour = Literal[
    "ok",  # serves its certificate whatever name is sent
    "reject",  # aborts a handshake that names any server (unrecognized_name); serves without SNI
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


_HOST_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")
_RULE_ID = r"^[0-9a-f]{32}$"


def _hostname(raw: str, what: str = "hostname") -> str:
    """A DNS name, lower-cased and without the trailing dot; refuses what cannot be one."""
    name = raw.strip().lower().rstrip(".")
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"{raw!r} is not a {what}")
    return name


class OriginRuleSpec(_Strict):
    """An Origin Rule: a rule of the zone's `http_request_origin` entry point ruleset, served
    with action `route` (in scenario order).

    Keys: `expression` (Rules language), `description` (default ""), `host_header` (rewrite
    the Host header), `origin_host` (resolve override: the DNS record the request goes to
    instead), `origin_port` (destination port override, 1-65535), `sni` (SNI override),
    `enabled` (default true), `id` (32 hex; default `stable_id(zone_id, "origin_rule",
    expression, str(index))`). At least one of the four overrides must be set: a route rule
    without action parameters does nothing.
    """

    expression: str = Field(min_length=1)
    description: str = ""
    host_header: str | None = Field(default=None, min_length=1)
    origin_host: str | None = None
    origin_port: int | None = Field(default=None, ge=1, le=65535)
    sni: str | None = Field(default=None, min_length=1)
    enabled: bool = True
    id: str | None = Field(default=None, pattern=_RULE_ID)

    @field_validator("origin_host")
    @classmethod
    def _origin_host(cls, host: str | None) -> str | None:
        return None if host is None else _hostname(host, "hostname (origin_host)")

    @model_validator(mode="after")
    def _overrides_something(self) -> OriginRuleSpec:
        if (self.host_header, self.origin_host, self.origin_port, self.sni) == (None, None, None, None):
            raise ValueError("an origin rule needs at least one of host_header, origin_host, origin_port, sni")
        return self


class CacheRuleSpec(_Strict):
    """A Cache Rule: a rule of the zone's `http_request_cache_settings` entry point ruleset,
    served with action `set_cache_settings` (in scenario order).

    Keys: `expression`, `description` (default ""), `read_timeout` (seconds, 1-6000: the rule
    then sets `{"cache": false, "read_timeout": N}`, the 524 fix for one path; without it the
    rule sets only `{"cache": true}`), `enabled` (default true), `id` (32 hex; default
    `stable_id(zone_id, "cache_rule", expression, str(index))`).
    """

    expression: str = Field(min_length=1)
    description: str = ""
    # The bounds of the zone setting `proxy_read_timeout` (the document gives none).
    read_timeout: int | None = Field(default=None, ge=1, le=6000)
    enabled: bool = True
    id: str | None = Field(default=None, pattern=_RULE_ID)


# Load-balancing regions (`region_pools` keys), as the OpenAPI document lists them.
LB_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS")


class LoadBalancerSpec(_Strict):
    """A zone's load balancer (`GET /zones/{id}/load_balancers`).

    Keys: `name` (relative to the zone or fully qualified, like record names), `default_pools`
    (pool *names* of the zone's account, in failover order; the API serves their ids),
    `fallback_pool` (a pool name), `region_pools` (region code -> pool names; codes as in
    `LB_REGIONS`), `country_pools` (two-letter country code -> pool names), `pop_pools` (PoP
    code, three letters -> pool names), `description` (default ""), `enabled` (default true),
    `proxied` (default false, the API's default), `id` (32 hex; default
    `stable_id(zone_id, "load_balancer", fqdn)`). That every pool name exists in the zone's
    account is checked by `Scenario`.
    """

    name: str = Field(min_length=1)
    default_pools: tuple[str, ...] = Field(min_length=1)
    fallback_pool: str
    region_pools: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    country_pools: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    pop_pools: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    description: str = ""
    enabled: bool = True
    proxied: bool = False
    id: str | None = Field(default=None, pattern=_RULE_ID)

    @field_validator("region_pools")
    @classmethod
    def _regions(cls, pools: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code in pools:
            if code not in LB_REGIONS:
                raise ValueError(f"unknown region {code!r}; expected one of {', '.join(LB_REGIONS)}")
        return pools

    @field_validator("country_pools")
    @classmethod
    def _countries(cls, pools: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code in pools:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"country code {code!r} is not two upper-case letters (e.g. US)")
        return pools

    @field_validator("pop_pools")
    @classmethod
    def _pops(cls, pools: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code in pools:
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"PoP code {code!r} is not three upper-case letters (e.g. LAX)")
        return pools

    def pool_references(self) -> list[tuple[str, str]]:
        """Every pool name the load balancer names, with the key that names it."""
        refs = [(f"default_pools[{i}]", name) for i, name in enumerate(self.default_pools)]
        refs.append(("fallback_pool", self.fallback_pool))
        for key, mapping in (("region_pools", self.region_pools), ("country_pools", self.country_pools),
                             ("pop_pools", self.pop_pools)):  # fmt: skip
            refs.extend((f"{key}.{code}", name) for code, names in mapping.items() for name in names)
        return refs


# The zone-level custom pages the API lists (the SDK's `identifier` values), in its order.
CUSTOM_PAGE_IDS = (
    "basic_challenge",
    "waf_challenge",
    "waf_block",
    "ratelimit_block",
    "country_challenge",
    "ip_block",
    "under_attack",
    "500_errors",
    "1000_errors",
    "managed_challenge",
)


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
    # Origin Rules (`http_request_origin`) and Cache Rules (`http_request_cache_settings`), in
    # order; a zone without them has no entry point ruleset of that phase (404).
    origin_rules: tuple[OriginRuleSpec, ...] = ()
    cache_rules: tuple[CacheRuleSpec, ...] = ()
    # Load balancers on the zone's hostnames; their pools belong to the zone's account.
    load_balancers: tuple[LoadBalancerSpec, ...] = ()
    # Custom error pages the zone has customised, by page id (e.g. "500_errors") -> the URL
    # Cloudflare fetches the page from; every other page is listed in its default state.
    custom_pages: dict[str, str] = Field(default_factory=dict)

    @field_validator("plan")
    @classmethod
    def _known_plan(cls, plan: str) -> str:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; expected one of {', '.join(PLANS)}")
        return plan

    @model_validator(mode="after")
    def _custom_pages(self) -> ZoneSpec:
        unknown = sorted(set(self.custom_pages) - set(CUSTOM_PAGE_IDS))
        if unknown:
            raise ValueError(f"unknown custom page id(s) {', '.join(unknown)}; expected {', '.join(CUSTOM_PAGE_IDS)}")
        if self.custom_pages and self.plan == "free":
            raise ValueError("custom error pages are not available on the free plan")
        for page_id, url in self.custom_pages.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"custom page {page_id}: {url!r} is not an http(s) URL")
        return self

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


class PoolOriginSpec(_Strict):
    """An origin (endpoint) of a load-balancing pool.

    Keys: `name`, `address` (an IP address or a hostname), `enabled` (default true), `weight`
    (0-1 in steps of 0.01, default 1), `port` (0-65535; 0, the default, is the protocol's),
    `host` (the Host header health checks and requests send; served as `header.Host`),
    `healthy` (default true: what the pool's health reports for it).
    """

    name: str = Field(min_length=1)
    address: str
    enabled: bool = True
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    port: int = Field(default=0, ge=0, le=65535)
    host: str | None = None
    healthy: bool = True

    @field_validator("address")
    @classmethod
    def _address(cls, address: str) -> str:
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            return _hostname(address, "IP address or hostname")

    @field_validator("host")
    @classmethod
    def _host(cls, host: str | None) -> str | None:
        return None if host is None else _hostname(host)

    @field_validator("weight")
    @classmethod
    def _hundredths(cls, weight: float) -> float:
        if abs(weight * 100 - round(weight * 100)) > 1e-9:
            raise ValueError(f"weight {weight} is not a multiple of 0.01")
        return weight


class PoolSpec(_Strict):
    """A load-balancing pool of an account (`GET /accounts/{id}/load_balancers/pools`).

    Keys: `name` (letters, digits, `-` and `_`; unique in its account), `account` (default:
    the zones' default account), `description` (default ""), `enabled` (default true),
    `minimum_origins` (default 1), `origins` (`PoolOriginSpec`s, names unique in the pool),
    `healthy` (what the pool's /health reports for the pool; default: enabled, with at least
    `minimum_origins` enabled healthy origins), `id` (32 hex; default
    `stable_id("pool", account, name)`).
    """

    name: str
    account: str = DEFAULT_ACCOUNT
    description: str = ""
    enabled: bool = True
    minimum_origins: int = Field(default=1, ge=1)
    origins: tuple[PoolOriginSpec, ...] = ()
    healthy: bool | None = None
    id: str | None = Field(default=None, pattern=_RULE_ID)

    @field_validator("name")
    @classmethod
    def _pool_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(f"{name!r} is not a pool name (letters, digits, - and _)")
        return name

    @field_validator("origins")
    @classmethod
    def _unique_origins(cls, origins: tuple[PoolOriginSpec, ...]) -> tuple[PoolOriginSpec, ...]:
        names = [o.name for o in origins]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"origin {name!r} appears twice in the pool")
        return origins

    @property
    def pool_id(self) -> str:
        return self.id or stable_id("pool", self.account, self.name)

    @property
    def is_healthy(self) -> bool:
        if self.healthy is not None:
            return self.healthy
        up = sum(1 for o in self.origins if o.enabled and o.healthy)
        return self.enabled and up >= self.minimum_origins


# What `cloudflared` accepts as an ingress rule's service.
_INGRESS_SERVICE = re.compile(
    r"^(?:(?:https?|tcp|ssh|rdp|smb|unix|unix\+tls)://\S+|http_status:[1-5][0-9]{2}|hello_world|bastion|socks5)$"
)
TunnelStatus = Literal["healthy", "degraded", "down", "inactive"]


class IngressRuleSpec(_Strict):
    """One rule of a remotely managed tunnel's ingress: `hostname` and `path` (a regular
    expression) filter, `service` is where matching requests go (`http://localhost:8080`,
    `https://10.0.0.5:8443`, `http_status:404`, ...). The last rule must match everything (no
    hostname, no path), as `cloudflared` requires."""

    hostname: str | None = None
    path: str | None = Field(default=None, min_length=1)
    service: str

    @field_validator("hostname")
    @classmethod
    def _host(cls, hostname: str | None) -> str | None:
        return None if hostname is None else _hostname(hostname)

    @field_validator("path")
    @classmethod
    def _regex(cls, path: str | None) -> str | None:
        if path is not None:
            try:
                re.compile(path)
            except re.error as exc:
                raise ValueError(f"path {path!r} is not a regular expression: {exc}") from None
        return path

    @field_validator("service")
    @classmethod
    def _service(cls, service: str) -> str:
        if not _INGRESS_SERVICE.match(service):
            raise ValueError(
                f"service {service!r} is not a tunnel service (http://..., https://..., tcp://...,"
                " unix:..., http_status:NNN, hello_world, ...)"
            )
        return service


class TunnelSpec(_Strict):
    """A Cloudflare Tunnel of an account (`GET /accounts/{id}/cfd_tunnel`).

    Keys: `name`, `account` (default: the zones' default account), `id` (a UUID; default one
    derived from account and name, and for a deleted tunnel also from how many deleted tunnels
    of that name precede it), `status` (healthy, degraded, down or inactive; default healthy),
    `remote_config` (default false: configured by a local file; true: dashboard-managed, its
    configuration is served), `connections` (active connections listed; default 4 when healthy,
    1 when degraded, 0 when down or inactive, which must have none), `deleted` (default false;
    a deleted tunnel has no connection), `ingress` (`IngressRuleSpec`s, only with
    `remote_config = true`; the last one a catch-all).
    """

    name: str = Field(min_length=1)
    account: str = DEFAULT_ACCOUNT
    id: str | None = None
    status: TunnelStatus = "healthy"
    remote_config: bool = False
    connections: int | None = Field(default=None, ge=0, le=100)
    deleted: bool = False
    ingress: tuple[IngressRuleSpec, ...] = ()

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"id {value!r} is not a UUID") from None

    @model_validator(mode="after")
    def _consistent(self) -> TunnelSpec:
        if self.connections is not None:
            if self.status in ("down", "inactive") and self.connections:
                raise ValueError(f"connections: a tunnel with status {self.status!r} has no active connection")
            if self.status in ("healthy", "degraded") and not self.connections:
                raise ValueError(f"connections: a tunnel with status {self.status!r} has at least one connection")
        if self.deleted and self.active_connections:
            raise ValueError('deleted: a deleted tunnel has no connection (status "down" or "inactive")')
        if self.ingress and not self.remote_config:
            raise ValueError("ingress: only a remotely managed tunnel (remote_config = true) has its ingress served")
        if self.ingress and (self.ingress[-1].hostname is not None or self.ingress[-1].path is not None):
            raise ValueError("ingress: the last rule must match everything (no hostname, no path)")
        return self

    @property
    def active_connections(self) -> int:
        if self.connections is not None:
            return self.connections
        return {"healthy": 4, "degraded": 1}.get(self.status, 0)


DnsAnswer = Literal["nxdomain", "nodata", "servfail", "timeout", "addresses"]


class DnsAnswerSpec(_Strict):
    """What the sandbox's DNS server (`sandbox/dns.py`) answers for one name.

    Keys: `name` (a hostname), `answer` (`nxdomain`: NXDOMAIN; `nodata`: NOERROR, no record;
    `servfail`: SERVFAIL; `timeout`: no reply at all; `addresses`: A and AAAA records, default),
    `addresses` (IP addresses, only and at least one for `answer = "addresses"`; a query for the
    family the name has no address of answers NODATA). A name no entry names answers NXDOMAIN.
    """

    name: str
    answer: DnsAnswer = "addresses"
    addresses: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return _hostname(name)

    @field_validator("addresses")
    @classmethod
    def _ips(cls, addresses: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for address in addresses:
            try:
                out.append(str(ipaddress.ip_address(address)))
            except ValueError:
                raise ValueError(f"addresses: {address!r} is not an IP address") from None
        return tuple(out)

    @model_validator(mode="after")
    def _answer_and_addresses(self) -> DnsAnswerSpec:
        if self.answer == "addresses" and not self.addresses:
            raise ValueError('addresses: answer = "addresses" needs at least one address')
        if self.answer != "addresses" and self.addresses:
            raise ValueError(f'addresses: answer = "{self.answer}" has no addresses (only "addresses" does)')
        return self


class OriginSpec(_Strict):
    """A real server the sandbox starts on loopback to stand in for an origin address."""

    address: str  # the address DNS records name; probes reach it via --connect-to or a netns
    hostnames: tuple[str, ...] = ()  # names its certificate is issued for
    # The ports it serves HTTPS and plain HTTP on; an Origin Rule or a pool origin's port sends
    # Cloudflare to another port than 443/80 (two origins may share an address on other ports).
    https_port: int = Field(default=443, ge=1, le=65535)
    http_port: int = Field(default=80, ge=1, le=65535)
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
    ocsp: OcspBehaviour = "none"
    sni: SniBehaviour = "ok"
    # False: every HTTP/1.1 answer says `Connection: close` and the connection ends with it
    # (522: "keepalives are disabled at the origin").
    keepalive: bool = True
    # True: the TLS port demands a client certificate (as an origin set up for Authenticated
    # Origin Pulls does); with TLS 1.2 the handshake fails, with TLS 1.3 the session ends right
    # after it. Only for origins that present a certificate.
    client_certificate: bool = False

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
        if self.ocsp != "none" and self.https not in ("valid", "expired", "wrong_name"):
            raise ValueError(
                f"ocsp = {self.ocsp!r} needs a certificate of the sandbox CA (https = valid, expired"
                f" or wrong_name), not https = {self.https!r}"
            )
        if self.sni != "ok" and not certificate:
            raise ValueError(f"sni = {self.sni!r} needs an origin that presents a certificate")
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


FaultKind = Literal[
    "429",
    "500",
    "403",
    "reset",
    "trickle",
    "html",
    "body",
    "odd",
    "endless",
    "truncated",
    "bad_byte",
    "500_after",
    "reset_after",
]


class FaultSpec(_Strict):
    """A fault the API injects: deterministic under the sandbox seed (kinds: `faults.py`)."""

    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)  # probability per matching request
    count: int | None = None  # stop after injecting this many
    method: str | None = None  # only requests with this method ("GET", "PATCH", ...)
    path: str | None = None  # only paths matching this regular expression
    retry_after: float = 1.0  # seconds, for 429
    bytes_per_second: float = Field(default=20.0, gt=0.0)  # for "trickle"
    body: Any = None  # for "body": the JSON answered, with status 200, instead of the real answer
    # For "odd": the real answer with these JSON Pointers (RFC 6901) put, then these dropped.
    put: dict[str, Any] = Field(default_factory=dict)
    drop: tuple[str, ...] = ()

    @field_validator("put", "drop")
    @classmethod
    def _pointers(cls, value: Any) -> Any:
        for pointer in value:
            if not pointer.startswith("/"):
                raise ValueError(f"{pointer!r} is not a JSON Pointer (it starts with '/')")
        return value


class EdgeSpec(_Strict):
    """What Cloudflare's edge answers for one proxied hostname (what `cfremedy diagnose` sees).

    The article tells Cloudflare's own error pages from the origin's by the word "cloudflare" in
    the body; `branded` picks which of the two the sandbox edge serves.
    """

    hostname: str
    status: int = 200
    branded: bool = True  # a Cloudflare error page (mentions "cloudflare", shows the Ray ID)
    error_1xxx: int | None = None  # for 530: the 1xxx error the page names (e.g. 1016)
    # Which of the branded 5xx page's three status boxes is marked as the failing hop; default:
    # the host for 520-527 and for 502/504 (Cloudflare's page for the origin's own 502/504),
    # Cloudflare itself for the other codes.
    failing: Literal["browser", "cloudflare", "host"] | None = None
    # Instead of the branded page, the bare one Cloudflare's proxy answers when it fails
    # itself ("502 Bad Gateway" signed "cloudflare", no status boxes).
    bare: bool = False
    body: str = ""  # the origin's own page when not branded (default: a plain nginx page)
    colo: str = "SJC"
    set_cookie: str = ""  # a Set-Cookie header to send (it must never reach a bundle)
    # False: the hostname is DNS-only, so the answer comes from the origin itself (no cf-ray,
    # the origin's Server header), whatever the page says.
    proxied: bool = True
    # The certificate the edge presents over HTTPS: "zone" is the zone's universal certificate
    # (the zone and one level of subdomains, as its certificate pack lists them) signed by the
    # sandbox edge CA, which nothing trusts unless told to (SSL_CERT_FILE); "self_signed" is
    # one no certificate pack has, as a TLS-inspecting middlebox would present.
    certificate: Literal["zone", "self_signed"] = "zone"
    # A redirect (status 300-399): the Location header the edge answers with, absolute or
    # relative, passed on as Cloudflare passes on an origin's redirect or a Redirect Rule's.
    location: str = ""

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

    @field_validator("set_cookie", "location")
    @classmethod
    def _one_header_line(cls, value: str, info: ValidationInfo) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError(f"{info.field_name} must be a single header line")
        return value

    @model_validator(mode="after")
    def _one_kind_of_page(self) -> EdgeSpec:
        if (self.bare or self.failing) and not self.branded:
            raise ValueError("failing and bare describe Cloudflare's pages: they need branded = true")
        if self.bare and (self.failing or self.error_1xxx):
            raise ValueError("a bare page has no status boxes and no 1xxx code")
        if self.failing and self.error_1xxx:
            raise ValueError("a 1xxx page has no status boxes: failing does not apply")
        if self.location and not 300 <= self.status <= 399:
            raise ValueError(f"location is a redirect's: status {self.status} is not 300-399")
        return self


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
    # Load-balancing pools and Cloudflare Tunnels, per account (`account` defaults likewise).
    pools: tuple[PoolSpec, ...] = ()
    tunnels: tuple[TunnelSpec, ...] = ()
    # What the sandbox's DNS server answers, per name (`sandbox/dns.py`).
    dns: tuple[DnsAnswerSpec, ...] = ()

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

    @field_validator("pools")
    @classmethod
    def _unique_pools(cls, pools: tuple[PoolSpec, ...]) -> tuple[PoolSpec, ...]:
        seen: set[tuple[str, str]] = set()
        ids: set[str] = set()
        for index, pool in enumerate(pools):
            if (pool.account, pool.name) in seen:
                raise ValueError(f"pools[{index}]: pool {pool.name} appears twice in account {pool.account}")
            if pool.pool_id in ids:
                raise ValueError(f"pools[{index}]: duplicate pool id {pool.pool_id}")
            seen.add((pool.account, pool.name))
            ids.add(pool.pool_id)
        return pools

    @field_validator("tunnels")
    @classmethod
    def _unique_tunnels(cls, tunnels: tuple[TunnelSpec, ...]) -> tuple[TunnelSpec, ...]:
        live: set[tuple[str, str]] = set()
        for index, tunnel in enumerate(tunnels):
            if not tunnel.deleted and (tunnel.account, tunnel.name) in live:
                raise ValueError(
                    f"tunnels[{index}]: tunnel {tunnel.name} appears twice in account {tunnel.account}"
                    " (only deleted tunnels may share a name)"
                )
            if not tunnel.deleted:
                live.add((tunnel.account, tunnel.name))
        ids = tunnel_ids(tunnels)
        for index, tunnel_id in enumerate(ids):
            if tunnel_id in ids[:index]:
                raise ValueError(f"tunnels[{index}]: duplicate tunnel id {tunnel_id}")
        return tunnels

    @field_validator("dns")
    @classmethod
    def _unique_dns_names(cls, answers: tuple[DnsAnswerSpec, ...]) -> tuple[DnsAnswerSpec, ...]:
        seen: set[str] = set()
        for index, spec in enumerate(answers):
            if spec.name in seen:
                raise ValueError(f"dns[{index}]: name {spec.name} appears twice")
            seen.add(spec.name)
        return answers

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        names = [z.name for z in self.zones]
        if len(names) != len(set(names)):
            raise ValueError("zone names must be unique")
        listeners = [(o.address, port) for o in self.origins for port in (o.https_port, o.http_port)]
        if len(listeners) != len(set(listeners)):
            raise ValueError("two origins listen on the same address and port")
        return self

    @model_validator(mode="after")
    def _load_balancer_pools_exist(self) -> Scenario:
        """Every pool a load balancer names is a pool of its zone's account."""
        pools = {(p.account, p.name) for p in self.pools}
        for zone_index, zone in enumerate(self.zones):
            for lb_index, lb in enumerate(zone.load_balancers):
                for key, name in lb.pool_references():
                    if (zone.account, name) not in pools:
                        raise ValueError(
                            f"zones[{zone_index}].load_balancers[{lb_index}].{key}: no pool named {name!r}"
                            f" in account {zone.account} (the zone's account; see [[pools]])"
                        )
        return self


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


def stable_id(*parts: str) -> str:
    """A 32-hex identifier derived from its parts, so scenario ids are the same on every run."""
    return hashlib.md5("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def stable_uuid(*parts: str) -> str:
    """A version-4-shaped UUID derived from its parts (tunnel and connection ids)."""
    return str(uuid.UUID(hex=stable_id(*parts), version=4))


def tunnel_ids(tunnels: tuple[TunnelSpec, ...]) -> list[str]:
    """Each tunnel's id: its own, or one derived from account and name; a deleted tunnel's also
    from how many deleted tunnels of that name and account come before it in the scenario."""
    ids: list[str] = []
    deleted_before: dict[tuple[str, str], int] = {}
    for tunnel in tunnels:
        key = (tunnel.account, tunnel.name)
        if tunnel.deleted:
            nth = deleted_before.get(key, 0)
            deleted_before[key] = nth + 1
            derived = stable_uuid("tunnel", tunnel.account, tunnel.name, f"deleted-{nth}")
        else:
            derived = stable_uuid("tunnel", tunnel.account, tunnel.name)
        ids.append(tunnel.id or derived)
    return ids


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
