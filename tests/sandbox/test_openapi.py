"""Every response shape the sandbox serves, validated against Cloudflare's OpenAPI document.

The sandbox is only useful if what the gateway learns against it holds against the real API, so
each route is driven with plain httpx, success and error alike, and the body is validated
against the document's schema for that operation and status. The case table is checked against
the sandbox's router table: a new route without validation cases fails `test_every_route_is_covered`.

Validator: `OAS30ReadValidator`, the response-side flavour of `OAS30Validator`. The plain
`OAS30Validator` skips `required` for `readOnly` properties, which would silently accept a zone
without `name_servers`, `created_on`, `development_mode`, ... (all readOnly in `zones_zone`).

Places where the 2024 document cannot be used as written are handled explicitly below, each
with its reason: see `failure_schema`, `SCHEMA_PATCHES`, `ips_schema`, `validate_settings_list`,
`validate_batch`, `validate_pages_projects`, `validate_pool_health`,
`validate_tunnel_configuration` and `audit_logs_schema`. Responses given as a `$ref` to
`components/responses` (the rulesets family) are followed by `response_schema_ref`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30ReadValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from cfremedy.sandbox import settings_catalog
from cfremedy.sandbox.api import ROUTES, SandboxApi, resolve
from cfremedy.sandbox.scenario import FaultSpec, parse_scenario, stable_id, stable_uuid

DOC = "urn:cloudflare-openapi"
ALL_GROUPS = [
    "Zone Read",
    "Zone Settings Write",
    "DNS Write",
    "SSL and Certificates Read",
    "Config Rules Read",
    "Cloudflare Pages Read",
    "Origin Rules Read",
    "Cache Rules Read",
    "Load Balancers Read",
    "Load Balancing: Monitors and Pools Read",
    "Cloudflare Tunnel Read",
    "Account Settings Read",
]
OTHER_ACCOUNT = "acc00000000000000000000000000002"  # only Pages projects, no zone
REC = {name: stable_id("openapi-test", name) for name in ("get", "patch", "put", "delete", "batch")}

SCENARIO = {
    "tokens": [
        {"name": "full", "value": "tok-full", "permissions": ALL_GROUPS},
        {"name": "readonly", "value": "tok-readonly",
         "permissions": ["Zone Read", "Zone Settings Read", "DNS Read"]},
        {"name": "zone-only", "value": "tok-zone-only", "permissions": ["Zone Read"]},
        {"name": "no-zone-read", "value": "tok-no-zone-read", "permissions": ["DNS Read"]},
        {"name": "config-rules-only", "value": "tok-config-only", "permissions": ["Zone Read", "Config Rules Read"]},
        {"name": "scoped", "value": "tok-scoped", "permissions": ALL_GROUPS,
         "zones": ["ent.example"]},
        {"name": "expired", "value": "tok-expired", "permissions": ALL_GROUPS,
         "status": "expired"},
    ],
    "zones": [
        {"name": "example.com", "plan": "pro", "settings": {"ssl": "full"},
         "custom_pages": {"500_errors": "https://errors.example.com/5xx.html"},
         "records": [
             {"name": "@", "content": "203.0.113.10", "proxied": True},
             {"name": "www", "type": "CNAME", "content": "example.com", "proxied": True},
             {"name": "v6", "type": "AAAA", "content": "2001:db8::10"},
             {"name": "@", "type": "MX", "content": "mail.example.com"},
             {"name": "get", "content": "192.0.2.1", "id": REC["get"]},
             {"name": "patch", "content": "192.0.2.2", "id": REC["patch"]},
             {"name": "put", "content": "192.0.2.3", "id": REC["put"]},
             {"name": "delete", "content": "192.0.2.4", "id": REC["delete"]},
             {"name": "batch", "content": "192.0.2.5", "id": REC["batch"]},
         ],
         "generate_records": 3,
         "config_rules": [
             {"expression": '(http.host eq "api.example.com")', "ssl": "flexible", "description": "api"},
             {"expression": '(http.request.uri.path wildcard "/static/*")'},
             {"expression": '(http.host in {"a.example.com" "b.example.com"})', "ssl": "strict",
              "enabled": False},
         ],
         "page_rules": [
             {"url": "*legacy.example.com/*", "ssl": "off", "priority": 1},
             {"url": "http://www.example.com/*", "ssl": "full", "priority": 3, "status": "disabled"},
             {"url": "example.com/images/*", "priority": 2},
         ],
         "origin_rules": [
             {"expression": '(http.host eq "api.example.com")', "description": "api to 8443",
              "host_header": "api.internal.example", "origin_host": "backend.example.com", "origin_port": 8443,
              "sni": "api.internal.example"},
             {"expression": '(http.host eq "old.example.com")', "origin_port": 8080, "enabled": False},
         ],
         "cache_rules": [
             {"expression": '(starts_with(http.request.uri.path, "/export"))', "read_timeout": 300,
              "description": "slow exports"},
             {"expression": '(http.request.uri.path wildcard "/static/*")'},
         ],
         "load_balancers": [
             {"name": "www", "default_pools": ["eu-1", "us-1"], "fallback_pool": "us-1",
              "region_pools": {"WNAM": ["us-1"]}, "country_pools": {"DE": ["eu-1"]}, "proxied": True},
             {"name": "lb.example.com", "default_pools": ["eu-1"], "fallback_pool": "eu-1", "enabled": False},
         ]},
        {"name": "ent.example", "plan": "enterprise"},
    ],
    "pools": [
        {"name": "eu-1", "description": "Europe", "origins": [
            {"name": "eu-origin-1", "address": "192.0.2.60", "host": "app.internal.example", "port": 8443},
            {"name": "eu-origin-2", "address": "origin2.example.net", "weight": 0.5, "healthy": False},
            {"name": "eu-origin-3", "address": "2001:db8::60", "enabled": False},
        ]},
        {"name": "us-1", "minimum_origins": 2, "origins": [{"name": "us-origin-1", "address": "192.0.2.70"}]},
        {"name": "far-pool", "account": OTHER_ACCOUNT, "enabled": False,
         "origins": [{"name": "far-1", "address": "192.0.2.80"}]},
    ],
    "tunnels": [
        {"name": "prod", "remote_config": True, "ingress": [
            {"hostname": "app.example.com", "service": "http://localhost:8080"},
            {"hostname": "api.example.com", "path": "^/v2/", "service": "https://10.0.0.5:8443"},
            {"service": "http_status:404"},
        ]},
        {"name": "legacy", "status": "down"},
        {"name": "prod", "status": "inactive", "deleted": True},
        {"name": "spare", "status": "degraded", "remote_config": True},
        {"name": "never-run", "status": "inactive"},
        {"name": "far", "account": OTHER_ACCOUNT},
    ],
    "pages_projects": [
        *[{"name": f"site-{i:02d}", "domains": [f"site-{i:02d}.example.com"]} for i in range(12)],
        {"name": "blog", "domains": ["blog.example.com", "www.blog.example.com"], "subdomain": "blog-8x2.pages.dev"},
        {"name": "elsewhere", "account": OTHER_ACCOUNT},
    ],
}  # fmt: skip
ZONE = stable_id("zone", "example.com")
ENT = stable_id("zone", "ent.example")
ACCOUNT = "acc00000000000000000000000000001"
POOL = {name: stable_id("pool", ACCOUNT, name) for name in ("eu-1", "us-1")} | {
    "far": stable_id("pool", OTHER_ACCOUNT, "far-pool")
}
TUNNEL = {
    "prod": stable_uuid("tunnel", ACCOUNT, "prod"), "legacy": stable_uuid("tunnel", ACCOUNT, "legacy"),
    "deleted": stable_uuid("tunnel", ACCOUNT, "prod", "deleted-0"), "spare": stable_uuid("tunnel", ACCOUNT, "spare"),
    "far": stable_uuid("tunnel", OTHER_ACCOUNT, "far"),
}  # fmt: skip
PLACEHOLDERS = {
    "zone": ZONE, "ent": ENT, "account": ACCOUNT, "other_account": OTHER_ACCOUNT,
    **{f"rec_{k}": v for k, v in REC.items()},
    **{f"pool_{k.replace('-', '_')}": v for k, v in POOL.items()},
    **{f"tunnel_{k}": v for k, v in TUNNEL.items()},
}  # fmt: skip

# -- the document -----------------------------------------------------------------------------

# The 2024 document types `dns-records_comment` as a non-nullable string, but the API answers
# `"comment": null` for a record without a comment (and the SDK models it as Optional[str]).
# `rulesets_RuleAction` is `pattern: ^[a-z]+$`, which refuses the document's own action names
# with an underscore (`set_config`, `js_challenge`, `managed_challenge`, ... each pinned by an
# `enum` in its rule schema): the underscore is allowed here, the enums still decide.
SCHEMA_PATCHES: dict[str, dict[str, Any]] = {
    "dns-records_comment": {"nullable": True},
    "rulesets_RuleAction": {"pattern": "^[a-z_]+$"},
}


@pytest.fixture(scope="module")
def registry(openapi_doc: dict[str, Any]) -> Registry:
    schemas = dict(openapi_doc["components"]["schemas"])
    for name, extra in SCHEMA_PATCHES.items():
        schemas[name] = {**schemas[name], **extra}
    doc = {**openapi_doc, "components": {**openapi_doc["components"], "schemas": schemas}}
    return Registry().with_resource(DOC, Resource.from_contents(doc, default_specification=DRAFT4))


def ref(*pointer: str) -> dict[str, str]:
    escaped = "/".join(p.replace("~", "~0").replace("/", "~1") for p in pointer)
    return {"$ref": f"{DOC}#/{escaped}"}


def json_schema_ref(template: str, method: str, key: str) -> dict[str, str]:
    """A reference to an operation's JSON response schema for one response key."""
    return ref("paths", template, method.lower(), "responses", key, "content", "application/json", "schema")


