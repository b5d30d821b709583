"""The sandbox's GraphQL Analytics endpoint, driven through the official SDK's generic client.

The 2024 OpenAPI document has no `/graphql` path, so the answers are checked here instead: the
exact query cfremedy sends (`ERRORS_QUERY`) must come back in the shape `parse_response` reads,
with GraphQL's partial-data errors, while auth, permissions, faults and the request log behave
as on every other route. The sandbox clock is pinned so no test depends on the hour it runs in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import cloudflare
import httpx
import pytest

from cfremedy.analytics import ERRORS_QUERY, ZONES_PER_QUERY, ErrorBucket, parse_response
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import FaultSpec, ScenarioError, parse_scenario, stable_id

Factory = Callable[[Any], SandboxApi]

NOW = datetime(2024, 6, 1, 12, 34, 56, tzinfo=UTC)
HOUR = datetime(2024, 6, 1, 12, tzinfo=UTC)
A, B, BROKEN, EMPTY = (stable_id("zone", n) for n in ("a.example", "b.example", "broken.example",
                                                       "empty.example"))  # fmt: skip
SCENARIO: dict[str, Any] = {
    "tokens": [
        {"name": "full", "value": "tok-full", "permissions": ["Zone Read", "Analytics Read"]},
        {"name": "no-analytics", "value": "tok-no-analytics", "permissions": ["Zone Read"]},
        {"name": "scoped", "value": "tok-scoped", "permissions": ["Analytics Read"],
         "zones": ["a.example"]},
        {"name": "expired", "value": "tok-expired", "permissions": ["Analytics Read"],
         "status": "expired"},
    ],
    "zones": [
        {"name": "a.example", "analytics": [
            {"edge_status": 502, "origin_status": 502, "count": 4, "hours_ago": 1},
            {"edge_status": 522, "count": 7, "hours_ago": 0},
            {"edge_status": 521, "count": 2, "hours_ago": 1},
            {"edge_status": 522, "count": 3, "hours_ago": 0},  # same bucket: summed
            {"edge_status": 526, "count": 9, "hours_ago": 5},
            {"edge_status": 500, "origin_status": 500, "count": 1, "hours_ago": 30},
        ]},
        {"name": "b.example", "analytics": [{"edge_status": 524, "count": 11, "hours_ago": 2}]},
        {"name": "broken.example", "graphql_error": "quota exceeded for this zone",
         "analytics": [{"edge_status": 520, "count": 1}]},
        {"name": "empty.example"},
    ],
}  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def variables(tags: list[str], since: datetime = NOW - timedelta(hours=24),
              until: datetime = NOW) -> dict[str, Any]:  # fmt: skip
    return {"zoneTags": tags, "since": iso(since), "until": iso(until)}


@pytest.fixture
def api(sandbox_factory: Factory) -> SandboxApi:
    sandbox = sandbox_factory(SCENARIO)
    sandbox.state.clock = lambda: NOW
    return sandbox


def ask(api: SandboxApi, variables: dict[str, Any], *, token: str = "tok-full",
        query: str = ERRORS_QUERY) -> Any:  # fmt: skip
    with cloudflare.Cloudflare(api_token=token, base_url=api.url, max_retries=0) as client:
        return client.post("/graphql", body={"query": query, "variables": variables}, cast_to=object)


def test_errors_query_answered_in_the_shape_parse_response_reads(api: SandboxApi) -> None:
    answer = ask(api, variables([A]))
    assert answer["errors"] is None
    zone = answer["data"]["viewer"]["zones"][0]
    assert zone["zoneTag"] == A
    assert zone["httpRequestsAdaptiveGroups"][2] == {
        "count": 2,
        "dimensions": {"edgeResponseStatus": 521, "originResponseStatus": 0,
                       "datetimeHour": "2024-06-01T11:00:00Z"},
    }  # fmt: skip
    hour = HOUR - timedelta(hours=1)
    assert parse_response(answer["data"]) == {A: [
        ErrorBucket(hour - timedelta(hours=4), 526, 0, 9),
        ErrorBucket(hour, 502, 502, 4),
        ErrorBucket(hour, 521, 0, 2),
        ErrorBucket(HOUR, 522, 0, 10),
    ]}  # fmt: skip


def test_time_window_is_since_inclusive_until_exclusive(api: SandboxApi) -> None:
    def hours(since: datetime, until: datetime) -> list[datetime]:
        buckets = parse_response(ask(api, variables([A], since, until))["data"])[A]
        return sorted({b.hour for b in buckets})

    one_ago = HOUR - timedelta(hours=1)
    assert hours(one_ago, HOUR) == [one_ago]
    assert hours(one_ago + timedelta(minutes=1), NOW) == [HOUR]
    assert hours(HOUR - timedelta(hours=48), NOW) == [HOUR - timedelta(hours=h) for h in (30, 5, 1, 0)]
    assert hours(NOW, NOW + timedelta(hours=1)) == []
    # cfremedy's own window (until rounded down to the minute, since 24 h before) drops hour 30.
    assert HOUR - timedelta(hours=30) not in hours(NOW.replace(second=0) - timedelta(hours=24), NOW)


def test_zones_in_requested_order_with_partial_data(api: SandboxApi) -> None:
    unknown = "f" * 32
    answer = ask(api, variables([B, unknown, A, BROKEN, EMPTY, B]))
    zones = answer["data"]["viewer"]["zones"]
    assert [z["zoneTag"] for z in zones] == [B, A, EMPTY]
    assert zones[2]["httpRequestsAdaptiveGroups"] == []
    assert parse_response(answer["data"])[B] == [ErrorBucket(HOUR - timedelta(hours=2), 524, 0, 11)]
    assert answer["errors"] == [
        {"message": f"zone '{unknown}' not found or not authorized", "path": ["viewer", "zones", 1]},
        {"message": "quota exceeded for this zone", "path": ["viewer", "zones", 3]},
    ]


def test_zone_outside_the_tokens_globs_is_not_authorized(api: SandboxApi) -> None:
    answer = ask(api, variables([A, B]), token="tok-scoped")
    assert [z["zoneTag"] for z in answer["data"]["viewer"]["zones"]] == [A]
    assert answer["errors"] == [{"message": f"zone '{B}' not found or not authorized", "path": ["viewer", "zones", 1]}]


def test_at_most_ten_zones_per_query(api: SandboxApi) -> None:
    assert ZONES_PER_QUERY == 10
    assert ask(api, variables([A] * 10))["errors"] is None
    answer = ask(api, variables([A] * 11))
    assert answer["data"] is None
    assert answer["errors"][0]["message"] == "zoneTag_in: at most 10 zones per query"


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { accounts { accountTag } } }",
        "",
        "query { viewer { zones { httpRequestsAdaptiveGroups { count } } } }",
    ],
)
def test_unsupported_query_is_a_graphql_error_with_http_200(api: SandboxApi, query: str) -> None:
    answer = ask(api, variables([A]), query=query)
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert api.requests[-1].status == 200


@pytest.mark.parametrize("bad", [
    {"since": None},
    {"since": "yesterday"},
    {"until": "2024-06-01T12:00:00"},  # no offset
    {"until": 1717243200},
    {"zoneTags": "a.example"},
    {"zoneTags": None},
])  # fmt: skip
def test_bad_variables(api: SandboxApi, bad: dict[str, Any]) -> None:
    answer = ask(api, {**variables([A]), **bad})
    assert answer["data"] is None and answer["errors"]
    assert all(isinstance(e["message"], str) and e["message"] for e in answer["errors"])


def test_offsets_other_than_z_are_understood(api: SandboxApi) -> None:
    since = (HOUR - timedelta(hours=1)).astimezone(timezone(timedelta(hours=9)))
    answer = ask(api, {"zoneTags": [A], "since": since.isoformat(), "until": iso(HOUR)})
    assert {b.hour for b in parse_response(answer["data"])[A]} == {HOUR - timedelta(hours=1)}


def test_malformed_json_is_a_graphql_error_with_http_200(api: SandboxApi) -> None:
    headers = {"Authorization": "Bearer tok-full", "Content-Type": "application/json"}
    response = httpx.post(f"{api.url}/graphql", content=b"{not json", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"]
    assert "success" not in body  # GraphQL's shape, not the v4 envelope


def test_missing_analytics_read_is_403(api: SandboxApi) -> None:
    with pytest.raises(cloudflare.PermissionDeniedError) as caught:
        ask(api, variables([A]), token="tok-no-analytics")
    assert caught.value.status_code == 403
    assert caught.value.body["errors"][0]["code"] == 10000  # type: ignore[index]


@pytest.mark.parametrize("token", ["tok-expired", "tok-unknown"])
def test_bad_token_is_401(api: SandboxApi, token: str) -> None:
    with pytest.raises(cloudflare.AuthenticationError):
        ask(api, variables([A]), token=token)


def test_request_is_logged(api: SandboxApi) -> None:
    api.clear_log()
    ask(api, variables([A, B]))
    (entry,) = api.requests
    assert (entry.method, entry.path, entry.status, entry.token) == ("POST", "/graphql", 200, "full")
    assert entry.body["query"] == ERRORS_QUERY
    assert entry.body["variables"]["zoneTags"] == [A, B]


def test_faults_and_rate_limit_apply(api: SandboxApi, sandbox_factory: Factory) -> None:
    api.set_faults([FaultSpec(kind="429", path="^/graphql$", count=1, retry_after=2)])
    with pytest.raises(cloudflare.RateLimitError) as caught:
        ask(api, variables([A]))
    assert caught.value.response.headers["Retry-After"] == "2"
    assert ask(api, variables([A]))["errors"] is None  # the count is used up
    assert api.requests[-2].fault == "429"

    limited = sandbox_factory({**SCENARIO, "sandbox": {"rate_limit_requests": 1}})
    ask(limited, variables([A]))
    with pytest.raises(cloudflare.RateLimitError):
        ask(limited, variables([A]))


def test_real_clock_places_buckets_relative_to_now(sandbox_factory: Factory) -> None:
    api = sandbox_factory(SCENARIO)  # the default clock
    now = datetime.now(UTC)
    answer = ask(api, variables([A], now - timedelta(hours=48), now + timedelta(hours=1)))
    buckets = parse_response(answer["data"])[A]
    assert sum(b.count for b in buckets) == 2 + 4 + 10 + 9 + 1
    newest = max(b.hour for b in buckets)
    assert newest.minute == 0 and abs(newest - now) < timedelta(hours=1, minutes=1)


@pytest.mark.parametrize(("analytics", "message"), [
    ({"edge_status": 404, "count": 1}, "edge_status"),
    ({"edge_status": 502, "count": 0}, "count"),
    ({"edge_status": 502, "count": 1, "hours_ago": -1}, "hours_ago"),
    ({"edge_status": 502, "origin_status": 42, "count": 1}, "origin_status"),
    ({"edge_status": 502, "count": 1, "colour": "red"}, "colour"),
])  # fmt: skip
def test_scenario_validation(analytics: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"zones": [{"name": "a.example", "analytics": [analytics]}]})
