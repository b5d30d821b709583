"""Account-wide audits for CI: API budget, shards, rate limits, failing zones, suppressions, baselines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cfremedy.audit import SKIP_RULES, AuditOptions, audit
from cfremedy.gateway import CloudflareGateway, RetryPolicy
from cfremedy.models import Report, Zone
from cfremedy.ratelimit import Rate, RateLimiter
from cfremedy.registry import load_registry
from cfremedy.report import report_dict
from cfremedy.sandbox.scenario import FaultSpec
from cfremedy.selection import AccountSelection, Shard
from tests.support import clean_env

TOKEN = "account-token"
PLAYBOOKS = load_registry().playbooks
NO_PROBE = AuditOptions(playbooks=PLAYBOOKS, probe=None)
CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
MODES = ("off", "flexible", "full", "strict")
# What a token needs for every audit read: the zone's own reads, rules, load balancers, tunnels.
READ_EVERYTHING = [
    "Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read", "Origin Rules Read",
    "Cache Rules Read", "Load Balancers Read", "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read",
]  # fmt: skip


def scenario(zones: int, records: int = 5, **sandbox: Any) -> dict[str, Any]:
    return {
        "sandbox": sandbox,
        "tokens": [
            {
                "value": TOKEN,
                "permissions": READ_EVERYTHING,
            }
        ],
        "zones": [
            {
                "name": f"z{i:03d}.example",
                "plan": "enterprise" if i % 5 == 0 else "pro",
                "settings": {"ssl": MODES[i % 4]},
                "generate_records": records,
            }
            for i in range(zones)
        ],
    }


class FakeTime:
    """A clock that only moves when someone sleeps: long waits cost no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def now_utc(self) -> Any:
        from datetime import datetime

        return datetime(2026, 11, 21, tzinfo=UTC)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def run_account(
    url: str,
    scope: AccountSelection = AccountSelection(),
    limiter: RateLimiter | None = None,
    sleep: Any = asyncio.sleep,
) -> tuple[Report, int]:
    async def go() -> tuple[Report, int]:
        async with CloudflareGateway(
            SecretStr(TOKEN),
            url,
            limiter=limiter or RateLimiter(Rate(10**6, 1)),
            sleep=sleep,
            retry=RetryPolicy(backoff=0.01),
        ) as gateway:
            report = await audit(gateway, scope, NO_PROBE)
            return report, gateway.requests_sent

    return asyncio.run(go())


def test_about_four_requests_per_zone(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=120, records=50))
    report, sent = run_account(api.url)
    assert [z.name for z in report.zones] == [f"z{i:03d}.example" for i in range(120)]
    assert all(not z.errors for z in report.zones)
    log = api.requests
    # 3 pages of 50 zones and the account's pools, then per zone: settings, DNS, the rulesets
    # list (the zones have no rules of their own, so no entry point is asked for), Page Rules
    assert len(log) == sent == 3 + 1 + 4 * 120
    assert len(log) / 120 <= 4.1
    assert sum(r.path.endswith("/load_balancers/pools") for r in log) == 1
    assert not any(r.path.endswith(("/entrypoint", "/load_balancers", "/cfd_tunnel")) for r in log)
    assert {r.method for r in log} == {"GET"}
    assert sum(r.path == "/zones" for r in log) == 3
    assert sum(r.path.endswith("/pagerules") for r in log) == 120


def test_two_requests_per_zone_when_no_playbook_needs_the_rules(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=60, records=5))
    no_rules = AuditOptions(playbooks=tuple(p for p in PLAYBOOKS if not p.reads), probe=None)

    async def go() -> int:
        async with CloudflareGateway(SecretStr(TOKEN), api.url, limiter=RateLimiter(Rate(10**6, 1))) as gateway:
            await audit(gateway, AccountSelection(), no_rules)
            return gateway.requests_sent

    assert asyncio.run(go()) == len(api.requests) == 2 + 2 * 60


def test_skip_rules_halves_the_requests_and_says_so(sandbox_factory) -> None:
    """No rules at all: two requests per zone (and the account's pools once)."""
    from dataclasses import replace

    api = sandbox_factory(scenario(zones=20, records=5))
    skipping = replace(NO_PROBE, skip=SKIP_RULES)

    async def go() -> Report:
        async with CloudflareGateway(SecretStr(TOKEN), api.url, limiter=RateLimiter(Rate(10**6, 1))) as gateway:
            return await audit(gateway, AccountSelection(), skipping)

    report = asyncio.run(go())
    assert len(api.requests) == 1 + 1 + 2 * 20
    assert all([e.stage for e in z.errors] == ["rules"] and "--skip-rules" in z.errors[0].message for z in report.zones)


