"""Cloudflare API token permissions, in the two spellings the API uses.

People create tokens in the dashboard by permission *group* names ("DNS Read"); the API reports
what a token may do on a zone as *keys* in the zone's `permissions` array ("#dns_records:read"),
and the OpenAPI document tags each operation with the key it needs (`x-cfPermissionsRequired`).
Playbooks declare group names (what a user can act on); `doctor`, the gateway's error messages
and the sandbox translate through this one table.
"""

from __future__ import annotations

from collections.abc import Iterable

# Permission group name -> the zone permission keys it grants.
GROUPS: dict[str, tuple[str, ...]] = {
    "Zone Read": ("#zone:read",),
    "Zone Write": ("#zone:read", "#zone:edit"),
    "Zone Settings Read": ("#zone_settings:read",),
    "Zone Settings Write": ("#zone_settings:read", "#zone_settings:edit"),
    "DNS Read": ("#dns_records:read",),
    "DNS Write": ("#dns_records:read", "#dns_records:edit"),
    "SSL and Certificates Read": ("#ssl:read",),
    "SSL and Certificates Write": ("#ssl:read", "#ssl:edit"),
    "Analytics Read": ("#analytics:read",),
    # The 2024 document tags `GET /zones/{id}/pagerules` with `#zone:read` (and the newer one
    # lists "Zone Read" and "Page Rules Read" for it): this group grants no key of its own.
    "Page Rules Read": ("#zone:read",),
    # The document gives no key for the rulesets entry point nor for the Pages project list;
    # these two are cfremedy's (and the sandbox's) spellings, see `cfremedy/sandbox/routes/`.
    "Config Rules Read": ("#config_settings:read",),
    "Cloudflare Pages Read": ("#pages:read",),
    # Where a hostname's traffic really goes (docs/architecture.md, "Routes"). The document gives
    # no key for these reads either; the spellings are cfremedy's (and the sandbox's). Listing a
    # zone's rulesets (`GET /zones/{id}/rulesets`, which phases exist) needs only Zone Read.
    "Origin Rules Read": ("#origin_rules:read",),
    "Cache Rules Read": ("#cache_rules:read",),
    "Load Balancers Read": ("#load_balancers:read",),
    "Load Balancing: Monitors and Pools Read": ("#load_balancing_pools:read",),
    "Cloudflare Tunnel Read": ("#cloudflare_tunnel:read",),
    # The account's audit log (`audit account --incremental`): the document names no key for it;
    # `#organization:read` is the key it gives the account's other reads.
    "Account Settings Read": ("#organization:read",),
}

# The group a user must add to get a key: the least-privileged group that grants it.
_KEY_TO_GROUP: dict[str, str] = {}
for _group, _keys in GROUPS.items():
    for _key in _keys:
        _KEY_TO_GROUP.setdefault(_key, _group)


def keys_for(groups: Iterable[str]) -> frozenset[str]:
    """All permission keys granted by these group names (unknown names grant nothing)."""
    return frozenset(k for g in groups for k in GROUPS.get(g, ()))


def group_for(key: str) -> str:
    """The permission group to name in a message about a missing key."""
    return _KEY_TO_GROUP.get(key, key)


def missing(needed_groups: Iterable[str], granted_keys: Iterable[str]) -> list[str]:
    """The needed group names whose keys are not all granted, in the order given."""
    granted = set(granted_keys)
    out: list[str] = []
    for group in needed_groups:
        if not set(GROUPS.get(group, (group,))) <= granted and group not in out:
            out.append(group)
    return out


def is_known_group(name: str) -> bool:
    return name in GROUPS
