"""The API's JSON, turned into cfremedy's frozen models, or refused with a clear error.

Pure functions over plain data. An answer that cannot be a model (a record without an id, a
TTL of "auto", a zone without a name) is the API's failure, `ApiError` (exit 3) naming what
was being read, never an internal error: `convert` wraps every parser so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from cfremedy.errors import ApiError
from cfremedy.models import (
    AuditEntry,
    CacheRule,
    CertificatePack,
    CustomPage,
    DnsRecord,
    EdgeCertificate,
    IngressRule,
    IPNetwork,
    LoadBalancer,
    OriginRule,
    PagesProject,
    Pool,
    PoolOrigin,
    SslRule,
    Tunnel,
    Zone,
    frozen_mapping,
    normalise_name,
)

T = TypeVar("T")


def convert(parse: Callable[[dict[str, Any]], T], data: Any, what: str) -> T:
    """`parse(data)`, with any shape problem reported as the API's, naming `what`."""
    if data is None:
        raise ApiError(f"unexpected answer about {what}: no result")
    if not isinstance(data, dict):
        raise ApiError(f"unexpected answer about {what}: expected an object, got {type(data).__name__}")
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ApiError(f"unexpected answer about {what}: {detail}") from None


def _text(data: dict[str, Any], key: str) -> str:
    """A required, non-empty string field."""
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{key}` is {value!r}, not a non-empty string")
    return value


def zone(data: dict[str, Any]) -> Zone:
    plan: dict[str, Any] = data["plan"] if isinstance(data.get("plan"), dict) else {}
    account: dict[str, Any] = data["account"] if isinstance(data.get("account"), dict) else {}
    permissions = data.get("permissions") or ()
    if not isinstance(permissions, list | tuple):
        raise ValueError(f"`permissions` is {type(permissions).__name__}, not a list")
    return Zone(
        id=_text(data, "id"),
        name=normalise_name(_text(data, "name")),
        plan=str(plan.get("legacy_id") or plan.get("name") or "unknown").lower(),
        account_id=str(account.get("id") or ""),
        status=str(data.get("status") or ""),
        permissions=tuple(str(p) for p in permissions),
        type=str(data.get("type") or "full"),
    )


def record(data: dict[str, Any]) -> DnsRecord:
    ttl = data.get("ttl", 1)
    if ttl is None:
        ttl = 1
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise ValueError(f"`ttl` is {ttl!r}, not a number of seconds")
    return DnsRecord(
        id=_text(data, "id"),
        type=str(data.get("type") or ""),
        name=str(data.get("name") or "").lower(),
        content=str(data.get("content") or ""),
        proxied=bool(data.get("proxied")),
        ttl=ttl,
    )


def pages_project(data: dict[str, Any]) -> PagesProject:
    domains = data.get("domains") or ()
    if not isinstance(domains, list | tuple):
        raise ValueError("`domains` is not a list")
    return PagesProject(
        name=_text(data, "name"),
        subdomain=normalise_name(str(data.get("subdomain") or "")),
        domains=tuple(normalise_name(str(d)) for d in domains if d),
    )


def config_ssl_rules(ruleset: dict[str, Any]) -> tuple[SslRule, ...]:
    """The Configuration Rules that set `ssl`; `position` is the rule's index in the ruleset,
    so later rules (which win) have higher positions."""
    rules = ruleset.get("rules") or []
    found = []
    for position, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict) or rule.get("action") != "set_config":
            continue
        parameters = rule.get("action_parameters")
        if not isinstance(parameters, dict) or parameters.get("ssl") is None:
            continue
        found.append(
            SslRule(
                source="config_rule",
                id=str(rule.get("id") or ""),
                mode=str(parameters["ssl"]),
                description=str(rule.get("description") or ""),
                expression=str(rule.get("expression") or ""),
                enabled=bool(rule.get("enabled", True)),
                position=position,
            )
        )
    return tuple(found)


def page_ssl_rules(items: list[Any]) -> tuple[SslRule, ...]:
    """Page Rules with an `ssl` action, `position` their place in the API's list (highest
    priority first: the first match wins). Disabled rules are kept, `enabled=False`."""
    found = []
    for position, rule in enumerate(items):
        if not isinstance(rule, dict):
            continue
        actions = [a for a in rule.get("actions") or [] if isinstance(a, dict)]
        ssl = next((a.get("value") for a in actions if a.get("id") == "ssl"), None)
        if ssl is None:
            continue
        targets = [t for t in rule.get("targets") or [] if isinstance(t, dict)]
        url = next(
            (str((t.get("constraint") or {}).get("value") or "") for t in targets if t.get("target") == "url"),
            "",
        )
        found.append(
            SslRule(
                source="page_rule",
                id=str(rule.get("id") or ""),
                mode=str(ssl),
                url_pattern=url,
                enabled=rule.get("status") == "active",
                position=position,
            )
        )
    return tuple(found)


def settings(items: list[Any]) -> tuple[dict[str, Any], dict[str, bool]]:
    """Every setting's value, and whether it is editable on this zone's plan."""
    values: dict[str, Any] = {}
    editable: dict[str, bool] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            values[item["id"]] = item.get("value")
            editable[item["id"]] = bool(item.get("editable", True))
    return values, editable


def ip_ranges(result: dict[str, Any]) -> tuple[IPNetwork, ...]:
    """Cloudflare's ranges, IPv4 then IPv6. Empty is an error: an allowlist generated from an
    empty list would shut Cloudflare out."""
    ranges: list[IPNetwork] = []
    for key in ("ipv4_cidrs", "ipv6_cidrs"):
        values = result.get(key)
        if not isinstance(values, list):
            raise ValueError(f"no {key}")
        for value in values:
            try:
                ranges.append(ipaddress.ip_network(str(value), strict=False))
            except ValueError:
                raise ValueError(f"{value!r} in {key} is not a network") from None
    if not ranges:
        raise ValueError("no IP ranges listed; refusing to use an empty list")
    return tuple(dict.fromkeys(ranges))


# -- routes: rulesets, load balancers, pools, tunnels ---------------------------------------------


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (an optional part left out)."""
    return value if isinstance(value, dict) else {}


def _rules(ruleset: dict[str, Any], action: str) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(position, rule, action_parameters) of the ruleset's rules with this action."""
    rules = ruleset.get("rules") or []
    found = []
    for position, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and rule.get("action") == action:
            parameters = rule.get("action_parameters")
            found.append((position, rule, parameters if isinstance(parameters, dict) else {}))
    return found


def origin_rules(ruleset: dict[str, Any]) -> tuple[OriginRule, ...]:
    """The `http_request_origin` entry point's `route` rules: what each overrides."""
    found = []
    for position, rule, parameters in _rules(ruleset, "route"):
        origin = _object(parameters.get("origin"))
        sni = _object(parameters.get("sni"))
        port = origin.get("port")
        found.append(
            OriginRule(
                id=str(rule.get("id") or ""),
                expression=str(rule.get("expression") or ""),
                description=str(rule.get("description") or ""),
                enabled=bool(rule.get("enabled", True)),
                position=position,
                host_header=str(parameters.get("host_header") or ""),
                origin_host=normalise_name(str(origin.get("host") or "")),
                origin_port=int(port) if isinstance(port, int | float) and not isinstance(port, bool) else None,
                sni=str(sni.get("value") or ""),
            )
        )
    return tuple(found)


def cache_timeout_rules(ruleset: dict[str, Any]) -> tuple[CacheRule, ...]:
    """The `http_request_cache_settings` entry point's rules that set a proxy read timeout."""
    found = []
    for position, rule, parameters in _rules(ruleset, "set_cache_settings"):
        timeout = parameters.get("read_timeout")
        if not isinstance(timeout, int) or isinstance(timeout, bool):
            continue
        found.append(
            CacheRule(
                id=str(rule.get("id") or ""),
                expression=str(rule.get("expression") or ""),
                read_timeout=timeout,
                description=str(rule.get("description") or ""),
                enabled=bool(rule.get("enabled", True)),
                position=position,
            )
        )
    return tuple(found)


def ruleset_phases(items: list[Any]) -> frozenset[str]:
    """The phases in which the zone has its own entry point ruleset (`kind: zone`)."""
    return frozenset(
        str(i["phase"])
        for i in items
        if isinstance(i, dict) and i.get("kind") == "zone" and isinstance(i.get("phase"), str)
    )


def _pool_map(data: Any) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(data, dict):
        return frozen_mapping()
    return frozen_mapping({str(k): tuple(str(p) for p in v) for k, v in data.items() if isinstance(v, list)})


def load_balancer(data: dict[str, Any]) -> LoadBalancer:
    defaults = data.get("default_pools") or []
    if not isinstance(defaults, list):
        raise ValueError("`default_pools` is not a list")
    return LoadBalancer(
        id=_text(data, "id"),
        name=normalise_name(_text(data, "name")),
        enabled=bool(data.get("enabled", True)),
        proxied=bool(data.get("proxied", False)),
        default_pools=tuple(str(p) for p in defaults),
        fallback_pool=str(data.get("fallback_pool") or ""),
        region_pools=_pool_map(data.get("region_pools")),
        country_pools=_pool_map(data.get("country_pools")),
        pop_pools=_pool_map(data.get("pop_pools")),
    )


def _pool_origin(data: Any) -> PoolOrigin:
    if not isinstance(data, dict):
        raise ValueError("a pool origin is not an object")
    header = _object(data.get("header"))
    hosts = header.get("Host") or header.get("host") or []
    weight = data.get("weight", 1)
    port = data.get("port") or 0
    return PoolOrigin(
        name=str(data.get("name") or ""),
        address=str(data["address"]).strip().rstrip(".").lower(),
        enabled=bool(data.get("enabled", True)),
        weight=float(weight) if isinstance(weight, int | float) else 1.0,
        port=int(port) if isinstance(port, int) else 0,
        host_header=str(hosts[0]) if isinstance(hosts, list) and hosts else "",
    )


def pool(data: dict[str, Any]) -> Pool:
    origins = data.get("origins") or []
    if not isinstance(origins, list):
        raise ValueError("`origins` is not a list")
    minimum = data.get("minimum_origins", 1)
    return Pool(
        id=_text(data, "id"),
        name=str(data.get("name") or data["id"]),
        enabled=bool(data.get("enabled", True)),
        minimum_origins=minimum if isinstance(minimum, int) else 1,
        origins=tuple(_pool_origin(o) for o in origins),
    )


def pool_health(data: dict[str, Any]) -> tuple[bool | None, dict[str, bool]]:
    """The pool's health as the API reports it: healthy if any location says so, and each
    origin's (by address), healthy if any location says so. (The SDK's typed model of this
    answer is wrong; the JSON is a map of location labels to `{healthy, origins: [{addr: ...}]}`.)"""
    pops = _object(data.get("pop_health"))
    pool_votes: list[bool] = []
    origins: dict[str, bool] = {}
    for location in pops.values():
        if not isinstance(location, dict):
            continue
        if isinstance(location.get("healthy"), bool):
            pool_votes.append(location["healthy"])
        for entry in location.get("origins") or []:
            if not isinstance(entry, dict):
                continue
            for address, detail in entry.items():
                if isinstance(detail, dict) and isinstance(detail.get("healthy"), bool):
                    key = str(address).lower()
                    origins[key] = origins.get(key, False) or detail["healthy"]
    return (any(pool_votes) if pool_votes else None), origins


def tunnel(data: dict[str, Any]) -> Tunnel:
    connections = data.get("connections") or []
    return Tunnel(
        id=_text(data, "id").lower(),
        name=str(data.get("name") or ""),
        status=str(data.get("status") or "unknown"),
        remote_config=bool(data.get("remote_config")) or data.get("config_src") == "cloudflare",
        connections=len(connections) if isinstance(connections, list) else 0,
        deleted=bool(data.get("deleted_at")),
    )


def ingress_rules(result: dict[str, Any]) -> tuple[IngressRule, ...] | None:
    """A remote-managed tunnel's ingress rules; None for a configuration the API does not hold."""
    config = result.get("config")
    if not isinstance(config, dict):
        return None
    rules = config.get("ingress")
    if not isinstance(rules, list):
        return None
    return tuple(
        IngressRule(
            hostname=normalise_name(str(r.get("hostname") or "")),
            path=str(r.get("path") or ""),
            service=str(r.get("service") or ""),
        )
        for r in rules
        if isinstance(r, dict)
    )


def audit_entry(data: dict[str, Any]) -> AuditEntry:
    """Tolerant of missing parts (the document requires none): an entry that names no zone is
    judged by its resource type (`cfremedy.incremental`)."""
    action = _object(data.get("action"))
    resource = _object(data.get("resource"))
    metadata = _object(data.get("metadata"))
    when = data["when"]
    if not isinstance(when, str) or not when:
        raise ValueError(f"`when` is {when!r}, not a time")
    return AuditEntry(
        id=str(data.get("id") or ""),
        when=when,
        action=str(action.get("type") or ""),
        succeeded=action.get("result") is not False,
        resource_type=str(resource.get("type") or ""),
        resource_id=str(resource.get("id") or ""),
        zone_name=normalise_name(str(metadata.get("zone_name") or "")),
        zone_id=str(metadata.get("zone_id") or metadata.get("zone_tag") or ""),
    )


def custom_page(data: dict[str, Any]) -> CustomPage:
    """One custom error page; the document leaves the items untyped, the SDK's model names the
    fields. A default page's URL may come as "" or null."""
    state = _text(data, "state")
    url = data.get("url") or ""
    if not isinstance(url, str):
        raise ValueError(f"`url` is {url!r}, not a string")
    return CustomPage(id=_text(data, "id"), state=state, url=url)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _hosts(data: dict[str, Any]) -> tuple[str, ...]:
    hosts = data.get("hosts") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ValueError(f"`hosts` is {hosts!r}, not a list of names")
    return tuple(h.lower().rstrip(".") for h in hosts)


def certificate_pack(data: dict[str, Any]) -> CertificatePack:
    """A certificate pack and its certificates (the SDK's `CertificatePackListResponse`)."""
    certificates = data.get("certificates") or []
    if not isinstance(certificates, list):
        raise ValueError("`certificates` is not a list")
    return CertificatePack(
        id=_text(data, "id"),
        type=_text(data, "type"),
        status=_text(data, "status"),
        hosts=_hosts(data),
        certificate_authority=str(data.get("certificate_authority") or ""),
        certificates=tuple(
            EdgeCertificate(
                id=_text(c, "id"),
                hosts=_hosts(c),
                status=str(c.get("status") or ""),
                issuer=str(c.get("issuer") or ""),
                expires_on=_when(c.get("expires_on")),
            )
            for c in certificates
            if isinstance(c, dict)
        ),
    )