def test_a_token_without_the_rules_permissions_is_judged_zone_wide(sandbox_factory) -> None:
    data = scenario(zones=3)
    for zone in data["zones"]:
        zone["config_rules"] = [{"expression": f'(http.host eq "www.{zone["name"]}")', "ssl": "strict"}]
    data["tokens"][0]["permissions"] = [g for g in READ_EVERYTHING if g != "Config Rules Read"]
    api = sandbox_factory(data)
    report, _ = run_account(api.url)
    assert len(report.zones) == 3
    for zone in report.zones:
        (error,) = zone.errors
        assert error.stage == "rules" and "judged zone-wide" in error.message
        assert "Config Rules Read" in error.message or "Page Rules Read" in error.message


def test_shards_cover_every_zone_exactly_once_with_the_same_findings(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=40))
    whole, _ = run_account(api.url)
    parts = [run_account(api.url, AccountSelection(shard=Shard(i, 4)))[0] for i in range(1, 5)]
    names = [z.name for part in parts for z in part.zones]
    assert sorted(names) == [z.name for z in whole.zones] and len(names) == len(set(names))
    assert all(part.zones for part in parts)  # a hash split, not everything in one shard
    merged = sorted((zone for part in parts for zone in part.zones), key=lambda z: z.name)
    assert report_dict(Report(zones=tuple(merged))) == report_dict(whole)
    assert whole.findings  # the comparison is about something


def test_shard_assignment_is_stable_and_parsed_strictly() -> None:
    zone = Zone(id="023e105f4ecef8ad9ca31a8372d0c353", name="example.com", plan="free")
    assert [Shard(i, 3).owns(zone) for i in (1, 2, 3)].count(True) == 1
    assert Shard.parse("2/4") == Shard(2, 4)
    for bad in ("0/4", "5/4", "a/b", "3"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_zone_globs_select_zones(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=12))
    report, _ = run_account(api.url, AccountSelection(zone_globs=("z00?.example",)))
    assert [z.name for z in report.zones] == [f"z00{i}.example" for i in range(10)]


@pytest.mark.timeout(60)
def test_a_tight_server_rate_limit_is_never_hit(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=10, rate_limit_requests=20, rate_limit_window=2))
    report, sent = run_account(api.url, limiter=RateLimiter(Rate(20, 2)))
    assert sent == 1 + 1 + 4 * 10 and len(report.zones) == 10
    assert [r for r in api.requests if r.status == 429] == []


def test_a_429_with_retry_after_90_pauses_everyone_and_loses_nothing(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=30))
    api.set_faults([FaultSpec(kind="429", count=1, retry_after=90, path="/settings$")])
    time = FakeTime()
    limiter = RateLimiter(Rate(1000, 300), clock=time.clock, sleep=time.sleep)
    report, _ = run_account(api.url, limiter=limiter, sleep=time.sleep)
    assert len(report.zones) == 30 and all(not z.errors for z in report.zones)
    assert [r.status for r in api.requests].count(429) == 1
    assert limiter.waited >= 90 and 90 in time.slept  # beyond the SDK's own 60 s cap


def test_the_limiter_keeps_a_sliding_window() -> None:
    time = FakeTime()
    limiter = RateLimiter(Rate(3, 10), clock=time.clock, sleep=time.sleep)

    async def take(n: int) -> list[float]:
        stamps = []
        for _ in range(n):
            await limiter.acquire()
            stamps.append(time.now - 1000)
            await time.sleep(0.5)  # the request's round trip
            limiter.release()
        return stamps

    stamps = asyncio.run(take(7))
    assert stamps[:3] == [0, 0.5, 1.0]
    # a slot frees a whole window after its response came back, not after the request left
    assert all(later - earlier >= 10.5 for earlier, later in zip(stamps, stamps[3:], strict=False))
    assert Rate.parse("1200/300") == Rate(1200, 300.0)
    for bad in ("1200", "0/5", "a/b", "5/0"):
        with pytest.raises(ValueError):
            Rate.parse(bad)


