"""Zone routes: the zone list, one zone, a zone's certificate packs and its custom error pages.

`GET /zones` lists the zones the token's globs cover, filtered by `name` (exact; no
`contains:` operators), `account.id` and `status`, in pages of 5-50 (default 20).
`GET /zones/{zone_id}` answers one zone; `GET /zones/{zone_id}/ssl/certificate_packs` the one
universal pack every zone gets, paged like the zone list;
`GET /zones/{zone_identifier}/custom_pages` every custom page, in one unpaged list (the document
marks the route unavailable on the free plan without saying what the API answers there: the
sandbox lists a free zone's pages, all in their default state). One module per resource, so that each
handler sits next to the queries it understands.
"""

from __future__ import annotations

from cfremedy.sandbox.access import zone_visible
from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.query import page_of, pagination
from cfremedy.sandbox.routing import Call, Server, zone_of
from cfremedy.sandbox.shapes import certificate_pack_json, custom_pages_json, zone_json

ZONES_DEFAULT_PER_PAGE = 20
ZONES_MIN_PER_PAGE = 5
ZONES_MAX_PER_PAGE = 50


def list_zones(api: Server, call: Call) -> Reply:
    page, per_page = pagination(call.query, ZONES_DEFAULT_PER_PAGE, ZONES_MIN_PER_PAGE, ZONES_MAX_PER_PAGE)
    name = call.query.get("name")
    account_id = call.query.get("account.id")
    status = call.query.get("status")
    zones = [
        z
        for z in api.state.all_zones()
        if zone_visible(call.token, z)
        and (name is None or z.name == name.lower().rstrip("."))
        and (account_id is None or z.account_id == account_id)
        and (status is None or z.status == status)
    ]
    chunk, info = page_of(zones, page, per_page)
    keys = call.keys
    return ok([zone_json(z, keys) for z in chunk], info)


def get_zone(api: Server, call: Call) -> Reply:
    with api.state.lock:
        return ok(zone_json(zone_of(call), call.keys))


def list_certificate_packs(api: Server, call: Call) -> Reply:
    packs = [certificate_pack_json(zone_of(call))]
    chunk, info = page_of(packs, *pagination(call.query, 20, 5, 50))
    return ok(list(chunk), info)


def list_custom_pages(api: Server, call: Call) -> Reply:
    with api.state.lock:
        pages = custom_pages_json(zone_of(call))
    return ok(pages, {"page": 1, "per_page": len(pages), "count": len(pages), "total_count": len(pages)})
