"""The API's JSON, turned into cfremedy's frozen models, or refused with a clear error.

Pure functions over plain data. An answer that cannot be a model (a record without an id, a
TTL of "auto", a zone without a name) is the API's failure, `ApiError` (exit 3) naming what
was being read, never an internal error: `convert` wraps every parser so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from cfremedy.errors import ApiError
from cfremedy.models import DnsRecord, IPNetwork, PagesProject, SslRule, Zone, normalise_name

T = TypeVar("T")


def convert(parse: Callable[[dict[str, Any]], T], data: Any, what: str) -> T:
    """`parse(data)`, with any shape problem reported as the API's, naming `what`."""
    if data is None:
        raise ApiError(f"unexpected answer about {what}: no result")
    if not isinstance(data, dict):
        raise ApiError(f"unexpected answer about {what}: expected an object, got {type(data).__name__}")
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
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
