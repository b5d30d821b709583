"""Configuration Rules, Page Rules and Pages projects: the sandbox's routes read by the gateway.

The gateway uses the real `cloudflare` SDK over real HTTP against the sandbox (docs/architecture.md, "Testing"). The
response shapes themselves are validated against the OpenAPI document in
`test_sandbox_openapi.py`; here: what the gateway makes of them, what it costs, and how it fails.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from cfremedy.errors import MissingPermission, NotFound
from cfremedy.gateway import CloudflareGateway, RetryPolicy
from cfremedy.models import PagesProject, SslRule, Zone
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import (
    DEFAULT_ACCOUNT,
    FaultSpec,
    ScenarioError,
    load_scenario,
    parse_scenario,
    stable_id,
)

T = TypeVar("T")

BASE = ["Zone Read", "Zone Settings Read", "DNS Read"]
RULES = ["Config Rules Read", "Page Rules Read"]
OTHER_ACCOUNT = "acc00000000000000000000000000002"
ZONE = stable_id("zone", "example.com")
PLAIN = stable_id("zone", "plain.example")
FIXED_ID = "0123456789abcdef0123456789abcdef"

TOKENS = [
    {"name": "full", "value": "tok-full", "permissions": [*BASE, *RULES, "Cloudflare Pages Read"]},
    {"name": "base", "value": "tok-base", "permissions": BASE},
    {"name": "no-config-rules", "value": "tok-no-config", "permissions": [*BASE, "Page Rules Read"]},
    {"name": "no-zone-read", "value": "tok-no-zone-read",
     "permissions": ["Config Rules Read", "Cloudflare Pages Read"]},
    {"name": "scoped", "value": "tok-scoped", "permissions": [*BASE, *RULES, "Cloudflare Pages Read"],
     "zones": ["example.com"]},
]  # fmt: skip


def scenario(projects: int = 23, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tokens": TOKENS,
        "zones": [
            {"name": "example.com", "settings": {"ssl": "strict"},
             "records": [{"name": "www", "content": "203.0.113.10", "proxied": True}],
             "config_rules": [
                 {"expression": '(http.host eq "api.example.com")', "ssl": "flexible",
                  "description": "api in flexible"},
                 {"expression": '(http.request.uri.path wildcard "/static/*")'},  # no ssl: left out
                 {"expression": '(http.host eq "old.example.com")', "ssl": "off", "enabled": False,
                  "id": FIXED_ID},
             ],
             "page_rules": [
                 {"url": "*legacy.example.com/*", "ssl": "full", "priority": 1},
                 {"url": "example.com/images/*", "priority": 4},  # browser_check: left out
                 {"url": "http://shop.example.com/*", "ssl": "flexible", "priority": 3,
                  "status": "disabled"},
                 {"url": "*.example.com/*", "ssl": "strict", "priority": 2},
             ]},
            {"name": "plain.example", "records": [{"name": "@", "content": "203.0.113.20"}]},
        ],
        "pages_projects": [
            *[{"name": f"site-{i:02d}", "domains": [f"site-{i:02d}.example.com"]}
              for i in range(projects)],
            {"name": "elsewhere", "account": OTHER_ACCOUNT, "domains": ["Docs.Other.ORG."]},
        ],
    }  # fmt: skip
    base.update(extra)
    return base


def run(url: str, token: str, use: Callable[[CloudflareGateway], Awaitable[T]], **kwargs: Any) -> T:
    async def go() -> T:
        async with CloudflareGateway(SecretStr(token), url, **kwargs) as gateway:
            return await use(gateway)

    return asyncio.run(go())


async def ssl_rules(gw: CloudflareGateway, zone: Zone) -> tuple[SslRule, ...]:
    """Configuration Rules, then Page Rules: what the audit reads for the SSL playbooks."""
    config, pages = await asyncio.gather(gw.config_ssl_rules(zone), gw.page_ssl_rules(zone))
    return config + pages


def zone_of(zone_id: str = ZONE, name: str = "example.com") -> Zone:
    return Zone(id=zone_id, name=name, plan="free", account_id=DEFAULT_ACCOUNT)


@pytest.fixture
def api(sandbox_factory: Any) -> SandboxApi:
    return sandbox_factory(scenario())


# -- SSL rules -----------------------------------------------------------------------------------


def test_rules_that_set_ssl_come_back_in_evaluation_order(api: SandboxApi) -> None:
    rules = run(api.url, "tok-full", lambda gw: ssl_rules(gw, zone_of()))

    assert rules == (
        SslRule(source="config_rule", id=stable_id(ZONE, "config_rule", '(http.host eq "api.example.com")', "0"),
                mode="flexible", description="api in flexible",
                expression='(http.host eq "api.example.com")', enabled=True, position=0),
        SslRule(source="config_rule", id=FIXED_ID, mode="off",
                expression='(http.host eq "old.example.com")', enabled=False, position=2),
        # Page Rules as the API lists them, highest priority first; positions count every rule.
        SslRule(source="page_rule", id=stable_id(ZONE, "page_rule", "http://shop.example.com/*", "2"),
                mode="flexible", url_pattern="http://shop.example.com/*", enabled=False, position=1),
        SslRule(source="page_rule", id=stable_id(ZONE, "page_rule", "*.example.com/*", "3"),
                mode="strict", url_pattern="*.example.com/*", enabled=True, position=2),
        SslRule(source="page_rule", id=stable_id(ZONE, "page_rule", "*legacy.example.com/*", "0"),
                mode="full", url_pattern="*legacy.example.com/*", enabled=True, position=3),
    )  # fmt: skip
    paths = sorted((r.path, tuple(sorted(r.query.items()))) for r in api.requests)
    assert paths == [
        (f"/zones/{ZONE}/pagerules", (("direction", "desc"), ("order", "priority"))),
        (f"/zones/{ZONE}/rulesets/phases/http_config_settings/entrypoint", ()),
    ]
    assert {r.status for r in api.requests} == {200}


def test_a_zone_without_configuration_rules_has_no_entrypoint_and_that_is_not_an_error(
    api: SandboxApi,
) -> None:
    rules = run(api.url, "tok-full", lambda gw: ssl_rules(gw, zone_of(PLAIN, "plain.example")))

    assert rules == ()
    entry = next(r for r in api.requests if "rulesets" in r.path)
    assert entry.status == 404  # the API's 10003 "could not find entrypoint ruleset"


def test_only_page_rules_when_there_are_no_configuration_rules(sandbox_factory: Any) -> None:
    data = scenario()
    data["zones"][0] = {**data["zones"][0], "config_rules": []}
    api = sandbox_factory(data)
    rules = run(api.url, "tok-full", lambda gw: ssl_rules(gw, zone_of()))
    assert [(r.source, r.url_pattern) for r in rules] == [
        ("page_rule", "http://shop.example.com/*"),
        ("page_rule", "*.example.com/*"),
        ("page_rule", "*legacy.example.com/*"),
    ]


def test_a_404_about_the_zone_itself_is_an_error_not_an_empty_rule_list(api: SandboxApi) -> None:
    missing = zone_of("0" * 32, "gone.example")
    with pytest.raises(NotFound, match="code 7003"):
        run(api.url, "tok-full", lambda gw: ssl_rules(gw, missing))


def test_a_token_without_config_rules_read_gets_the_group_named(api: SandboxApi) -> None:
    with pytest.raises(MissingPermission) as caught:
        run(api.url, "tok-no-config", lambda gw: ssl_rules(gw, zone_of()))
    assert caught.value.permission == "Config Rules Read"
    assert "'Config Rules Read'" in caught.value.message and "example.com" in caught.value.message
    assert "tok-no-config" not in caught.value.message


def test_a_token_without_page_rules_read_gets_the_group_named(api: SandboxApi) -> None:
    # Page Rules need `#zone:read` (the OpenAPI document's key), which "Page Rules Read" grants.
    with pytest.raises(MissingPermission) as caught:
        run(api.url, "tok-no-zone-read", lambda gw: ssl_rules(gw, zone_of()))
    assert caught.value.permission == "Page Rules Read"
    assert "Page Rules" in caught.value.message


def test_transient_failures_of_the_rule_reads_are_retried(api: SandboxApi) -> None:
    api.set_faults(
        [FaultSpec(kind="500", count=1, path="/entrypoint$"), FaultSpec(kind="reset", count=1, path="/pagerules$")]
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    rules = run(api.url, "tok-full", lambda gw: ssl_rules(gw, zone_of()), sleep=sleep, retry=RetryPolicy(attempts=3))
    assert len(rules) == 5 and len(waits) == 2
    assert sorted(r.status for r in api.requests) == [0, 200, 200, 500]


# -- the snapshot ----------------------------------------------------------------------------------


def _read(gw: CloudflareGateway, name: str, needs_rules: bool) -> Any:
    """The audit's read of a zone, for playbooks that need the SSL rules or for none (no probes:
    the routes' own reads are other tests' business)."""
    from cfremedy.audit import AuditOptions, read_zone
    from cfremedy.registry import load_registry

    playbooks = tuple(
        p
        for p in load_registry().playbooks
        if ("ssl_rules" in p.reads) == needs_rules and not (set(p.reads) - {"ssl_rules"})
    )

    async def go() -> Any:
        return await read_zone(gw, await gw.zone_by_name(name), AuditOptions(playbooks=playbooks, probe=None))

    return go()


def test_reading_the_rules_costs_three_more_requests_when_the_zone_has_configuration_rules(api: SandboxApi) -> None:
    plain, _ = run(api.url, "tok-full", lambda gw: _read(gw, "example.com", False))
    without = len(api.requests)
    api.clear_log()
    with_rules, errors = run(api.url, "tok-full", lambda gw: _read(gw, "example.com", True))

    assert plain.ssl_rules is None  # not read: not the same as "none"
    # the rulesets list (which phases exist), the Configuration Rules entry point, Page Rules
    assert len(api.requests) == without + 3 == 6 and errors == []
    assert sorted(r.path.rsplit("/", 1)[-1] for r in api.requests)[:3] == ["dns_records", "entrypoint", "pagerules"]
    assert {r.method for r in api.requests} == {"GET"}
    assert with_rules.ssl_rules is not None and len(with_rules.ssl_rules) == 5
    assert with_rules.records == plain.records and with_rules.settings == plain.settings
    assert with_rules.setting("ssl") == "strict"


def test_a_zone_without_rules_reads_as_none_not_unknown_for_two_requests(api: SandboxApi) -> None:
    with_rules, errors = run(api.url, "tok-full", lambda gw: _read(gw, "plain.example", True))
    assert with_rules.ssl_rules == () and errors == []
    # the zone, settings, DNS, the rulesets list (no entry point: none asked for), Page Rules
    assert len(api.requests) == 1 + 4
    assert not any(r.path.endswith("/entrypoint") for r in api.requests)


# -- Pages projects --------------------------------------------------------------------------------


def test_pages_projects_are_read_across_pages_until_total_pages(api: SandboxApi) -> None:
    projects = run(api.url, "tok-full", lambda gw: gw.pages_projects(DEFAULT_ACCOUNT))

    assert [p.name for p in projects] == [f"site-{i:02d}" for i in range(23)]
    assert projects[0] == PagesProject(name="site-00", subdomain="site-00.pages.dev", domains=("site-00.example.com",))
    log = api.requests
    assert [(r.path, r.query.get("page"), r.query.get("per_page")) for r in log] == [
        (f"/accounts/{DEFAULT_ACCOUNT}/pages/projects", str(n), "10") for n in (1, 2, 3)
    ]


def test_a_full_last_page_is_not_followed_by_an_empty_one(sandbox_factory: Any) -> None:
    api = sandbox_factory(scenario(projects=20))
    projects = run(api.url, "tok-full", lambda gw: gw.pages_projects(DEFAULT_ACCOUNT))
    assert len(projects) == 20 and len(api.requests) == 2  # total_pages says 2


def test_an_account_without_projects_costs_one_request(sandbox_factory: Any) -> None:
    api = sandbox_factory(scenario(projects=0))
    assert run(api.url, "tok-full", lambda gw: gw.pages_projects(DEFAULT_ACCOUNT)) == ()
    assert len(api.requests) == 1


def test_project_domains_and_subdomain_are_normalised(api: SandboxApi) -> None:
    projects = run(api.url, "tok-full", lambda gw: gw.pages_projects(OTHER_ACCOUNT))
    assert projects == (PagesProject(name="elsewhere", subdomain="elsewhere.pages.dev", domains=("docs.other.org",)),)


def test_a_token_without_pages_read_gets_the_group_named(api: SandboxApi) -> None:
    with pytest.raises(MissingPermission) as caught:
        run(api.url, "tok-base", lambda gw: gw.pages_projects(DEFAULT_ACCOUNT))
    assert caught.value.permission == "Cloudflare Pages Read"
    assert DEFAULT_ACCOUNT in caught.value.message


def test_an_account_the_token_cannot_see_is_refused(api: SandboxApi) -> None:
    # "scoped" sees example.com, so its account, but not the account that has no zone of it.
    assert len(run(api.url, "tok-scoped", lambda gw: gw.pages_projects(DEFAULT_ACCOUNT))) == 23
    with pytest.raises(MissingPermission):
        run(api.url, "tok-scoped", lambda gw: gw.pages_projects(OTHER_ACCOUNT))
    assert api.requests[-1].status == 403


class _StuckProjects(BaseHTTPRequestHandler):
    """Answers every page of projects with the same full page, claiming many more."""

    protocol_version = "HTTP/1.1"
    totals = True
    requests = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        query = parse_qs(urlsplit(self.path).query)
        per_page = int(query["per_page"][0])
        result = [{"name": f"p{i}", "subdomain": f"p{i}.pages.dev", "domains": []} for i in range(per_page)]
        info: dict[str, int] = {"page": int(query["page"][0]), "per_page": per_page, "count": per_page}
        if self.totals:
            info |= {"total_pages": 10**9, "total_count": 10**12}
        body = json.dumps(
            {"success": True, "errors": [], "messages": [], "result": result, "result_info": info}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["lying-totals", "no-totals"])
def stuck(request: pytest.FixtureRequest) -> Iterator[tuple[str, type[_StuckProjects]]]:
    handler = type("Handler", (_StuckProjects,), {"totals": request.param, "requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/client/v4", handler
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(30)
def test_a_server_repeating_a_page_of_projects_does_not_loop_forever(stuck: Any) -> None:
    url, handler = stuck
    projects = run(url, "any-token", lambda gw: gw.pages_projects("acc"))
    assert len(projects) == 10
    assert handler.requests == 2  # page 1, then page 2 is seen to repeat it


# -- scenarios -------------------------------------------------------------------------------------


def test_rules_and_projects_in_a_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("""
[[zones]]
name = "example.com"