def test_a_failing_zone_is_reported_and_the_others_complete(sandbox_factory) -> None:
    api = sandbox_factory(scenario(zones=6))
    broken = api.state.zone_by_name("z003.example").id
    api.set_faults([FaultSpec(kind="500", path=f"/zones/{broken}/dns_records")])
    report, _ = run_account(api.url)
    errors = {z.name: z.errors for z in report.zones}
    assert len(report.zones) == 6
    assert [e.stage for e in errors["z003.example"]] == ["api"]
    assert "HTTP 500" in errors["z003.example"][0].message
    assert all(not errs for name, errs in errors.items() if name != "z003.example")


# -- through the CLI: exit codes, determinism, suppressions, baselines, history, diff --------------


def cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CFREMEDY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def account(sandbox_factory, tmp_path: Path) -> tuple[Any, dict[str, str]]:
    """A sandbox of 8 zones and the environment pointing the CLI at it."""
    api = sandbox_factory(scenario(zones=8))
    base = clean_env()
    return api, {
        **base,
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_BASE_URL": api.url,
        "CFREMEDY_STATE_DIR": str(tmp_path / "state"),
    }


def test_json_is_byte_identical_between_runs_except_the_timestamp(account) -> None:
    _, env = account
    first = cli(["audit", "account", "--format", "json"], env)
    second = cli(["audit", "account", "--format", "json"], env)
    assert first.returncode == second.returncode == 0  # medium findings only (--fail-on high)
    assert json.loads(first.stdout)["summary"]["by_severity"] == {"medium": 4}

    def without_timestamp(text: str) -> list[str]:
        return [line for line in text.splitlines() if '"generated_at"' not in line]

    assert without_timestamp(first.stdout) == without_timestamp(second.stdout)
    assert len(without_timestamp(first.stdout)) == len(first.stdout.splitlines()) - 1


def test_a_failing_zone_makes_the_cli_exit_3_after_reporting_the_others(account) -> None:
    api, env = account
    api.set_faults([FaultSpec(kind="500", path=f"/zones/{api.state.zone_by_name('z005.example').id}/settings")])
    proc = cli(["audit", "account", "--format", "json"], env)
    assert proc.returncode == 3
    report = json.loads(proc.stdout)
    assert len(report["zones"]) == 8
    assert [z["name"] for z in report["zones"] if z["errors"]] == ["z005.example"]
    assert "1 zone(s) could not be audited: z005.example" in proc.stderr


def test_suppressions_are_counted_not_hidden(account, tmp_path: Path) -> None:
    _, env = account
    (tmp_path / "cfremedy.toml").write_text(
        '[[ignore]]\nplaybook = "ssl_origin_cert"\nzone = "z00[0-3].example"\n'
        'reason = "moving to strict in Q1"\nuntil = 2999-01-01\n\n'
        '[[ignore]]\nplaybook = "*"\nzone = "z004.example"\nreason = "old"\nuntil = 2001-01-01\n'
    )
    proc = cli(["audit", "account", "--format", "json", "--fail-on", "medium"], env, cwd=tmp_path)
    report = json.loads(proc.stdout)
    suppressed = {z["name"]: f["suppressed"] for z in report["zones"] for f in z["findings"] if "suppressed" in f}
    assert set(suppressed) == {"z000.example", "z001.example"}  # ssl off and flexible
    assert suppressed["z000.example"] == {
        "reason": "moving to strict in Q1",
        "rule": "cfremedy.toml ignore[1]",
        "until": "2999-01-01",
    }
    assert report["summary"]["suppressed"] == 2 and report["summary"]["findings"] == 2
    assert "cfremedy.toml ignore[2] expired on 2001-01-01" in proc.stderr
    assert proc.returncode == 1  # z004 and z005 (off, flexible) still count
    bad = tmp_path / "bad.toml"
    bad.write_text('[[ignore]]\nplaybook = "x"\nresaon = "typo"\n')
    refused = cli(["audit", "account", "--config", str(bad)], env)
    assert refused.returncode == 2 and "ignore.0.reason" in refused.stderr


