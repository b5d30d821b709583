"""The sandbox's audit log: every edit, through the API or behind its back, is written the way
Cloudflare writes it, and what `GET /accounts/{id}/audit_logs` answers about edits validates
against the OpenAPI document (the route's other cases are in `test_openapi.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from referencing import Registry

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import RecordSpec, parse_scenario
from tests.sandbox.test_openapi import registry, validate_response

__all__ = ["registry"]  # the fixture, shared with the OpenAPI tests

SCENARIO = {
    "tokens": [{"name": "writer", "value": "tok", "permissions": ["Zone Read", "Zone Settings Write", "DNS Write",
                                                                  "Account Settings Read"]}],
    "zones": [
        {"name": "one.example", "records": [{"name": "www", "content": "192.0.2.1", "id": "r" * 32}]},
        {"name": "two.example"},
    ],
}  # fmt: skip
ACCOUNT = "acc00000000000000000000000000001"


@pytest.fixture
def api() -> Iterator[SandboxApi]:
    with SandboxApi(parse_scenario(SCENARIO, "audit log test")) as started:
        yield started


@pytest.fixture
def client(api: SandboxApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, headers={"Authorization": "Bearer tok"}) as started:
        yield started


def entries(client: httpx.Client, openapi_doc: dict[str, Any], registry: Registry, **query: str) -> list[Any]:
    path = f"/accounts/{ACCOUNT}/audit_logs"
    answer = client.get(path.lstrip("/"), params={"direction": "asc", "since": "2025-01-01", **query})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    validate_response(openapi_doc, registry, "GET", path, 200, body)
    return list(body["result"])


def test_api_writes_are_logged_per_record_and_setting(
    api: SandboxApi, client: httpx.Client, openapi_doc: dict[str, Any], registry: Registry
) -> None:
    zone = api.state.zone_by_name("one.example").id
    client.patch(f"zones/{zone}/settings/ssl", json={"value": "strict"}).raise_for_status()
    created = client.post(f"zones/{zone}/dns_records", json={"type": "A", "name": "api", "content": "192.0.2.9"})
    new_id = created.json()["result"]["id"]
    client.patch(f"zones/{zone}/dns_records/{'r' * 32}", json={"content": "192.0.2.2"}).raise_for_status()
    client.delete(f"zones/{zone}/dns_records/{new_id}").raise_for_status()
    batch = {
        "posts": [
            {"type": "A", "name": "b1", "content": "192.0.2.3"},
            {"type": "A", "name": "b2", "content": "192.0.2.4"},
        ]
    }
    client.post(f"zones/{zone}/dns_records/batch", json=batch).raise_for_status()
    client.patch(f"zones/{zone}/settings/ssl", json={"value": "nonsense"})  # refused: nothing logged

    logged = entries(client, openapi_doc, registry)
    assert [(e["action"]["type"], e["resource"]["type"]) for e in logged] == [
        ("update", "zone"),
        ("rec_add", "DNS_record"),
        ("rec_set", "DNS_record"),
        ("rec_del", "DNS_record"),
        ("rec_add", "DNS_record"),
        ("rec_add", "DNS_record"),
    ]
    assert {e["interface"] for e in logged} == {"API"}
    assert {e["metadata"]["zone_name"] for e in logged} == {"one.example"}
    assert logged[0]["metadata"]["setting"] == "ssl" and logged[0]["newValue"] == '"strict"'
    assert logged[2]["resource"]["id"] == "r" * 32 and logged[2]["metadata"]["content"] == "192.0.2.2"
    assert [e["when"] for e in logged] == sorted(e["when"] for e in logged)


def test_changes_behind_the_apis_back_are_logged_as_the_dashboards(
    api: SandboxApi, client: httpx.Client, openapi_doc: dict[str, Any], registry: Registry
) -> None:
    two = api.state.zone_by_name("two.example")
    api.state.set_setting(two.id, "ssl", "off")
    api.state.add_record(two.id, RecordSpec(name="dash", content="192.0.2.7"))
    api.state.log_change(ACCOUNT, "create", "worker_route", "w1")
    logged = entries(client, openapi_doc, registry)
    assert [(e["action"]["type"], e["interface"], e["metadata"].get("zone_name")) for e in logged] == [
        ("update", "UI", "two.example"),
        ("rec_add", "UI", "two.example"),
        ("create", "UI", None),
    ]
    assert entries(client, openapi_doc, registry, **{"zone.name": "two.example"}) == logged[:2]


def test_the_log_starts_with_each_zones_creation_and_can_be_forgotten(
    api: SandboxApi, client: httpx.Client, openapi_doc: dict[str, Any], registry: Registry
) -> None:
    first = entries(client, openapi_doc, registry, since="2020-01-01")
    assert [(e["action"]["type"], e["metadata"]["zone_name"]) for e in first] == [
        ("zone_create", "one.example"),
        ("zone_create", "two.example"),
    ]
    api.state.forget_audit_log()
    assert entries(client, openapi_doc, registry, since="2020-01-01") == []
