"""The YAML case file format, as strict pydantic models: an unknown key is an error.

A case file is one playbook's table of examples (sqlfluff's idea): each case is a zone as the
API and the probes would describe it, and the exact findings and changes the playbook must
return. A typo (`message_contain:`) must fail loudly, never quietly turn a case into one that
expects nothing, so every model forbids extra keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneSpec(_Strict):
    name: str = "example.com"
    plan: str = "free"


class RecordSpec(_Strict):
    id: str
    name: str
    content: str
    type: str = "A"
    proxied: bool = False


class SslRuleSpec(_Strict):
    """`SslRule`'s fields: a Configuration Rule or Page Rule that sets the SSL mode."""

    source: str
    id: str
    mode: str
    description: str = ""
    expression: str = ""
    url_pattern: str = ""
    enabled: bool = True
    position: int = 0


class LeafSpec(_Strict):
    """The origin's certificate, relative to the case's fixed clock."""

    subject: str | None = None  # default CN=<hostname>
    issuer: str = "CN=Example Public CA,O=Example"
    common_name: str | None = None  # default the hostname
    sans: list[str] | None = None  # default [hostname]
    days_left: int = 60
    self_signed: bool = False
    origin_ca: bool = False


class OfferSpec(_Strict):
    version: str
    cipher: str


class StepSpec(_Strict):
    """A TCP connect in full: its outcome, and how long it took (a timeout's wait)."""

    outcome: str = "ok"
    error: str = ""
    elapsed_ms: float = 0.0


class SniSpec(_Strict):
    """The handshake without SNI (`SniCheck`); the certificate is `leaf` (default: the hostname's)."""

    outcome: str = "ok"
    error: str = ""
    leaf: LeafSpec | None = Field(default_factory=LeafSpec)
    hostname_matches: bool = True
    same_certificate: bool = False


class RevocationSpec(_Strict):
    status: str  # good | revoked | unknown | not_checked
    detail: str = ""
    responder: str = "http://ocsp.example-ca.test/"
    responder_status: str = ""
    staple: str = "none"
    revoked_days_ago: int | None = None  # revoked_at, relative to the case's clock
    reason: str = ""


class KeepAliveSpec(_Strict):
    outcome: str = "ok"
    error: str = ""
    scheme: str = "https"
    port: int = 443
    first_status: int | None = 200
    second_status: int | None = None
    reused: bool = False
    closed_after_first: str = ""


class TlsSpec(_Strict):
    outcome: str = "ok"
    error: str = ""
    version: str = "TLSv1.3"
    alpn: str = "http/1.1"
    # Absent: a default certificate; `leaf: null`: a handshake that succeeded with a
    # certificate cfremedy could not parse.
    leaf: LeafSpec | None = Field(default_factory=LeafSpec)
    verified: bool = False
    verify_error: str = ""
    hostname_matches: bool = True
    expired: bool = False
    cipher: str = "TLS_AES_128_GCM_SHA256"
    permissive: OfferSpec | None = None
    without_sni: SniSpec | None = None
    revocation: RevocationSpec | None = None
    # How the origin demanded a client certificate ("" when it did not): `TlsResult.client_certificate`.
    client_certificate: str = ""


class Http2Spec(_Strict):
    outcome: str = "ok"
    error: str = ""
    status: int | None = None


class ProbeSpec(_Strict):
    hostname: str
    address: str
    proxied: bool = True
    # The connect to the HTTPS port (443 unless the route changes it) and to the HTTP port (80):
    # an outcome, or a `StepSpec` with the time it took (how long a timeout waited).
    tcp443: str | StepSpec = "ok"
    tcp80: str | StepSpec = "ok"
    # The route this origin is on (what `cfremedy.routes` computed for the real probe).
    https_port: int = 443
    http_port: int = 80
    sni: str = ""
    host_header: str = ""
    via: str = ""
    partial: bool = False
    tls: TlsSpec | None = None
    http2: Http2Spec | None = None
    # `HttpResponseResult`'s fields; `outcome` defaults to ok.
    response: dict[str, Any] | None = None
    keepalive: KeepAliveSpec | None = None
    retried: list[str] = Field(default_factory=list)  # steps that timed out the first time


class PagesProjectSpec(_Strict):
    name: str
    subdomain: str
    domains: list[str] = Field(default_factory=list)


