"""Load-balancing routes: a zone's load balancers, an account's pools, and a pool's health.

`GET /zones/{zone_id}/load_balancers` and `GET /accounts/{account_id}/load_balancers/pools`
are single pages (the SDK does not page them): every load balancer of the zone, every pool of
the account, in scenario order; no query is read (the pools list's `monitor` filter is
ignored: every sandbox pool has the same monitor). `GET .../pools/{pool_id}/health` answers
one pool's health, or 404 1002 "Pool not found" for an id that is not a pool of the account;
`GET .../pools/{pool_id}/references` what references it: the account's load balancers that use
it (`referrer`, named by hostname), then its monitor (`referral`), with the same 404.
Which accounts a token sees is `access.py`'s, checked before the handlers run. One module per
resource, so that each handler sits next to the queries it understands.
"""

from __future__ import annotations

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.routing import Call, Server, zone_of


def list_load_balancers(api: Server, call: Call) -> Reply:
    return ok(api.state.load_balancers(zone_of(call).id))


def list_pools(api: Server, call: Call) -> Reply:
    return ok(api.state.pools_of(call.params["account_id"]))


def pool_health(api: Server, call: Call) -> Reply:
    return ok(api.state.pool_health(call.params["account_id"], call.params["pool_id"]))


def pool_references(api: Server, call: Call) -> Reply:
    return ok(api.state.pool_references(call.params["account_id"], call.params["pool_id"]))
