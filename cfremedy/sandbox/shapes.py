"""The JSON bodies the sandbox serves, built from the state's data.

Each builder turns `zone.py` data (a zone, its plan, records, settings, certificate pack,
rulesets with their Configuration, Origin and Cache Rules, Page Rules, load balancers) or a
scenario's Pages project into the body the v4 API returns for it (an account's pools and
tunnels are `account_shapes.py`'s); the schema tests validate what every route serves against the OpenAPI document. The
builders take no lock of their own (`SandboxState` and the handlers hold it where needed).
Kept apart from `state.py` so that the state reads as the state and its locking, and so that
the route handlers can shape what they list without going through `SandboxState`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cfremedy.sandbox import settings_catalog
from cfremedy.sandbox.dns_rules import PROXIABLE_TYPES
from cfremedy.sandbox.scenario import CUSTOM_PAGE_IDS, PagesProjectSpec, stable_id
from cfremedy.sandbox.zone import (
    CACHE_PHASE,
    CERTIFICATE_EXPIRES,
    CERTIFICATE_ISSUER,
    CONFIG_PHASE,
    ENTRYPOINT_PHASES,
    ORIGIN_PHASE,
    SEED_TIME,
    DnsRecord,
    LoadBalancer,
    PageRule,
    ZoneState,
)

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


# -- zones, records and settings -------------------------------------------------------------


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
        "issuer": CERTIFICATE_ISSUER,
        "signature": "ECDSAWithSHA256",
        "bundle_method": "ubiquitous",
        "zone_id": zone.id,
        "uploaded_on": SEED_TIME,
        "modified_on": SEED_TIME,
        "expires_on": CERTIFICATE_EXPIRES,
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


# What the dashboard calls each custom page, and the token Cloudflare replaces in it.
_CUSTOM_PAGES: dict[str, tuple[str, str]] = {
    "basic_challenge": ("Basic Challenge", "::CAPTCHA_BOX::"),
    "waf_challenge": ("WAF Challenge", "::CAPTCHA_BOX::"),
    "waf_block": ("WAF Block", "::IP_ADDRESS::"),
    "ratelimit_block": ("Rate Limit Block", "::IP_ADDRESS::"),
    "country_challenge": ("Country Challenge", "::CAPTCHA_BOX::"),
    "ip_block": ("IP Block", "::IP_ADDRESS::"),
    "under_attack": ("Under Attack", "::IM_UNDER_ATTACK_BOX::"),
    "500_errors": ("5XX Errors", "::CLOUDFLARE_ERROR_500S_BOX::"),
    "1000_errors": ("1XXX Errors", "::CLOUDFLARE_ERROR_1000S_BOX::"),
    "managed_challenge": ("Managed Challenge", "::CAPTCHA_BOX::"),
}


def custom_pages_json(zone: ZoneState) -> list[dict[str, Any]]:
    """The zone's custom pages, every one listed, customised ones with their URL. The document
    leaves the items untyped; the fields are the SDK's `CustomPageListResponse`. A page in its
    default state has an empty URL (whether the live API answers "" or null is not documented:
    cfremedy reads either)."""
    pages = []
    for page_id in CUSTOM_PAGE_IDS:
        description, token = _CUSTOM_PAGES[page_id]
        url = zone.custom_pages.get(page_id)
        pages.append({
            "id": page_id,
            "description": description,
            "state": "customized" if url else "default",
            "url": url or "",
            "required_tokens": [token],
            "preview_target": "preview:target",
            "created_on": SEED_TIME,
            "modified_on": zone.modified_on if url else SEED_TIME,
        })  # fmt: skip
    return pages


def setting_json(zone: ZoneState, definition: settings_catalog.SettingDef) -> dict[str, Any]:
    """A zone setting: the catalog's default unless the zone (or its scenario) changed it."""
    stored = zone.settings.get(definition.id)
    return {
        "id": definition.id,
        "value": stored.value if stored else definition.default,
        "editable": definition.editable_on(zone.plan),
        "modified_on": stored.modified_on if stored else None,
    }


# -- rules, load balancers and Pages JSON -------------------------------------------------------


def _rule_json(rule_id: str, action: str, parameters: dict[str, Any], expression: str, description: str,
               enabled: bool) -> dict[str, Any]:  # fmt: skip
    return {
        "id": rule_id,
        "version": "1",
        "action": action,
        "action_parameters": parameters,
        "expression": expression,
        "description": description,
        "last_updated": SEED_TIME,
        "ref": rule_id,
        "enabled": enabled,
    }


def _config_rules(zone: ZoneState) -> list[dict[str, Any]]:
    """One `set_config` rule per Configuration Rule; a rule without `ssl` sets
    `automatic_https_rewrites` (something other than SSL)."""
    rules = []
    for rule in zone.config_rules:
        parameters: dict[str, Any] = {"ssl": rule.ssl} if rule.ssl is not None else {"automatic_https_rewrites": True}
        rules.append(_rule_json(rule.id, "set_config", parameters, rule.expression, rule.description, rule.enabled))
    return rules


