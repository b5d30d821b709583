"""The sandbox's in-memory Cloudflare account: zones, settings and DNS records, and edits to them.

This module knows nothing about HTTP, tokens or faults; `api.py` does. Keeping the state apart
lets a test read or alter it directly (someone changed a setting behind the tool's back) without
going through the API and without leaving entries in the request log.

Every public method takes the one lock, so concurrent requests see each edit whole. Edits are
copy-on-write: an operation works on a copy of the zone's record table and swaps it in only when
every step succeeded, which is what makes the DNS batch endpoint atomic.

Errors are `SandboxError`s carrying the HTTP status and the v4 error items; the codes are listed
in `api.py`'s docstring.

Record ids from a scenario are `stable_id(zone_id, fqdn, type, content, str(index))` where
`index` is the record's position in the zone (seeded records first, then generated ones), unless
the scenario gives an id. Multi-label relative names ("dev.api") must be written fully
qualified: a dotted name outside the zone is taken for a foreign FQDN and refused.

Rules and Pages projects are read-only here. Unless the scenario gives one, a Configuration
Rule's id is `stable_id(zone_id, "config_rule", expression, str(index))` and a Page Rule's
`stable_id(zone_id, "page_rule", url, str(index))` (index: the rule's place in the scenario);
the entry point ruleset's is `stable_id(zone_id, "ruleset", "http_config_settings")`; a Pages
project's id is `stable_id("pages_project", account, name)` written as a UUID.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from cfremedy.sandbox import settings_catalog
from cfremedy.sandbox.scenario import (
    AnalyticsSpec,
    PagesProjectSpec,
    RecordSpec,
    Scenario,
    ScenarioError,
    ZoneSpec,
    stable_id,
)

# Fixed timestamps for seeded objects, so two runs of one scenario serve identical bodies.
SEED_TIME = "2024-06-01T00:00:00.000000Z"

ERR_NO_ROUTE = 7000
ERR_NO_ROUTE_OBJECT = 7003
ERR_SETTING_UNKNOWN = 1003
ERR_SETTING_VALUE = 1007
ERR_SETTING_NOT_EDITABLE = 1008
ERR_BAD_REQUEST = 1001
ERR_DNS_VALIDATION = 1004
ERR_DNS_NAME = 9000
ERR_DNS_NOT_PROXIABLE = 9004
ERR_DNS_IP_CONTENT = 9005
ERR_DNS_CONTENT = 9007
ERR_DNS_RECORD_MISSING = 81044
ERR_DNS_CNAME_CONFLICT = 81053
ERR_DNS_DUPLICATE = 81057
# GET .../rulesets/phases/{phase}/entrypoint for a phase with no ruleset yet: 404, 10003
# "could not find entrypoint ruleset in the <phase> phase" (what the live API answers; the
# 2024 OpenAPI document lists no error codes for rulesets).
ERR_NO_ENTRYPOINT = 10003
CONFIG_PHASE = "http_config_settings"

PROXIABLE_TYPES = frozenset({"A", "AAAA", "CNAME"})
SUPPORTED_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR"})
_HOSTNAME_TYPES = frozenset({"CNAME", "MX", "NS", "PTR"})
_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")

PLAN_INFO: dict[str, dict[str, Any]] = {
    "free": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0,
             "frequency": "", "can_subscribe": False},
    "pro": {"id": stable_id("plan", "pro"), "name": "Pro Website", "price": 20,
            "frequency": "monthly", "can_subscribe": True},
    "business": {"id": stable_id("plan", "business"), "name": "Business Website", "price": 200,
                 "frequency": "monthly", "can_subscribe": True},
    "enterprise": {"id": stable_id("plan", "enterprise"), "name": "Enterprise Website",
                   "price": 0, "frequency": "", "can_subscribe": False},
}  # fmt: skip
_PAGE_RULE_QUOTA = {"free": 3, "pro": 20, "business": 50, "enterprise": 125}
_CERT_QUOTA = {"free": 0, "pro": 0, "business": 1, "enterprise": 10}
NAME_SERVERS = ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com")


# Batch operations run in this order, as the real API documents.
BATCH_KINDS = ("deletes", "patches", "puts", "posts")


class SandboxError(Exception):
    """An API error: the status to answer and the v4 `errors` items."""

    def __init__(self, status: int, *errors: tuple[int, str]) -> None:
        super().__init__(errors[0][1] if errors else str(status))
        self.status = status
        self.errors = errors


def zone_not_found(zone_id: str) -> SandboxError:
    """What the API answers for a zone id it does not know or the token may not see."""
    message = f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
    no_route = (ERR_NO_ROUTE, "No route for that URI")
    return SandboxError(404, (ERR_NO_ROUTE_OBJECT, message), no_route)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ConfigRule(NamedTuple):
    """A Configuration Rule of a zone's `http_config_settings` entry point, id resolved."""

    id: str
    expression: str
    ssl: str | None
    description: str
    enabled: bool


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
    # 5xx traffic for GraphQL, in hours relative to the current one (see `error_buckets`).
    analytics: tuple[AnalyticsSpec, ...] = ()
    graphql_error: str | None = None
    # Configuration Rules in evaluation order, and Page Rules in scenario order.
    config_rules: tuple[ConfigRule, ...] = ()
    page_rules: tuple[PageRule, ...] = ()
    _sorted: list[DnsRecord] | None = None

    def sorted_records(self) -> list[DnsRecord]:
        if self._sorted is None:
            self._sorted = sorted(self.records.values(), key=lambda r: (r.type, r.name, r.id))
        return self._sorted

    def replace_records(self, records: dict[str, DnsRecord]) -> None:
        self.records = records
        self._sorted = None


