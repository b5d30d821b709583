"""Rules routes: a zone's rulesets, its ruleset entry point for a phase, and its Page Rules.

`GET /zones/{zone_id}/rulesets` lists one ruleset per phase the zone has an entry point for
(without rules), plus a managed ruleset on Enterprise zones; no query is read (the 2024
document has no cursor for it, so the SDK sees one page). Three entry points can exist:
`http_config_settings` (Configuration Rules), `http_request_origin` (Origin Rules) and
`http_request_cache_settings` (Cache Rules), each only when the zone has rules of it; any other
phase answers 404 10003. `GET /zones/{zone_id}/pagerules` is not paginated: it sorts
by `order` (priority or status; default priority) and `direction` (default desc: highest
priority first, ties in scenario order) and filters `status`; `match` is accepted (one filter
only: any and all agree); a value outside these enums answers 400 1001. One module per
resource, so that each handler sits next to the queries it understands.
"""

from __future__ import annotations

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.query import choice
from cfremedy.sandbox.routing import Call, Server, zone_of


def list_rulesets(api: Server, call: Call) -> Reply:
    return ok(api.state.rulesets(zone_of(call).id))


def get_entrypoint(api: Server, call: Call) -> Reply:
    return ok(api.state.entrypoint_ruleset(zone_of(call).id, call.params["ruleset_phase"]))


def list_page_rules(api: Server, call: Call) -> Reply:
    order = choice(call.query, "order", ("status", "priority")) or "priority"
    direction = choice(call.query, "direction", ("asc", "desc")) or "desc"
    status = choice(call.query, "status", ("active", "disabled"))
    choice(call.query, "match", ("any", "all"))  # one filter only: any and all agree
    rules = api.state.page_rules(zone_of(call).id, order=order, direction=direction, status=status)
    return ok(rules)
