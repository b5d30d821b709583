"""The sandbox API's behaviour, driven through the official `cloudflare` SDK over real HTTP.

The gateway will talk to Cloudflare only through this SDK, so these tests use it unchanged
(`base_url` pointed at the sandbox, `max_retries=0` so faults surface as the SDK's exceptions).
Bulk settings have no SDK method and are called with the SDK's raw `client.get/patch`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import cloudflare
import httpx
import pytest

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.routes.dns_records import DNS_MAX_PER_PAGE
from cfremedy.sandbox.scenario import FaultSpec, RecordSpec, ScenarioError, parse_scenario, stable_id
from cfremedy.sandbox.state import SandboxState

Factory = Callable[[Any], SandboxApi]

EVERYTHING = ["Zone Read", "Zone Settings Write", "DNS Write", "SSL and Certificates Read"]
TOKENS = [
    {"name": "admin", "value": "sekrit-admin-value", "permissions": EVERYTHING},
    {"name": "no-dns", "value": "sekrit-no-dns", "permissions": ["Zone Read", "Zone Settings Read"]},
    {"name": "reader", "value": "sekrit-reader",
     "permissions": ["Zone Read", "Zone Settings Read", "DNS Read"]},
    {"name": "org-only", "value": "sekrit-org-only", "permissions": EVERYTHING,
     "zones": ["*.org", "shop.example.com"]},
    {"name": "old", "value": "sekrit-expired", "permissions": EVERYTHING, "status": "expired"},
    {"name": "off", "value": "sekrit-disabled", "permissions": EVERYTHING, "status": "disabled"},
]  # fmt: skip
TOKEN_VALUES = [t["value"] for t in TOKENS]


def scenario(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tokens": TOKENS,
        "zones": [
            {"name": "example.com", "plan": "pro", "settings": {"ssl": "origin_pull"},
             "records": [
                 {"name": "@", "content": "203.0.113.10", "proxied": True},
                 {"name": "www", "type": "CNAME", "content": "example.com", "proxied": True},
                 {"name": "api", "content": "203.0.113.11"},
                 {"name": "v6", "type": "AAAA", "content": "2001:db8::1", "proxied": True},
                 {"name": "@", "type": "TXT", "content": "v=spf1 -all"},
             ]},
            {"name": "shop.example.com", "plan": "business"},
            {"name": "big.org", "plan": "enterprise", "account": "acc00000000000000000000000000002"},
            {"name": "paused.org", "status": "pending"},
        ],
    }  # fmt: skip
    base.update(extra)
    return base


def client(api: SandboxApi, token: str = "sekrit-admin-value") -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=token, base_url=api.url, max_retries=0, timeout=10)


def zone_id(name: str) -> str:
    return stable_id("zone", name)


def error_codes(exc: cloudflare.APIStatusError) -> list[int]:
    return [e["code"] for e in exc.response.json()["errors"]]


@pytest.fixture
def api(sandbox_factory: Factory) -> SandboxApi:
    return sandbox_factory(scenario())


@pytest.fixture
def cf(api: SandboxApi) -> cloudflare.Cloudflare:
    return client(api)


# -- zones ----------------------------------------------------------------------------------------


def test_zone_list_pages_at_most_50_and_reports_result_info(sandbox_factory: Factory) -> None:
    zones = [{"name": f"z{i:03d}.example"} for i in range(120)]
    api = sandbox_factory({"tokens": TOKENS, "zones": zones})
    cf = client(api)

    names = [z.name for z in cf.zones.list(per_page=50)]

    assert names == sorted(z["name"] for z in zones)
    pages = [(r.query.get("page", "1")) for r in api.requests]
    assert pages == ["1", "2", "3", "4"]  # the SDK stops at the first empty page
    raw = cf.get("/zones", cast_to=object, options={"params": {"per_page": 500, "page": 3}})
    assert raw["result_info"] == {
        "page": 3, "per_page": 50, "count": 20, "total_count": 120, "total_pages": 3
    }  # fmt: skip
    small = cf.get("/zones", cast_to=object, options={"params": {"per_page": 1}})
    assert small["result_info"]["per_page"] == 5 and len(small["result"]) == 5
    default = cf.get("/zones", cast_to=object)
    assert default["result_info"]["per_page"] == 20


def test_zone_filters_and_shape(cf: cloudflare.Cloudflare) -> None:
    assert [z.name for z in cf.zones.list(name="big.org")] == ["big.org"]
    assert [z.name for z in cf.zones.list(status="pending")] == ["paused.org"]
    assert [z.name for z in cf.zones.list(account={"id": "acc00000000000000000000000000002"})] == ["big.org"]
    zone = cf.zones.get(zone_id=zone_id("big.org"))
    assert zone is not None and zone.name == "big.org"
    assert zone.plan.legacy_id == "enterprise" and zone.plan.name == "Enterprise Website"
    assert zone.plan.currency == "USD" and zone.plan.is_subscribed is True
    assert zone.permissions == sorted(zone.permissions or [])
    assert "#dns_records:edit" in (zone.permissions or [])
    assert zone.account.id == "acc00000000000000000000000000002"


def test_zone_permissions_list_the_tokens_keys(api: SandboxApi) -> None:
    zone = client(api, "sekrit-reader").zones.get(zone_id=zone_id("example.com"))
    assert zone is not None
    assert zone.permissions == ["#dns_records:read", "#zone:read", "#zone_settings:read"]


def test_token_zone_globs_hide_other_zones(api: SandboxApi) -> None:
    scoped = client(api, "sekrit-org-only")
    assert [z.name for z in scoped.zones.list()] == ["big.org", "paused.org", "shop.example.com"]
    with pytest.raises(cloudflare.NotFoundError) as err:
        scoped.zones.get(zone_id=zone_id("example.com"))
    assert error_codes(err.value) == [7003, 7000]
    with pytest.raises(cloudflare.NotFoundError):
        scoped.dns.records.list(zone_id=zone_id("example.com"))
    with pytest.raises(cloudflare.NotFoundError):
        client(api).zones.get(zone_id="0" * 32)


# -- settings -------------------------------------------------------------------------------------


def test_setting_edit_changes_state_and_reads_see_it(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    before = cf.zones.settings.get("origin_max_http_version", zone_id=zid)
    assert before is not None and before.value == "2" and before.modified_on is None

    edited = cf.zones.settings.edit("origin_max_http_version", zone_id=zid, value="1")

    assert edited is not None and edited.value == "1" and edited.modified_on is not None
    again = cf.zones.settings.get("origin_max_http_version", zone_id=zid)
    assert again is not None and again.value == "1"
    assert api.state.setting_value(zid, "origin_max_http_version") == "1"
    bulk = cf.get(f"/zones/{zid}/settings", cast_to=object)["result"]
    assert {"id": "origin_max_http_version", "value": "1"}.items() <= next(
        s for s in bulk if s["id"] == "origin_max_http_version"
    ).items()


def test_seeded_unknown_value_is_served_but_cannot_be_set(cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    ssl = cf.get(f"/zones/{zid}/settings/ssl", cast_to=object)["result"]
    assert ssl["value"] == "origin_pull"
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.zones.settings.edit("ssl", zone_id=zid, value="origin_pull")  # type: ignore[arg-type]
    assert err.value.response.json()["errors"] == [{"code": 1007, "message": "Invalid value for zone setting ssl"}]
    assert cf.get(f"/zones/{zid}/settings/ssl", cast_to=object)["result"]["value"] == "origin_pull"


def test_bulk_settings_patch_is_all_or_nothing(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.patch(
            f"/zones/{zid}/settings",
            cast_to=object,
            body={"items": [{"id": "ssl", "value": "strict"}, {"id": "http2", "value": "maybe"}]},
        )
    assert error_codes(err.value) == [1007]
    assert api.state.setting_value(zid, "ssl") == "origin_pull"

    done = cf.patch(
        f"/zones/{zid}/settings",
        cast_to=object,
        body={"items": [{"id": "ssl", "value": "strict"}, {"id": "http2", "value": "on"}]},
    )

    assert [(s["id"], s["value"]) for s in done["result"]] == [("ssl", "strict"), ("http2", "on")]
    listed = {s["id"]: s["value"] for s in cf.get(f"/zones/{zid}/settings", cast_to=object)["result"]}
    assert listed["ssl"] == "strict" and listed["http2"] == "on"


def test_proxy_read_timeout_is_editable_only_on_enterprise(cf: cloudflare.Cloudflare) -> None:
    pro, ent = zone_id("example.com"), zone_id("big.org")
    setting = cf.zones.settings.get("proxy_read_timeout", zone_id=pro)
    assert setting is not None and setting.value == 100 and setting.editable is False
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.zones.settings.edit("proxy_read_timeout", zone_id=pro, value=300)
    assert error_codes(err.value) == [1008]
    assert "not editable" in err.value.response.json()["errors"][0]["message"]

    edited = cf.zones.settings.edit("proxy_read_timeout", zone_id=ent, value=300)
    assert edited is not None and edited.value == 300 and edited.editable is True
    with pytest.raises(cloudflare.BadRequestError):
        cf.zones.settings.edit("proxy_read_timeout", zone_id=ent, value=6001)


def test_unknown_setting_id_is_404(cf: cloudflare.Cloudflare) -> None:
    with pytest.raises(cloudflare.NotFoundError) as err:
        cf.zones.settings.get("warp_speed", zone_id=zone_id("example.com"))
    assert err.value.response.json()["errors"] == [
        {"code": 1003, "message": "Invalid or missing zone setting warp_speed"}
    ]


def test_unknown_setting_in_scenario_is_refused_by_name() -> None:
    bad = parse_scenario({"zones": [{"name": "a.example", "settings": {"warp_speed": "on"}}]})
    with pytest.raises(ScenarioError, match="warp_speed"):
        SandboxState(bad)


@pytest.mark.parametrize(("zone", "message"), [
    ({"name": "a.example", "plan": "pro", "custom_pages": {"404_errors": "https://e.example/x"}}, "404_errors"),
    ({"name": "a.example", "custom_pages": {"500_errors": "https://e.example/x"}}, "free plan"),
    ({"name": "a.example", "plan": "pro", "custom_pages": {"500_errors": "e.example/x"}}, "not an http"),
])  # fmt: skip
def test_custom_pages_in_a_scenario_are_checked(zone: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"zones": [zone]})


def test_custom_pages_through_the_sdk() -> None:
    """The SDK reads the list the sandbox serves for `{zone_identifier}` (its own parameter name)."""
    zone = {"name": "a.example", "plan": "business", "custom_pages": {"1000_errors": "https://e.example/1xxx.html"}}
    token = {"value": "t", "permissions": ["Zone Read", "Zone Settings Read"]}
    scenario = parse_scenario({"tokens": [token], "zones": [zone]})
    with SandboxApi(scenario) as api:
        client = cloudflare.Cloudflare(api_token="t", base_url=api.url, max_retries=0)
        pages = {p.id: (p.state, p.url) for p in client.custom_pages.list(zone_id=zone_id("a.example"))}
    assert pages["1000_errors"] == ("customized", "https://e.example/1xxx.html")
    assert pages["500_errors"] == ("default", "") and len(pages) == 10


def test_state_changed_directly_is_visible_and_not_logged(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    api.state.set_setting(zid, "ssl", "flexible")  # someone else changed it in the dashboard
    assert api.requests == []
    setting = cf.zones.settings.get("ssl", zone_id=zid)
    assert setting is not None and setting.value == "flexible"


# -- DNS records ----------------------------------------------------------------------------------


def test_dns_pages_up_to_5000_records(sandbox_factory: Factory) -> None:
    api = sandbox_factory({"tokens": TOKENS, "zones": [{"name": "bulk.example", "generate_records": 5_001}]})
    cf = client(api)
    zid = zone_id("bulk.example")

    records = list(cf.dns.records.list(zone_id=zid, per_page=DNS_MAX_PER_PAGE))

    assert len(records) == 5_001 and len({r.id for r in records}) == 5_001
    assert all(r.type == "TXT" and r.proxied is False for r in records)
    assert [r.query.get("page", "1") for r in api.requests] == ["1", "2", "3"]
    raw = cf.get(f"/zones/{zid}/dns_records", cast_to=object, options={"params": {"per_page": 9999, "page": 2}})
    assert raw["result_info"] == {
        "page": 2, "per_page": 5000, "count": 1, "total_count": 5_001, "total_pages": 2
    }  # fmt: skip
    default = cf.get(f"/zones/{zid}/dns_records", cast_to=object)
    assert default["result_info"]["per_page"] == 100 and len(default["result"]) == 100


def test_dns_records_are_ordered_and_filterable(cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    listed = [(r.type, r.name) for r in cf.dns.records.list(zone_id=zid)]
    assert listed == sorted(listed)
    assert ("A", "example.com") in listed and ("CNAME", "www.example.com") in listed
    by_name = cf.dns.records.list(zone_id=zid, name={"exact": "WWW.example.com"})
    assert [r.content for r in by_name] == ["example.com"]
    assert [r.name for r in cf.dns.records.list(zone_id=zid, type="AAAA")] == ["v6.example.com"]
    proxied = {r.name for r in cf.dns.records.list(zone_id=zid, proxied=True)}
    assert proxied == {"example.com", "www.example.com", "v6.example.com"}
    by_content = cf.dns.records.list(zone_id=zid, content={"exact": "203.0.113.11"})
    assert [r.name for r in by_content] == ["api.example.com"]
    raw = cf.get(f"/zones/{zid}/dns_records", cast_to=object, options={"params": {"name": "api.example.com"}})
    assert [r["content"] for r in raw["result"]] == ["203.0.113.11"]


def test_dns_create_edit_update_delete(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    created = cf.dns.records.create(zone_id=zid, type="A", name="new", content="198.51.100.1", ttl=1, proxied=True)
    assert created is not None and created.name == "new.example.com" and created.proxiable is True
    assert created.zone_id == zid and created.zone_name == "example.com"
    assert api.state.record(zid, created.id).content == "198.51.100.1"

    edited = cf.dns.records.edit(created.id, zone_id=zid, type="A", name="new", content="198.51.100.2", ttl=1)
    assert edited is not None and edited.content == "198.51.100.2" and edited.proxied is True

    updated = cf.dns.records.update(created.id, zone_id=zid, type="TXT", name="new", content="hello", ttl=300)
    assert updated is not None and updated.type == "TXT" and updated.proxied is False and updated.ttl == 300

    deleted = cf.dns.records.delete(created.id, zone_id=zid)
    assert deleted is not None and deleted.id == created.id
    with pytest.raises(cloudflare.NotFoundError) as err:
        cf.dns.records.get(created.id, zone_id=zid)
    assert err.value.response.json()["errors"] == [{"code": 81044, "message": "Record does not exist."}]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "A", "name": "x", "content": "2001:db8::1"}, 9005),
        ({"type": "AAAA", "name": "x", "content": "192.0.2.1"}, 9005),
        ({"type": "TXT", "name": "x", "content": "hi", "proxied": True}, 9004),
        ({"type": "A", "name": "www.elsewhere.net", "content": "192.0.2.1"}, 9000),
        ({"type": "A", "name": "x.example.org.", "content": "192.0.2.1"}, 9000),
        ({"type": "A", "name": "www", "content": "192.0.2.1"}, 81053),  # CNAME lives there
        ({"type": "A", "name": "api", "content": "203.0.113.11"}, 81057),
        ({"type": "A", "name": "x", "content": "192.0.2.1", "ttl": 5}, 1004),
    ],
)
def test_dns_validation(api: SandboxApi, cf: cloudflare.Cloudflare, body: dict[str, Any], code: int) -> None:
    zid = zone_id("example.com")
    before = api.state.records(zid)
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.post(f"/zones/{zid}/dns_records", cast_to=object, body=body)
    assert error_codes(err.value) == [code]
    assert api.state.records(zid) == before


def test_relative_and_apex_names_are_qualified(cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    apex = cf.dns.records.create(zone_id=zid, type="TXT", name="@", content="apex", ttl=1)
    fqdn = cf.dns.records.create(zone_id=zid, type="TXT", name="deep.sub.example.com.", content="x", ttl=1)
    assert apex is not None and apex.name == "example.com"
    assert fqdn is not None and fqdn.name == "deep.sub.example.com"


def test_batch_applies_in_order(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    records = {r.name: r for r in api.state.records(zid, {"type": "A"})}
    api_record, apex = records["api.example.com"], records["example.com"]

    result = cf.dns.records.batch(
        zone_id=zid,
        deletes=[{"id": api_record.id}],
        patches=[{"id": apex.id, "content": "203.0.113.99"}],  # type: ignore[list-item]
        posts=[{"type": "A", "name": "api", "content": "203.0.113.12", "ttl": 1}],  # same name: after the delete
    )

    assert result is not None
    assert [r.id for r in result.deletes or []] == [api_record.id]
    assert [r.content for r in result.patches or []] == ["203.0.113.99"]
    assert [r.name for r in result.posts or []] == ["api.example.com"]
    names = {r.name: r.content for r in api.state.records(zid, {"type": "A"})}
    assert names == {"example.com": "203.0.113.99", "api.example.com": "203.0.113.12"}


def test_batch_is_atomic(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    before = api.state.records(zid)
    victim = before[0]
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.dns.records.batch(
            zone_id=zid,
            deletes=[{"id": victim.id}],
            posts=[
                {"type": "A", "name": "ok", "content": "192.0.2.1", "ttl": 1},
                {"type": "A", "name": "bad", "content": "not-an-ip", "ttl": 1},
            ],
        )
    errors = err.value.response.json()["errors"]
    assert [e["code"] for e in errors] == [9005] and errors[0]["message"].startswith("posts[1]:")
    assert api.state.records(zid) == before
    assert cf.dns.records.get(victim.id, zone_id=zid) is not None  # the delete did not happen
    assert list(cf.dns.records.list(zone_id=zid, name={"exact": "ok.example.com"})) == []
    with pytest.raises(cloudflare.BadRequestError):
        cf.dns.records.batch(zone_id=zid, deletes=[{"id": victim.id}, {"id": "missing"}])
    assert api.state.records(zid) == before


def test_generated_records_build_fast() -> None:
    big = parse_scenario({"zones": [{"name": f"z{i}.example", "generate_records": 100} for i in range(1000)]})
    started = time.perf_counter()
    state = SandboxState(big)
    elapsed = time.perf_counter() - started
    assert sum(len(state.records(z.id)) for z in state.all_zones()) == 100_000
    assert elapsed < 2.0, f"building 100,000 records took {elapsed:.2f}s"


def test_seeded_record_ids_are_stable(api: SandboxApi) -> None:
    zid = zone_id("example.com")
    expected = stable_id(zid, "api.example.com", "A", "203.0.113.11", "2")
    assert api.state.record(zid, expected).name == "api.example.com"
    added = api.state.add_record(zid, RecordSpec(name="odd", type="TXT", content="x", proxied=True))
    assert added.proxied is True  # seeding bypasses validation, like a scenario file


# -- other endpoints --------------------------------------------------------------------------------


def test_certificate_packs_ips_and_token_verify(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    packs = list(cf.ssl.certificate_packs.list(zone_id=zone_id("example.com")))
    assert len(packs) == 1 and packs[0].type == "universal" and packs[0].status == "active"
    assert packs[0].hosts == ["example.com", "*.example.com"]

    ips = cf.ips.list()
    assert ips is not None and "173.245.48.0/20" in (ips.ipv4_cidrs or [])
    assert "2400:cb00::/32" in (ips.ipv6_cidrs or []) and ips.etag
    public = httpx.get(f"{api.url}/ips")  # the real endpoint needs no token
    assert public.status_code == 200 and public.json()["result"]["ipv4_cidrs"] == ips.ipv4_cidrs

    verified = cf.user.tokens.verify()
    assert verified is not None and verified.status == "active"
    expired = client(api, "sekrit-expired").user.tokens.verify()
    assert expired is not None and expired.status == "expired"
    with pytest.raises(cloudflare.AuthenticationError) as err:
        client(api, "wrong").user.tokens.verify()
    assert err.value.response.json()["errors"] == [{"code": 1000, "message": "Invalid API Token"}]


def test_unknown_route_answers_like_the_api(cf: cloudflare.Cloudflare) -> None:
    with pytest.raises(cloudflare.BadRequestError) as err:
        cf.get("/zones/nope/firewall/rules", cast_to=object)
    assert error_codes(err.value) == [7003, 7000]
    assert "/zones/nope/firewall/rules" in err.value.response.json()["errors"][0]["message"]


# -- auth and permissions ----------------------------------------------------------------------------


def test_missing_dns_read_is_403(api: SandboxApi) -> None:
    cf = client(api, "sekrit-no-dns")
    assert cf.zones.get(zone_id=zone_id("example.com")) is not None
    with pytest.raises(cloudflare.PermissionDeniedError) as err:
        cf.dns.records.list(zone_id=zone_id("example.com"))
    assert err.value.response.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    with pytest.raises(cloudflare.PermissionDeniedError):
        cf.zones.settings.edit("ssl", zone_id=zone_id("example.com"), value="strict")
    with pytest.raises(cloudflare.PermissionDeniedError):
        client(api, "sekrit-reader").dns.records.create(
            zone_id=zone_id("example.com"), type="A", name="x", content="192.0.2.1", ttl=1
        )


@pytest.mark.parametrize("token", ["wrong-token", "sekrit-expired", "sekrit-disabled"])
def test_bad_tokens_are_401(api: SandboxApi, token: str) -> None:
    with pytest.raises(cloudflare.AuthenticationError) as err:
        client(api, token).zones.list()
    assert err.value.response.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert api.requests[-1].status == 401


# -- faults, latency, rate limit ------------------------------------------------------------------


def test_429_fault_carries_retry_after(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    api.set_faults([FaultSpec(kind="429", path=r"^/zones$", retry_after=7)])
    with pytest.raises(cloudflare.RateLimitError) as err:
        cf.zones.list()
    assert err.value.response.headers["retry-after"] == "7"
    assert error_codes(err.value) == [971]
    assert cf.zones.get(zone_id=zone_id("example.com")) is not None  # path regex: other routes pass
    assert [(r.path, r.status, r.fault) for r in api.requests][0] == ("/zones", 429, "429")


def test_500_fault_does_not_change_state(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    api.set_faults([FaultSpec(kind="500", method="PATCH", count=1)])
    with pytest.raises(cloudflare.InternalServerError) as err:
        cf.zones.settings.edit("http2", zone_id=zid, value="on")
    assert error_codes(err.value) == [10001]
    assert api.state.setting_value(zid, "http2") == "off"
    edited = cf.zones.settings.edit("http2", zone_id=zid, value="on")  # count=1: used up
    assert edited is not None and edited.value == "on"
    assert [(r.method, r.status, r.fault) for r in api.requests] == [
        ("PATCH", 500, "500"), ("PATCH", 200, None)
    ]  # fmt: skip


def test_reset_fault_is_a_connection_error(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    api.set_faults([FaultSpec(kind="reset", path="dns_records", count=1)])
    with pytest.raises(cloudflare.APIConnectionError):
        cf.dns.records.create(zone_id=zid, type="A", name="lost", content="192.0.2.1", ttl=1)
    assert api.state.records(zid, {"name": "lost.example.com"}) == []
    assert [(r.method, r.status, r.fault) for r in api.requests] == [("POST", 0, "reset")]
    assert cf.dns.records.create(zone_id=zid, type="A", name="lost", content="192.0.2.1", ttl=1)


def test_reset_is_an_rst_not_a_clean_close(api: SandboxApi) -> None:
    api.set_faults([FaultSpec(kind="reset")])
    host, port = api.url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GET /client/v4/ips HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            raw.recv(1024)


def test_faults_are_deterministic_under_a_seed(sandbox_factory: Factory) -> None:
    def statuses(seed: int) -> list[int]:
        faults = [{"kind": "500", "rate": 0.5}]
        api = sandbox_factory(scenario(sandbox={"seed": seed, "faults": faults}))
        with httpx.Client(base_url=api.url, headers={"Authorization": "Bearer sekrit-admin-value"}) as http:
            first = [http.get("zones").status_code for _ in range(24)]
            api.set_faults([FaultSpec(kind="500", rate=0.5)])  # reseeds: same sequence again
            second = [http.get("zones").status_code for _ in range(24)]
        assert first == second
        return first

    run = statuses(42)
    assert run == statuses(42)
    assert {200, 500} == set(run)
    assert run != statuses(7)


def test_latency_is_honoured(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    cf.user.tokens.verify()  # warm the connection
    api.latency_ms = 150
    started = time.perf_counter()
    cf.user.tokens.verify()
    slow = time.perf_counter() - started
    api.latency_ms = 0
    started = time.perf_counter()
    cf.user.tokens.verify()
    fast = time.perf_counter() - started
    assert slow >= 0.15 and fast < 0.1


def test_rate_limit_is_a_sliding_window_per_token(sandbox_factory: Factory) -> None:
    api = sandbox_factory(scenario(sandbox={"rate_limit_requests": 3, "rate_limit_window": 0.4}))
    admin, reader = client(api), client(api, "sekrit-reader")
    for _ in range(3):
        admin.user.tokens.verify()
    with pytest.raises(cloudflare.RateLimitError) as err:
        admin.zones.list()
    assert err.value.response.headers["retry-after"] == "1"
    assert error_codes(err.value) == [971]
    assert reader.user.tokens.verify() is not None  # another token has its own window
    time.sleep(0.45)
    assert admin.user.tokens.verify() is not None


def test_rate_limit_retry_after_counts_down_to_the_oldest_slot(sandbox_factory: Factory) -> None:
    api = sandbox_factory(scenario(sandbox={"rate_limit_requests": 1, "rate_limit_window": 300}))
    admin = client(api)
    admin.user.tokens.verify()
    with pytest.raises(cloudflare.RateLimitError) as err:
        admin.user.tokens.verify()
    assert 299 <= int(err.value.response.headers["retry-after"]) <= 300


# -- the request log ---------------------------------------------------------------------------------


def test_request_log_records_calls_without_token_values(api: SandboxApi, cf: cloudflare.Cloudflare) -> None:
    zid = zone_id("example.com")
    list(cf.dns.records.list(zone_id=zid, type="A"))
    cf.zones.settings.edit("ssl", zone_id=zid, value="full")
    with pytest.raises(cloudflare.AuthenticationError):
        client(api, "wrong-token").zones.list()

    log = api.requests

    assert [(r.method, r.path, r.status, r.token) for r in log] == [
        ("GET", f"/zones/{zid}/dns_records", 200, "admin"),
        ("GET", f"/zones/{zid}/dns_records", 200, "admin"),  # the SDK's empty second page
        ("PATCH", f"/zones/{zid}/settings/ssl", 200, "admin"),
        ("GET", "/zones", 401, None),
    ]
    assert log[0].query == {"type": "A"} and log[1].query == {"type": "A", "page": "2"}
    assert log[2].body == {"value": "full"}
    assert all(earlier.at <= later.at for earlier, later in zip(log, log[1:], strict=False))
    served = httpx.get(api.control_url + "/requests").json()
    assert [entry["path"] for entry in served] == [r.path for r in log]
    everything = json.dumps(served) + repr(log)
    assert not any(value in everything for value in [*TOKEN_VALUES, "wrong-token"])

    assert httpx.delete(api.control_url + "/requests").status_code == 200
    assert api.requests == [] and httpx.get(api.control_url + "/requests").json() == []
    cf.zones.get(zone_id=zid)
    api.clear_log()
    assert api.requests == []


def test_connections_are_kept_alive_across_errors(api: SandboxApi) -> None:
    """One client connection serves success, 401 and 429 answers alike (HTTP/1.1 keep-alive)."""
    api.set_faults([FaultSpec(kind="429", path="^/ips$", count=1)])
    with httpx.Client(base_url=api.url, headers={"Authorization": "Bearer sekrit-admin-value"}) as http:
        responses = [http.get("ips"), http.get("zones"), http.get("zones", headers={"Authorization": "x"})]
        local_ports = {r.extensions["network_stream"].get_extra_info("client_addr") for r in responses}
    assert [r.status_code for r in responses] == [429, 200, 401]
    assert all(r.http_version == "HTTP/1.1" for r in responses)
    assert len(local_ports) == 1


def test_sandbox_binds_loopback_only(sandbox_factory: Factory) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SandboxApi(parse_scenario(scenario()), host="0.0.0.0")
    api = sandbox_factory(scenario())
    assert api.url.startswith("http://127.0.0.1:") and api.url.endswith("/client/v4")
