"""The router table, `ROUTES`, and `resolve`; the handlers, one module per resource.

`zones` (zones, their certificate packs and custom pages), `settings`, `dns_records`, `rules` (a zone's
rulesets, its entry points for Configuration, Origin and Cache Rules, and Page Rules),
`load_balancing` (a zone's load balancers, an account's pools and a pool's health), `tunnels`
(an account's Cloudflare Tunnels and a tunnel's configuration), `accounts` (Pages projects),
`audit_logs` (an account's audit log),
`ips` and `tokens`; the GraphQL Analytics handler, which answers in its own shape, is
`cfremedy.sandbox.graphql`. Each module says what its routes understand (queries, bodies).

Permission keys per route come from the OpenAPI document's `x-cfPermissionsRequired`, except
`PATCH /zones/{zone_id}/settings/{setting_id}`, which the 2024 document tags `#zone_settings:read`
(an error in the document): the sandbox requires `#zone_settings:edit` for every settings write.
`GET /zones` has no key in the document; the sandbox requires `#zone:read`, like a zone read.
`GET /zones/{zone_id}/pagerules` requires `#zone:read`, as the document says (the newer document
lists the groups "Zone Read" and "Page Rules Read" for it, both granting that key). The document
gives no key for `GET /accounts/{account_id}/pages/projects`: the sandbox requires
`#pages:read` (group "Cloudflare Pages Read"), its own spelling.

Where a hostname's traffic goes. The 2024 document gives no key for any of these routes; every
key below but `#zone:read` is cfremedy's own spelling (`cfremedy/permissions.py` names the
groups that grant them), and the sandbox requires:

* `GET /zones/{zone_id}/rulesets`: `#zone:read` (listing which phases exist shows no rule).
* `GET /zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint`: a key chosen by the phase
  (`ByParam`): `http_config_settings` -> `#config_settings:read` ("Config Rules Read"),
  `http_request_origin` -> `#origin_rules:read` ("Origin Rules Read"),
  `http_request_cache_settings` -> `#cache_rules:read` ("Cache Rules Read"); any other phase
  `#config_settings:read`, then 404 10003 (no such entry point in the sandbox).
* `GET /zones/{zone_id}/load_balancers`: `#load_balancers:read` ("Load Balancers Read").
* `GET /accounts/{account_id}/load_balancers/pools` and `.../pools/{pool_id}/health`:
  `#load_balancing_pools:read` ("Load Balancing: Monitors and Pools Read").
* `GET /accounts/{account_id}/cfd_tunnel` and `.../cfd_tunnel/{tunnel_id}/configurations`:
  `#cloudflare_tunnel:read` ("Cloudflare Tunnel Read").

`GET /accounts/{account_id}/audit_logs` (what changed, for `audit account --incremental`): the
document gives no key; the sandbox requires `#organization:read` ("Account Settings Read"), the
key the document gives the account's other reads.

Account routes see accounts as `access.py` says (an account the token cannot see answers 403
10000). The bodies follow the 2024 document where it is right and the live API (as the SDK
models it) where the document is wrong; `account_shapes.py` and `shapes.py` say where.
"""

from __future__ import annotations

from cfremedy.sandbox.graphql import graphql
from cfremedy.sandbox.routes.accounts import list_pages_projects
from cfremedy.sandbox.routes.audit_logs import list_audit_logs
from cfremedy.sandbox.routes.dns_records import (
    batch_records,
    create_record,
    delete_record,
    get_record,
    list_records,
    patch_record,
    put_record,
)
from cfremedy.sandbox.routes.ips import cloudflare_ips
from cfremedy.sandbox.routes.load_balancing import list_load_balancers, list_pools, pool_health, pool_references
from cfremedy.sandbox.routes.rules import get_entrypoint, list_page_rules, list_rulesets
from cfremedy.sandbox.routes.settings import (
    get_setting,
    get_settings,
    patch_setting,
    patch_settings,
)
from cfremedy.sandbox.routes.tokens import verify_token
from cfremedy.sandbox.routes.tunnels import get_tunnel_configuration, list_tunnels
from cfremedy.sandbox.routes.zones import get_zone, list_certificate_packs, list_custom_pages, list_zones
from cfremedy.sandbox.routing import ByParam, Route

