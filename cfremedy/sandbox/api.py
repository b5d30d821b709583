"""A stateful fake of the Cloudflare v4 API, served over real HTTP on loopback.

Tests, `cfremedy demo` and `cfremedy sandbox serve` point the official SDK's `base_url` at
`SandboxApi.url`; nothing about the SDK is mocked, so what passes here exercises the same
serialisation, pagination and error mapping as production. Only the standard library serves it
(`ThreadingHTTPServer`, HTTP/1.1 keep-alive) and it binds to loopback only.

Every request, refused or faulted ones included, is appended to the log before its response is
written, so a test can assert exactly which calls an audit made and that it sent no write.

Request pipeline, in order: latency sleep -> fault injection -> server-side rate limit -> route ->
authentication -> zone or account visibility -> permission -> operation. A fault therefore never
changes state, and a refused request never reaches the operation.

Error codes (HTTP status, v4 code, message):

====== ======= ===============================================================================
status code    when
====== ======= ===============================================================================
400    7003+   no route for the method and path: two errors, 7003 "Could not route to <path>,
       7000    perhaps your object identifier is invalid?" and 7000 "No route for that URI"
404    7003+   a zone id that does not exist or is outside the token's zone globs (same two
       7000    errors as an unknown route; 404 so the SDK raises NotFoundError)
401    10000   "Authentication error": missing, unknown, disabled or expired token
401    1000    "Invalid API Token": /user/tokens/verify with a missing or unknown token
403    10000   "Authentication error": the token's permission groups lack the route's key, or
               (account routes) the token cannot see the account (see below)
429    971     "Please wait and consider throttling your request speed" (fault or rate limit),
               with a Retry-After header in seconds
500    10001   "Internal server error" (fault, or a bug in the sandbox)
400    6007    "Malformed JSON in request body"
400    1001    request shape is wrong (bad page/per_page, missing `items`/`value`, ...)
404    1003    "Invalid or missing zone setting <id>" (single-setting routes; 400 inside a
               bulk PATCH, where the route itself exists)
400    1007    "Invalid value for zone setting <id>"
400    1008    "Zone setting <id> is not editable on the <plan> plan" (proxy_read_timeout)
404    81044   "Record does not exist."
400    1004    "DNS Validation Error: <detail>" (missing field, unsupported type, bad TTL)
400    9000    "DNS name is invalid." (also: name outside the zone)
400    9004    "This record type cannot be proxied."
400    9005    "Content for A record must be a valid IPv4 address." (AAAA: IPv6)
400    9007    "Content for <type> record is invalid."
400    81053   "An A, AAAA, or CNAME record with that host already exists."
400    81057   "An identical record already exists."
404    10003   "could not find entrypoint ruleset in the <phase> phase": a zone without
               Configuration Rules (or any phase but http_config_settings) has no entry point
400    1001    (page rules) `order`, `direction`, `status` or `match` outside their enums
====== ======= ===============================================================================

A DNS batch that fails answers 400 whatever the failing item's own status, with the item's
code and its message prefixed by its place ("patches[1]: Record does not exist.").

Permission keys per route come from the OpenAPI document's `x-cfPermissionsRequired`, except
`PATCH /zones/{zone_id}/settings/{setting_id}`, which the 2024 document tags `#zone_settings:read`
(an error in the document): the sandbox requires `#zone_settings:edit` for every settings write.
`GET /zones` has no key in the document; the sandbox requires `#zone:read`, like a zone read.
`GET /zones/{zone_id}/pagerules` requires `#zone:read`, as the document says (the newer document
lists the groups "Zone Read" and "Page Rules Read" for it, both granting that key). The document
gives no key for `GET /zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint` nor for
`GET /accounts/{account_id}/pages/projects`: the sandbox requires `#config_settings:read` (group
"Config Rules Read") and `#pages:read` (group "Cloudflare Pages Read"), its own spellings.

Accounts (routes under `/accounts/{account_id}`): tokens have no account list of their own. A
token sees an account when it sees one of that account's zones, or when its zone globs include
`*` (an unscoped token sees every account of the scenario, also one that has only Pages
projects). An account the token cannot see, or one the scenario does not know, answers 403
10000 "Authentication error" (the answer commonly reported from the live API, e.g. by wrangler
users, for an account id the token has no access to).

Queries understood: `GET /zones` filters `name` (exact; no `contains:` operators), `account.id`,
`status`, pages of 5-50 (default 20); `GET .../dns_records` filters `name` or `name.exact`
(FQDN), `type`, `content` or `content.exact`, `proxied`, pages of 1-5000 (default 100). Out of
range `per_page` values are clamped and the value used is reported in `result_info`, which also
carries `total_pages`. `GET .../pagerules` is not paginated: it sorts by `order` (priority or
status; default priority) and `direction` (default desc: highest priority first, ties in scenario
order) and filters `status`; `match` is accepted. `GET /accounts/{id}/pages/projects` lists the
account's projects in scenario order, pages of 1-10 (default 10: the 2024 document gives no
limit; wrangler pages this list 10 at a time). Other query parameters are ignored.

Control endpoints outside /client/v4, without authentication and not logged, for a sandbox run
in another process (`cfremedy sandbox serve`): `GET /__sandbox/requests` answers the request log
as a JSON list, `DELETE /__sandbox/requests` clears it.

Faults (`FaultSpec`): a fault applies to a request when its `method` (if set) equals the
request's and its `path` regular expression (if set) matches the path relative to /client/v4
(`re.search`), and its `count` is not used up. The faults that apply are tried in the order
given, each drawing one number from a `random.Random(scenario.sandbox.seed)`; the first whose
draw is below its `rate` fires. `set_faults` replaces the faults, re-arms the counts and reseeds,
so one seed and one request order always give the same faults. "429" answers with Retry-After,
"500" with the internal error, "403" as if the token had lost the permission (revoked mid-run),
"reset" closes the connection with an RST and answers nothing;
none of them runs the operation. `latency_ms` (settable at run time) is slept before every API
request, faulted or not.

GraphQL (`POST /graphql`, key `#analytics:read`): the Analytics API answers in GraphQL's own
shape, `{"data": ..., "errors": [...] | null}`, always with HTTP 200, once authentication and
permission have passed (those, the rate limit and faults answer like every other route, in the
v4 envelope). Only the query cfremedy sends is understood: `viewer.zones(filter: {zoneTag_in})`
with `httpRequestsAdaptiveGroups`; anything else is a GRAPHQL_VALIDATION_FAILED error. Variables:
`zoneTags` (at most 10), `since` and `until` (RFC 3339 with an offset). A malformed body, a bad
query or bad variables answer `data: null`. A zone that does not exist or is outside the
token's globs, or that has a `graphql_error` in the scenario, is left out of `zones` with an
error whose `path` is `["viewer", "zones", <index in zoneTags>]`: the other zones are still
answered (partial data). Zones come in the order requested (duplicates once); buckets are the
zone's `analytics` placed relative to `state.clock()`'s hour, kept when `since <= hour < until`,
ordered by hour, edge status, origin status.
"""