class AllowlistSpec(_Strict):
    path: str
    networks: list[str] = Field(default_factory=list)
    error: str = ""


class OriginRuleSpec(_Strict):
    """`OriginRule`'s fields: an Origin Rule and what it overrides."""

    id: str
    expression: str
    description: str = ""
    enabled: bool = True
    position: int = 0
    host_header: str = ""
    origin_host: str = ""
    origin_port: int | None = None
    sni: str = ""


class CacheRuleSpec(_Strict):
    id: str
    expression: str
    read_timeout: int
    description: str = ""
    enabled: bool = True
    position: int = 0


class LoadBalancerSpec(_Strict):
    id: str
    name: str
    enabled: bool = True
    proxied: bool = True
    default_pools: list[str] = Field(default_factory=list)
    fallback_pool: str = ""
    region_pools: dict[str, list[str]] = Field(default_factory=dict)
    country_pools: dict[str, list[str]] = Field(default_factory=dict)
    pop_pools: dict[str, list[str]] = Field(default_factory=dict)


class PoolOriginSpec(_Strict):
    address: str
    name: str = ""
    enabled: bool = True
    weight: float = 1.0
    port: int = 0
    host_header: str = ""
    healthy: bool | None = None


class PoolSpec(_Strict):
    id: str
    name: str = ""
    enabled: bool = True
    minimum_origins: int = 1
    origins: list[PoolOriginSpec] = Field(default_factory=list)
    healthy: bool | None = None


class IngressSpec(_Strict):
    hostname: str = ""
    path: str = ""
    service: str = ""


class TunnelSpec(_Strict):
    id: str
    name: str = ""
    status: str = "healthy"
    remote_config: bool = False
    connections: int = 2
    deleted: bool = False
    ingress: list[IngressSpec] | None = None


class ResolutionSpec(_Strict):
    """What DNS answered for a name outside the zone (`ProbeResults.resolutions`)."""

    name: str
    status: str  # ok | nxdomain | nodata | servfail | timeout | error | skipped
    addresses: list[str] = Field(default_factory=list)
    resolver: str = "the system resolver (192.0.2.53)"
    detail: str = ""


class ExpectedFinding(_Strict):
    resource: str
    severity: str
    error_codes: list[int] = Field(default_factory=list)
    # Fragments the message must contain, separated by `|`.
    message_contains: str = ""
    # Evidence keys that must hold exactly these values (other keys are not compared).
    evidence: dict[str, Any] = Field(default_factory=dict)


class ExpectedChange(_Strict):
    target: str
    before: Any
    after: Any
    lowers_security: bool = False


class Expect(_Strict):
    findings: list[ExpectedFinding] = Field(default_factory=list)
    changes: list[ExpectedChange] = Field(default_factory=list)


class Case(_Strict):
    name: str
    zone: ZoneSpec = Field(default_factory=ZoneSpec)
    settings: dict[str, Any] = Field(default_factory=dict)
    editable: dict[str, bool] = Field(default_factory=dict)
    records: list[RecordSpec] = Field(default_factory=list)
    ssl_rules: list[SslRuleSpec] | None = None  # absent: not read
    inventory: dict[str, Any] | None = None  # the zone's table of an inventory file
    observed: dict[int, int] | None = None  # {edge status: count} over the last 24 h
    probes: list[ProbeSpec] = Field(default_factory=list)
    # Inventory addresses probed before a DNS rewrite to them (`ProbeResults.candidates`).
    candidates: list[ProbeSpec] = Field(default_factory=list)
    pages_projects: list[PagesProjectSpec] | None = None  # absent: not read
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # cfremedy.toml [playbooks.<id>]
    allowlists: list[AllowlistSpec] = Field(default_factory=list)
    cloudflare_ranges: list[str] | None = None  # absent: the packaged copy
    # What decides the routes; each absent: not read.
    origin_rules: list[OriginRuleSpec] | None = None
    cache_rules: list[CacheRuleSpec] | None = None
    load_balancers: list[LoadBalancerSpec] | None = None
    pools: list[PoolSpec] | None = None
    tunnels: list[TunnelSpec] | None = None
    resolutions: list[ResolutionSpec] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)


class CaseFile(_Strict):
    playbook: str
    cases: list[Case] = Field(min_length=1)