def test_baseline_reports_only_new_findings(account, tmp_path: Path) -> None:
    api, env = account
    first = json.loads(cli(["audit", "account", "--format", "json"], env).stdout)
    assert first["summary"]["findings"] == 4
    again = cli(["audit", "account", "--format", "json", "--baseline", "last", "--fail-on", "medium"], env)
    report = json.loads(again.stdout)
    assert again.returncode == 0 and report["summary"]["findings"] == 0
    assert report["summary"]["baseline"]["known_findings_left_out"] == 4
    api.state.set_setting(api.state.zone_by_name("z002.example").id, "ssl", "off")  # a regression
    newer = cli(["audit", "account", "--format", "json", "--baseline", "last", "--fail-on", "medium"], env)
    assert newer.returncode == 1
    assert [(z["name"], f["playbook"]) for z in json.loads(newer.stdout)["zones"] for f in z["findings"]] == [
        ("z002.example", "ssl_origin_cert")
    ]
    baseline_file = tmp_path / "baseline.json"
    baseline_file.write_text(json.dumps(first))
    from_file = json.loads(cli(["audit", "account", "--format", "json", "--baseline", str(baseline_file)], env).stdout)
    assert from_file["summary"]["findings"] == 1


def test_history_and_diff_show_drift_over_time(account) -> None:
    api, env = account
    cli(["audit", "account", "--format", "json"], env)
    zone_id = api.state.zone_by_name("z002.example").id
    api.state.set_setting(zone_id, "ssl", "off")
    api.state.set_setting(api.state.zone_by_name("z001.example").id, "ssl", "strict")
    cli(["audit", "account", "--format", "json"], env)
    history = json.loads(cli(["history", "--format", "json"], env).stdout)
    assert [a["scope"] for a in history["audits"]] == ["all zones", "all zones"]
    assert history["audits"][0]["summary"]["zones"] == 8
    diff = json.loads(cli(["diff", "--format", "json"], env).stdout)
    assert [(f["zone"], f["playbook"]) for f in diff["new_findings"]] == [("z002.example", "ssl_origin_cert")]
    assert [(f["zone"], f["playbook"]) for f in diff["resolved_findings"]] == [("z001.example", "ssl_origin_cert")]
    older, newer = history["audits"][1]["id"], history["audits"][0]["id"]
    explicit = json.loads(cli(["diff", older, newer, "--format", "json"], env).stdout)
    assert explicit["new_findings"] == diff["new_findings"]
    table = cli(["diff", "--format", "table"], env).stdout
    assert "New findings (1):" in table and "Resolved findings (1):" in table


def test_progress_is_redrawn_on_a_terminal_and_logged_by_deciles_otherwise(monkeypatch, caplog) -> None:
    import io
    import logging

    from cfremedy.cli import console

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(console.sys, "stderr", terminal)
    line = console.ProgressLine("zones audited")
    for done in range(1, 4):
        line.update(done, 3)
    line.close()
    assert terminal.getvalue() == (
        "\rcfremedy: 1/3 zones audited\rcfremedy: 2/3 zones audited\rcfremedy: 3/3 zones audited\n"
    )

    monkeypatch.setattr(console.sys, "stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger="cfremedy.progress")
    quiet = console.ProgressLine("zones audited")
    for done in range(1, 101):
        quiet.update(done, 100)
    # the first zone, then every tenth: a CI log shows the run is alive without 100 lines
    assert [r.getMessage() for r in caplog.records] == [f"{n}/100 zones audited" for n in (1, *range(10, 101, 10))]


def test_the_cli_writes_valid_sarif_junit_and_markdown_from_one_audit(account, tmp_path: Path) -> None:
    import jsonschema
    import xmlschema

    from tests.support import JUNIT_XSD, SARIF_SCHEMA

    api, env = account
    api.set_faults([FaultSpec(kind="500", path=f"/zones/{api.state.zone_by_name('z006.example').id}/settings")])
    api.clear_log()
    proc = cli(
        [
            "audit",
            "account",
            "--output",
            f"sarif:{tmp_path / 'r.sarif'}",
            "--output",
            f"junit:{tmp_path / 'r.xml'}",
            "--output",
            f"markdown:{tmp_path / 'r.md'}",
            "--output",
            str(tmp_path / "r.json"),
        ],
        env,
    )
    assert proc.returncode == 3 and proc.stdout == ""
    # one audit for four formats: the zone list, the account's pools, 4 reads per zone (+3: the
    # retried 500s)
    assert len(api.requests) == 1 + 1 + 4 * 8 + 3
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == 4
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False  # z006 failed
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "r.xml"))
    markdown = (tmp_path / "r.md").read_text()
    assert "z006.example" in markdown and "| 8 | 4 |" in markdown
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["errors"] == 1


