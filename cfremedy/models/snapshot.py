"""What the API says about a zone: the zone, its settings, records and rules, read once per audit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cfremedy.models.common import IPNetwork, frozen_mapping, normalise_name
from cfremedy.models.routing import CacheRule, LoadBalancer, OriginRule, Pool, Tunnel


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    plan: str  # the plan's legacy id: "free", "pro", "business", "enterprise", or whatever the API says
    account_id: str = ""
    status: str = "active"
    # Permission strings the API reports for this token on this zone (e.g. "#dns_records:edit").
    permissions: tuple[str, ...] = ()
    # "full" (Cloudflare is authoritative), "partial" (CNAME setup) or "secondary" (records
    # come by zone transfer from another provider, unseen by the account's audit log).
    type: str = "full"

    @property
    def is_enterprise(self) -> bool:
        return self.plan == "enterprise"


@dataclass(frozen=True, slots=True)  # slots: a zone can hold 100,000 of them
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
    networks: tuple[IPNetwork, ...] = ()
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
    # Where traffic really goes (`cfremedy.routes`); each None when not read (no playbook
    # needs it, or the token may not read it: the zone's errors then say so).
    origin_rules: tuple[OriginRule, ...] | None = None
    cache_rules: tuple[CacheRule, ...] | None = None
    load_balancers: tuple[LoadBalancer, ...] | None = None
    # The account's pools and tunnels (read once per account, shared by its zones).
    pools: tuple[Pool, ...] | None = None
    tunnels: tuple[Tunnel, ...] | None = None

    def setting(self, setting_id: str, default: Any = None) -> Any:
        return self.settings.get(setting_id, default)

    def record(self, record_id: str) -> DnsRecord | None:
        return next((r for r in self.records if r.id == record_id), None)
