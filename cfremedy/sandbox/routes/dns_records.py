"""DNS record routes: list, create, read, patch, replace, delete and batch a zone's records.

`GET /zones/{zone_id}/dns_records` filters `name` or `name.exact` (FQDN), `type`, `content` or
`content.exact`, `proxied`, in pages of 1-5000 (default 100), ordered by type, name, id. What a
valid record is lives in `dns_rules.py`; a batch runs deletes, patches, puts, posts in that
order, all or nothing. One module per resource, so that each handler sits next to the queries
it understands.
"""

from __future__ import annotations

from typing import Any

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.query import bool_param, page_of, pagination
from cfremedy.sandbox.routing import Call, Server, zone_of
from cfremedy.sandbox.shapes import record_json

DNS_DEFAULT_PER_PAGE = 100
DNS_MIN_PER_PAGE = 1
DNS_MAX_PER_PAGE = 5000


def list_records(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    page, per_page = pagination(call.query, DNS_DEFAULT_PER_PAGE, DNS_MIN_PER_PAGE, DNS_MAX_PER_PAGE)
    filters: dict[str, Any] = {}
    name = call.query.get("name.exact", call.query.get("name"))
    if name is not None:
        filters["name"] = name.lower().rstrip(".")
    if "type" in call.query:
        filters["type"] = call.query["type"].upper()
    content = call.query.get("content.exact", call.query.get("content"))
    if content is not None:
        filters["content"] = content
    proxied = bool_param(call.query, "proxied")
    if proxied is not None:
        filters["proxied"] = proxied
    with api.state.lock:
        chunk, info = page_of(api.state.records(zone.id, filters), page, per_page)
        return ok([record_json(zone, r) for r in chunk], info)


def create_record(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    return ok(record_json(zone, api.state.create_record(zone.id, call.body)))


def get_record(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    return ok(record_json(zone, api.state.record(zone.id, call.params["dns_record_id"])))


def patch_record(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    record = api.state.patch_record(zone.id, call.params["dns_record_id"], call.body)
    return ok(record_json(zone, record))


def put_record(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    record = api.state.put_record(zone.id, call.params["dns_record_id"], call.body)
    return ok(record_json(zone, record))


def delete_record(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    record = api.state.delete_record(zone.id, call.params["dns_record_id"])
    return ok({"id": record.id})


def batch_records(api: Server, call: Call) -> Reply:
    zone = zone_of(call)
    done = api.state.batch(zone.id, call.body)
    return ok({kind: [record_json(zone, r) for r in records] for kind, records in done.items()})