def test_an_audit_that_selects_no_zone_is_not_a_green_build(account) -> None:
    _, env = account
    typo = cli(["audit", "account", "--zone", "shpo.*"], env)
    assert typo.returncode == 2 and "none of the 8 zone(s) the token can see is selected" in typo.stderr


def test_graphql_queries_have_their_own_budget(sandbox_factory) -> None:
    """300 GraphQL queries per 5 minutes, whatever the REST limiter allows."""
    from cfremedy.gateway import GRAPHQL_RATE

    api = sandbox_factory(
        {
            **scenario(zones=1),
            "tokens": [
                {"value": TOKEN, "permissions": ["Zone Read", "Zone Settings Read", "DNS Read", "Analytics Read"]}
            ],
        }
    )
    time = FakeTime()

    async def go() -> list[float]:
        graphql = RateLimiter(GRAPHQL_RATE, clock=time.clock, sleep=time.sleep)
        async with CloudflareGateway(
            SecretStr(TOKEN), api.url, sleep=time.sleep, graphql_limiter=graphql, limiter=RateLimiter(Rate(10**6, 1))
        ) as gateway:
            zone = await gateway.zone_by_name("z000.example")
            stamps = []
            for _ in range(GRAPHQL_RATE.requests + 2):
                await gateway.error_counts([zone], time.now_utc(), time.now_utc())
                stamps.append(time.now)
            return stamps

    stamps = asyncio.run(go())
    assert stamps[GRAPHQL_RATE.requests - 1] == stamps[0]  # the first 250 go straight through
    assert stamps[GRAPHQL_RATE.requests] - stamps[0] >= GRAPHQL_RATE.window  # the 251st waits


def test_ips_and_pages_projects_are_read_once_per_run(sandbox_factory, tmp_path: Path) -> None:
    from cfremedy.inventory import parse_inventory

    allowlist = tmp_path / "allow.conf"
    allowlist.write_text("allow 173.245.48.0/20;\n")
    data = scenario(zones=6)
    data["tokens"][0]["permissions"].append("Cloudflare Pages Read")
    for zone in data["zones"]:
        zone["records"] = [{"type": "CNAME", "name": "docs", "content": "site.pages.dev", "proxied": True}]
    data["pages_projects"] = [{"name": "site", "domains": ["docs.z000.example"]}]
    api = sandbox_factory(data)
    inventory = parse_inventory({"zones": {z["name"]: {"allowlist_files": [str(allowlist)]} for z in data["zones"]}})
    report, _ = asyncio.run(_audit(api.url, AuditOptions(playbooks=PLAYBOOKS, probe=None, inventory=inventory)))
    assert sum(r.path == "/ips" for r in api.requests) == 1
    assert sum(r.path.endswith("/pages/projects") for r in api.requests) == 1
    pages = [(z.name, f.resource) for z in report.zones for f in z.findings if f.playbook == "pages_custom_domain"]
    assert pages == [(f"z00{i}.example", f"docs.z00{i}.example") for i in range(1, 6)]  # z000's is attached
    assert all(any(f.playbook == "cloudflare_ips_allowlist" for f in z.findings) for z in report.zones)


async def _audit(url: str, options: AuditOptions) -> tuple[Report, int]:
    async with CloudflareGateway(SecretStr(TOKEN), url, limiter=RateLimiter(Rate(10**6, 1))) as gateway:
        return await audit(gateway, AccountSelection(), options), gateway.requests_sent


def test_playbook_options_come_from_cfremedy_toml_strictly() -> None:
    from cfremedy.config import parse_config
    from cfremedy.errors import UsageError

    assert parse_config({"playbooks": {"origin_cert_expiry": {"days": 30}}}, "t.toml").playbook_options == {
        "origin_cert_expiry": {"days": 30}
    }
    assert parse_config({"playbooks": {"origin_cert_expiry": {}}}, "t.toml").playbook_options == {
        "origin_cert_expiry": {}
    }  # the playbook's own default (21) then applies
    for bad in (
        {"origin_cert_expiry": {"days": "30"}},
        {"origin_cert_expiry": {"dayz": 30}},
        {"origin_cert_expirey": {"days": 30}},
        {"origin_cert_expiry": {"days": 0}},
    ):
        with pytest.raises(UsageError, match="t.toml"):
            parse_config({"playbooks": bad}, "t.toml")