def _origin_rules(zone: ZoneState) -> list[dict[str, Any]]:
    """One `route` rule per Origin Rule, with only the overrides it sets."""
    rules = []
    for rule in zone.origin_rules:
        parameters: dict[str, Any] = {}
        if rule.host_header is not None:
            parameters["host_header"] = rule.host_header
        origin: dict[str, Any] = {}
        if rule.origin_host is not None:
            origin["host"] = rule.origin_host
        if rule.origin_port is not None:
            origin["port"] = rule.origin_port
        if origin:
            parameters["origin"] = origin
        if rule.sni is not None:
            parameters["sni"] = {"value": rule.sni}
        rules.append(_rule_json(rule.id, "route", parameters, rule.expression, rule.description, rule.enabled))
    return rules


def _cache_rules(zone: ZoneState) -> list[dict[str, Any]]:
    """One `set_cache_settings` rule per Cache Rule: with a read timeout, a path that bypasses
    the cache and waits longer for the origin; without, a rule that makes requests eligible."""
    rules = []
    for rule in zone.cache_rules:
        parameters: dict[str, Any] = (
            {"cache": False, "read_timeout": rule.read_timeout} if rule.read_timeout is not None else {"cache": True}
        )
        action = "set_cache_settings"
        rules.append(_rule_json(rule.id, action, parameters, rule.expression, rule.description, rule.enabled))
    return rules


_RULES_OF_PHASE = {CONFIG_PHASE: _config_rules, ORIGIN_PHASE: _origin_rules, CACHE_PHASE: _cache_rules}


def zone_phases(zone: ZoneState) -> list[str]:
    """The phases the zone has an entry point ruleset for: those it has rules of."""
    present = {CONFIG_PHASE: zone.config_rules, ORIGIN_PHASE: zone.origin_rules, CACHE_PHASE: zone.cache_rules}
    return [phase for phase in ENTRYPOINT_PHASES if present[phase]]


def ruleset_summary_json(zone: ZoneState, phase: str) -> dict[str, Any]:
    """An entry point ruleset as `GET /zones/{id}/rulesets` lists it: without its rules."""
    return {
        "id": stable_id(zone.id, "ruleset", phase),
        "name": "default",
        "description": "",
        "kind": "zone",
        "version": "1",
        "phase": phase,
        "last_updated": SEED_TIME,
    }


def ruleset_json(zone: ZoneState, phase: str) -> dict[str, Any]:
    """The zone's entry point ruleset of a phase in `ENTRYPOINT_PHASES`, with its rules."""
    return {**ruleset_summary_json(zone, phase), "rules": _RULES_OF_PHASE[phase](zone)}


# The managed ruleset an Enterprise zone's ruleset list also shows (id and name as Cloudflare
# publishes them); its rules are never served.
MANAGED_RULESET: dict[str, Any] = {
    "id": "efb7b8c949ac4650a09736fc376e9aee",
    "name": "Cloudflare Managed Ruleset",
    "description": "Created by the Cloudflare security team, this ruleset is designed to provide fast and"
    " effective protection for all your applications.",
    "kind": "managed",
    "version": "71",
    "phase": "http_request_firewall_managed",
    "last_updated": SEED_TIME,
}


def rulesets_json(zone: ZoneState) -> list[dict[str, Any]]:
    """`GET /zones/{id}/rulesets`: the zone's entry points, then (Enterprise) a managed one."""
    listed = [ruleset_summary_json(zone, phase) for phase in zone_phases(zone)]
    if zone.plan == "enterprise":
        listed.append(dict(MANAGED_RULESET))
    return listed


def load_balancer_json(zone: ZoneState, lb: LoadBalancer) -> dict[str, Any]:
    """A load balancer with its pools by id. `steering_policy` and `session_affinity` are the
    explicit "off" and "none": the live API's `""` for "not set" does not validate against
    the 2024 document (its enums hold the two-character string `""` instead)."""
    return {
        "id": lb.id,
        "name": lb.name,
        "description": lb.description,
        "enabled": lb.enabled,
        "proxied": lb.proxied,
        "ttl": 30,
        "default_pools": list(lb.default_pools),
        "fallback_pool": lb.fallback_pool,
        "region_pools": {code: list(ids) for code, ids in lb.region_pools.items()},
        "country_pools": {code: list(ids) for code, ids in lb.country_pools.items()},
        "pop_pools": {code: list(ids) for code, ids in lb.pop_pools.items()},
        "steering_policy": "off",
        "session_affinity": "none",
        "session_affinity_attributes": {"samesite": "Auto", "secure": "Auto", "drain_duration": 0,
                                        "zero_downtime_failover": "none"},
        "adaptive_routing": {"failover_across_pools": False},
        "location_strategy": {"mode": "pop", "prefer_ecs": "proximity"},
        "random_steering": {"default_weight": 1},
        "rules": [],
        "zone_name": zone.name,
        "created_on": SEED_TIME,
        "modified_on": SEED_TIME,
    }  # fmt: skip


def page_rule_json(rule: PageRule) -> dict[str, Any]:
    """A Page Rule with one URL target; a rule without `ssl` has a `browser_check` action."""
    action = {"id": "ssl", "value": rule.ssl} if rule.ssl is not None else {"id": "browser_check", "value": "on"}
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