[[zones.config_rules]]
expression = '(http.host eq "api.example.com")'
ssl = "flexible"
description = "API origin has no certificate"

[[zones.page_rules]]
url = "*legacy.example.com/*"
ssl = "off"
priority = 2
status = "disabled"

[[pages_projects]]
name = "docs"
domains = ["docs.example.com"]
""")
    loaded = load_scenario(path)
    zone = loaded.zones[0]
    assert zone.config_rules[0].ssl == "flexible" and zone.config_rules[0].enabled is True
    assert (zone.page_rules[0].priority, zone.page_rules[0].status) == (2, "disabled")
    project = loaded.pages_projects[0]
    assert (project.account, project.pages_subdomain) == (DEFAULT_ACCOUNT, "docs.pages.dev")


@pytest.mark.parametrize("zone, where", [
    ({"config_rules": [{"expression": "true", "ssl": "strictest"}]}, "zones.0.config_rules.0.ssl"),
    ({"config_rules": [{"expression": "true", "colour": "red"}]}, "zones.0.config_rules.0.colour"),
    ({"page_rules": [{"url": "not a pattern", "ssl": "full"}]}, "zones.0.page_rules.0.url"),
    ({"page_rules": [{"url": "*.example.com/*", "status": "paused"}]}, "zones.0.page_rules.0.status"),
    ({"page_rules": [{"url": "*.example.com/*", "id": "short"}]}, "zones.0.page_rules.0.id"),
])  # fmt: skip
def test_bad_rules_name_their_key(zone: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError, match="^test: " + re.escape(where) + ": "):
        parse_scenario({"zones": [{"name": "example.com", **zone}]}, "test")


def test_duplicate_pages_projects_are_refused() -> None:
    with pytest.raises(ScenarioError, match="Pages project docs appears twice"):
        parse_scenario({"pages_projects": [{"name": "docs"}, {"name": "docs"}]}, "test")
    with pytest.raises(ScenarioError, match="pages_projects.0.name"):
        parse_scenario({"pages_projects": [{"name": "Docs Site"}]}, "test")
    twice = parse_scenario({"pages_projects": [{"name": "docs"}, {"name": "docs", "account": OTHER_ACCOUNT}]})
    assert len(twice.pages_projects) == 2  # one name in two accounts is fine
