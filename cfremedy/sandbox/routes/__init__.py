"""The router table, `ROUTES`, and `resolve`; the handlers, one module per resource.

`zones` (zones and their certificate packs), `settings`, `dns_records`, `rules` (the
Configuration Rules entry point and Page Rules), `accounts` (Pages projects), `ips` and
`tokens`; the GraphQL Analytics handler, which answers in its own shape, is
`cfremedy.sandbox.graphql`. Each module says what its routes understand (queries, bodies).

Permission keys per route come from the OpenAPI document's `x-cfPermissionsRequired`, except
`PATCH /zones/{zone_id}/settings/{setting_id}`, which the 2024 document tags `#zone_settings:read`
(an error in the document): the sandbox requires `#zone_settings:edit` for every settings write.
`GET /zones` has no key in the document; the sandbox requires `#zone:read`, like a zone read.
`GET /zones/{zone_id}/pagerules` requires `#zone:read`, as the document says (the newer document
lists the groups "Zone Read" and "Page Rules Read" for it, both granting that key). The document
gives no key for `GET /zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint` nor for
`GET /accounts/{account_id}/pages/projects`: the sandbox requires `#config_settings:read` (group
"Config Rules Read") and `#pages:read` (group "Cloudflare Pages Read"), its own spellings.
"""

from __future__ import annotations

from cfremedy.sandbox.graphql import graphql
from cfremedy.sandbox.routes.accounts import list_pages_projects
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
from cfremedy.sandbox.routes.rules import get_entrypoint, list_page_rules
from cfremedy.sandbox.routes.settings import (
    get_setting,
    get_settings,
    patch_setting,
    patch_settings,
)
from cfremedy.sandbox.routes.tokens import verify_token
from cfremedy.sandbox.routes.zones import get_zone, list_certificate_packs, list_zones
from cfremedy.sandbox.routing import Route

_RECORD = "/zones/{zone_id}/dns_records/{dns_record_id}"

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
    Route(
        "GET", "/zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint", get_entrypoint, "#config_settings:read"
    ),
    Route("GET", "/zones/{zone_id}/pagerules", list_page_rules, "#zone:read"),
    Route("GET", "/accounts/{account_id}/pages/projects", list_pages_projects, "#pages:read"),
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
