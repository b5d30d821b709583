"""The sandbox's in-memory Cloudflare accounts: zones with their settings, DNS records, rules and
load balancers; pools, tunnels and Pages projects; and edits to them.

This module knows nothing about HTTP, tokens or faults; `api.py` does. Keeping the state apart
lets a test read or alter it directly (someone changed a setting behind the tool's back) without
going through the API and without leaving entries in the request log.

Every public method takes the one lock, so concurrent requests see each edit whole. Edits are
copy-on-write: an operation works on a copy of the zone's record table and swaps it in only when
every step succeeded, which is what makes the DNS batch endpoint atomic. What a zone holds is
plain data in `zone.py`; what a valid record is, and the record operations run on the copy, are
in `dns_rules.py`; the JSON bodies are built in `shapes.py`.

Errors are `SandboxError`s (`errors.py`) carrying the HTTP status and the v4 error items; the
codes are listed in `api.py`'s docstring.

Record ids from a scenario are `stable_id(zone_id, fqdn, type, content, str(index))` where
`index` is the record's position in the zone (seeded records first, then generated ones), unless
the scenario gives an id. Multi-label relative names ("dev.api") must be written fully
qualified: a dotted name outside the zone is taken for a foreign FQDN and refused.

Every edit is written to its account's audit log as Cloudflare does (`audit_log`): an API write
with `interface: "API"`, a change made behind the API's back (`set_setting`, `add_record`, the
dashboard in real life) with `interface: "UI"`. The log starts with each zone's creation, dated
`SEED_TIME`, so it reaches back before anything a run can have stored; `forget_audit_log`
empties it (a log that no longer reaches back), `log_change` adds an entry of any kind.

Rules, load balancers, pools, tunnels and Pages projects are read-only here. Unless the
scenario gives one, a Configuration Rule's id is `stable_id(zone_id, "config_rule", expression,
str(index))`, an Origin Rule's and a Cache Rule's the same with "origin_rule" and "cache_rule",
and a Page Rule's `stable_id(zone_id, "page_rule", url, str(index))` (index: the rule's place
in the scenario); an entry point ruleset's is `stable_id(zone_id, "ruleset", phase)`; a load
balancer's `stable_id(zone_id, "load_balancer", fqdn)`; a pool's `stable_id("pool", account,
name)`; a tunnel's a UUID (see `scenario.tunnel_ids`); a Pages project's id is
`stable_id("pages_project", account, name)` written as a UUID.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cfremedy.sandbox import account_shapes, dns_rules, settings_catalog
from cfremedy.sandbox.errors import SandboxError, zone_not_found
from cfremedy.sandbox.scenario import (
    PagesProjectSpec,
    PoolSpec,
    RecordSpec,
    Scenario,
    ScenarioError,
    TunnelSpec,
    ZoneSpec,
    stable_id,
    stable_uuid,
    tunnel_ids,
)
from cfremedy.sandbox.shapes import (
    PLAN_INFO,
    load_balancer_json,
    page_rule_json,
    pages_project_json,
    ruleset_json,
    rulesets_json,
    setting_json,
    zone_phases,
)
from cfremedy.sandbox.zone import (
    SEED_TIME,
    CacheRule,
    ConfigRule,
    DnsRecord,
    LoadBalancer,
    OriginRule,
    PageRule,
    SettingValue,
    ZoneState,
)

# `SandboxError` and `ZoneState` are defined below this module (so that the DNS rules and the
# JSON shapes can use them without importing the state) and are part of its surface.
__all__ = [
    "ERR_NO_ENTRYPOINT",
    "ERR_POOL_NOT_FOUND",
    "ERR_SETTING_NOT_EDITABLE",
    "ERR_SETTING_UNKNOWN",
    "ERR_SETTING_VALUE",
    "ERR_TUNNEL_NOT_FOUND",
    "BatchResult",
    "ErrorBucketRow",
    "SandboxError",
    "SandboxState",
    "ZoneState",
    "now_iso",
]

T = TypeVar("T")

ERR_SETTING_UNKNOWN = 1003
ERR_SETTING_VALUE = 1007
ERR_SETTING_NOT_EDITABLE = 1008
# GET .../rulesets/phases/{phase}/entrypoint for a phase with no ruleset yet: 404, 10003
# "could not find entrypoint ruleset in the <phase> phase" (what the live API answers; the
# 2024 OpenAPI document lists no error codes for rulesets).
ERR_NO_ENTRYPOINT = 10003
# An unknown pool id on `GET /accounts/{id}/load_balancers/pools/{pool_id}/health`, and an
# unknown (or deleted) tunnel id on `.../cfd_tunnel/{tunnel_id}/configurations`: 404 with these
# codes and messages. Neither is documented (the 2024 document lists no error codes for load
# balancing or tunnels) nor confirmed against the live API: they are the sandbox's choice.
ERR_POOL_NOT_FOUND = 1002
ERR_TUNNEL_NOT_FOUND = 1003


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


BatchResult = dict[str, list[DnsRecord]]


@dataclass(frozen=True)
class ErrorBucketRow:
    """One GraphQL `httpRequestsAdaptiveGroups` row: an hour, the two statuses, a count."""

    hour: datetime  # start of the hour, UTC
    edge_status: int
    origin_status: int
    count: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxState:
    """The account a scenario describes, and the operations the API performs on it."""

    def __init__(self, scenario: Scenario) -> None:
        self.lock = threading.RLock()
        # What "now" is for analytics: a test replaces it to pin the current hour, so a run
        # that crosses the top of an hour cannot move every bucket under its feet.
        self.clock: Callable[[], datetime] = _utc_now
        self.zones: dict[str, ZoneState] = {}
        self._by_name: dict[str, str] = {}
        # Load-balancing pools and Cloudflare Tunnels per account, in scenario order.
        self.pools: dict[str, list[PoolSpec]] = {}
        for pool in scenario.pools:
            self.pools.setdefault(pool.account, []).append(pool)
        self.tunnels: dict[str, list[tuple[str, TunnelSpec]]] = {}
        for tunnel_id, tunnel in zip(tunnel_ids(scenario.tunnels), scenario.tunnels, strict=True):
            self.tunnels.setdefault(tunnel.account, []).append((tunnel_id, tunnel))
        pool_ids = {(p.account, p.name): p.pool_id for p in scenario.pools}
        for spec in scenario.zones:
            zone = _build_zone(spec, pool_ids)
            if zone.id in self.zones:
                raise ScenarioError(f"zones.{spec.name}: duplicate zone id {zone.id}")
            self.zones[zone.id] = zone
            self._by_name[zone.name] = zone.id
        # Cloudflare Pages projects per account, in scenario order (the order they are listed).
        self.pages: dict[str, list[PagesProjectSpec]] = {}
        for project in scenario.pages_projects:
            self.pages.setdefault(project.account, []).append(project)
        # Every account's audit log, oldest first, as the API answers its entries.
        self.audit_log: list[dict[str, Any]] = []
        for zone in sorted(self.zones.values(), key=lambda z: z.name):
            self._log(zone.account_id, "zone_create", "zone", zone.id, zone.name, "UI", when=SEED_TIME)

    # -- zones ---------------------------------------------------------------------------------

    def zone(self, zone_id: str) -> ZoneState | None:
        with self.lock:
            return self.zones.get(zone_id)

    def zone_by_name(self, name: str) -> ZoneState:
        """For tests and tools that know a zone by name; KeyError names the zone."""
        with self.lock:
            zone_id = self._by_name.get(name.lower().rstrip("."))
            if zone_id is None:
                raise KeyError(f"no zone named {name!r} in the sandbox")
            return self.zones[zone_id]

    def all_zones(self) -> list[ZoneState]:
        with self.lock:
            return sorted(self.zones.values(), key=lambda z: z.name)

    def accounts(self) -> set[str]:
        """Every account the scenario knows: those of its zones, Pages projects, pools and tunnels."""
        with self.lock:
            return {z.account_id for z in self.zones.values()} | set(self.pages) | set(self.pools) | set(self.tunnels)

    # -- rules and Pages -------------------------------------------------------------------------

    def entrypoint_ruleset(self, zone_id: str, phase: str) -> dict[str, Any]:
        """The zone's entry point ruleset of a phase: `http_config_settings`,
        `http_request_origin` or `http_request_cache_settings` when the zone has rules of it;
        any other phase, or one without rules, has none (404, 10003)."""
        with self.lock:
            zone = self._zone(zone_id)
            if phase not in zone_phases(zone):
                message = f"could not find entrypoint ruleset in the {phase} phase"
                raise SandboxError(404, (ERR_NO_ENTRYPOINT, message))
            return ruleset_json(zone, phase)

    def rulesets(self, zone_id: str) -> list[dict[str, Any]]:
        """The zone's rulesets without their rules, as `GET /zones/{id}/rulesets` lists them."""
        with self.lock:
            return rulesets_json(self._zone(zone_id))

    def load_balancers(self, zone_id: str) -> list[dict[str, Any]]:
        with self.lock:
            zone = self._zone(zone_id)
            return [load_balancer_json(zone, lb) for lb in zone.load_balancers]

    def page_rules(
        self, zone_id: str, *, order: str = "priority", direction: str = "desc",
        status: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Page Rules sorted as the API sorts them (default: priority, highest first); ties
        keep the scenario's order whichever the direction."""
        with self.lock:
            zone = self._zone(zone_id)
            rules = [r for r in zone.page_rules if status is None or r.status == status]
            sign = -1 if direction == "desc" else 1
            if order == "status":  # then by priority, highest first
                rules.sort(key=lambda r: -r.priority)
                rules.sort(key=lambda r: r.status, reverse=direction == "desc")
            else:
                rules.sort(key=lambda r: sign * r.priority)
            return [page_rule_json(r) for r in rules]

    def pages_projects(self, account_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [pages_project_json(p) for p in self.pages.get(account_id, [])]

    # -- load balancing and tunnels ------------------------------------------------------------

    def pools_of(self, account_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [account_shapes.pool_json(p) for p in self.pools.get(account_id, [])]

    def pool_health(self, account_id: str, pool_id: str) -> dict[str, Any]:
        """A pool's health; an id that is not a pool of this account answers 404."""
        with self.lock:
            for pool in self.pools.get(account_id, []):
                if pool.pool_id == pool_id:
                    return account_shapes.pool_health_json(pool)
            raise SandboxError(404, (ERR_POOL_NOT_FOUND, "Pool not found"))

    def pool_references(self, account_id: str, pool_id: str) -> list[dict[str, Any]]:
        """What references a pool: the load balancers of the account's zones that use it
        (`referrer`), then its monitor (`referral`); an unknown id answers 404."""
        with self.lock:
            pool = next((p for p in self.pools.get(account_id, []) if p.pool_id == pool_id), None)
            if pool is None:
                raise SandboxError(404, (ERR_POOL_NOT_FOUND, "Pool not found"))
            referrers = [
                {"reference_type": "referrer", "resource_id": lb.id, "resource_name": lb.name,
                 "resource_type": "load_balancer"}
                for zone in self.zones.values() if zone.account_id == account_id
                for lb in zone.load_balancers if pool_id in (*lb.default_pools, lb.fallback_pool,
                                                             *(p for ids in lb.region_pools.values() for p in ids),
                                                             *(p for ids in lb.country_pools.values() for p in ids),
                                                             *(p for ids in lb.pop_pools.values() for p in ids))
            ]  # fmt: skip
            return [*referrers, account_shapes.monitor_reference(pool)]

    def tunnels_of(
        self, account_id: str, *, deleted: bool | None = None, name: str | None = None,
        status: str | None = None, tunnel_id: str | None = None, include_prefix: str | None = None,
        exclude_prefix: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The account's tunnels in scenario order. `deleted`: None lists all, True only
        deleted ones, False only live ones; the prefixes apply to names."""
        with self.lock:
            return [
                account_shapes.tunnel_json(tid, t)
                for tid, t in self.tunnels.get(account_id, [])
                if (deleted is None or t.deleted == deleted)
                and (name is None or t.name == name)
                and (status is None or t.status == status)
                and (tunnel_id is None or tid == tunnel_id.lower())
                and (include_prefix is None or t.name.startswith(include_prefix))
                and (exclude_prefix is None or not t.name.startswith(exclude_prefix))
            ]

    def tunnel_configuration(self, account_id: str, tunnel_id: str) -> dict[str, Any]:
        """A tunnel's configuration; an unknown or deleted tunnel of this account answers 404."""
        with self.lock:
            for tid, tunnel in self.tunnels.get(account_id, []):
                if tid == tunnel_id.lower() and not tunnel.deleted:
                    return account_shapes.tunnel_configuration_json(tid, tunnel)
            raise SandboxError(404, (ERR_TUNNEL_NOT_FOUND, "Tunnel not found"))

    # -- analytics -----------------------------------------------------------------------------

    def current_hour(self) -> datetime:
        return self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)

    def error_buckets(self, zone_id: str, since: datetime, until: datetime) -> list[ErrorBucketRow]:
        """The zone's hourly 5xx rows with `since <= hour < until`, by hour then statuses.

        Rows of one hour and status pair are summed, as the real API groups by its dimensions.
        """
        with self.lock:
            zone = self._zone(zone_id)
            now = self.current_hour()
            totals: dict[tuple[datetime, int, int], int] = {}
            for spec in zone.analytics:
                hour = now - timedelta(hours=spec.hours_ago)
                if since <= hour < until:
                    key = (hour, spec.edge_status, spec.origin_status)
                    totals[key] = totals.get(key, 0) + spec.count
            return [ErrorBucketRow(*key, count) for key, count in sorted(totals.items())]

    # -- settings ------------------------------------------------------------------------------

    def settings(self, zone_id: str) -> list[dict[str, Any]]:
        with self.lock:
            zone = self._zone(zone_id)
            return [setting_json(zone, d) for d in settings_catalog.SETTINGS.values()]

    def setting(self, zone_id: str, setting_id: str) -> dict[str, Any]:
        with self.lock:
            zone = self._zone(zone_id)
            definition = settings_catalog.get(setting_id)
            if definition is None:
                raise SandboxError(404, _unknown_setting(setting_id))
            return setting_json(zone, definition)

    def setting_value(self, zone_id: str, setting_id: str) -> Any:
        return self.setting(zone_id, setting_id)["value"]

    def edit_settings(
        self, zone_id: str, items: Iterable[tuple[str, Any]], *, status_unknown: int = 400
    ) -> list[dict[str, Any]]:
        """Validate every edit, then apply all of them: a bad item leaves the zone untouched."""
        with self.lock:
            zone = self._zone(zone_id)
            edits = list(items)
            for setting_id, value in edits:
                _check_setting_edit(zone, setting_id, value, status_unknown)
            stamp = now_iso()
            for setting_id, value in edits:
                old = zone.settings.get(setting_id)
                zone.settings[setting_id] = SettingValue(value, stamp)
                self._log_setting(zone, setting_id, old.value if old else None, value, "API")
            return [setting_json(zone, settings_catalog.SETTINGS[s]) for s, _ in edits]

    def set_setting(self, zone_id: str, setting_id: str, value: Any) -> None:
        """Change a setting as someone else would, without validation (tests simulate drift)."""
        with self.lock:
            zone = self._zone(zone_id)
            if settings_catalog.get(setting_id) is None:
                raise KeyError(f"unknown zone setting {setting_id!r}")
            old = zone.settings.get(setting_id)
            zone.settings[setting_id] = SettingValue(value, now_iso())
            self._log_setting(zone, setting_id, old.value if old else None, value, "UI")

    # -- DNS records ---------------------------------------------------------------------------

    def records(self, zone_id: str, filters: Mapping[str, Any] | None = None) -> list[DnsRecord]:
        """Records ordered by type, name, id; `filters` keys: name, type, content, proxied."""
        with self.lock:
            zone = self._zone(zone_id)
            rows = zone.sorted_records()
            return [r for r in rows if dns_rules.matches(r, filters)] if filters else list(rows)

    def record(self, zone_id: str, record_id: str) -> DnsRecord:
        with self.lock:
            return dns_rules.existing(self._zone(zone_id).records, record_id)

    def create_record(self, zone_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: dns_rules.post(z, t, body, now))

    def patch_record(self, zone_id: str, record_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: dns_rules.patch(z, t, record_id, body, now))

    def put_record(self, zone_id: str, record_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: dns_rules.put(z, t, record_id, body, now))

    def delete_record(self, zone_id: str, record_id: str) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: dns_rules.delete(t, record_id))

    def batch(self, zone_id: str, body: Any) -> BatchResult:
        """Deletes, patches, puts, posts in that order, all or nothing (any error answers 400)."""
        ops = dns_rules.batch_ops(body)

        def run(zone: ZoneState, table: dict[str, DnsRecord], now: str) -> BatchResult:
            out: BatchResult = {k: [] for k in dns_rules.BATCH_KINDS}
            for kind, index, item in ops:
                try:
                    out[kind].append(dns_rules.run_batch_item(zone, table, kind, item, now))
                except SandboxError as exc:
                    raise SandboxError(400, *((c, f"{kind}[{index}]: {m}") for c, m in exc.errors)) from None
            return out

        return self._edit_records(zone_id, run)

    def add_record(self, zone_id: str, spec: RecordSpec) -> DnsRecord:
        """Seed a record as a scenario would, bypassing API validation (tests build odd zones)."""
        with self.lock:
            zone = self._zone(zone_id)
            record = _seed_record(zone, spec, len(zone.records))
            table = dict(zone.records)
            table[record.id] = record
            zone.replace_records(table)
            self._log_records(zone, {}, {record.id: record}, "UI")
            return record

    # -- the audit log ---------------------------------------------------------------------------

    def audit_entries(self, account_id: str) -> list[dict[str, Any]]:
        """The account's audit log, oldest first."""
        with self.lock:
            return [e for e in self.audit_log if e["owner"]["id"] == account_id]

    def forget_audit_log(self) -> None:
        """Drop every entry so far: the log no longer reaches back before now."""
        with self.lock:
            self.audit_log.clear()

    def log_change(
        self, account_id: str, action: str, resource_type: str, resource_id: str = "", zone_name: str = ""
    ) -> dict[str, Any]:
        """Record a change the sandbox does not model (a Worker route, a pool's monitor...)."""
        with self.lock:
            return self._log(account_id, action, resource_type, resource_id, zone_name, "UI")

    def _log(
        self, account_id: str, action: str, resource_type: str, resource_id: str, zone_name: str,
        interface: str, *, metadata: Mapping[str, Any] | None = None, old: Any = None, new: Any = None,
        when: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        actor = "api@sandbox.example" if interface == "API" else "someone-else@sandbox.example"
        entry = {
            "id": stable_uuid("audit_log", str(len(self.audit_log))),
            "when": when or now_iso(),
            "action": {"type": action, "result": True},
            "actor": {"id": stable_id("actor", actor), "email": actor, "ip": "192.0.2.10", "type": "user"},
            "interface": interface,
            "owner": {"id": account_id},
            "resource": {"id": resource_id, "type": resource_type},
            "metadata": {**({"zone_name": zone_name} if zone_name else {}), **(metadata or {})},
            "newValue": "" if new is None else json.dumps(new),
            "oldValue": "" if old is None else json.dumps(old),
        }
        self.audit_log.append(entry)
        return entry

    def _log_setting(self, zone: ZoneState, setting_id: str, old: Any, new: Any, interface: str) -> None:
        self._log(
            zone.account_id, "update", "zone", zone.id, zone.name, interface,
            metadata={"setting": setting_id}, old=old, new=new,
        )  # fmt: skip

    def _log_records(
        self, zone: ZoneState, before: Mapping[str, DnsRecord], after: Mapping[str, DnsRecord], interface: str
    ) -> None:
        """One entry per record added, changed or deleted, as `rec_add`, `rec_set`, `rec_del`."""
        for record_id in sorted(set(before) | set(after)):
            old, new = before.get(record_id), after.get(record_id)
            if old is new or old == new:
                continue
            action = "rec_add" if old is None else "rec_del" if new is None else "rec_set"
            shown = new or old
            assert shown is not None
            self._log(
                zone.account_id, action, "DNS_record", record_id, zone.name, interface,
                metadata={"name": shown.name, "type": shown.type, "content": shown.content},
            )  # fmt: skip

    # -- helpers -------------------------------------------------------------------------------

    def _zone(self, zone_id: str) -> ZoneState:
        zone = self.zones.get(zone_id)
        if zone is None:
            raise zone_not_found(zone_id)
        return zone

    def _edit_records(self, zone_id: str, operation: Callable[[ZoneState, dict[str, DnsRecord], str], T]) -> T:
        with self.lock:
            zone = self._zone(zone_id)
            before = zone.records
            table = dict(zone.records)
            result = operation(zone, table, now_iso())
            zone.replace_records(table)
            self._log_records(zone, before, table, "API")
            return result


# -- building from a scenario ------------------------------------------------------------------


def _build_zone(spec: ZoneSpec, pool_ids: Mapping[tuple[str, str], str]) -> ZoneState:
    """The zone a spec describes; `pool_ids` maps (account, pool name) to the pool's id."""
    name = spec.name.lower().rstrip(".")
    zone = ZoneState(
        id=spec.zone_id, name=name, plan=spec.plan, account_id=spec.account, status=spec.status,
        analytics=spec.analytics, graphql_error=spec.graphql_error, custom_pages=dict(spec.custom_pages),
    )  # fmt: skip
    for setting_id, value in spec.settings.items():
        if settings_catalog.get(setting_id) is None:
            raise ScenarioError(
                f"zones.{spec.name}.settings: unknown zone setting {setting_id!r}"
                f" (the sandbox knows: {', '.join(settings_catalog.ids())})"
            )
        zone.settings[setting_id] = SettingValue(value, None)
    table: dict[str, DnsRecord] = {}
    for index, record_spec in enumerate(spec.records):
        record = _seed_record(zone, record_spec, index)
        table[record.id] = record
    _generate_records(zone, spec.generate_records, len(table), table)
    zone.replace_records(table)
    zone.config_rules = tuple(
        ConfigRule(
            id=rule.id or stable_id(zone.id, "config_rule", rule.expression, str(index)),
            expression=rule.expression,
            ssl=rule.ssl,
            description=rule.description,
            enabled=rule.enabled,
        )  # fmt: skip
        for index, rule in enumerate(spec.config_rules)
    )
    zone.page_rules = tuple(
        PageRule(
            id=rule.id or stable_id(zone.id, "page_rule", rule.url, str(index)),
            url=rule.url,
            ssl=rule.ssl,
            priority=rule.priority,
            status=rule.status,
        )  # fmt: skip
        for index, rule in enumerate(spec.page_rules)
    )
    zone.origin_rules = tuple(
        OriginRule(
            id=rule.id or stable_id(zone.id, "origin_rule", rule.expression, str(index)),
            expression=rule.expression,
            description=rule.description,
            enabled=rule.enabled,
            host_header=rule.host_header,
            origin_host=rule.origin_host,
            origin_port=rule.origin_port,
            sni=rule.sni,
        )
        for index, rule in enumerate(spec.origin_rules)
    )
    zone.cache_rules = tuple(
        CacheRule(
            id=rule.id or stable_id(zone.id, "cache_rule", rule.expression, str(index)),
            expression=rule.expression,
            description=rule.description,
            enabled=rule.enabled,
            read_timeout=rule.read_timeout,
        )
        for index, rule in enumerate(spec.cache_rules)
    )
    zone.load_balancers = _build_load_balancers(zone, spec, pool_ids)
    for kind, rules in (
        ("config_rules", zone.config_rules), ("page_rules", zone.page_rules),
        ("origin_rules", zone.origin_rules), ("cache_rules", zone.cache_rules),
    ):  # fmt: skip
        ids = [r.id for r in rules]
        if len(ids) != len(set(ids)):
            raise ScenarioError(f"zones.{spec.name}.{kind}: duplicate rule ids")
    return zone


def _build_load_balancers(
    zone: ZoneState, spec: ZoneSpec, pool_ids: Mapping[tuple[str, str], str]
) -> tuple[LoadBalancer, ...]:
    """The zone's load balancers, names qualified like record names and pools by id (that
    every pool exists was checked when the scenario was parsed)."""

    def ids(names: Iterable[str]) -> tuple[str, ...]:
        return tuple(pool_ids[(zone.account_id, n)] for n in names)

    built: list[LoadBalancer] = []
    for index, lb in enumerate(spec.load_balancers):
        where = f"zones.{zone.name}.load_balancers[{index}]"
        try:
            name = dns_rules.fqdn(zone.name, lb.name)
        except SandboxError:
            raise ScenarioError(f"{where}: name {lb.name!r} is not in zone {zone.name}") from None
        if any(b.name == name for b in built):
            raise ScenarioError(f"{where}: a load balancer named {name} comes earlier in the zone")
        built.append(
            LoadBalancer(
                id=lb.id or stable_id(zone.id, "load_balancer", name),
                name=name,
                description=lb.description,
                enabled=lb.enabled,
                proxied=lb.proxied,
                default_pools=ids(lb.default_pools),
                fallback_pool=ids([lb.fallback_pool])[0],
                region_pools={k: ids(v) for k, v in lb.region_pools.items()},
                country_pools={k: ids(v) for k, v in lb.country_pools.items()},
                pop_pools={k: ids(v) for k, v in lb.pop_pools.items()},
            )
        )
    lb_ids = [b.id for b in built]
    if len(lb_ids) != len(set(lb_ids)):
        raise ScenarioError(f"zones.{spec.name}.load_balancers: duplicate load balancer ids")
    return tuple(built)


def _seed_record(zone: ZoneState, spec: RecordSpec, index: int) -> DnsRecord:
    try:
        name = dns_rules.fqdn(zone.name, spec.name)
    except SandboxError:
        raise ScenarioError(
            f"zones.{zone.name}.records[{index}]: name {spec.name!r} is not in zone {zone.name}"
        ) from None
    rtype = spec.type.upper()
    content = spec.content
    record_id = spec.id or stable_id(zone.id, name, rtype, content, str(index))
    return DnsRecord(
        id=record_id, type=rtype, name=name, content=content, proxied=spec.proxied,
        ttl=spec.ttl, created_on=SEED_TIME, modified_on=SEED_TIME,
        priority=10 if rtype == "MX" else None,
    )  # fmt: skip


def _generate_records(zone: ZoneState, count: int, start: int, table: dict[str, DnsRecord]) -> None:
    """Many DNS-only TXT records, built with as little per-record work as possible."""
    make = DnsRecord
    # Equal to stable_id(zone.id, name, "TXT", content, str(index)), minus re-hashing the prefix.
    prefix = hashlib.md5(f"{zone.id}\0".encode(), usedforsecurity=False)
    for i in range(count):
        name = f"gen-{i}.{zone.name}"
        content = f"sandbox generated record {i}"
        digest = prefix.copy()
        digest.update(f"{name}\0TXT\0{content}\0{start + i}".encode())
        record_id = digest.hexdigest()
        table[record_id] = make(record_id, "TXT", name, content, False, 1, SEED_TIME, SEED_TIME)


# -- settings helpers ----------------------------------------------------------------------------


def _unknown_setting(setting_id: str) -> tuple[int, str]:
    return (ERR_SETTING_UNKNOWN, f"Invalid or missing zone setting {setting_id}")


def _check_setting_edit(zone: ZoneState, setting_id: Any, value: Any, status_unknown: int) -> None:
    definition = settings_catalog.get(setting_id) if isinstance(setting_id, str) else None
    if definition is None:
        raise SandboxError(status_unknown, _unknown_setting(str(setting_id)))
    if not definition.editable_on(zone.plan):
        plan = PLAN_INFO[zone.plan]["name"]
        message = f"Zone setting {setting_id} is not editable on the {plan} plan"
        raise SandboxError(400, (ERR_SETTING_NOT_EDITABLE, message))
    if not definition.accepts(value):
        raise SandboxError(400, (ERR_SETTING_VALUE, f"Invalid value for zone setting {setting_id}"))