BatchResult = dict[str, list[DnsRecord]]


class ErrorBucketRow(NamedTuple):
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
        for spec in scenario.zones:
            zone = _build_zone(spec)
            if zone.id in self.zones:
                raise ScenarioError(f"zones.{spec.name}: duplicate zone id {zone.id}")
            self.zones[zone.id] = zone
            self._by_name[zone.name] = zone.id
        # Cloudflare Pages projects per account, in scenario order (the order they are listed).
        self.pages: dict[str, list[PagesProjectSpec]] = {}
        for project in scenario.pages_projects:
            self.pages.setdefault(project.account, []).append(project)

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
        """Every account the scenario knows: those of its zones and of its Pages projects."""
        with self.lock:
            return {z.account_id for z in self.zones.values()} | set(self.pages)

    # -- rules and Pages -------------------------------------------------------------------------

    def entrypoint_ruleset(self, zone_id: str, phase: str) -> dict[str, Any]:
        """The zone's entry point ruleset of a phase; only `http_config_settings` can exist
        (when the zone has Configuration Rules), any other phase has none (404, 10003)."""
        with self.lock:
            zone = self._zone(zone_id)
            if phase != CONFIG_PHASE or not zone.config_rules:
                message = f"could not find entrypoint ruleset in the {phase} phase"
                raise SandboxError(404, (ERR_NO_ENTRYPOINT, message))
            return ruleset_json(zone)

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
            return [_setting_json(zone, d) for d in settings_catalog.SETTINGS.values()]

    def setting(self, zone_id: str, setting_id: str) -> dict[str, Any]:
        with self.lock:
            zone = self._zone(zone_id)
            definition = settings_catalog.get(setting_id)
            if definition is None:
                raise SandboxError(404, _unknown_setting(setting_id))
            return _setting_json(zone, definition)

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
                zone.settings[setting_id] = SettingValue(value, stamp)
            return [_setting_json(zone, settings_catalog.SETTINGS[s]) for s, _ in edits]

    def set_setting(self, zone_id: str, setting_id: str, value: Any) -> None:
        """Change a setting as someone else would, without validation (tests simulate drift)."""
        with self.lock:
            zone = self._zone(zone_id)
            if settings_catalog.get(setting_id) is None:
                raise KeyError(f"unknown zone setting {setting_id!r}")
            zone.settings[setting_id] = SettingValue(value, now_iso())

    # -- DNS records ---------------------------------------------------------------------------

    def records(self, zone_id: str, filters: Mapping[str, Any] | None = None) -> list[DnsRecord]:
        """Records ordered by type, name, id; `filters` keys: name, type, content, proxied."""
        with self.lock:
            zone = self._zone(zone_id)
            rows = zone.sorted_records()
            return [r for r in rows if _matches(r, filters)] if filters else list(rows)

    def record(self, zone_id: str, record_id: str) -> DnsRecord:
        with self.lock:
            return _existing(self._zone(zone_id).records, record_id)

    def create_record(self, zone_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: _post(z, t, body, now))

    def patch_record(self, zone_id: str, record_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: _patch(z, t, record_id, body, now))

    def put_record(self, zone_id: str, record_id: str, body: Any) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: _put(z, t, record_id, body, now))

    def delete_record(self, zone_id: str, record_id: str) -> DnsRecord:
        return self._edit_records(zone_id, lambda z, t, now: _delete(t, record_id))

    def batch(self, zone_id: str, body: Any) -> BatchResult:
        """Deletes, patches, puts, posts in that order, all or nothing (any error answers 400)."""
        ops = _batch_ops(body)

        def run(zone: ZoneState, table: dict[str, DnsRecord], now: str) -> BatchResult:
            out: BatchResult = {k: [] for k in BATCH_KINDS}
            for kind, index, item in ops:
                try:
                    out[kind].append(_run_batch_item(zone, table, kind, item, now))
                except SandboxError as exc:
                    raise SandboxError(400, *((c, f"{kind}[{index}]: {m}") for c, m in exc.errors))
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
            return record

    # -- helpers -------------------------------------------------------------------------------

    def _zone(self, zone_id: str) -> ZoneState:
        zone = self.zones.get(zone_id)
        if zone is None:
            raise zone_not_found(zone_id)
        return zone

    def _edit_records(self, zone_id: str, operation: Any) -> Any:
        with self.lock:
            zone = self._zone(zone_id)
            table = dict(zone.records)
            result = operation(zone, table, now_iso())
            zone.replace_records(table)
            return result