_RECORD = "/zones/{zone_id}/dns_records/{dns_record_id}"
_ENTRYPOINT = "/zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint"
_POOLS = "/accounts/{account_id}/load_balancers/pools"
_TUNNELS = "/accounts/{account_id}/cfd_tunnel"
# The entry point's key depends on its phase: each kind of rule has its own permission group.
_ENTRYPOINT_KEY = ByParam(
    "ruleset_phase",
    (
        ("http_config_settings", "#config_settings:read"),
        ("http_request_origin", "#origin_rules:read"),
        ("http_request_cache_settings", "#cache_rules:read"),
    ),
    default="#config_settings:read",
)

# The router table. Templates are spelled as in the OpenAPI document so the schema tests can
# look each route up there; a route added here without validation cases fails those tests.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/zones", list_zones, "#zone:read"),
    Route("GET", "/zones/{zone_id}", get_zone, "#zone:read"),
    Route("GET", "/zones/{zone_id}/settings", get_settings, "#zone_settings:read"),
    Route("PATCH", "/zones/{zone_id}/settings", patch_settings, "#zone_settings:edit"),
    Route("GET", "/zones/{zone_id}/settings/{setting_id}", get_setting, "#zone_settings:read"),
    Route("PATCH", "/zones/{zone_id}/settings/{setting_id}", patch_setting, "#zone_settings:edit"),
    Route("GET", "/zones/{zone_id}/dns_records", list_records, "#dns_records:read"),
    Route("POST", "/zones/{zone_id}/dns_records", create_record, "#dns_records:edit"),
    Route("POST", "/zones/{zone_id}/dns_records/batch", batch_records, "#dns_records:edit"),
    Route("GET", _RECORD, get_record, "#dns_records:read"),
    Route("PATCH", _RECORD, patch_record, "#dns_records:edit"),
    Route("PUT", _RECORD, put_record, "#dns_records:edit"),
    Route("DELETE", _RECORD, delete_record, "#dns_records:edit"),
    Route("GET", "/zones/{zone_id}/ssl/certificate_packs", list_certificate_packs, "#ssl:read"),
    # The document names this route's zone parameter `zone_identifier`; it is resolved as `zone_id`.
    Route("GET", "/zones/{zone_identifier}/custom_pages", list_custom_pages, "#zone_settings:read"),
    Route("GET", "/zones/{zone_id}/rulesets", list_rulesets, "#zone:read"),
    Route("GET", _ENTRYPOINT, get_entrypoint, _ENTRYPOINT_KEY),
    Route("GET", "/zones/{zone_id}/pagerules", list_page_rules, "#zone:read"),
    Route("GET", "/zones/{zone_id}/load_balancers", list_load_balancers, "#load_balancers:read"),
    Route("GET", "/accounts/{account_id}/pages/projects", list_pages_projects, "#pages:read"),
    Route("GET", "/accounts/{account_id}/audit_logs", list_audit_logs, "#organization:read"),
    Route("GET", _POOLS, list_pools, "#load_balancing_pools:read"),
    Route("GET", _POOLS + "/{pool_id}/health", pool_health, "#load_balancing_pools:read"),
    Route("GET", _POOLS + "/{pool_id}/references", pool_references, "#load_balancing_pools:read"),
    Route("GET", _TUNNELS, list_tunnels, "#cloudflare_tunnel:read"),
    Route("GET", _TUNNELS + "/{tunnel_id}/configurations", get_tunnel_configuration, "#cloudflare_tunnel:read"),
    Route("GET", "/ips", cloudflare_ips, auth="none"),
    Route("GET", "/user/tokens/verify", verify_token, auth="verify"),
    # Not in the 2024 OpenAPI document: the schema tests skip it, test_sandbox_graphql covers it.
    Route("POST", "/graphql", graphql, "#analytics:read", own_body_errors=True),
)


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None
