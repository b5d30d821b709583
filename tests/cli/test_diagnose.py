"""`cfremedy diagnose` and `cfremedy errors`, end to end against the sandbox's API, edge and origins.

The sandbox edge answers like Cloudflare's (branded 52x pages, cf-ray, /cdn-cgi/trace, an origin's
own unbranded 502), the API serves GraphQL Analytics, and the stand-in origins misbehave the way
the demo scenario says. Everything runs through the installed `cfremedy` command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import TokenSpec, load_scenario, parse_scenario
from cfremedy.sandbox.session import SandboxSession

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "CFREMEDY_"))}
COOKIE = "demo-cookie-value"


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CFREMEDY, *args], env={**BASE_ENV, **env}, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    scenario = load_scenario("demo")
    no_analytics = TokenSpec(
        name="no-analytics",
        value="no-analytics-token",
        permissions=(
            "Zone Read",
            "Zone Settings Read",
            "DNS Read",
            "Config Rules Read",
            "Page Rules Read",
            "Cloudflare Pages Read",
        ),
    )
    with SandboxSession(scenario.model_copy(update={"tokens": scenario.tokens + (no_analytics,)})) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession) -> dict[str, str]:
    demo.api.clear_log()
    return demo.env()


def diagnose(
    env: dict[str, str], url: str, bundle: Path | None = None, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    args = ["diagnose", url, "--format", "json", "--probe-timeout", "1", *extra]
    if bundle is not None:
        args += ["--bundle", str(bundle)]
    proc = run(args, env)
    return proc, json.loads(proc.stdout) if proc.stdout else {}


@pytest.mark.parametrize(
    "url, code, title, playbook, resource, collect",
    [
        ("http://www.blog.example/", 526, "Invalid SSL certificate", "ssl_origin_cert", "www.blog.example", None),
        (
            "http://api.shop.example/export",
            520,
            "Web server returns an unknown error",
            "http2_to_origin",
            "api.shop.example",
            "HAR files",
        ),
        (
            "http://files.static.example/",
            522,
            "Connection timed out",
            "origin_ip",
            "files.static.example",
            "MTR or traceroute",
        ),
    ],
)
def test_a_cloudflare_5xx_is_named_checked_and_bundled(
    env: dict[str, str],
    tmp_path: Path,
    url: str,
    code: int,
    title: str,
    playbook: str,
    resource: str,
    collect: str | None,
) -> None:
    proc, report = diagnose(env, url, tmp_path / "bundle")
    assert proc.returncode == 1, proc.stderr  # a 5xx was observed
    bundle = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert bundle == report  # what was printed is what was bundled
    error = bundle["error"]
    assert error["status"] == code and error["generated_by"] == "cloudflare" and error["cloudflare_branded"]
    assert str(code) in error["message"]  # the page's own title, e.g. "host | 526: Invalid SSL certificate"
    assert re.fullmatch(r"[0-9a-f]{16}-SJC", error["cf_ray"])
    assert bundle["url"] == url
    assert bundle["time_utc"].endswith("Z") and re.search(r"\(\w+\)$", bundle["time_local"])
    assert bundle["cdn_cgi_trace"]["fields"]["h"] == url.split("/")[2]
    assert bundle["cdn_cgi_trace"]["fields"]["colo"] == "SJC"
    section = bundle["diagnosis"]["section"]
    assert section["code"] == code and section["url"].endswith(f"#error-{code}-" + title.lower().replace(" ", "-"))
    assert bundle["diagnosis"]["likely_causes"] and bundle["diagnosis"]["checks"]
    # every playbook that prevents this code runs, and no other
    assert bundle["playbooks"]["run"] == related(code) and playbook in related(code)
    assert any(
        f["playbook"] == playbook and f["resource"] == resource and code in f["error_codes"]
        for f in bundle["playbooks"]["findings"]
    )
    if collect:
        assert any(collect in item for item in bundle["diagnosis"]["to_collect_yourself"])
    assert section["title"] == title
    markdown = (tmp_path / "bundle" / "bundle.md").read_text()
    assert error["cf_ray"] in markdown and title in markdown and "/cdn-cgi/trace" in markdown


def related(code: int) -> list[str]:
    return [p.id for p in load_registry().playbooks if code in p.error_codes]


def test_the_bundle_never_holds_the_token_or_a_cookie(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    assert any(e.set_cookie for e in demo.scenario.edge if e.hostname == "www.blog.example")
    proc, _ = diagnose(env, "http://www.blog.example/", tmp_path / "b", "-vv")
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in (tmp_path / "b").iterdir())
    assert env["CLOUDFLARE_API_TOKEN"] not in everything
    assert COOKIE not in everything and demo.api.cookie not in everything
    # the -vv HTTP log names the API's Set-Cookie headers, always with their values masked
    lowered = everything.lower()
    assert lowered.count("set-cookie") == lowered.count("'set-cookie': '********'")


def test_an_origin_generated_502_sends_the_user_to_the_host(env: dict[str, str]) -> None:
    proc, report = diagnose(env, "http://docs.docs.example/")
    assert proc.returncode == 1
    assert report["error"]["generated_by"] == "origin" and not report["error"]["cloudflare_branded"]
    assert report["diagnosis"]["contact"].startswith("Contact your hosting provider")
    assert report["playbooks"]["run"] == related(502) == ["origin_compression"]
    assert report["diagnosis"]["section"]["code"] == 502


def test_without_a_token_it_explains_bundles_and_names_what_it_could_not_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    no_token = {k: v for k, v in env.items() if k != "CLOUDFLARE_API_TOKEN"}
    proc, report = diagnose(no_token, "http://www.blog.example/", tmp_path / "b")
    assert proc.returncode == 1 and (tmp_path / "b" / "bundle.md").exists()
    assert report["playbooks"]["run"] == [] and report["playbooks"]["not_run"] == related(526)
    assert "CLOUDFLARE_API_TOKEN" in report["playbooks"]["reason_not_run"]
    assert "Not run: " + ", ".join(related(526)) in (tmp_path / "b" / "bundle.md").read_text()


def test_a_healthy_url_exits_0(env: dict[str, str]) -> None:
    proc, report = diagnose(env, "http://www.healthy.example/")
    assert proc.returncode == 0 and report["error"]["status"] == 200
    assert report["diagnosis"]["section"] is None


def test_bad_urls_and_unreachable_ones(env: dict[str, str]) -> None:
    bad = run(["diagnose", "ftp://example.com/"], env)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    outside = run(["diagnose", "http://not-in-the-sandbox.example/"], env)  # --connect-to-only is on
    assert outside.returncode == 2 and "no --connect-to rule covers not-in-the-sandbox.example:80" in outside.stderr
    dead = run(
        [
            "diagnose",
            "http://nothing.example/",
            "--edge-connect-to",
            "nothing.example:80:127.0.0.1:9",
            "--format",
            "json",
        ],
        env,
    )
    assert dead.returncode == 3 and json.loads(dead.stdout)["error"]["fetch_error"]


def test_errors_zone_prints_the_breakdown_and_the_query_count(demo: SandboxSession, env: dict[str, str]) -> None:
    table = run(["errors", "zone", "shop.example", "--since", "24h", "--format", "table"], env)
    assert table.returncode == 0, table.stderr
    assert re.search(
        r"^524\s+37\s+none: 37\s+\|[ ▁▂▃▄▅▆▇█]{24}\|\s+proxy_read_timeout\s+#error-524", table.stdout, re.M
    )
    assert re.search(r"^520\s+12\s+none: 12 .*http2_to_origin", table.stdout, re.M)
    assert re.search(r"^502\s+3\s+502: 3\s", table.stdout, re.M)
    assert "cfremedy: GraphQL: 1 query for 1 zone" in table.stderr
    data = json.loads(run(["errors", "zone", "shop.example", "--since", "4h", "--format", "json"], env).stdout)
    assert {c["status"]: c["count"] for c in data["codes"]} == {524: 14, 520: 12}  # the window is honoured
    graphql = [r for r in demo.api.requests if r.path == "/graphql"]
    assert len(graphql) == 2 and {r.method for r in graphql} == {"POST"}
    refused = run(["errors", "zone", "shop.example"], {**env, "CLOUDFLARE_API_TOKEN": "no-analytics-token"})
    assert refused.returncode == 3 and "lacks the 'Analytics Read' permission" in refused.stderr


ANALYTICS_ACCOUNT = {
    "tokens": [
        {
            "value": "t",
            "permissions": [
                "Zone Read",
                "Zone Settings Read",
                "DNS Read",
                "Analytics Read",
                "Config Rules Read",
                "Page Rules Read",
                "Load Balancing: Monitors and Pools Read",
                "Cache Rules Read",
            ],
        }
    ],
    "zones": [
        {
            "name": f"z{i:02d}.example",
            "plan": "enterprise",
            "settings": {"ssl": "strict"},
            "analytics": [{"edge_status": 524, "count": i + 1, "hours_ago": 1}] if i % 3 == 0 else [],
            **({"graphql_error": "zone is not authorized for analytics"} if i == 7 else {}),
        }
        for i in range(25)
    ],
}


def test_audits_read_observed_errors_ten_zones_per_query(tmp_path: Path) -> None:
    with SandboxSession(parse_scenario(ANALYTICS_ACCOUNT)) as session:
        env = {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path)}
        proc = run(["audit", "account", "--errors-since", "24h", "--format", "json", "--no-probe"], env)
        report = json.loads(proc.stdout)
        graphql = [r for r in session.api.requests if r.path == "/graphql"]
        zone_tags = [len(r.body["variables"]["zoneTags"]) for r in graphql]
    assert zone_tags == [10, 10, 5]  # 25 zones, at most 10 per GraphQL query
    fired = {z["name"]: f for z in report["zones"] for f in z["findings"] if f["playbook"] == "proxy_read_timeout"}
    assert set(fired) == {f"z{i:02d}.example" for i in range(0, 25, 3)}  # observed 524s, no inventory
    assert fired["z03.example"]["evidence"]["observed_524s"] == 4
    z07 = next(z for z in report["zones"] if z["name"] == "z07.example")
    assert [e["stage"] for e in z07["errors"]] == ["analytics"]
    assert "no analytics for z07.example: zone is not authorized" in proc.stderr
    assert proc.returncode == 1  # high findings; an analytics gap alone is not an API failure
