"""Cloudflare Tunnel routes: an account's tunnels, and a tunnel's configuration.

`GET /accounts/{account_id}/cfd_tunnel` lists the account's tunnels in scenario order, deleted
ones included, filtered by `is_deleted` (true: only deleted ones; false: only live ones),
`name` (exact), `status`, `uuid`, `include_prefix` and `exclude_prefix` (of the name), in pages
of 1-1000 (default 20). A page past the end answers 200 with an empty `result`: the SDK asks
for page+1 until it gets one. The other filters of the document (`existed_at`,
`was_active_at`, `was_inactive_at`) are ignored. `GET .../cfd_tunnel/{tunnel_id}/configurations`
answers a remotely managed tunnel's ingress (`source: "cloudflare"`), a locally managed one's
`source: "local"` with `config: null`, and 404 1003 "Tunnel not found" for an id that is not a
live tunnel of the account. One module per resource, so that each handler sits next to the
queries it understands.
"""

from __future__ import annotations

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.query import bool_param, choice, page_of, pagination
from cfremedy.sandbox.routing import Call, Server

TUNNELS_DEFAULT_PER_PAGE = 20
TUNNELS_MIN_PER_PAGE = 1
TUNNELS_MAX_PER_PAGE = 1000
TUNNEL_STATUSES = ("inactive", "degraded", "healthy", "down")


def list_tunnels(api: Server, call: Call) -> Reply:
    page, per_page = pagination(call.query, TUNNELS_DEFAULT_PER_PAGE, TUNNELS_MIN_PER_PAGE, TUNNELS_MAX_PER_PAGE)
    tunnels = api.state.tunnels_of(
        call.params["account_id"],
        deleted=bool_param(call.query, "is_deleted"),
        name=call.query.get("name"),
        status=choice(call.query, "status", TUNNEL_STATUSES),
        tunnel_id=call.query.get("uuid"),
        include_prefix=call.query.get("include_prefix"),
        exclude_prefix=call.query.get("exclude_prefix"),
    )
    chunk, info = page_of(tunnels, page, per_page)
    return ok(list(chunk), info)


def get_tunnel_configuration(api: Server, call: Call) -> Reply:
    return ok(api.state.tunnel_configuration(call.params["account_id"], call.params["tunnel_id"]))