from __future__ import annotations

import fnmatch
import io
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from cfremedy import permissions
from cfremedy.sandbox.loopback import LoopbackServer, TrackedHandler
from cfremedy.sandbox.scenario import FaultSpec, Scenario, TokenSpec, stable_id
from cfremedy.sandbox.state import (
    ERR_BAD_REQUEST,
    ERR_NO_ROUTE,
    ERR_NO_ROUTE_OBJECT,
    SandboxError,
    SandboxState,
    ZoneState,
    certificate_pack_json,
    record_json,
    zone_json,
    zone_not_found,
)

API_PREFIX = "/client/v4"
CONTROL_PREFIX = "/__sandbox"

ZONES_DEFAULT_PER_PAGE = 20
ZONES_MIN_PER_PAGE = 5
ZONES_MAX_PER_PAGE = 50
DNS_DEFAULT_PER_PAGE = 100
DNS_MIN_PER_PAGE = 1
DNS_MAX_PER_PAGE = 5000
PAGES_DEFAULT_PER_PAGE = 10
PAGES_MIN_PER_PAGE = 1
PAGES_MAX_PER_PAGE = 10

ERR_AUTH = 10000
ERR_INVALID_TOKEN = 1000
ERR_RATE_LIMITED = 971
ERR_INTERNAL = 10001
ERR_MALFORMED_JSON = 6007