# -- building from a scenario ------------------------------------------------------------------


def _build_zone(spec: ZoneSpec) -> ZoneState:
    name = spec.name.lower().rstrip(".")
    zone = ZoneState(
        id=spec.zone_id, name=name, plan=spec.plan, account_id=spec.account, status=spec.status,
        analytics=spec.analytics, graphql_error=spec.graphql_error,
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
            expression=rule.expression, ssl=rule.ssl, description=rule.description,
            enabled=rule.enabled,
        )  # fmt: skip
        for index, rule in enumerate(spec.config_rules)
    )
    zone.page_rules = tuple(
        PageRule(
            id=rule.id or stable_id(zone.id, "page_rule", rule.url, str(index)),
            url=rule.url, ssl=rule.ssl, priority=rule.priority, status=rule.status,
        )  # fmt: skip
        for index, rule in enumerate(spec.page_rules)
    )
    for kind, rules in (("config_rules", zone.config_rules), ("page_rules", zone.page_rules)):
        ids = [r.id for r in rules]
        if len(ids) != len(set(ids)):
            raise ScenarioError(f"zones.{spec.name}.{kind}: duplicate rule ids")
    return zone


def _seed_record(zone: ZoneState, spec: RecordSpec, index: int) -> DnsRecord:
    try:
        name = fqdn(zone.name, spec.name)
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


def _setting_json(zone: ZoneState, definition: settings_catalog.SettingDef) -> dict[str, Any]:
    stored = zone.settings.get(definition.id)
    return {
        "id": definition.id,
        "value": stored.value if stored else definition.default,
        "editable": definition.editable_on(zone.plan),
        "modified_on": stored.modified_on if stored else None,
    }


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


# -- record helpers ------------------------------------------------------------------------------


def fqdn(zone_name: str, raw: Any) -> str:
    """The fully qualified, lower-case name a record name stands for in this zone."""
    if not isinstance(raw, str) or not raw.strip():
        raise SandboxError(400, (ERR_DNS_NAME, "DNS name is invalid."))
    name = raw.strip().lower()
    if name == "@":
        return zone_name
    absolute = name.endswith(".")
    name = name.rstrip(".")
    if name != zone_name and not name.endswith("." + zone_name):
        if absolute or "." in name or not name:
            raise SandboxError(
                400, (ERR_DNS_NAME, f"DNS name is invalid: {raw} is not in zone {zone_name}.")
            )
        name = f"{name}.{zone_name}"
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise SandboxError(400, (ERR_DNS_NAME, f"DNS name is invalid: {raw}."))
    return name


