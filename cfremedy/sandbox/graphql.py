"""The GraphQL Analytics API (`POST /graphql`, key `#analytics:read`): hourly 5xx counts.

The Analytics API answers in GraphQL's own shape, `{"data": ..., "errors": [...] | null}`,
always with HTTP 200, once authentication and permission have passed (those, the rate limit
and faults answer like every other route, in the v4 envelope). Only the query cfremedy sends is
understood: `viewer.zones(filter: {zoneTag_in})` with `httpRequestsAdaptiveGroups`; anything
else is a GRAPHQL_VALIDATION_FAILED error. Variables: `zoneTags` (at most 10), `since` and
`until` (RFC 3339 with an offset). A malformed body, a bad query or bad variables answer
`data: null`. A zone that does not exist or is outside the token's globs, or that has a
`graphql_error` in the scenario, is left out of `zones` with an error whose `path` is
`["viewer", "zones", <index in zoneTags>]`: the other zones are still answered (partial data).
Zones come in the order requested (duplicates once); buckets are the zone's `analytics` placed
relative to `state.clock()`'s hour, kept when `since <= hour < until`, ordered by hour, edge
status, origin status. A module of its own, apart from the v4 `routes`, because nothing of the
v4 envelope applies once the request reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cfremedy.sandbox.access import zone_visible
from cfremedy.sandbox.envelope import Reply
from cfremedy.sandbox.routing import Call, Server

GRAPHQL_MAX_ZONES = 10  # the Analytics API's limit on `zoneTag_in`
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


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


def graphql(api: Server, call: Call) -> Reply:
    body = call.body
    if call.malformed or not isinstance(body, dict):
        message = 'the request body must be a JSON object {"query": ..., "variables": {...}}'
        return _graphql_reply(None, [graphql_error(message)])
    query = body.get("query")
    if not isinstance(query, str) or not all(word in query for word in ("httpRequestsAdaptiveGroups", "zoneTag_in")):
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
        where: list[str | int] = ["viewer", "zones", index]
        zone = api.state.zone(tag)
        if zone is None or not zone_visible(call.token, zone):
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
