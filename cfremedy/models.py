"""The frozen values that flow from the gateway to the playbooks and on to the reporters.

Everything here is immutable so a playbook can never change what another playbook sees, and
so a snapshot can be cached, compared and serialised without defensive copies.
"""

from __future__ import annotations

import enum
import ipaddress
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from types import MappingProxyType
from typing import Any


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view over a private copy, so callers cannot mutate it behind our back."""
    return MappingProxyType(dict(data or {}))


def normalise_name(name: str) -> str:
    """DNS names compare case-insensitively and without the root's trailing dot."""
    return name.strip().rstrip(".").lower()


def iso_z(moment: datetime, timespec: str = "seconds") -> str:
    """UTC in ISO 8601 with a `Z`, the form the API and every report use."""
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_now_iso(timespec: str = "seconds") -> str:
    return iso_z(datetime.now(timezone.utc), timespec)


class Severity(str, enum.Enum):
    """Ordered from least to most serious; `--fail-on` compares by this order."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_ORDER = list(Severity)


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    plan: str  # the plan's legacy id: "free", "pro", "business", "enterprise", or whatever the API says
    account_id: str = ""
    status: str = "active"
    # Permission strings the API reports for this token on this zone (e.g. "#dns_records:edit").
    permissions: tuple[str, ...] = ()

    @property
    def is_enterprise(self) -> bool:
        return self.plan == "enterprise"


@dataclass(frozen=True)
class DnsRecord:
    id: str
    type: str
    name: str
    content: str
    proxied: bool = False
    ttl: int = 1

    @property
    def is_address(self) -> bool:
        return self.type in ("A", "AAAA")

    @property
    def pages_target(self) -> str | None:
        """The `*.pages.dev` name a proxied CNAME sends visitors to (Cloudflare Pages), else None."""
        if self.type.upper() != "CNAME" or not self.proxied:
            return None
        target = normalise_name(self.content)
        return target if target.endswith(".pages.dev") else None


@dataclass(frozen=True)
class SslRule:
    """A Configuration Rule or a Page Rule that sets the SSL/TLS mode for part of a zone.

    Both kinds override the zone-wide `ssl` setting for the requests they match, so a zone in
    Full (strict) can still send one hostname to its origin in Flexible. Kept as the API said
    it (expression text, URL pattern); `cfremedy.ssl_modes` decides what each one matches.
    """

    source: str  # "config_rule" | "page_rule"
    id: str
    mode: str  # "off" | "flexible" | "full" | "strict", or whatever else the API returned
    description: str = ""  # the rule's description (Configuration Rules)
    expression: str = ""  # Configuration Rule filter expression (Rules language)
    url_pattern: str = ""  # Page Rule target, e.g. "*.example.com/*"
    enabled: bool = True
    # Position in evaluation order: Configuration Rules run in list order (later rules win),
    # Page Rules by priority (the first match wins; the API lists them highest priority first).
    position: int = 0


@dataclass(frozen=True)
class PagesProject:
    """A Cloudflare Pages project, as far as the 522 check needs it."""

    name: str
    subdomain: str  # "<project>.pages.dev"
    domains: tuple[str, ...] = ()  # custom domains attached to the project


@dataclass(frozen=True)
class AllowlistFile:
    """A firewall or web-server file that is meant to let Cloudflare's ranges in (inventory
    `allowlist_files`), reduced to the networks it names. Read by the audit shell, judged by
    `cloudflare_ips_allowlist`."""

    path: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    error: str = ""  # why it could not be read; "" when it was


@dataclass(frozen=True)
class ZoneSnapshot:
    """What the API told us about one zone, read once per audit.

    Settings keep whatever value the API returned, including values this version does not know
    (e.g. `ssl = "origin_pull"`): playbooks decide what they understand, the gateway never drops data.
    """

    zone: Zone
    settings: Mapping[str, Any] = field(default_factory=frozen_mapping)
    # Whether each setting is editable for this zone (plan-dependent, e.g. proxy_read_timeout).
    editable: Mapping[str, bool] = field(default_factory=frozen_mapping)
    records: tuple[DnsRecord, ...] = ()
    # Configuration Rules and Page Rules that set the SSL mode; None when they were not read
    # (no selected playbook needs them), which is not the same as "there are none".
    ssl_rules: tuple[SslRule, ...] | None = None

    def setting(self, setting_id: str, default: Any = None) -> Any:
        return self.settings.get(setting_id, default)

    def record(self, record_id: str) -> DnsRecord | None:
        return next((r for r in self.records if r.id == record_id), None)


@dataclass(frozen=True)
class Suppression:
    """Why a finding is accepted for now: it is still reported and counted, never hidden."""

    reason: str
    rule: str  # which ignore entry matched, e.g. "cfremedy.toml ignore[2]"
    until: date | None = None


@dataclass(frozen=True)
class Finding:
    """One detected misconfiguration, explained well enough to act on without reading code."""

    playbook: str
    severity: Severity
    error_codes: tuple[int, ...]
    resource: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=frozen_mapping)
    docs_url: str = ""
    # Steps a person must take when no API change fixes it (or in addition to the change).
    remediation: tuple[str, ...] = ()
    # Tells apart findings of one playbook on one resource (e.g. the origin address), so each
    # keeps its own identity across runs. Messages are not identity: their wording may change.
    key: str = ""
    suppression: Suppression | None = None

    def fingerprint(self, zone: str) -> str:
        """Stable across runs for the same problem: baselines, diffs and SARIF alerts use it."""
        identity = "|".join([self.playbook, zone.lower(), self.resource.lower(), self.key,
                             ",".join(map(str, self.error_codes))])
        return hashlib.sha256(identity.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Change:
    """An inert description of one write; nothing happens until `apply` reads it from a plan.

    `target` is `setting:<id>` or `dns:<record id>`. For settings, `before`/`after` are the
    setting values; for DNS they are the record fields the change compares and writes.
    """

    playbook: str
    target: str
    before: Any
    after: Any
    reason: str
    lowers_security: bool = False

    @property
    def kind(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def key(self) -> str:
        return self.target.split(":", 1)[1]


@dataclass(frozen=True)
class StageError:
    """Something that stopped part of an audit; reported, never silently skipped."""

    stage: str  # "api", "probe", "playbook", "rules", "allowlist", "pages", "analytics", ...
    resource: str
    message: str

    @property
    def degraded(self) -> bool:
        """The audit ran in full, only less precisely (SSL modes judged zone-wide without the
        rules): a warning, not a failed execution."""
        return self.stage == "rules"


@dataclass(frozen=True)
class ZoneReport:
    name: str
    id: str = ""
    plan: str = ""
    findings: tuple[Finding, ...] = ()
    changes: tuple[Change, ...] = ()
    errors: tuple[StageError, ...] = ()


@dataclass(frozen=True)
class Report:
    zones: tuple[ZoneReport, ...]
    generated_at: str = ""  # ISO 8601 UTC; the only field that differs between identical runs
    # Set when findings known in a baseline were left out: where it came from, how many.
    baseline: str = ""
    baseline_known: int = 0

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for z in self.zones for f in z.findings)

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        """Findings that count: not suppressed (these decide the exit code)."""
        return tuple(f for f in self.findings if f.suppression is None)

    @property
    def has_errors(self) -> bool:
        return any(z.errors for z in self.zones)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.active_findings), default=None, key=lambda s: s.rank)