def _matches(record: DnsRecord, filters: Mapping[str, Any]) -> bool:
    name = filters.get("name")
    if name is not None and record.name != name:
        return False
    rtype = filters.get("type")
    if rtype is not None and record.type != rtype:
        return False
    content = filters.get("content")
    if content is not None and record.content.lower() != content.lower():
        return False
    proxied = filters.get("proxied")
    return proxied is None or record.proxied == proxied


def _existing(table: Mapping[str, DnsRecord], record_id: Any) -> DnsRecord:
    record = table.get(record_id) if isinstance(record_id, str) else None
    if record is None:
        raise SandboxError(404, (ERR_DNS_RECORD_MISSING, "Record does not exist."))
    return record


def _dns_error(detail: str) -> SandboxError:
    return SandboxError(400, (ERR_DNS_VALIDATION, f"DNS Validation Error: {detail}"))


_WRITABLE_FIELDS = ("type", "name", "content", "proxied", "ttl", "comment", "tags", "priority")


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _dns_error("the request body must be a JSON object")
    return {k: body[k] for k in _WRITABLE_FIELDS if k in body}


def _build_record(
    zone: ZoneState, table: Mapping[str, DnsRecord], values: Mapping[str, Any],
    record_id: str, created_on: str, now: str,
) -> DnsRecord:  # fmt: skip
    """Validate a complete set of record fields against the zone and the other records."""
    for required in ("type", "name", "content"):
        if values.get(required) is None:
            raise _dns_error(f"{required} is required")
    rtype = values["type"]
    if not isinstance(rtype, str) or rtype.upper() not in SUPPORTED_TYPES:
        raise _dns_error(f"unsupported record type {rtype!r}")
    rtype = rtype.upper()
    name = fqdn(zone.name, values["name"])
    content = _content(rtype, values["content"], name)
    proxied = values.get("proxied")
    proxied = False if proxied is None else proxied
    if not isinstance(proxied, bool):
        raise _dns_error("proxied must be a boolean")
    if proxied and rtype not in PROXIABLE_TYPES:
        raise SandboxError(400, (ERR_DNS_NOT_PROXIABLE, "This record type cannot be proxied."))
    ttl = _ttl(zone, values.get("ttl", 1))
    comment = values.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise _dns_error("comment must be a string")
    tags = values.get("tags") or ()
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise _dns_error("tags must be a list of strings")
    record = DnsRecord(
        id=record_id, type=rtype, name=name, content=content, proxied=proxied,
        ttl=1 if proxied else ttl, created_on=created_on, modified_on=now, comment=comment,
        tags=tuple(tags), priority=_priority(rtype, values.get("priority")),
    )  # fmt: skip
    _check_conflicts(table, record)
    return record