GRAPHQL_MAX_ZONES = 10  # the Analytics API's limit on `zoneTag_in`
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

RATE_LIMIT_MESSAGE = "Please wait and consider throttling your request speed"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # relative to /client/v4, without the query string
    query: dict[str, str]
    status: int  # 0 when the connection was reset
    token: str | None  # the token's scenario name, never its value
    fault: str | None  # "429", "500", "403", "reset" or None
    body: Any | None  # the parsed JSON request body
    at: float  # time.time() when the request was logged


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Call:
    """One API request as the route handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    token: TokenSpec | None
    zone: ZoneState | None = None
    malformed: bool = False  # the body was not JSON (`body` then holds the raw text)

    @property
    def keys(self) -> frozenset[str]:
        return permissions.keys_for(self.token.permissions) if self.token else frozenset()


Handler = Callable[["SandboxApi", Call], Reply]
AuthMode = Literal["token", "none", "verify"]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # OpenAPI path template, e.g. "/zones/{zone_id}/dns_records/{dns_record_id}"
    handler: Handler
    permission: str | None = None  # the zone permission key the token must hold
    auth: AuthMode = "token"
    # The handler answers a malformed JSON body itself: GraphQL reports it in its own shape,
    # not with the v4 envelope's 6007.
    own_body_errors: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


# -- envelopes ------------------------------------------------------------------------------------


def ok(result: Any, result_info: Mapping[str, int] | None = None) -> Reply:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = dict(result_info)
    return Reply(200, body)


def fail(status: int, *errors: tuple[int, str], headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    items = [{"code": code, "message": message} for code, message in errors]
    body = {"success": False, "errors": items, "messages": [], "result": None}
    return Reply(status, body, headers)


def no_route(path: str) -> Reply:
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    return fail(400, (ERR_NO_ROUTE_OBJECT, message), (ERR_NO_ROUTE, "No route for that URI"))


def too_many_requests(retry_after: float) -> Reply:
    headers = (("Retry-After", _seconds(retry_after)),)
    return fail(429, (ERR_RATE_LIMITED, RATE_LIMIT_MESSAGE), headers=headers)


def internal_error() -> Reply:
    return fail(500, (ERR_INTERNAL, "Internal server error"))


def permission_denied() -> Reply:
    """A token whose permission was revoked mid-run: what a fault of kind "403" answers."""
    return fail(403, (10000, "Authentication error"))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- query parsing --------------------------------------------------------------------------------


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not number.is_integer() or number < 1:
        raise SandboxError(
            400, (ERR_BAD_REQUEST, f"Invalid value for {name}: {raw!r} (a positive integer)")
        )
    return int(number)


def _pagination(query: Mapping[str, str], default: int, low: int, high: int) -> tuple[int, int]:
    """Out-of-range per_page values are clamped, as the real API does, and reported back."""
    page = _positive_int(query, "page", 1)
    per_page = min(max(_positive_int(query, "per_page", default), low), high)
    return page, per_page


def _page_of(
    items: Sequence[Any], page: int, per_page: int
) -> tuple[Sequence[Any], dict[str, int]]:
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": math.ceil(len(items) / per_page),
    }
    return chunk, info


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise SandboxError(400, (ERR_BAD_REQUEST, f"Invalid value for {name}: {raw!r} (true or false)"))


def _visible(token: TokenSpec | None, zone: ZoneState) -> bool:
    return token is not None and any(fnmatch.fnmatchcase(zone.name, g.lower()) for g in token.zones)


def _account_visible(api: SandboxApi, token: TokenSpec | None, account_id: str) -> bool:
    if token is None or account_id not in api.state.accounts():
        return False
    if "*" in token.zones:
        return True
    return any(z.account_id == account_id and _visible(token, z) for z in api.state.all_zones())


def _choice(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        message = f"Invalid value for {name}: {raw!r} (one of {', '.join(allowed)})"
        raise SandboxError(400, (ERR_BAD_REQUEST, message))
    return raw


def _zone_of(call: Call) -> ZoneState:
    if call.zone is None:  # routes with {zone_id} always resolve it before the handler runs
        raise SandboxError(500, (ERR_INTERNAL, "Internal server error"))
    return call.zone


# -- route handlers -------------------------------------------------------------------------------


def list_zones(api: SandboxApi, call: Call) -> Reply:
    page, per_page = _pagination(
        call.query, ZONES_DEFAULT_PER_PAGE, ZONES_MIN_PER_PAGE, ZONES_MAX_PER_PAGE
    )
    name = call.query.get("name")
    account_id = call.query.get("account.id")
    status = call.query.get("status")
    zones = [
        z
        for z in api.state.all_zones()
        if _visible(call.token, z)
        and (name is None or z.name == name.lower().rstrip("."))
        and (account_id is None or z.account_id == account_id)
        and (status is None or z.status == status)
    ]
    chunk, info = _page_of(zones, page, per_page)
    keys = call.keys
    return ok([zone_json(z, keys) for z in chunk], info)


def get_zone(api: SandboxApi, call: Call) -> Reply:
    with api.state.lock:
        return ok(zone_json(_zone_of(call), call.keys))


def get_settings(api: SandboxApi, call: Call) -> Reply:
    return ok(api.state.settings(_zone_of(call).id))


def patch_settings(api: SandboxApi, call: Call) -> Reply:
    items = call.body.get("items") if isinstance(call.body, dict) else None
    if not isinstance(items, list) or not items:
        message = 'Request body must be {"items": [{"id": ..., "value": ...}, ...]}'
        raise SandboxError(400, (ERR_BAD_REQUEST, message))
    edits: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or "value" not in item:
            message = f"items[{index}] must have an id and a value"
            raise SandboxError(400, (ERR_BAD_REQUEST, message))
        edits.append((item["id"], item["value"]))
    return ok(api.state.edit_settings(_zone_of(call).id, edits, status_unknown=400))


def get_setting(api: SandboxApi, call: Call) -> Reply:
    return ok(api.state.setting(_zone_of(call).id, call.params["setting_id"]))


def patch_setting(api: SandboxApi, call: Call) -> Reply:
    zone_id, setting_id = _zone_of(call).id, call.params["setting_id"]
    api.state.setting(zone_id, setting_id)  # 404 for an unknown id before looking at the body
    if not isinstance(call.body, dict) or "value" not in call.body:
        raise SandboxError(400, (ERR_BAD_REQUEST, "Request body must be {\"value\": ...}"))
    edits = [(setting_id, call.body["value"])]
    return ok(api.state.edit_settings(zone_id, edits, status_unknown=404)[0])


def list_records(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    page, per_page = _pagination(
        call.query, DNS_DEFAULT_PER_PAGE, DNS_MIN_PER_PAGE, DNS_MAX_PER_PAGE
    )
    filters: dict[str, Any] = {}
    name = call.query.get("name.exact", call.query.get("name"))
    if name is not None:
        filters["name"] = name.lower().rstrip(".")
    if "type" in call.query:
        filters["type"] = call.query["type"].upper()
    content = call.query.get("content.exact", call.query.get("content"))
    if content is not None:
        filters["content"] = content
    proxied = _bool_param(call.query, "proxied")
    if proxied is not None:
        filters["proxied"] = proxied
    with api.state.lock:
        chunk, info = _page_of(api.state.records(zone.id, filters), page, per_page)
        return ok([record_json(zone, r) for r in chunk], info)


def create_record(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    return ok(record_json(zone, api.state.create_record(zone.id, call.body)))


def get_record(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    return ok(record_json(zone, api.state.record(zone.id, call.params["dns_record_id"])))


def patch_record(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    record = api.state.patch_record(zone.id, call.params["dns_record_id"], call.body)
    return ok(record_json(zone, record))


def put_record(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    record = api.state.put_record(zone.id, call.params["dns_record_id"], call.body)
    return ok(record_json(zone, record))


def delete_record(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    record = api.state.delete_record(zone.id, call.params["dns_record_id"])
    return ok({"id": record.id})


def batch_records(api: SandboxApi, call: Call) -> Reply:
    zone = _zone_of(call)
    done = api.state.batch(zone.id, call.body)
    return ok({kind: [record_json(zone, r) for r in records] for kind, records in done.items()})


def list_certificate_packs(api: SandboxApi, call: Call) -> Reply:
    packs = [certificate_pack_json(_zone_of(call))]
    chunk, info = _page_of(packs, *_pagination(call.query, 20, 5, 50))
    return ok(list(chunk), info)


def get_entrypoint(api: SandboxApi, call: Call) -> Reply:
    return ok(api.state.entrypoint_ruleset(_zone_of(call).id, call.params["ruleset_phase"]))


def list_page_rules(api: SandboxApi, call: Call) -> Reply:
    order = _choice(call.query, "order", ("status", "priority")) or "priority"
    direction = _choice(call.query, "direction", ("asc", "desc")) or "desc"
    status = _choice(call.query, "status", ("active", "disabled"))
    _choice(call.query, "match", ("any", "all"))  # one filter only: any and all agree
    rules = api.state.page_rules(
        _zone_of(call).id, order=order, direction=direction, status=status
    )
    return ok(rules)


def list_pages_projects(api: SandboxApi, call: Call) -> Reply:
    page, per_page = _pagination(
        call.query, PAGES_DEFAULT_PER_PAGE, PAGES_MIN_PER_PAGE, PAGES_MAX_PER_PAGE
    )
    projects = api.state.pages_projects(call.params["account_id"])
    chunk, info = _page_of(projects, page, per_page)
    return ok(list(chunk), info)


def cloudflare_ips(api: SandboxApi, call: Call) -> Reply:
    return ok(_ips())


def verify_token(api: SandboxApi, call: Call) -> Reply:
    if call.token is None:
        return fail(401, (ERR_INVALID_TOKEN, "Invalid API Token"))
    return ok({"id": token_id(call.token), "status": call.token.status})


def token_id(token: TokenSpec) -> str:
    """Token ids derive from the scenario name only: the value must not leak, even hashed."""
    return stable_id("token", token.name)


# -- GraphQL Analytics ----------------------------------------------------------------------------


def graphql_error(message: str, path: Sequence[str | int] | None = None,
                  code: str | None = None) -> dict[str, Any]:  # fmt: skip
    error: dict[str, Any] = {"message": message}
    if path is not None:
        error["path"] = list(path)
    if code is not None:
        error["extensions"] = {"code": code}
    return error


def _graphql_reply(data: Any, errors: Sequence[dict[str, Any]]) -> Reply:
    """GraphQL answers 200 whatever went wrong: the client reads `errors`, not the status."""
    return Reply(200, {"data": data, "errors": list(errors) or None})


def _graphql_time(variables: Mapping[str, Any], name: str) -> datetime | dict[str, Any]:
    """A `Time!` variable, or the error for it; a time without an offset is refused because
    the API's Time scalar is RFC 3339, and guessing UTC would hide a client bug."""
    raw = variables.get(name)
    if raw is None:
        return graphql_error(f'variable "${name}" of type "Time!" is required')
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        return graphql_error(f'variable "${name}": {raw!r} is not an RFC 3339 time with an offset')
    return value.astimezone(UTC)