def component(name: str) -> dict[str, str]:
    return ref("components", "schemas", name)


def validate(registry: Registry, schema: dict[str, Any], instance: Any, what: str) -> None:
    validator = OAS30ReadValidator(schema, registry=registry, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    details = "\n".join(f"  at {list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])
    assert not errors, f"{what}: response does not match the OpenAPI schema:\n{details}"


def doc_template(doc: dict[str, Any], path: str) -> str | None:
    """The document path a concrete path falls under; literal segments beat parameters,
    as they do in the API's router (so `/settings/origin_max_http_version` wins)."""
    parts = path.strip("/").split("/")
    best: tuple[int, str] | None = None
    for template in doc["paths"]:
        segments = template.strip("/").split("/")
        if len(segments) != len(parts):
            continue
        if all(s.startswith("{") or s == p for s, p in zip(segments, parts, strict=True)):
            literal = sum(not s.startswith("{") for s in segments)
            if best is None or literal > best[0]:
                best = (literal, template)
    return best[1] if best else None


def operation_ref(doc: dict[str, Any], template: str, method: str) -> dict[str, Any]:
    operations = doc["paths"][template]
    assert method.lower() in operations, f"{method} {template} is not in the OpenAPI document"
    return operations[method.lower()]


def response_key(responses: dict[str, Any], status: int) -> str:
    if str(status) in responses:
        return str(status)
    for key in (f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    raise AssertionError(f"no response schema for status {status} among {sorted(responses)}")


def _response(doc: dict[str, Any], template: str, method: str, key: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """An operation's response object and the pointer to it, following a `$ref` into
    `components/responses` (the rulesets family writes its responses that way)."""
    pointer: tuple[str, ...] = ("paths", template, method.lower(), "responses", key)
    response = operation_ref(doc, template, method)["responses"][key]
    target = response.get("$ref", "")
    if target.startswith("#/components/responses/"):
        name = target.rsplit("/", 1)[1]
        pointer, response = ("components", "responses", name), doc["components"]["responses"][name]
    return pointer, response


def response_schema_ref(doc: dict[str, Any], template: str, method: str, key: str) -> dict[str, str]:
    """Like `json_schema_ref`, for operations whose responses may be `$ref`s."""
    pointer, _ = _response(doc, template, method, key)
    return ref(*pointer, "content", "application/json", "schema")


def schema_at(doc: dict[str, Any], template: str, method: str, key: str) -> dict[str, Any]:
    return _response(doc, template, method, key)[1]["content"]["application/json"]["schema"]


def failure_schema(doc: dict[str, Any], template: str, method: str) -> dict[str, Any]:
    """The operation's error-body schema.

    Many 4XX entries in the 2024 document are `allOf: [<success envelope>, <X_api-response-common
    -failure>]`; the success half pins `success` to `true` (and e.g. `result` to a record) while
    the failure half pins it to `false`, so no body at all can satisfy them. Where that is the
    shape, the failure half alone is the schema. 429 and 5xx have no entry of their own: they
    use the same common failure schema.
    """
    responses = operation_ref(doc, template, method)["responses"]
    key = response_key(responses, 400)
    schema = schema_at(doc, template, method, key)
    found = _failure_ref(schema)
    if found is not None:
        return component(found)
    return response_schema_ref(doc, template, method, key)


def _failure_ref(schema: Any) -> str | None:
    if isinstance(schema, dict):
        target = schema.get("$ref", "")
        if target.endswith("api-response-common-failure"):
            return str(target.rsplit("/", 1)[1])
        for value in schema.values():
            found = _failure_ref(value)
            if found:
                return found
    if isinstance(schema, list):
        for value in schema:
            found = _failure_ref(value)
            if found:
                return found
    return None


def ips_schema() -> dict[str, Any]:
    """`GET /ips` 200 says `result: oneOf [addressing_ips, addressing_ips_jdcloud]`, but neither
    has required properties or closes additionalProperties, so every object matches both and
    `oneOf` always fails. The plain (non-JD Cloud) variant is what the sandbox serves."""
    return {
        "allOf": [
            component("addressing_api-response-single"),
            {"properties": {"result": component("addressing_ips")}, "required": ["result"]},
        ]
    }


def audit_logs_schema() -> dict[str, Any]:
    """`GET /accounts/{account_id}/audit_logs` 200 says `oneOf [an envelope with nothing
    required, aaa_api-response-common]`: every real body matches both, so `oneOf` always fails.
    Both halves are required instead (the entries' shape comes from the first)."""
    collection = ref("components", "schemas", "aaa_audit_logs_response_collection", "oneOf", "0")
    return {"allOf": [collection, component("aaa_api-response-common")]}


def bulk_setting_ids(doc: dict[str, Any]) -> set[str]:
    collection = doc["components"]["schemas"]["zones_zone_settings_response_collection"]
    variants = collection["allOf"][1]["properties"]["result"]["items"]["anyOf"]
    ids: set[str] = set()
    for variant in variants:
        schema = doc["components"]["schemas"][variant["$ref"].rsplit("/", 1)[1]]
        for part in schema.get("allOf", [schema]):
            ids.update(part.get("properties", {}).get("id", {}).get("enum", []))
    return ids


def validate_settings_list(doc: dict[str, Any], registry: Registry, template: str, method: str, body: Any) -> None:
    """The bulk list's `anyOf` predates some settings (e.g. `origin_max_http_version`), which
    the document gives their own path instead: such an item is validated against its own
    path's GET response; the rest of the list against the bulk schema."""
    known = bulk_setting_ids(doc)
    listed = [item for item in body["result"] if item["id"] in known]
    own_path = [item for item in body["result"] if item["id"] not in known]
    schema = json_schema_ref(template, method, "200")
    validate(registry, schema, {**body, "result": listed}, f"{method} {template}")
    for item in own_path:
        item_template = f"/zones/{{zone_id}}/settings/{item['id']}"
        assert item_template in doc["paths"], f"setting {item['id']} is nowhere in the document"
        item_schema = json_schema_ref(item_template, "get", "200")
        validate(registry, item_schema, {**body, "result": item}, f"GET {item_template}")


def validate_batch(registry: Registry, status: int, body: Any) -> None:
    """`POST /zones/{zone_id}/dns_records/batch` is absent from the 2024 document: the envelope
    is checked against the DNS family's common schemas and each returned record against
    `dns-records_dns-record`."""
    if status != 200:
        validate(registry, component("dns-records_api-response-common-failure"), body, "batch")
        return
    validate(registry, component("dns-records_api-response-common"), body, "batch envelope")
    assert set(body["result"]) == {"deletes", "patches", "puts", "posts"}
    for kind, records in body["result"].items():
        for record in records:
            validate(registry, component("dns-records_dns-record"), record, f"batch {kind}")


def validate_pages_projects(doc: dict[str, Any], registry: Registry, template: str, body: Any) -> None:
    """`GET /accounts/{account_id}/pages/projects`: the 2024 document's 200 schema types each
    listed item as `pages_deployments` (a mistake: the API lists projects). The body is
    validated as documented, and each item also against `pages_projects`, what it really is."""
    validate(registry, json_schema_ref(template, "GET", "200"), body, f"GET {template}")
    for index, project in enumerate(body["result"]):
        validate(registry, component("pages_projects"), project, f"project {index}")
        for name in ("name", "subdomain", "domains"):
            assert name in project, (name, project)


# The document's example of a pool's health (its only description of the shape): `pop_health`
# maps a PoP label to the pool's health there, each origin a one-key map from its address.
POOL_HEALTH_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["pool_id", "pop_health"],
    "properties": {
        "pool_id": {"type": "string"},
        "pop_health": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["healthy", "origins"],
                "properties": {
                    "healthy": {"type": "boolean"},
                    "origins": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "minProperties": 1,
                            "maxProperties": 1,
                            "additionalProperties": {
                                "type": "object",
                                "required": ["healthy", "rtt", "failure_reason", "response_code"],
                                "properties": {
                                    "healthy": {"type": "boolean"},
                                    "rtt": {"type": "string"},
                                    "failure_reason": {"type": "string"},
                                    "response_code": {"type": "integer"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def validate_pool_health(registry: Registry, template: str, body: Any) -> None:
    """`GET .../pools/{pool_id}/health`: the document types `result` as a bare object (its
    description was pasted from `check_regions`), so the body is validated as documented and
    its result against the shape of the document's own example (`POOL_HEALTH_RESULT`); the
    SDK's typed model does not match that shape (cfremedy reads it as a dict)."""
    validate(registry, json_schema_ref(template, "GET", "200"), body, f"GET {template}")
    validate(registry, POOL_HEALTH_RESULT, body["result"], "pool health result")


def validate_tunnel_configuration(registry: Registry, template: str, body: Any) -> None:
    """`GET .../cfd_tunnel/{tunnel_id}/configurations`: the document types `result` as a bare
    object; the configuration's shape is the PUT body's `tunnel_config`, whose ingress rules
    all require `hostname`, which the catch-all every real configuration ends with has not. So:
    the body as documented, then a remote configuration against `tunnel_config` without its
    last rule, which must be a catch-all (a service and nothing else). A local tunnel's
    configuration is null (the file lives with cloudflared)."""
    validate(registry, json_schema_ref(template, "GET", "200"), body, f"GET {template}")
    result = body["result"]
    assert {"tunnel_id", "account_id", "version", "source", "created_at", "config"} <= set(result), result
    if result["source"] == "local":
        assert result["config"] is None, result
        return
    config = result["config"]
    rules = list(config["ingress"])
    if rules:  # a remote tunnel nobody has configured yet has none
        catch_all = rules.pop()
        assert set(catch_all) == {"service"}, catch_all
    validate(registry, component("tunnel_config"), {**config, "ingress": rules}, "tunnel configuration")


def throttling_as_documented(body: Any) -> Any:
    """Every `*_messages` schema in the document says `code >= 1000`, but the API's throttling
    error is code 971 (what the real API answers and what clients match on). The code is
    checked here, then swapped for a documented one so the rest of the body is validated."""
    assert [e["code"] for e in body["errors"]] == [971], body
    return {**body, "errors": [{**e, "code": 10000} for e in body["errors"]]}


def validate_response(
    doc: dict[str, Any], registry: Registry, method: str, path: str, status: int, body: Any
) -> str | None:
    """Validate one response; returns the document path used (None for an unrouted path)."""
    if resolve(method, path) is None:  # no route: the generic v4 failure envelope
        validate(registry, component("zones_api-response-common-failure"), body, f"{method} {path}")
        return None
    if path.endswith("/dns_records/batch") and method == "POST":
        validate_batch(registry, status, body)
        return "/zones/{zone_id}/dns_records/batch"
    template = doc_template(doc, path)
    assert template is not None, f"{method} {path} has no path in the OpenAPI document"
    operation_ref(doc, template, method)
    what = f"{method} {template} -> {status}"
    if status == 429:
        validate(registry, failure_schema(doc, template, method), throttling_as_documented(body), what)
    elif status != 200:
        validate(registry, failure_schema(doc, template, method), body, what)
    elif template == "/ips":
        validate(registry, ips_schema(), body, what)
    elif template == "/zones/{zone_id}/settings":
        validate_settings_list(doc, registry, template, method, body)
    elif template == PAGES:
        validate_pages_projects(doc, registry, template, body)
    elif template == HEALTH:
        validate_pool_health(registry, template, body)
    elif template == TUNNEL_CONFIG:
        validate_tunnel_configuration(registry, template, body)
    elif template == AUDIT_LOGS:
        validate(registry, audit_logs_schema(), body, what)
    else:
        key = response_key(operation_ref(doc, template, method)["responses"], status)
        validate(registry, response_schema_ref(doc, template, method, key), body, what)
    return template


# -- the cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # with {zone}, {ent}, {rec_*} placeholders
    status: int
    route: str | None  # the sandbox route it exercises; None for an unrouted path
    token: str | None = "tok-full"
    body: Any = None
    raw_body: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    fault: str | None = None  # a FaultSpec kind armed for this one request
    check: Callable[[Any], None] | None = None


def _codes(*codes: int) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert [e["code"] for e in body["errors"]] == list(codes), body["errors"]

    return check


def _count(n: int) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert len(body["result"]) == n, body

    return check


Z, S, S1 = "/zones", "/zones/{zone_id}/settings", "/zones/{zone_id}/settings/{setting_id}"
D, D1 = "/zones/{zone_id}/dns_records", "/zones/{zone_id}/dns_records/{dns_record_id}"
ZONE1, BATCH = "/zones/{zone_id}", "/zones/{zone_id}/dns_records/batch"
CERTS = "/zones/{zone_id}/ssl/certificate_packs"
CUSTOM_PAGES = "/zones/{zone_identifier}/custom_pages"
ENTRY = "/zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint"
PAGERULES, PAGES = "/zones/{zone_id}/pagerules", "/accounts/{account_id}/pages/projects"
CONFIG_ENTRY = "/zones/{zone}/rulesets/phases/http_config_settings/entrypoint"
ORIGIN_ENTRY = "/zones/{zone}/rulesets/phases/http_request_origin/entrypoint"
CACHE_ENTRY = "/zones/{zone}/rulesets/phases/http_request_cache_settings/entrypoint"
RULESETS, LBS = "/zones/{zone_id}/rulesets", "/zones/{zone_id}/load_balancers"
POOLS = "/accounts/{account_id}/load_balancers/pools"
HEALTH = "/accounts/{account_id}/load_balancers/pools/{pool_id}/health"
REFERENCES = "/accounts/{account_id}/load_balancers/pools/{pool_id}/references"
TUNNELS = "/accounts/{account_id}/cfd_tunnel"
TUNNEL_CONFIG = "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"
AUDIT_LOGS = "/accounts/{account_id}/audit_logs"


def _ruleset(actions: list[str | None], ssl: list[str | None]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        rules = body["result"]["rules"]
        assert [r["action"] for r in rules] == actions, rules
        assert [r["action_parameters"].get("ssl") for r in rules] == ssl, rules
        assert body["result"]["phase"] == "http_config_settings" and body["result"]["kind"] == "zone"

    return check


def _page_rules(urls: list[str]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert [r["targets"][0]["constraint"]["value"] for r in body["result"]] == urls, body

    return check


def _projects(names: list[str], total: int) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert [p["name"] for p in body["result"]] == names, body
        assert body["result_info"]["total_count"] == total, body["result_info"]

    return check


def _phases(phases: list[str], kinds: list[str]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert [r["phase"] for r in body["result"]] == phases, body
        assert [r["kind"] for r in body["result"]] == kinds, body
        assert all("rules" not in r for r in body["result"]), body

    return check


def _entry(phase: str, action: str, parameters: list[dict[str, Any]]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        result = body["result"]
        assert result["phase"] == phase and result["kind"] == "zone", result
        assert [r["action"] for r in result["rules"]] == [action] * len(parameters), result
        assert [r["action_parameters"] for r in result["rules"]] == parameters, result

    return check


def _custom_pages(customized: dict[str, str]) -> Callable[[Any], None]:
    """Every page listed once; exactly `customized` (id -> URL) customised, the rest default."""

    def check(body: Any) -> None:
        pages = body["result"]
        assert len(pages) == 10 and len({p["id"] for p in pages}) == 10, pages
        assert {p["id"]: p["url"] for p in pages if p["state"] == "customized"} == customized, pages
        assert all(p["state"] == "default" and p["url"] == "" for p in pages if p["id"] not in customized), pages

    return check


def _load_balancers(expected: list[tuple[str, list[str], str]]) -> Callable[[Any], None]:
    """(name, default pool ids, fallback pool id) per load balancer, in order."""

    def check(body: Any) -> None:
        got = [(lb["name"], lb["default_pools"], lb["fallback_pool"]) for lb in body["result"]]
        assert got == expected, body
        for lb in body["result"]:
            assert lb["steering_policy"] == "off" and lb["session_affinity"] == "none", lb
            assert all(isinstance(lb[k], dict) for k in ("region_pools", "country_pools", "pop_pools")), lb

    return check


def _pools(names: list[str]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert [p["name"] for p in body["result"]] == names, body
        for pool in body["result"]:
            for origin in pool["origins"]:
                assert "healthy" not in origin, origin  # health is the health route's

    return check


def _references(load_balancers: list[str]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        referrers = [r["resource_name"] for r in body["result"] if r["resource_type"] == "load_balancer"]
        assert referrers == load_balancers, body
        assert body["result"][-1]["reference_type"] == "referral" and body["result"][-1]["resource_type"] == "monitor"

    return check


def _health(healthy: bool, origins: dict[str, bool]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        (pop,) = body["result"]["pop_health"].values()
        assert pop["healthy"] is healthy, body
        got = {address: detail["healthy"] for item in pop["origins"] for address, detail in item.items()}
        assert got == origins, body

    return check


def _tunnels(names: list[tuple[str, str]], total: int) -> Callable[[Any], None]:
    """(name, status) per listed tunnel, and the total the filters leave."""

    def check(body: Any) -> None:
        assert [(t["name"], t["status"]) for t in body["result"]] == names, body
        assert body["result_info"]["total_count"] == total, body["result_info"]
        for tunnel in body["result"]:
            assert tunnel["tun_type"] == "cfd_tunnel" and None not in tunnel.values(), tunnel

    return check


def _tunnel_config(source: str, services: list[str] | None) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        result = body["result"]
        assert result["source"] == source, result
        if services is None:
            assert result["config"] is None, result
        else:
            assert [r["service"] for r in result["config"]["ingress"]] == services, result
            assert result["config"]["warp-routing"] == {"enabled": False}, result

    return check


def _audit_log(actions: list[str], zone_names: set[str] | None = None) -> Callable[[Any], None]:
    """The entries' action types in order, each naming a zone of `zone_names` (when given)."""

    def check(body: Any) -> None:
        assert [e["action"]["type"] for e in body["result"]] == actions, body["result"]
        for entry in body["result"]:
            assert entry["owner"]["id"] == ACCOUNT and entry["action"]["result"] is True, entry
            if zone_names is not None:
                assert entry["metadata"]["zone_name"] in zone_names, entry
        assert "total_pages" not in body["result_info"], body["result_info"]

    return check


NEW_A = {"type": "A", "name": "new", "content": "198.51.100.7", "ttl": 1, "proxied": True}

CASES: list[Case] = [
    # zones
    Case("zones-list", "GET", "/zones", 200, Z, check=_count(2)),
    Case("zones-list-filtered", "GET", "/zones", 200, Z, query={"name": "ent.example"}, check=_count(1)),
    Case("zones-list-scoped", "GET", "/zones", 200, Z, token="tok-scoped", check=_count(1)),
    Case("zones-list-bad-token", "GET", "/zones", 401, Z, token="nope", check=_codes(10000)),
    Case("zones-list-no-token", "GET", "/zones", 401, Z, token=None, check=_codes(10000)),
    Case("zones-list-no-zone-read", "GET", "/zones", 403, Z, token="tok-no-zone-read", check=_codes(10000)),
    Case("zones-list-bad-page", "GET", "/zones", 400, Z, query={"page": "x"}, check=_codes(1001)),
    Case("zones-list-429", "GET", "/zones", 429, Z, fault="429", check=_codes(971)),
    Case("zones-list-500", "GET", "/zones", 500, Z, fault="500", check=_codes(10001)),
    Case("zone-get", "GET", "/zones/{zone}", 200, ZONE1),
    Case("zone-get-enterprise", "GET", "/zones/{ent}", 200, ZONE1),
    Case("zone-get-unknown", "GET", "/zones/" + "0" * 32, 404, ZONE1, check=_codes(7003, 7000)),
    Case("zone-get-invisible", "GET", "/zones/{zone}", 404, ZONE1, token="tok-scoped", check=_codes(7003, 7000)),
    Case("zone-get-expired-token", "GET", "/zones/{zone}", 401, ZONE1, token="tok-expired", check=_codes(10000)),
    # settings, bulk
    Case("settings-get", "GET", "/zones/{zone}/settings", 200, S, check=_count(len(settings_catalog.SETTINGS))),
    Case("settings-get-enterprise", "GET", "/zones/{ent}/settings", 200, S),
    Case("settings-get-403", "GET", "/zones/{zone}/settings", 403, S, token="tok-zone-only", check=_codes(10000)),
    Case("settings-patch", "PATCH", "/zones/{zone}/settings", 200, S,
         body={"items": [{"id": "ssl", "value": "strict"}, {"id": "origin_max_http_version", "value": "1"}]},
         check=_count(2)),
    Case("settings-patch-invalid", "PATCH", "/zones/{zone}/settings", 400, S,
         body={"items": [{"id": "ssl", "value": "full"}, {"id": "min_tls_version", "value": "9"}]},
         check=_codes(1007)),
    Case("settings-patch-not-editable", "PATCH", "/zones/{zone}/settings", 400, S,
         body={"items": [{"id": "proxy_read_timeout", "value": 300}]}, check=_codes(1008)),
    Case("settings-patch-unknown", "PATCH", "/zones/{zone}/settings", 400, S,
         body={"items": [{"id": "no_such_setting", "value": "on"}]}, check=_codes(1003)),
    Case("settings-patch-shape", "PATCH", "/zones/{zone}/settings", 400, S, body={"value": "x"},
         check=_codes(1001)),
    Case("settings-patch-malformed-json", "PATCH", "/zones/{zone}/settings", 400, S, raw_body=b"{not json",
         check=_codes(6007)),
    Case("settings-patch-403", "PATCH", "/zones/{zone}/settings", 403, S, token="tok-readonly",
         body={"items": [{"id": "ssl", "value": "strict"}]}, check=_codes(10000)),
    Case("settings-patch-500", "PATCH", "/zones/{zone}/settings", 500, S, fault="500",
         body={"items": [{"id": "ssl", "value": "off"}]}, check=_codes(10001)),
    # settings, single
    *[
        Case(f"setting-get-{sid}", "GET", f"/zones/{{zone}}/settings/{sid}", 200, S1)
        for sid in settings_catalog.SETTINGS
    ],
    Case("setting-get-unknown", "GET", "/zones/{zone}/settings/no_such_setting", 404, S1, check=_codes(1003)),
    Case("setting-patch-ssl", "PATCH", "/zones/{zone}/settings/ssl", 200, S1, body={"value": "strict"}),
    Case("setting-patch-origin-max-http", "PATCH", "/zones/{zone}/settings/origin_max_http_version", 200, S1,
         body={"value": "1"}),
    Case("setting-patch-proxy-read-timeout-ent", "PATCH", "/zones/{ent}/settings/proxy_read_timeout", 200, S1,
         body={"value": 600}),
    Case("setting-patch-invalid", "PATCH", "/zones/{zone}/settings/ssl", 400, S1, body={"value": "origin_pull"},
         check=_codes(1007)),
    Case("setting-patch-not-editable", "PATCH", "/zones/{zone}/settings/proxy_read_timeout", 400, S1,
         body={"value": 600}, check=_codes(1008)),
    Case("setting-patch-unknown", "PATCH", "/zones/{zone}/settings/no_such_setting", 404, S1,
         body={"value": "on"}, check=_codes(1003)),
    Case("setting-patch-403", "PATCH", "/zones/{zone}/settings/ssl", 403, S1, token="tok-readonly",
         body={"value": "strict"}, check=_codes(10000)),
    # DNS records
    Case("records-list", "GET", "/zones/{zone}/dns_records", 200, D),
    Case("records-list-filtered", "GET", "/zones/{zone}/dns_records", 200, D,
         query={"type": "A", "proxied": "true"}, check=_count(1)),
    Case("records-list-paged", "GET", "/zones/{zone}/dns_records", 200, D, query={"per_page": "5", "page": "2"},
         check=_count(5)),
    Case("records-list-403", "GET", "/zones/{zone}/dns_records", 403, D, token="tok-zone-only",
         check=_codes(10000)),
    Case("records-list-bad-proxied", "GET", "/zones/{zone}/dns_records", 400, D, query={"proxied": "maybe"},
         check=_codes(1001)),
    Case("records-list-429", "GET", "/zones/{zone}/dns_records", 429, D, fault="429", check=_codes(971)),
    Case("record-create", "POST", "/zones/{zone}/dns_records", 200, D, body=NEW_A),
    Case("record-create-txt", "POST", "/zones/{zone}/dns_records", 200, D,
         body={"type": "TXT", "name": "note", "content": "hello", "ttl": 3600}),
    Case("record-create-bad-ipv4", "POST", "/zones/{zone}/dns_records", 400, D,
         body={"type": "A", "name": "bad", "content": "300.1.1.1"}, check=_codes(9005)),
    Case("record-create-proxied-txt", "POST", "/zones/{zone}/dns_records", 400, D,
         body={"type": "TXT", "name": "t", "content": "x", "proxied": True}, check=_codes(9004)),
    Case("record-create-outside-zone", "POST", "/zones/{zone}/dns_records", 400, D,
         body={"type": "A", "name": "www.other.org", "content": "192.0.2.9"}, check=_codes(9000)),
    Case("record-create-403", "POST", "/zones/{zone}/dns_records", 403, D, token="tok-readonly", body=NEW_A,
         check=_codes(10000)),
    Case("record-get", "GET", "/zones/{zone}/dns_records/{rec_get}", 200, D1),
    Case("record-get-missing", "GET", "/zones/{zone}/dns_records/0000", 404, D1, check=_codes(81044)),
    Case("record-patch", "PATCH", "/zones/{zone}/dns_records/{rec_patch}", 200, D1,
         body={"content": "192.0.2.22"}),
    Case("record-patch-missing", "PATCH", "/zones/{zone}/dns_records/0000", 404, D1, body={"content": "192.0.2.1"},
         check=_codes(81044)),
    Case("record-put", "PUT", "/zones/{zone}/dns_records/{rec_put}", 200, D1,
         body={"type": "AAAA", "name": "put", "content": "2001:db8::3", "ttl": 300}),
    Case("record-put-incomplete", "PUT", "/zones/{zone}/dns_records/{rec_put}", 400, D1, body={"content": "x"},
         check=_codes(1004)),
    Case("record-delete", "DELETE", "/zones/{zone}/dns_records/{rec_delete}", 200, D1),
    Case("record-delete-missing", "DELETE", "/zones/{zone}/dns_records/0000", 404, D1, check=_codes(81044)),
    Case("batch", "POST", "/zones/{zone}/dns_records/batch", 200, BATCH,
         body={"deletes": [{"id": "{rec_batch}"}],
               "posts": [{"type": "A", "name": "batch", "content": "192.0.2.55"}]}),
    Case("batch-missing-record", "POST", "/zones/{zone}/dns_records/batch", 400, BATCH,
         body={"patches": [{"id": "0000", "content": "192.0.2.1"}]}, check=_codes(81044)),
    # SSL, IPs, tokens, unknown routes
    Case("certificate-packs", "GET", "/zones/{zone}/ssl/certificate_packs", 200, CERTS, check=_count(1)),
    Case("certificate-packs-403", "GET", "/zones/{zone}/ssl/certificate_packs", 403, CERTS, token="tok-readonly",
         check=_codes(10000)),
    # custom error pages: the document spells the zone parameter `zone_identifier`
    Case("custom-pages", "GET", "/zones/{zone}/custom_pages", 200, CUSTOM_PAGES,
         check=_custom_pages({"500_errors": "https://errors.example.com/5xx.html"})),
    Case("custom-pages-default", "GET", "/zones/{ent}/custom_pages", 200, CUSTOM_PAGES, check=_custom_pages({})),
    Case("custom-pages-403", "GET", "/zones/{zone}/custom_pages", 403, CUSTOM_PAGES, token="tok-zone-only",
         check=_codes(10000)),
    Case("custom-pages-invisible-zone", "GET", "/zones/{zone}/custom_pages", 404, CUSTOM_PAGES, token="tok-scoped",
         check=_codes(7003, 7000)),
    # Configuration Rules (the http_config_settings entry point), Page Rules, Pages projects
    Case("entrypoint", "GET", CONFIG_ENTRY, 200, ENTRY,
         check=_ruleset(["set_config"] * 3, ["flexible", None, "strict"])),
    Case("entrypoint-missing", "GET", "/zones/{ent}/rulesets/phases/http_config_settings/entrypoint", 404,
         ENTRY, check=_codes(10003)),
    Case("entrypoint-other-phase", "GET", "/zones/{zone}/rulesets/phases/http_request_firewall_custom/entrypoint",
         404, ENTRY, check=_codes(10003)),
    Case("entrypoint-403", "GET", CONFIG_ENTRY, 403, ENTRY, token="tok-readonly", check=_codes(10000)),
    Case("entrypoint-invisible-zone", "GET", CONFIG_ENTRY, 404, ENTRY, token="tok-scoped",
         check=_codes(7003, 7000)),
    Case("entrypoint-429", "GET", CONFIG_ENTRY, 429, ENTRY, fault="429", check=_codes(971)),
    # Origin Rules and Cache Rules: the key depends on the phase (the document gives none)
    Case("entrypoint-origin", "GET", ORIGIN_ENTRY, 200, ENTRY, check=_entry("http_request_origin", "route", [
        {"host_header": "api.internal.example", "origin": {"host": "backend.example.com", "port": 8443},
         "sni": {"value": "api.internal.example"}},
        {"origin": {"port": 8080}},
    ])),
    Case("entrypoint-cache", "GET", CACHE_ENTRY, 200, ENTRY, check=_entry(
        "http_request_cache_settings", "set_cache_settings", [{"cache": False, "read_timeout": 300}, {"cache": True}]
    )),
    Case("entrypoint-config-with-config-key", "GET", CONFIG_ENTRY, 200, ENTRY, token="tok-config-only"),
    Case("entrypoint-origin-403", "GET", ORIGIN_ENTRY, 403, ENTRY, token="tok-config-only", check=_codes(10000)),
    Case("entrypoint-cache-403", "GET", CACHE_ENTRY, 403, ENTRY, token="tok-config-only", check=_codes(10000)),
    Case("entrypoint-origin-missing", "GET", "/zones/{ent}/rulesets/phases/http_request_origin/entrypoint", 404,
         ENTRY, check=_codes(10003)),
    Case("entrypoint-cache-missing", "GET", "/zones/{ent}/rulesets/phases/http_request_cache_settings/entrypoint",
         404, ENTRY, check=_codes(10003)),
    # the rulesets list: entry points (no rules), plus a managed ruleset on Enterprise
    Case("rulesets", "GET", "/zones/{zone}/rulesets", 200, RULESETS, token="tok-zone-only", check=_phases(
        ["http_config_settings", "http_request_origin", "http_request_cache_settings"], ["zone"] * 3
    )),
    Case("rulesets-enterprise", "GET", "/zones/{ent}/rulesets", 200, RULESETS,
         check=_phases(["http_request_firewall_managed"], ["managed"])),
    Case("rulesets-403", "GET", "/zones/{zone}/rulesets", 403, RULESETS, token="tok-no-zone-read",
         check=_codes(10000)),
    Case("rulesets-invisible-zone", "GET", "/zones/{zone}/rulesets", 404, RULESETS, token="tok-scoped",
         check=_codes(7003, 7000)),
    Case("rulesets-500", "GET", "/zones/{zone}/rulesets", 500, RULESETS, fault="500", check=_codes(10001)),
    # load balancers, served with "off"/"none" where the live API's "" fails the document's
    # enums (they hold the two-character string '""'); pools and their health
    Case("load-balancers", "GET", "/zones/{zone}/load_balancers", 200, LBS, check=_load_balancers([
        ("www.example.com", [POOL["eu-1"], POOL["us-1"]], POOL["us-1"]),
        ("lb.example.com", [POOL["eu-1"]], POOL["eu-1"]),
    ])),
    Case("load-balancers-none", "GET", "/zones/{ent}/load_balancers", 200, LBS, check=_count(0)),
    Case("load-balancers-403", "GET", "/zones/{zone}/load_balancers", 403, LBS, token="tok-readonly",
         check=_codes(10000)),
    Case("load-balancers-invisible-zone", "GET", "/zones/{zone}/load_balancers", 404, LBS, token="tok-scoped",
         check=_codes(7003, 7000)),
    Case("pools", "GET", "/accounts/{account}/load_balancers/pools", 200, POOLS, check=_pools(["eu-1", "us-1"])),
    Case("pools-other-account", "GET", "/accounts/{other_account}/load_balancers/pools", 200, POOLS,
         check=_pools(["far-pool"])),
    Case("pools-account-invisible", "GET", "/accounts/{other_account}/load_balancers/pools", 403, POOLS,
         token="tok-scoped", check=_codes(10000)),
    Case("pools-403", "GET", "/accounts/{account}/load_balancers/pools", 403, POOLS, token="tok-readonly",
         check=_codes(10000)),
    Case("pool-health", "GET", "/accounts/{account}/load_balancers/pools/{pool_eu_1}/health", 200, HEALTH,
         check=_health(True, {"192.0.2.60": True, "origin2.example.net": False})),
    Case("pool-health-unhealthy", "GET", "/accounts/{account}/load_balancers/pools/{pool_us_1}/health", 200,
         HEALTH, check=_health(False, {"192.0.2.70": True})),
    Case("pool-health-unknown", "GET", "/accounts/{account}/load_balancers/pools/" + "0" * 32 + "/health", 404,
         HEALTH, check=_codes(1002)),
    Case("pool-health-other-account", "GET", "/accounts/{account}/load_balancers/pools/{pool_far}/health", 404,
         HEALTH, check=_codes(1002)),
    Case("pool-health-403", "GET", "/accounts/{account}/load_balancers/pools/{pool_eu_1}/health", 403, HEALTH,
         token="tok-readonly", check=_codes(10000)),
    # what references a pool: the load balancers using it (by hostname), then its monitor
    Case("pool-references", "GET", "/accounts/{account}/load_balancers/pools/{pool_eu_1}/references", 200,
         REFERENCES, check=_references(["www.example.com", "lb.example.com"])),
    Case("pool-references-fallback", "GET", "/accounts/{account}/load_balancers/pools/{pool_us_1}/references",
         200, REFERENCES, check=_references(["www.example.com"])),
    Case("pool-references-unknown", "GET", "/accounts/{account}/load_balancers/pools/" + "0" * 32 + "/references",
         404, REFERENCES, check=_codes(1002)),
    Case("pool-references-403", "GET", "/accounts/{account}/load_balancers/pools/{pool_eu_1}/references", 403,
         REFERENCES, token="tok-readonly", check=_codes(10000)),
    # tunnels: `deleted_at` and `conns_inactive_at` are left out rather than null (the document
    # does not make them nullable)
    Case("tunnels", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS, check=_tunnels(
        [("prod", "healthy"), ("legacy", "down"), ("prod", "inactive"), ("spare", "degraded"),
         ("never-run", "inactive")], 5)),
    Case("tunnels-live", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS, query={"is_deleted": "false"},
         check=_tunnels([("prod", "healthy"), ("legacy", "down"), ("spare", "degraded"),
                         ("never-run", "inactive")], 4)),
    Case("tunnels-deleted", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS, query={"is_deleted": "true"},
         check=_tunnels([("prod", "inactive")], 1)),
    Case("tunnels-page-2", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS,
         query={"per_page": "2", "page": "2"}, check=_tunnels([("prod", "inactive"), ("spare", "degraded")], 5)),
    Case("tunnels-past-the-end", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS,
         query={"per_page": "2", "page": "4"}, check=_tunnels([], 5)),
    Case("tunnels-by-status", "GET", "/accounts/{account}/cfd_tunnel", 200, TUNNELS, query={"status": "down"},
         check=_tunnels([("legacy", "down")], 1)),
    Case("tunnels-bad-is-deleted", "GET", "/accounts/{account}/cfd_tunnel", 400, TUNNELS,
         query={"is_deleted": "maybe"}, check=_codes(1001)),
    Case("tunnels-account-invisible", "GET", "/accounts/{other_account}/cfd_tunnel", 403, TUNNELS,
         token="tok-scoped", check=_codes(10000)),
    Case("tunnels-403", "GET", "/accounts/{account}/cfd_tunnel", 403, TUNNELS, token="tok-readonly",
         check=_codes(10000)),
    Case("tunnels-429", "GET", "/accounts/{account}/cfd_tunnel", 429, TUNNELS, fault="429", check=_codes(971)),
    Case("tunnel-config", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_prod}/configurations", 200,
         TUNNEL_CONFIG, check=_tunnel_config("cloudflare", [
             "http://localhost:8080", "https://10.0.0.5:8443", "http_status:404"])),
    Case("tunnel-config-empty-remote", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_spare}/configurations", 200,
         TUNNEL_CONFIG, check=_tunnel_config("cloudflare", [])),
    Case("tunnel-config-local", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_legacy}/configurations", 200,
         TUNNEL_CONFIG, check=_tunnel_config("local", None)),
    Case("tunnel-config-deleted", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_deleted}/configurations", 404,
         TUNNEL_CONFIG, check=_codes(1003)),
    Case("tunnel-config-unknown", "GET", "/accounts/{account}/cfd_tunnel/" + "0" * 8 + "-0000-4000-8000-"
         + "0" * 12 + "/configurations", 404, TUNNEL_CONFIG, check=_codes(1003)),
    Case("tunnel-config-other-account", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_far}/configurations", 404,
         TUNNEL_CONFIG, check=_codes(1003)),
    Case("tunnel-config-403", "GET", "/accounts/{account}/cfd_tunnel/{tunnel_prod}/configurations", 403,
         TUNNEL_CONFIG, token="tok-readonly", check=_codes(10000)),
    Case("pagerules", "GET", "/zones/{zone}/pagerules", 200, PAGERULES,
         check=_page_rules(["http://www.example.com/*", "example.com/images/*", "*legacy.example.com/*"])),
    Case("pagerules-ascending-active", "GET", "/zones/{zone}/pagerules", 200, PAGERULES,
         query={"direction": "asc", "status": "active"},
         check=_page_rules(["*legacy.example.com/*", "example.com/images/*"])),
    Case("pagerules-none", "GET", "/zones/{ent}/pagerules", 200, PAGERULES, check=_count(0)),
    Case("pagerules-zone-read-is-enough", "GET", "/zones/{zone}/pagerules", 200, PAGERULES, token="tok-zone-only",
         check=_count(3)),
    Case("pagerules-403", "GET", "/zones/{zone}/pagerules", 403, PAGERULES, token="tok-no-zone-read",
         check=_codes(10000)),
    Case("pagerules-bad-order", "GET", "/zones/{zone}/pagerules", 400, PAGERULES, query={"order": "url"},
         check=_codes(1001)),
    Case("pages-projects", "GET", "/accounts/{account}/pages/projects", 200, PAGES,
         check=_projects([f"site-{i:02d}" for i in range(10)], 13)),
    Case("pages-projects-page-2", "GET", "/accounts/{account}/pages/projects", 200, PAGES,
         query={"page": "2", "per_page": "10"}, check=_projects(["site-10", "site-11", "blog"], 13)),
    Case("pages-projects-clamped", "GET", "/accounts/{account}/pages/projects", 200, PAGES,
         query={"per_page": "100"}, check=_count(10)),
    Case("pages-projects-other-account", "GET", "/accounts/{other_account}/pages/projects", 200, PAGES,
         check=_projects(["elsewhere"], 1)),
    Case("pages-projects-scoped-token", "GET", "/accounts/{account}/pages/projects", 200, PAGES,
         token="tok-scoped", check=_count(10)),
    Case("pages-projects-account-invisible", "GET", "/accounts/{other_account}/pages/projects", 403, PAGES,
         token="tok-scoped", check=_codes(10000)),
    Case("pages-projects-unknown-account", "GET", "/accounts/" + "f" * 32 + "/pages/projects", 403, PAGES,
         check=_codes(10000)),
    Case("pages-projects-403", "GET", "/accounts/{account}/pages/projects", 403, PAGES, token="tok-readonly",
         check=_codes(10000)),
    Case("pages-projects-bad-page", "GET", "/accounts/{account}/pages/projects", 400, PAGES,
         query={"page": "0"}, check=_codes(1001)),
    Case("pages-projects-500", "GET", "/accounts/{account}/pages/projects", 500, PAGES, fault="500",
         check=_codes(10001)),
    Case("audit-logs", "GET", "/accounts/{account}/audit_logs", 200, AUDIT_LOGS,
         query={"action.type": "zone_create", "direction": "asc"},
         check=_audit_log(["zone_create", "zone_create"], {"example.com", "ent.example"})),
    Case("audit-logs-zone", "GET", "/accounts/{account}/audit_logs", 200, AUDIT_LOGS,
         query={"zone.name": "ent.example", "before": "2024-06-01T00:00:01Z"},
         check=_audit_log(["zone_create"], {"ent.example"})),
    Case("audit-logs-since", "GET", "/accounts/{account}/audit_logs", 200, AUDIT_LOGS,
         query={"since": "2024-06-01T00:00:01Z", "action.type": "zone_create"}, check=_count(0)),
    Case("audit-logs-page", "GET", "/accounts/{account}/audit_logs", 200, AUDIT_LOGS,
         query={"per_page": "1", "page": "2", "action.type": "zone_create"}, check=_audit_log(["zone_create"])),
    Case("audit-logs-other-account", "GET", "/accounts/{other_account}/audit_logs", 200, AUDIT_LOGS,
         check=_count(0)),
    Case("audit-logs-bad-since", "GET", "/accounts/{account}/audit_logs", 400, AUDIT_LOGS,
         query={"since": "yesterday"}, check=_codes(1001)),
    Case("audit-logs-403", "GET", "/accounts/{account}/audit_logs", 403, AUDIT_LOGS, token="tok-readonly",
         check=_codes(10000)),
    Case("audit-logs-account-invisible", "GET", "/accounts/{other_account}/audit_logs", 403, AUDIT_LOGS,
         token="tok-scoped", check=_codes(10000)),
    Case("audit-logs-500", "GET", "/accounts/{account}/audit_logs", 500, AUDIT_LOGS, fault="500",
         check=_codes(10001)),
    Case("ips", "GET", "/ips", 200, "/ips", token=None),
    Case("ips-with-token", "GET", "/ips", 200, "/ips"),
    Case("ips-500", "GET", "/ips", 500, "/ips", fault="500", check=_codes(10001)),
    Case("verify", "GET", "/user/tokens/verify", 200, "/user/tokens/verify"),
    Case("verify-expired", "GET", "/user/tokens/verify", 200, "/user/tokens/verify", token="tok-expired"),
    Case("verify-unknown", "GET", "/user/tokens/verify", 401, "/user/tokens/verify", token="nope",
         check=_codes(1000)),
    Case("no-route", "GET", "/zones/{zone}/nothing_here", 400, None, check=_codes(7003, 7000)),
    Case("no-route-method", "POST", "/ips", 400, None, check=_codes(7003, 7000)),
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxApi]:
    with SandboxApi(parse_scenario(SCENARIO, "openapi test")) as api:
        yield api


@pytest.fixture(scope="module")
def http(sandbox: SandboxApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def _fill(value: Any) -> Any:
    if isinstance(value, str):
        return value.format(**PLACEHOLDERS) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_response_matches_openapi(
    case: Case, sandbox: SandboxApi, http: httpx.Client, openapi_doc: dict[str, Any], registry: Registry
) -> None:
    path = _fill(case.path)
    resolved = resolve(case.method, path)
    assert (resolved[0].template if resolved else None) == case.route, "case exercises another route"
    if case.fault:
        sandbox.set_faults([FaultSpec(kind=case.fault, count=1)])  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {case.token}"} if case.token else {}
    payload: dict[str, Any] = {"json": _fill(case.body)}
    if case.raw_body is not None:
        headers["Content-Type"] = "application/json"
        payload = {"content": case.raw_body}
    try:
        response = http.request(case.method, path.lstrip("/"), params=case.query, headers=headers, **payload)
    finally:
        sandbox.set_faults([])
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is (case.status == 200)
    if case.status == 429:
        assert int(response.headers["Retry-After"]) >= 1
    validate_response(openapi_doc, registry, case.method, path, case.status, body)
    if case.check:
        case.check(body)
    assert sandbox.requests[-1].status == case.status


def test_rate_limit_response_matches_openapi(
    sandbox_factory: Any, openapi_doc: dict[str, Any], registry: Registry
) -> None:
    """The server-side limiter's 429 (not a fault) has the same validated shape."""
    api = sandbox_factory({**SCENARIO, "sandbox": {"rate_limit_requests": 1, "rate_limit_window": 60}})
    headers = {"Authorization": "Bearer tok-full"}
    with httpx.Client(base_url=api.url, headers=headers) as client:
        assert client.get("zones").status_code == 200
        response = client.get("zones")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    validate_response(openapi_doc, registry, "GET", "/zones", 429, response.json())


def test_every_route_is_covered(openapi_doc: dict[str, Any], record_property: Any) -> None:
    """Each route the sandbox registers has a validated success case and error case, and the
    cases span every status the sandbox serves."""
    covered: dict[tuple[str, str], set[int]] = {}
    for case in CASES:
        if case.route is not None:
            covered.setdefault((case.method, case.route), set()).add(case.status)
    listing = [f"{m} {t}: {sorted(s)}" for (m, t), s in sorted(covered.items())]
    record_property("covered_operations", listing)
    print("\n".join(["OpenAPI-validated operations:", *listing]))
    # GraphQL is not in the 2024 document (nor in the v4 envelope): test_sandbox_graphql covers it.
    routes = {(r.method, r.template) for r in ROUTES} - {("POST", "/graphql")}
    assert routes == set(covered), f"routes without cases: {routes - set(covered)}"
    for route, statuses in covered.items():
        assert 200 in statuses, f"{route} has no success case"
        assert statuses - {200}, f"{route} has no error case"
    assert {200, 400, 401, 403, 404, 429, 500} <= {c.status for c in CASES}
    for method, template in routes - {("POST", BATCH)}:  # batch: absent from the 2024 document
        assert template in openapi_doc["paths"], template
        assert method.lower() in openapi_doc["paths"][template], (method, template)
