"""The JSON bodies of an account's load-balancing pools and Cloudflare Tunnels.

A pool (`GET /accounts/{id}/load_balancers/pools`) with its origins, a pool's health
(`.../pools/{pool_id}/health`), a tunnel (`GET /accounts/{id}/cfd_tunnel`) with its active
connections, and a tunnel's configuration (`.../cfd_tunnel/{tunnel_id}/configurations`), built
from the scenario's `PoolSpec`s and `TunnelSpec`s. Every value the scenario does not give is
derived from ids or fixed, so two runs of one scenario serve identical bodies. Kept apart from
`shapes.py`, whose builders serve a zone's objects, because these belong to an account and are
built from scenario specs directly (the state keeps no other form of them).

Where the 2024 OpenAPI document and the live API disagree, the bodies follow what validates
and what the SDK reads: `deleted_at` and `conns_inactive_at` are left out instead of sent as
null (the document types them as non-nullable strings); the health body is the document's
example shape (`pop_health` keyed by a PoP label, each origin a one-key map keyed by its
address), which the SDK's typed model does not match (read it as a dict).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cfremedy.sandbox.scenario import PoolOriginSpec, PoolSpec, TunnelSpec, stable_id, stable_uuid
from cfremedy.sandbox.zone import SEED_TIME

# Fixed moments after the seed time, so a down tunnel went inactive after it was active and a
# deleted one was deleted after both.
INACTIVE_TIME = "2024-06-02T00:00:00.000000Z"
DELETED_TIME = "2024-06-03T00:00:00.000000Z"
# The PoP label of the one region the sandbox's pool health reports.
HEALTH_POP = "Amsterdam, NL"
# Data centres a tunnel's connections are listed at, in turn (cloudflared connects to two).
TUNNEL_COLOS = ("ams01", "fra08", "ams07", "fra14")
CLOUDFLARED_VERSION = "2024.8.2"


def _digest_byte(*parts: str) -> int:
    return hashlib.md5("\0".join(parts).encode(), usedforsecurity=False).digest()[0]


# -- load balancing ------------------------------------------------------------------------------


def monitor_id(account: str) -> str:
    """The one health monitor every sandbox pool uses (an id only: monitors are not served)."""
    return stable_id("monitor", account)


def pool_origin_json(origin: PoolOriginSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": origin.name,
        "address": origin.address,
        "enabled": origin.enabled,
        "weight": origin.weight,
        "header": {"Host": [origin.host]} if origin.host else {},
    }
    if origin.port:
        body["port"] = origin.port  # not in the 2024 document; the SDK's Origin has it
    if not origin.enabled:
        body["disabled_at"] = SEED_TIME
    return body


def pool_json(pool: PoolSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pool.pool_id,
        "name": pool.name,
        "description": pool.description,
        "enabled": pool.enabled,
        "minimum_origins": pool.minimum_origins,
        "monitor": monitor_id(pool.account),
        "check_regions": None,  # every data centre (the document: nullable)
        "notification_email": "",
        "notification_filter": None,
        "origin_steering": {"policy": "random"},
        "load_shedding": {"default_percent": 0, "default_policy": "random", "session_percent": 0,
                          "session_policy": "hash"},
        "origins": [pool_origin_json(o) for o in pool.origins],
        "created_on": SEED_TIME,
        "modified_on": SEED_TIME,
    }  # fmt: skip
    if not pool.enabled:
        body["disabled_at"] = SEED_TIME
    return body


def pool_health_json(pool: PoolSpec) -> dict[str, Any]:
    """What the health checks from one PoP report: the pool's health, and each enabled
    origin's (disabled origins are not checked)."""
    origins = []
    for origin in pool.origins:
        if not origin.enabled:
            continue
        if origin.healthy:
            byte = _digest_byte(pool.pool_id, origin.address)
            detail = {"healthy": True, "rtt": f"{5 + byte % 40}.{byte % 10}ms", "failure_reason": "No failures",
                      "response_code": 200}  # fmt: skip
        else:
            detail = {"healthy": False, "rtt": "0s", "failure_reason": "TCP connection failed", "response_code": 0}
        origins.append({origin.address: detail})
    return {"pool_id": pool.pool_id, "pop_health": {HEALTH_POP: {"healthy": pool.is_healthy, "origins": origins}}}


# -- tunnels ---------------------------------------------------------------------------------------


def tunnel_connection_json(tunnel_id: str, index: int) -> dict[str, Any]:
    connection_id = stable_uuid("tunnel_connection", tunnel_id, str(index))
    return {
        "id": connection_id,
        "uuid": connection_id,
        "client_id": stable_uuid("tunnel_connector", tunnel_id),  # one cloudflared per tunnel
        "client_version": CLOUDFLARED_VERSION,
        "colo_name": TUNNEL_COLOS[index % len(TUNNEL_COLOS)],
        "is_pending_reconnect": False,
        "opened_at": SEED_TIME,
        "origin_ip": f"198.51.100.{1 + _digest_byte(tunnel_id) % 254}",
    }


def tunnel_json(tunnel_id: str, tunnel: TunnelSpec) -> dict[str, Any]:
    """A `cfd_tunnel` as the list serves it. Never-run tunnels ("inactive") have no
    `conns_active_at`; ones that lost their connections ("down") have both timestamps."""
    connections = tunnel.active_connections
    body: dict[str, Any] = {
        "id": tunnel_id,
        "account_tag": tunnel.account,
        "name": tunnel.name,
        "status": tunnel.status,
        "tun_type": "cfd_tunnel",
        "remote_config": tunnel.remote_config,
        "config_src": "cloudflare" if tunnel.remote_config else "local",  # the SDK's model has it
        "created_at": SEED_TIME,
        "metadata": {},
        "connections": [tunnel_connection_json(tunnel_id, i) for i in range(connections)],
    }
    if tunnel.status != "inactive":
        body["conns_active_at"] = SEED_TIME
    if tunnel.status == "down":
        body["conns_inactive_at"] = INACTIVE_TIME
    if tunnel.deleted:
        body["deleted_at"] = DELETED_TIME
    return body


def tunnel_configuration_json(tunnel_id: str, tunnel: TunnelSpec) -> dict[str, Any]:
    """A remotely managed tunnel's configuration (`source: "cloudflare"`, its ingress rules);
    a locally managed one's has `source: "local"`, version 0 and `config: null`: its
    configuration is a file on the host running cloudflared, which the API never sees."""
    body: dict[str, Any] = {
        "tunnel_id": tunnel_id,
        "account_id": tunnel.account,
        "created_at": SEED_TIME,
    }
    if not tunnel.remote_config:
        return {**body, "version": 0, "source": "local", "config": None}
    ingress = []
    for rule in tunnel.ingress:
        item: dict[str, Any] = {}
        if rule.hostname is not None:
            item["hostname"] = rule.hostname
        if rule.path is not None:
            item["path"] = rule.path
        item["service"] = rule.service
        ingress.append(item)
    config = {"ingress": ingress, "originRequest": {}, "warp-routing": {"enabled": False}}
    return {**body, "version": 1, "source": "cloudflare", "config": config}


def monitor_reference(pool: PoolSpec) -> dict[str, Any]:
    """The pool's monitor, as a pool's references list names it (a `referral`)."""
    return {
        "reference_type": "referral",
        "resource_id": monitor_id(pool.account),
        "resource_name": "sandbox monitor",
        "resource_type": "monitor",
    }