def graphql(api: SandboxApi, call: Call) -> Reply:
    body = call.body
    if call.malformed or not isinstance(body, dict):
        message = 'the request body must be a JSON object {"query": ..., "variables": {...}}'
        return _graphql_reply(None, [graphql_error(message)])
    query = body.get("query")
    if not isinstance(query, str) or not all(
        word in query for word in ("httpRequestsAdaptiveGroups", "zoneTag_in")
    ):
        message = ("the sandbox understands only viewer.zones(filter: {zoneTag_in: ...})"
                   " { httpRequestsAdaptiveGroups } queries")  # fmt: skip
        return _graphql_reply(None, [graphql_error(message, code=GRAPHQL_VALIDATION_FAILED)])
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return _graphql_reply(None, [graphql_error("variables must be a JSON object")])
    tags = variables.get("zoneTags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        message = 'variable "$zoneTags" must be a list of zone ids'
        return _graphql_reply(None, [graphql_error(message)])
    if len(tags) > GRAPHQL_MAX_ZONES:
        message = f"zoneTag_in: at most {GRAPHQL_MAX_ZONES} zones per query"
        return _graphql_reply(None, [graphql_error(message, ["viewer", "zones"])])
    since, until = _graphql_time(variables, "since"), _graphql_time(variables, "until")
    bad = [t for t in (since, until) if isinstance(t, dict)]
    if bad or not isinstance(since, datetime) or not isinstance(until, datetime):
        return _graphql_reply(None, bad)

    zones: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        if tag in seen:
            continue
        seen.add(tag)
        where = ["viewer", "zones", index]
        zone = api.state.zone(tag)
        if zone is None or not _visible(call.token, zone):
            errors.append(graphql_error(f"zone '{tag}' not found or not authorized", where))
        elif zone.graphql_error is not None:
            errors.append(graphql_error(zone.graphql_error, where))
        else:
            rows = api.state.error_buckets(zone.id, since, until)
            groups = [
                {
                    "count": row.count,
                    "dimensions": {
                        "edgeResponseStatus": row.edge_status,
                        "originResponseStatus": row.origin_status,
                        "datetimeHour": row.hour.strftime("%Y-%m-%dT%H:00:00Z"),
                    },
                }
                for row in rows
            ]
            zones.append({"zoneTag": zone.id, "httpRequestsAdaptiveGroups": groups})
    return _graphql_reply({"viewer": {"zones": zones}}, errors)


_IPS_CACHE: dict[str, Any] = {}


def _ips() -> dict[str, Any]:
    if not _IPS_CACHE:
        packaged = resources.files("cfremedy") / "data" / "cloudflare-ips.json"
        data = json.loads(packaged.read_text(encoding="utf-8"))
        v4, v6 = list(data["ipv4_cidrs"]), list(data["ipv6_cidrs"])
        etag = stable_id("ips", *v4, *v6)
        _IPS_CACHE.update({"ipv4_cidrs": v4, "ipv6_cidrs": v6, "etag": etag})
    return dict(_IPS_CACHE)


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
    Route("GET", "/zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint", get_entrypoint,
          "#config_settings:read"),
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


# -- faults and rate limit ------------------------------------------------------------------------


@dataclass
class _ArmedFault:
    spec: FaultSpec
    pattern: re.Pattern[str] | None
    injected: int = 0

    def applies(self, method: str, path: str) -> bool:
        if self.spec.count is not None and self.injected >= self.spec.count:
            return False
        if self.spec.method is not None and self.spec.method.upper() != method:
            return False
        return self.pattern is None or self.pattern.search(path) is not None


class _RateLimiter:
    """A sliding window per token: only admitted requests occupy a slot."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> float | None:
        """None if admitted, else the seconds until a slot frees."""
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(1.0, float(math.ceil(seen[0] + self.window - now)))
            seen.append(now)
            return None


# -- the server -----------------------------------------------------------------------------------


class _RequestHandler(TrackedHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.owner._serve(self)  # type: ignore[attr-defined]

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET  # noqa: N815

    def write_reply(self, reply: Reply) -> None:
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def reset_connection(self) -> None:
        """Abort with an RST: linger on, zero seconds, then close without a byte sent.

        The socket must close here: socketserver's own close sends a FIN first. http.server
        still flushes `wfile` after the handler returns, so a discard buffer takes its place
        (a closed file there would print a traceback for every reset).
        """
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass
        self.wfile = io.BytesIO()


class SandboxApi(LoopbackServer):
    """The fake API for one scenario; use as a context manager or start()/stop()."""

    handler_class = _RequestHandler
    kind = "sandbox API"

    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.scenario = scenario
        self.state = SandboxState(scenario)
        self.latency_ms: float = scenario.sandbox.latency_ms
        self._tokens: dict[str, TokenSpec] = {}
        for token in scenario.tokens:
            self._tokens.setdefault(token.value, token)
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._fault_lock = threading.Lock()
        self._faults: list[_ArmedFault] = []
        self._rng = random.Random(scenario.sandbox.seed)
        self.set_faults(scenario.sandbox.faults)
        limit = scenario.sandbox.rate_limit_requests
        self._limiter = _RateLimiter(limit, scenario.sandbox.rate_limit_window) if limit else None

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return self.url.removesuffix(API_PREFIX) + CONTROL_PREFIX

    # -- log and faults ------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def set_faults(self, faults: Sequence[FaultSpec]) -> None:
        armed = [_ArmedFault(f, re.compile(f.path) if f.path else None) for f in faults]
        with self._fault_lock:
            self._faults = armed
            self._rng = random.Random(self.scenario.sandbox.seed)

    def _draw_fault(self, method: str, path: str) -> FaultSpec | None:
        with self._fault_lock:
            for fault in self._faults:
                if fault.applies(method, path) and self._rng.random() < fault.spec.rate:
                    fault.injected += 1
                    return fault.spec
        return None

    def _append(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    # -- request pipeline ----------------------------------------------------------------------

    def _serve(self, handler: _RequestHandler) -> None:
        split = urlsplit(handler.path)
        raw_body = _read_body(handler)
        if split.path.startswith(CONTROL_PREFIX + "/"):
            handler.write_reply(self._control(handler.command, split.path))
            return
        path = _api_path(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body, malformed = _parse_json(raw_body)
        token = self._token(handler.headers.get("Authorization"))
        entry: dict[str, Any] = {
            "method": handler.command,
            "path": path,
            "query": query,
            "token": token.name if token else None,
            "body": body,
        }

        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        fault = self._draw_fault(handler.command, path)
        if fault is not None and fault.kind == "reset":
            self._append(LoggedRequest(status=0, fault="reset", at=time.time(), **entry))
            handler.reset_connection()
            return
        if fault is not None:
            reply = {
                "429": lambda: too_many_requests(fault.retry_after),
                "403": permission_denied,
            }.get(fault.kind, internal_error)()
        else:
            reply = self._dispatch(handler.command, path, query, body, malformed, token)
        fault_kind = fault.kind if fault else None
        self._append(LoggedRequest(status=reply.status, fault=fault_kind, at=time.time(), **entry))
        handler.write_reply(reply)

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], body: Any, malformed: bool,
        token: TokenSpec | None,
    ) -> Reply:  # fmt: skip
        try:
            if self._limiter is not None and token is not None:
                wait = self._limiter.admit(token.name, time.monotonic())
                if wait is not None:
                    return too_many_requests(wait)
            resolved = resolve(method, path)
            if resolved is None:
                return no_route(path)
            route, params = resolved
            call = Call(method, path, params, query, body, token, malformed=malformed)
            refusal = self._refuse(route, call)
            if refusal is not None:
                return refusal
            if malformed and not route.own_body_errors:
                return fail(400, (ERR_MALFORMED_JSON, "Malformed JSON in request body"))
            return route.handler(self, call)
        except SandboxError as exc:
            return fail(exc.status, *exc.errors)
        except Exception:  # a sandbox bug must answer like the API does, not hang the client
            return internal_error()

    def _refuse(self, route: Route, call: Call) -> Reply | None:
        """Authentication, zone (or account) visibility, then permission; sets call.zone."""
        if route.auth == "token" and (call.token is None or call.token.status != "active"):
            return fail(401, (ERR_AUTH, "Authentication error"))
        if "zone_id" in call.params:
            zone = self.state.zone(call.params["zone_id"])
            if zone is None or not _visible(call.token, zone):
                raise zone_not_found(call.params["zone_id"])
            call.zone = zone
        if "account_id" in call.params and not _account_visible(
            self, call.token, call.params["account_id"]
        ):
            return fail(403, (ERR_AUTH, "Authentication error"))
        if route.permission is not None and route.permission not in call.keys:
            return fail(403, (ERR_AUTH, "Authentication error"))
        return None

    def _token(self, header: str | None) -> TokenSpec | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._tokens.get(value.strip())

    def _control(self, method: str, path: str) -> Reply:
        if path.rstrip("/") == CONTROL_PREFIX + "/requests":
            if method == "GET":
                return Reply(200, [asdict(r) for r in self.requests])
            if method == "DELETE":
                self.clear_log()
                return Reply(200, {"cleared": True})
        return Reply(404, {"error": f"no sandbox control endpoint {method} {path}"})


def _api_path(raw: str) -> str:
    """The path relative to /client/v4 (unprefixed paths are kept, to be answered 'no route')."""
    path = raw.removeprefix(API_PREFIX) if raw.startswith(API_PREFIX + "/") else raw
    return path.rstrip("/") or "/"


def _read_body(handler: _RequestHandler) -> bytes:
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The parsed body and whether it was malformed (then the raw text is kept for the log)."""
    if not raw.strip():
        return None, False
    try:
        return json.loads(raw), False
    except ValueError:
        return raw.decode("utf-8", "replace"), True