def _content(rtype: str, raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is invalid."))
    if rtype == "A":
        try:
            return str(ipaddress.IPv4Address(raw))
        except ValueError:
            msg = "Content for A record must be a valid IPv4 address."
            raise SandboxError(400, (ERR_DNS_IP_CONTENT, msg)) from None
    if rtype == "AAAA":
        try:
            return str(ipaddress.IPv6Address(raw))
        except ValueError:
            msg = "Content for AAAA record must be a valid IPv6 address."
            raise SandboxError(400, (ERR_DNS_IP_CONTENT, msg)) from None
    if rtype in _HOSTNAME_TYPES:
        host = raw.strip().lower().rstrip(".")
        if not host or not all(_LABEL.match(label) for label in host.split(".")) or host == name:
            raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is invalid."))
        return host
    if len(raw) > 2048:
        raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is too long."))
    return raw


def _ttl(zone: ZoneState, raw: Any) -> int:
    low = 30 if zone.plan == "enterprise" else 60
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise _dns_error("ttl must be an integer")
    ttl = int(raw)
    if ttl != 1 and not low <= ttl <= 86400:
        raise _dns_error(f"ttl must be 1 (automatic) or between {low} and 86400")
    return ttl


def _priority(rtype: str, raw: Any) -> int | None:
    if rtype != "MX":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 65535:
        raise _dns_error("priority is required for MX records (0-65535)")
    return raw


def _check_conflicts(table: Mapping[str, DnsRecord], record: DnsRecord) -> None:
    for other in table.values():
        if other.id == record.id or other.name != record.name:
            continue
        if other.type == record.type and other.content == record.content:
            raise SandboxError(400, (ERR_DNS_DUPLICATE, "An identical record already exists."))
        if "CNAME" in (other.type, record.type):
            msg = "An A, AAAA, or CNAME record with that host already exists."
            raise SandboxError(400, (ERR_DNS_CNAME_CONFLICT, msg))


def _new_record_id(zone: ZoneState, table: Mapping[str, DnsRecord]) -> str:
    """Deterministic ids for created records, so a replayed test sees the same ids."""
    while True:
        zone.created_count += 1
        record_id = stable_id(zone.id, "created", str(zone.created_count))
        if record_id not in table:
            return record_id


def _post(zone: ZoneState, table: dict[str, DnsRecord], body: Any, now: str) -> DnsRecord:
    record = _build_record(zone, table, _fields(body), _new_record_id(zone, table), now, now)
    table[record.id] = record
    return record


def _patch(
    zone: ZoneState, table: dict[str, DnsRecord], record_id: Any, body: Any, now: str
) -> DnsRecord:
    old = _existing(table, record_id)
    values = {k: getattr(old, k) for k in _WRITABLE_FIELDS}
    values.update(_fields(body))
    record = _build_record(zone, table, values, old.id, old.created_on, now)
    table[old.id] = record
    return record


def _put(
    zone: ZoneState, table: dict[str, DnsRecord], record_id: Any, body: Any, now: str
) -> DnsRecord:
    old = _existing(table, record_id)
    record = _build_record(zone, table, _fields(body), old.id, old.created_on, now)
    table[old.id] = record
    return record


def _delete(table: dict[str, DnsRecord], record_id: Any) -> DnsRecord:
    record = _existing(table, record_id)
    del table[record.id]
    return record


def _batch_ops(body: Any) -> list[tuple[str, int, Any]]:
    if not isinstance(body, dict):
        raise _dns_error("the batch body must be a JSON object")
    ops: list[tuple[str, int, Any]] = []
    for kind in BATCH_KINDS:
        items = body.get(kind) or []
        if not isinstance(items, list):
            raise _dns_error(f"{kind} must be a list")
        ops.extend((kind, index, item) for index, item in enumerate(items))
    return ops


def _run_batch_item(
    zone: ZoneState, table: dict[str, DnsRecord], kind: str, item: Any, now: str
) -> DnsRecord:
    if not isinstance(item, dict):
        raise _dns_error("each batch item must be a JSON object")
    if kind == "posts":
        return _post(zone, table, item, now)
    if "id" not in item:
        raise _dns_error("id is required")
    if kind == "deletes":
        return _delete(table, item["id"])
    if kind == "patches":
        return _patch(zone, table, item["id"], item, now)
    return _put(zone, table, item["id"], item, now)


# -- JSON shapes --------------------------------------------------------------------------------


def record_json(zone: ZoneState, record: DnsRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "zone_id": zone.id,
        "zone_name": zone.name,
        "name": record.name,
        "type": record.type,
        "content": record.content,
        "proxiable": record.type in PROXIABLE_TYPES,
        "proxied": record.proxied,
        "ttl": record.ttl,
        "locked": False,
        "meta": {"auto_added": False, "source": "primary"},
        "comment": record.comment,
        "tags": list(record.tags),
        "settings": {},
        "created_on": record.created_on,
        "modified_on": record.modified_on,
    }
    if record.priority is not None:
        body["priority"] = record.priority
    return body


def account_name(account_id: str) -> str:
    return f"Sandbox account {account_id[:8]}"


def plan_json(plan: str) -> dict[str, Any]:
    info = PLAN_INFO[plan]
    return {
        "id": info["id"],
        "name": info["name"],
        "price": info["price"],
        "currency": "USD",
        "frequency": info["frequency"],
        "is_subscribed": True,
        "can_subscribe": info["can_subscribe"],
        "legacy_id": plan,
        "legacy_discount": False,
        "externally_managed": False,
    }


def zone_json(zone: ZoneState, permissions: Iterable[str]) -> dict[str, Any]:
    account = {"id": zone.account_id, "name": account_name(zone.account_id)}
    return {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "paused": False,
        "type": "full",
        "development_mode": 0,
        "name_servers": list(NAME_SERVERS),
        "original_name_servers": None,
        "original_registrar": None,
        "original_dnshost": None,
        "vanity_name_servers": [],
        "created_on": SEED_TIME,
        "modified_on": zone.modified_on,
        "activated_on": SEED_TIME if zone.status == "active" else None,
        "meta": {
            "step": 2,
            "custom_certificate_quota": _CERT_QUOTA[zone.plan],
            "page_rule_quota": _PAGE_RULE_QUOTA[zone.plan],
            "phishing_detected": False,
            "cdn_only": False,
            "dns_only": False,
            "foundation_dns": False,
        },
        "owner": {**account, "type": "organization"},
        "account": account,
        "permissions": sorted(permissions),
        "plan": plan_json(zone.plan),
    }


def certificate_pack_json(zone: ZoneState) -> dict[str, Any]:
    """The universal certificate pack every proxied zone gets."""
    hosts = [zone.name, f"*.{zone.name}"]
    cert_id = stable_id("certificate", zone.id)
    certificate = {
        "id": cert_id,
        "hosts": hosts,
        "status": "active",
        "issuer": "GoogleTrustServices",
        "signature": "ECDSAWithSHA256",
        "bundle_method": "ubiquitous",
        "zone_id": zone.id,
        "uploaded_on": SEED_TIME,
        "modified_on": SEED_TIME,
        "expires_on": "2099-01-01T00:00:00.000000Z",
        "priority": 0,
    }
    return {
        "id": stable_id("certificate_pack", zone.id),
        "type": "universal",
        "hosts": hosts,
        "status": "active",
        "validation_method": "txt",
        "validity_days": 90,
        "certificate_authority": "google",
        "cloudflare_branding": False,
        "primary_certificate": cert_id,
        "certificates": [certificate],
    }


# -- rules and Pages JSON ------------------------------------------------------------------------


def ruleset_json(zone: ZoneState) -> dict[str, Any]:
    """The `http_config_settings` entry point ruleset: one `set_config` rule per Configuration
    Rule; a rule without `ssl` sets `automatic_https_rewrites` (something other than SSL)."""
    rules = []
    for rule in zone.config_rules:
        parameters: dict[str, Any] = (
            {"ssl": rule.ssl} if rule.ssl is not None else {"automatic_https_rewrites": True}
        )
        rules.append({
            "id": rule.id,
            "version": "1",
            "action": "set_config",
            "action_parameters": parameters,
            "expression": rule.expression,
            "description": rule.description,
            "last_updated": SEED_TIME,
            "ref": rule.id,
            "enabled": rule.enabled,
        })
    return {
        "id": stable_id(zone.id, "ruleset", CONFIG_PHASE),
        "name": "default",
        "description": "",
        "kind": "zone",
        "version": "1",
        "phase": CONFIG_PHASE,
        "last_updated": SEED_TIME,
        "rules": rules,
    }


def page_rule_json(rule: PageRule) -> dict[str, Any]:
    """A Page Rule with one URL target; a rule without `ssl` has a `browser_check` action."""
    action = {"id": "ssl", "value": rule.ssl} if rule.ssl is not None else {
        "id": "browser_check", "value": "on"
    }
    return {
        "id": rule.id,
        "targets": [{"target": "url", "constraint": {"operator": "matches", "value": rule.url}}],
        "actions": [action],
        "priority": rule.priority,
        "status": rule.status,
        "created_on": SEED_TIME,
        "modified_on": SEED_TIME,
    }


def pages_project_json(project: PagesProjectSpec) -> dict[str, Any]:
    digest = stable_id("pages_project", project.account, project.name)
    return {
        "id": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}",
        "name": project.name,
        "subdomain": project.pages_subdomain,
        "domains": list(project.domains),
        "created_on": SEED_TIME,
        "production_branch": "main",
        "deployment_configs": {"preview": {}, "production": {}},
    }
