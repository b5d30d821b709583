"""What a sandbox zone holds, as plain data: `ZoneState` and the records, rules, load balancers
and settings in it.

These types carry no lock and no rules: `state.py` owns the lock and the operations,
`dns_rules.py` decides what a valid record is, `shapes.py` turns zones and records into API
JSON. They live in this module, which imports nothing of the sandbox but the scenario types, so
that the rules and the JSON shapes can use them without importing the state that calls them
(`state.py` re-exports `ZoneState`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cfremedy.sandbox.scenario import AnalyticsSpec

# Fixed timestamps for seeded objects, so two runs of one scenario serve identical bodies.
SEED_TIME = "2024-06-01T00:00:00.000000Z"
# When every zone's universal certificate expires: its certificate pack says so, and the sandbox
# edge presents a certificate that expires then (so the two can be matched, as on the real edge).
CERTIFICATE_EXPIRES = "2099-01-01T00:00:00.000000Z"
# Who issued it: the sandbox edge CA's organisation, and the pack's `issuer` as the API writes
# one (run together, as "GoogleTrustServices"), so `diagnose` can match the issuer too.
EDGE_CA_ORGANIZATION = "cfremedy sandbox edge"
CERTIFICATE_ISSUER = "CfremedySandboxEdge"

# The ruleset phases a zone can have an entry point for: its Configuration Rules, Origin Rules
# and Cache Rules (in the order `GET /zones/{id}/rulesets` lists them).
CONFIG_PHASE = "http_config_settings"
ORIGIN_PHASE = "http_request_origin"
CACHE_PHASE = "http_request_cache_settings"
ENTRYPOINT_PHASES = (CONFIG_PHASE, ORIGIN_PHASE, CACHE_PHASE)


class ConfigRule(NamedTuple):
    """A Configuration Rule of a zone's `http_config_settings` entry point, id resolved."""

    id: str
    expression: str
    ssl: str | None
    description: str
    enabled: bool


class OriginRule(NamedTuple):
    """An Origin Rule of the zone's `http_request_origin` entry point (action `route`)."""

    id: str
    expression: str
    description: str
    enabled: bool
    host_header: str | None
    origin_host: str | None
    origin_port: int | None
    sni: str | None


class CacheRule(NamedTuple):
    """A Cache Rule of the zone's `http_request_cache_settings` entry point."""

    id: str
    expression: str
    description: str
    enabled: bool
    read_timeout: int | None


class LoadBalancer(NamedTuple):
    """A zone's load balancer, name qualified and pools resolved to their ids."""

    id: str
    name: str  # fully qualified
    description: str
    enabled: bool
    proxied: bool
    default_pools: tuple[str, ...]
    fallback_pool: str
    region_pools: dict[str, tuple[str, ...]]
    country_pools: dict[str, tuple[str, ...]]
    pop_pools: dict[str, tuple[str, ...]]


class PageRule(NamedTuple):
    id: str
    url: str
    ssl: str | None
    priority: int
    status: str


class DnsRecord(NamedTuple):
    """Immutable, and a tuple because building 100,000 of them must take milliseconds."""

    id: str
    type: str
    name: str
    content: str
    proxied: bool
    ttl: int
    created_on: str
    modified_on: str
    comment: str | None = None
    tags: tuple[str, ...] = ()
    priority: int | None = None


@dataclass(slots=True)
class SettingValue:
    value: Any
    modified_on: str | None


@dataclass
class ZoneState:
    id: str
    name: str
    plan: str
    account_id: str
    status: str
    # Only settings that differ from the catalog default are stored: 1,000 zones stay cheap.
    settings: dict[str, SettingValue] = field(default_factory=dict)
    records: dict[str, DnsRecord] = field(default_factory=dict)
    modified_on: str = SEED_TIME
    created_count: int = 0
    # 5xx traffic for GraphQL, in hours relative to the current one (see
    # `SandboxState.error_buckets`).
    analytics: tuple[AnalyticsSpec, ...] = ()
    graphql_error: str | None = None
    # Configuration Rules in evaluation order, and Page Rules in scenario order.
    config_rules: tuple[ConfigRule, ...] = ()
    page_rules: tuple[PageRule, ...] = ()
    # Origin Rules and Cache Rules in evaluation order; load balancers in scenario order.
    origin_rules: tuple[OriginRule, ...] = ()
    cache_rules: tuple[CacheRule, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    # Customised error pages: page id -> URL (the others are in their default state).
    custom_pages: dict[str, str] = field(default_factory=dict)
    _sorted: list[DnsRecord] | None = None

    def sorted_records(self) -> list[DnsRecord]:
        if self._sorted is None:
            self._sorted = sorted(self.records.values(), key=lambda r: (r.type, r.name, r.id))
        return self._sorted

    def replace_records(self, records: dict[str, DnsRecord]) -> None:
        self.records = records
        self._sorted = None
