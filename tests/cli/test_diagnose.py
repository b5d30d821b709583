"""`cfremedy diagnose` and `cfremedy errors`, end to end against the sandbox's API, edge and origins.

The sandbox edge answers like Cloudflare's (branded 52x pages, cf-ray, /cdn-cgi/trace, an origin's
own unbranded 502), the API serves GraphQL Analytics, and the stand-in origins misbehave the way
the demo scenario says. Everything runs through the installed `cfremedy` command.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import EdgeSpec, TokenSpec, load_scenario, parse_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.connect_proxy import ConnectProxy
from tests.redirect_server import RedirectServer
from tests.reporters.tablecheck import rows, tables
from tests.slow_server import SlowServer
from tests.support import clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
# The machine's proxies and trust settings stay out: each test says which it wants.
CLIENT_ENV = {"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"}
BASE_ENV = clean_env(*CLIENT_ENV, *(name.lower() for name in CLIENT_ENV))
COOKIE = "demo-cookie-value"
CUSTOM_5XX = "https://errors.static.example/5xx.html"
# What visitors get on more of the demo's hostnames: Cloudflare's page for the origin's own 502
# (host marked), Cloudflare failing itself (its box marked; its bare page), a page that only
# mentions Cloudflare, a DNS-only answer, 530s with a 1xxx code, a customised 5xx page, and an
# edge certificate no certificate pack has.
MORE_EDGE = [
    {"hostname": "www.static.example", "status": 502},
    {"hostname": "media.static.example", "status": 502, "failing": "cloudflare"},
    {"hostname": "assets.static.example", "status": 504, "bare": True},
    {"hostname": "www.shop.example", "status": 502, "branded": False,
     "body": "<html><body><h1>Bad gateway</h1><p>Served by our Cloudflare-powered CDN.</p></body></html>"},
    {"hostname": "api.apps.example", "status": 502, "proxied": False},
    {"hostname": "status.apps.example", "status": 530, "error_1xxx": 1016},
    {"hostname": "admin.apps.example", "status": 530, "error_1xxx": 1033},
    {"hostname": "legacy.blog.example", "status": 530, "error_1xxx": 1034},
    {"hostname": "cdn.static.example", "status": 502, "branded": False,
     "body": "<html><body><h1>We'll be right back</h1></body></html>"},
    {"hostname": "secure.static.example", "certificate": "self_signed"},
    {"hostname": "www.elsewhere.example", "status": 503},  # no zone of the account has it
    # redirects: to another hostname of the sandbox, and to an address no --connect-to rule covers
    {"hostname": "old.static.example", "status": 301, "location": "http://www.static.example/"},
    {"hostname": "away.static.example", "status": 302, "location": "http://127.0.0.1:9/"},
    {"hostname": "loop-a.static.example", "status": 301, "location": "http://loop-b.static.example/"},
    {"hostname": "loop-b.static.example", "status": 302, "location": "http://loop-a.static.example/"},
]  # fmt: skip


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
    zones = tuple(
        z.model_copy(update={"custom_pages": {"500_errors": CUSTOM_5XX}}) if z.name == "static.example" else z
        for z in scenario.zones
    )
    edge = scenario.edge + tuple(EdgeSpec.model_validate(e) for e in MORE_EDGE)
    update = {"tokens": scenario.tokens + (no_analytics,), "zones": zones, "edge": edge}
    with SandboxSession(scenario.model_copy(update=update)) as session:
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
    by_code = {row[0]: row for row in rows(tables(table.stdout)[0])}
    assert by_code["524"][1:3] == ["37", "none: 37"] and by_code["524"][4] == "proxy_read_timeout"
    assert re.fullmatch(r"\|[ ▁▂▃▄▅▆▇█]{24}\|", by_code["524"][3]) and by_code["524"][5].startswith("#error-524")
    assert by_code["520"][1:3] == ["12", "none: 12"] and "http2_to_origin" in by_code["520"][4]
    assert by_code["502"][1:3] == ["3", "502: 3"]
    assert "cfremedy: GraphQL: 1 query for 1 zone" in table.stderr
    data = json.loads(run(["errors", "zone", "shop.example", "--since", "4h", "--format", "json"], env).stdout)
    assert {c["status"]: c["count"] for c in data["codes"]} == {524: 14, 520: 12}  # the window is honoured
    graphql = [r for r in demo.api.requests if r.path == "/graphql"]
    assert len(graphql) == 2 and {r.method for r in graphql} == {"POST"}
    refused = run(["errors", "zone", "shop.example"], {**env, "CLOUDFLARE_API_TOKEN": "no-analytics-token"})
    assert refused.returncode == 3 and "lacks the 'Analytics Read' permission" in refused.stderr


def test_what_audit_zone_help_says_it_sends_is_what_it_sends(demo: SandboxSession, env: dict[str, str]) -> None:
    """The help said "Sends only GET requests", but --errors-since POSTs a GraphQL query."""
    proc = run(["audit", "zone", "shop.example", "--errors-since", "24h", "--no-probe", "--format", "json"], env)
    assert proc.returncode in (0, 1), proc.stderr
    sent = {(r.method, r.path if r.method != "GET" else "") for r in demo.api.requests}
    assert sent == {("GET", ""), ("POST", "/graphql")}
    help_text = " ".join(run(["audit", "zone", "--help"], env).stdout.split())
    assert "only GET" not in help_text
    assert "GET requests, and with --errors-since one GraphQL query (a POST to /graphql" in help_text


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


# -- reading the page the way the article does -------------------------------------------------


def test_a_branded_502_marking_the_host_is_the_hosts(env: dict[str, str]) -> None:
    proc, report = diagnose(env, "http://www.static.example/")
    assert proc.returncode == 1, proc.stderr
    error = report["error"]
    assert error["cloudflare_branded"]  # the article's word test alone would say Cloudflare failed
    assert (error["generated_by"], error["failing_hop"]) == ("cloudflare", "host")
    assert error["page"]["hops"] == {"browser": "Working", "cloudflare": "Working", "host": "Error"}
    assert error["page"]["ray_on_page"] == error["cf_ray"].split("-")[0]
    assert "the fault is the host's" in report["diagnosis"]["contact"]
    assert report["playbooks"]["run"] == related(502)


@pytest.mark.parametrize("url", ["http://media.static.example/", "http://assets.static.example/"])
def test_cloudflare_failing_itself_goes_to_cloudflare_support(env: dict[str, str], url: str) -> None:
    proc, report = diagnose(env, url)
    assert proc.returncode == 1
    assert (report["error"]["generated_by"], report["error"]["failing_hop"]) == ("cloudflare", "cloudflare")
    assert "Cloudflare support" in report["diagnosis"]["contact"]
    assert report["error"]["page"]["kind"] == ("cloudflare_bare" if "assets" in url else "cloudflare")


def test_a_page_that_is_neither_cloudflares_nor_marked(env: dict[str, str]) -> None:
    proc, report = diagnose(env, "http://www.shop.example/")
    assert report["error"]["cloudflare_branded"] and report["error"]["page"]["kind"] == "other"
    assert report["error"]["generated_by"] == "origin"
    assert any("the word alone does not make it Cloudflare's" in n for n in report["diagnosis"]["notes"])
    proc, report = diagnose(env, "http://api.apps.example/")  # DNS-only: no cf-ray at all
    assert report["error"]["generated_by"] == "not_cloudflare" and report["error"]["cf_ray"] is None
    assert "did not come through Cloudflare's edge" in report["diagnosis"]["contact"]


@pytest.mark.parametrize(("host", "code", "name", "playbook"), [
    ("status.apps.example", 1016, "Origin DNS error", "origin_dns"),
    ("admin.apps.example", 1033, "Cloudflare Tunnel error", "tunnel_health"),
])  # fmt: skip
def test_530_runs_the_playbook_of_its_1xxx_error(
    env: dict[str, str], tmp_path: Path, host: str, code: int, name: str, playbook: str
) -> None:
    proc, report = diagnose(env, f"http://{host}/", tmp_path / "b")
    assert proc.returncode == 1, proc.stderr
    assert report["error"]["status"] == 530 and report["error"]["error_1xxx"] == code
    entry = report["diagnosis"]["error_1xxx"]
    assert (entry["code"], entry["name"]) == (code, name)
    assert (
        entry["url"]
        == f"https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-1xxx-errors/error-{code}/"
    )
    assert f"with error {code} ({name})" in report["diagnosis"]["headline"]
    assert report["playbooks"]["run"] == [playbook] != related(530)  # not every 530 playbook: the 1xxx one
    assert any(f["playbook"] == playbook and f["resource"] == host for f in report["playbooks"]["findings"])
    markdown = (tmp_path / "b" / "bundle.md").read_text()
    assert f"- Error {code}: {name} ([Cloudflare's page]({entry['url']}))" in markdown


def test_other_1xxx_errors_get_one_line_and_where_to_read_more(env: dict[str, str]) -> None:
    proc, report = diagnose(env, "http://legacy.blog.example/")
    entry = report["diagnosis"]["error_1xxx"]
    assert entry["code"] == 1034 and entry["url"].endswith("/cloudflare-1xxx-errors/error-1034/")
    assert (
        report["diagnosis"]["notes"][0] == f"Error 1034 ({entry['name']}): {entry['meaning']} Read more: {entry['url']}"
    )
    assert report["playbooks"]["run"] == [] and report["playbooks"]["not_run"] == []


def test_a_customised_5xx_page_is_read_with_the_token_and_not_trusted_blindly(
    demo: SandboxSession, env: dict[str, str]
) -> None:
    proc, report = diagnose(env, "http://cdn.static.example/")
    assert report["custom_pages"] == {"read": True, "reason_not_read": None, "customized": {"500_errors": CUSTOM_5XX}}
    assert report["error"]["generated_by"] == "unknown" and report["error"]["failing_hop"] is None
    assert any(f"customises its 5xx error pages ({CUSTOM_5XX})" in n for n in report["diagnosis"]["notes"])
    pages = [r for r in demo.api.requests if r.path.endswith("/custom_pages")]
    assert len(pages) == 1 and pages[0].status == 200
    no_token = {k: v for k, v in env.items() if k != "CLOUDFLARE_API_TOKEN"}
    _, blind = diagnose(no_token, "http://cdn.static.example/")
    # the custom pages unread, a customised page cannot be ruled out: nobody is blamed on its look
    assert blind["error"]["generated_by"] == "unknown" and blind["error"]["failing_hop"] is None
    assert blind["custom_pages"]["read"] is False
    assert blind["custom_pages"]["reason_not_read"] == "no CLOUDFLARE_API_TOKEN"
    assert any("custom error pages were not read (no CLOUDFLARE_API_TOKEN)" in n for n in blind["diagnosis"]["notes"])
    assert "the origin itself returned this error" not in blind["diagnosis"]["contact"]
    _, refused = diagnose({**env, "CLOUDFLARE_API_TOKEN": "no-analytics-token"}, "http://cdn.static.example/")
    assert refused["custom_pages"]["read"] is True  # Zone Settings Read is all it takes


# -- trust and proxies -------------------------------------------------------------------------


def test_the_edge_request_goes_through_https_proxy_and_origin_probes_do_not(
    demo: SandboxSession, env: dict[str, str]
) -> None:
    routes = {"www.blog.example": ("127.0.0.1", demo.edge.tls_port)}
    with ConnectProxy(routes) as proxy:
        # --connect-to-only (the sandbox's default) would keep the request off any proxy; the
        # origin probes still follow the fleet's rules, which cover www.blog.example's origin.
        proxied = {**env, "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(demo.edge.ca_file),
                   "CFREMEDY_CONNECT_TO_ONLY": "false"}  # fmt: skip
        proc, report = diagnose(proxied, "https://www.blog.example/")
    assert proc.returncode == 1, proc.stderr
    assert report["error"]["status"] == 526 and report["connection"]["proxy"] == proxy.url
    assert report["connection"]["tls"]["verified"] is True
    assert report["cdn_cgi_trace"]["fields"]["visit_scheme"] == "https"
    # the page and its trace went through the proxy; the playbooks' origin probes did not
    assert proxy.requests == ["www.blog.example:443", "www.blog.example:443"]
    assert report["playbooks"]["run"] == related(526) and report["playbooks"]["findings"]


def test_an_edge_certificate_trusted_only_through_ssl_cert_file(demo: SandboxSession, env: dict[str, str]) -> None:
    proc, report = diagnose({**env, "SSL_CERT_FILE": str(demo.edge.ca_file)}, "https://files.static.example/")
    assert report["connection"]["tls"] == {"verified": True, "failure": None, "certificate": None, "verdict": None}
    assert "without verif" not in proc.stderr
    proc, report = diagnose(env, "https://files.static.example/")  # the same edge, its CA not trusted here
    tls = report["connection"]["tls"]
    assert tls["verified"] is False and "unable to get local issuer certificate" in tls["failure"]
    assert tls["verdict"]["cause"] == "untrusted_issuer"
    assert tls["verdict"]["zone_certificate"].startswith("universal pack ")  # the pack read with the token
    assert report["error"]["status"] == 522  # still read, and said so
    assert any("read without verifying" in n for n in report["diagnosis"]["notes"])
    assert "the status was read without verification" in proc.stderr


def test_an_untrusted_edge_certificate_is_diagnosed_and_the_status_still_read(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    trusting = {**env, "SSL_CERT_FILE": str(demo.edge.ca_file)}
    proc, report = diagnose(trusting, "https://secure.static.example/", tmp_path / "b")
    assert proc.returncode == 1  # a 200, but a certificate this machine cannot verify
    tls = report["connection"]["tls"]
    assert "self-signed certificate" in tls["failure"] and tls["certificate"]["self_signed"] is True
    assert tls["verdict"]["cause"] == "intercepted"
    assert any("*.static.example" in d for d in tls["verdict"]["details"])  # the zone's pack, read
    assert report["error"]["status"] == 200
    packs = [r for r in demo.api.requests if r.path.endswith("/ssl/certificate_packs")]
    assert len(packs) == 1 and packs[0].status == 200
    markdown = (tmp_path / "b" / "bundle.md").read_text()
    assert "## Edge certificate" in markdown and "Something between this machine and Cloudflare" in markdown
    read_only = {**trusting, "CLOUDFLARE_API_TOKEN": "sandbox-read-only-token"}  # no SSL and Certificates Read
    _, report = diagnose(read_only, "https://secure.static.example/")
    verdict = report["connection"]["tls"]["verdict"]
    assert verdict["cause"] == "unknown" and any("SSL and Certificates Read" in d for d in verdict["details"])


def test_the_bundle_says_how_to_get_the_trace_from_the_affected_browser(env: dict[str, str], tmp_path: Path) -> None:
    proc, report = diagnose(env, "http://www.blog.example/", tmp_path / "b")
    trace = report["cdn_cgi_trace"]
    assert trace["fetched_from"] == "the machine that ran cfremedy" and trace["fields"]["h"] == "www.blog.example"
    assert trace["from_the_affected_browser"][0].startswith(
        "In the browser that shows the error, open http://www.blog.example/cdn-cgi/trace"
    )
    markdown = (tmp_path / "b" / "bundle.md").read_text()
    assert markdown.index("## /cdn-cgi/trace from this machine") < markdown.index(
        "## /cdn-cgi/trace from the affected browser"
    )


def test_a_hostname_outside_the_account_is_still_diagnosed(env: dict[str, str]) -> None:
    """No playbook checks a 503, so the zone was only wanted for its custom pages: its absence is
    said, not an API failure."""
    proc, report = diagnose(env, "http://www.elsewhere.example/")
    assert proc.returncode == 1, proc.stderr  # the 5xx, not exit 3
    assert report["error"]["failing_hop"] == "cloudflare" and related(503) == []
    assert "no zone visible to this token contains www.elsewhere.example" in report["custom_pages"]["reason_not_read"]


# -- redirects and credentials -----------------------------------------------------------------


def test_follow_redirects_diagnoses_the_final_url_hop_by_hop(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    proc, report = diagnose(env, "http://old.static.example/", tmp_path / "b", "--follow-redirects")
    assert proc.returncode == 1, proc.stderr
    assert report["url"] == "http://www.static.example/" and report["requested_url"] == "http://old.static.example/"
    (hop,) = report["redirects"]
    ray = hop.pop("cf_ray")
    assert re.fullmatch(r"[0-9a-f]{16}-[A-Z]{3}", ray) and ray != report["error"]["cf_ray"]  # each hop its own
    assert hop == {
        "url": "http://old.static.example/", "status": 301, "location": "http://www.static.example/",
        "server": "cloudflare", "connected_to": f"127.0.0.1:{demo.edge.port}", "proxy": None, "tls_failure": None,
    }  # fmt: skip
    assert any("redirects to another host, www.static.example" in n for n in report["diagnosis"]["notes"])
    assert report["connection"]["connected_to"] == f"127.0.0.1:{demo.edge.port}"
    assert (report["error"]["status"], report["error"]["failing_hop"]) == (502, "host")
    assert report["cdn_cgi_trace"]["fields"]["h"] == "www.static.example"  # the final host's trace
    markdown = (tmp_path / "b" / "bundle.md").read_text()
    assert "- URL: http://www.static.example/" in markdown
    assert "- Redirected from: http://old.static.example/ (1 redirect)" in markdown
    assert "  1. 301 http://old.static.example/ -> http://www.static.example/ (server: cloudflare; cf-ray: " in markdown
    proc, report = diagnose(env, "http://old.static.example/")  # without the flag: the first answer
    assert proc.returncode == 0 and report["error"]["status"] == 301 and report["redirects"] == []


def test_a_redirect_loop_is_the_finding(env: dict[str, str], tmp_path: Path) -> None:
    proc, report = diagnose(env, "http://loop-a.static.example/", tmp_path / "b", "--follow-redirects")
    assert proc.returncode == 1, proc.stderr  # a finding, not a failure to fetch (exit 2)
    assert report["redirect_problem"] == "loop" and report["error"]["generated_by"] == "redirect_loop"
    assert [h["url"] for h in report["redirects"]] == ["http://loop-a.static.example/", "http://loop-b.static.example/"]
    headline = report["diagnosis"]["headline"]
    assert "redirects in a loop" in headline and "already requested at hop 1" in headline
    assert "Flexible" in report["diagnosis"]["contact"]
    assert report["playbooks"]["run"] == ["flexible_redirect_loop"]  # the playbook for such loops
    assert (
        "http://loop-b.static.example/ -> http://loop-a.static.example/" in (tmp_path / "b" / "bundle.md").read_text()
    )


def test_a_redirect_no_rule_covers_is_never_followed_under_connect_to_only(env: dict[str, str]) -> None:
    proc, _ = diagnose(env, "http://away.static.example/", None, "--follow-redirects")
    assert proc.returncode == 2, proc.stderr
    assert "no --connect-to rule covers 127.0.0.1:9" in proc.stderr and "away.static.example" in proc.stderr


@pytest.mark.parametrize("password", ["pw", "correct-horse-battery"])
def test_a_password_in_the_url_is_never_written(env: dict[str, str], tmp_path: Path, password: str) -> None:
    """Stripped from the URL everywhere (a short password cannot be masked later), and
    registered as a secret as a last line of defence."""
    url = f"http://alice:{password}@www.blog.example/"
    proc, report = diagnose(env, url, tmp_path / "b", "-vv")
    assert proc.returncode == 1, proc.stderr
    assert report["url"] == report["requested_url"] == "http://www.blog.example/"
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in (tmp_path / "b").iterdir())
    assert f"alice:{password}" not in everything and f":{password}@" not in everything
    assert "- URL: http://www.blog.example/\n" in (tmp_path / "b" / "bundle.md").read_text()
    markdown = run(["diagnose", url, "--probe-timeout", "1"], env)
    assert "- URL: http://www.blog.example/\n" in markdown.stdout and f"alice:{password}" not in markdown.stdout
    bad = run(["diagnose", f"ftp://alice:{password}@www.blog.example/"], env)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr and f"alice:{password}" not in bad.stderr


def loopback_args(server: RedirectServer, fmt: str = "json") -> list[str]:
    """diagnose of the loopback server's URL: a rule covers it, and nothing else is connected to."""
    rule = f"127.0.0.1:{server.port}:127.0.0.1:{server.port}"
    return ["diagnose", server.url + "/", "--format", fmt, "--probe-timeout", "2",
            "--edge-connect-to", rule, "--connect-to-only"]  # fmt: skip


@pytest.mark.parametrize(("url", "words"), [
    ("https://example.com:99999/", "port 99999 is out of range (1-65535)"),
    ("https://alice:pw@example.com:99999/", "port 99999 is out of range (1-65535)"),
    ("http://example.com:0/", "port 0 is out of range (1-65535)"),
    ("http://example.com:8o/", "port '8o' is not a number"),
    ("http://[::1/", "unparseable (Invalid IPv6 URL)"),
    # Python reads these, httpx does not (they were an internal error, exit 70)
    ("http://999.1.1.1/", "not a valid URL (Invalid IPv4 address: '999.1.1.1')"),
    ("http://alice:pw@a\u200d.de/", "not a valid URL (Invalid IDNA hostname: 'a\\u200d.de')"),
    # more digits than Python reads as a number: a ValueError, exit 70, without the length check
    (f"http://example.com:{'9' * 5000}/", "port 99999... (5000 digits) is out of range (1-65535)"),
])  # fmt: skip
def test_a_url_that_cannot_be_requested_is_a_usage_error(url: str, words: str) -> None:
    """Refused before anything is sent, in one line naming what is wrong (no traceback, no exit 70)."""
    proc = run(["diagnose", url], {})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("cfremedy: error: ") and proc.stderr.count("\n") == 1
    assert words in proc.stderr and "alice" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(("location", "shown", "words"), [
    ("http://127.0.0.1:99999/", "http://127.0.0.1:99999/", "port 99999 is out of range (1-65535)"),
    ("http://u:secretpw@127.0.0.1:99999/", "http://127.0.0.1:99999/", "port 99999 is out of range (1-65535)"),
    ("ftp://127.0.0.1/file", "ftp://127.0.0.1/file", "not an http(s) URL with a hostname"),
    ("http://[::1/x", "http://[::1/x", "unparseable (Invalid IPv6 URL)"),
    ("http://999.1.1.1/", "http://999.1.1.1/", "not a valid URL (Invalid IPv4 address: '999.1.1.1')"),
    ("http://a\u200d.de/", "http://a\u200d.de/", "not a valid URL (Invalid IDNA hostname: 'a\\u200d.de')"),
    (f"http://127.0.0.1:{'9' * 5000}/", f"http://127.0.0.1:{'9' * 5000}/",
     "port 99999... (5000 digits) is out of range (1-65535)"),
])  # fmt: skip
def test_a_redirect_to_an_invalid_url_ends_the_chain(tmp_path: Path, location: str, shown: str, words: str) -> None:
    """The Location is never requested: the chain ends with the hops that led there, and the broken
    redirect is the finding (exit 1, as a loop: the site's answer, not a failure to fetch)."""
    wire = location.encode().decode("latin-1")  # UTF-8 bytes, as http.server writes latin-1
    answers = {"/": (301, {"Location": "/next"}, ""), "/next": (302, {"Location": wire}, "")}
    with RedirectServer(answers) as server:
        proc = run([*loopback_args(server), "--follow-redirects", "--bundle", str(tmp_path / "b")], {})
    assert proc.returncode == 1, proc.stderr
    assert [r.split()[1] for r in server.requests] == ["/", "/next", "/cdn-cgi/trace"]  # nothing else
    report = json.loads(proc.stdout)
    assert report["redirect_problem"] == "invalid_location" and report["error"]["status"] is None
    assert report["error"]["generated_by"] == "redirect_invalid"
    error = f"redirect to an invalid URL: {server.url}/next redirects to {shown}: {words}"
    assert report["error"]["fetch_error"] == error and report["url"] == f"{server.url}/next"
    assert error in report["diagnosis"]["headline"] and "no cf-ray" in report["diagnosis"]["contact"]
    assert [(h["url"], h["status"], h["location"]) for h in report["redirects"]] == [
        (f"{server.url}/", 301, "/next"), (f"{server.url}/next", 302, shown)]  # fmt: skip
    assert f"  2. 302 {server.url}/next -> {shown} (server: " in (tmp_path / "b" / "bundle.md").read_text()
    assert "secretpw" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("password", ["secretpw", "secret'pw"])  # RFC 3986 allows `'` in userinfo
def test_a_password_in_a_redirects_location_is_never_sent_nor_written(tmp_path: Path, password: str) -> None:
    """A server's URLs lose their credentials as the one asked for does: the Location of each hop
    and of the final answer, a URL in the page's title or in the trace, and in the logs."""
    answers = {
        "/": (302, {"Location": "http://u:" + password + "@127.0.0.1:{port}/x"},
              f"<title>Moved to http://u:{password}@127.0.0.1/x</title>"),
        "/x": (200, {"Content-Type": "text/html"}, "<title>ok</title>"),
        "/cdn-cgi/trace": (200, {}, f"h=127.0.0.1\nref=http://u:{password}@127.0.0.1/\n"),
    }  # fmt: skip
    with RedirectServer(answers) as server:
        location = answers["/"][1]["Location"].format(port=server.port)
        answers["/"][1]["Location"] = location
        followed = run([*loopback_args(server), "--follow-redirects", "-vv", "--bundle", str(tmp_path / "f")], {})
        first = run([*loopback_args(server), "-vvv", "--bundle", str(tmp_path / "n")], {})  # raw headers logged
        markdown = run([*loopback_args(server, "table"), "--follow-redirects"], {})
    assert followed.returncode == 0 and first.returncode == 0 and markdown.returncode == 0, followed.stderr
    assert not any(password in r or "authorization" in r.lower() for r in server.requests), server.requests
    assert f'HTTP Request: GET {server.url}/x "HTTP/1.1 200 OK"' in followed.stderr  # -vv: each request
    report = json.loads(followed.stdout)
    assert report["url"] == f"{server.url}/x" and report["error"]["status"] == 200
    assert report["redirects"][0]["location"] == f"{server.url}/x"
    assert any(f"Location: {server.url}/x" in n for n in report["diagnosis"]["notes"])
    assert report["cdn_cgi_trace"]["fields"]["ref"] == "http://127.0.0.1/"
    assert "httpcore.http11" in first.stderr and f"127.0.0.1:{server.port}/x" in first.stderr  # logged, cut
    unfollowed = json.loads(first.stdout)
    assert unfollowed["response_headers"]["location"] == f"{server.url}/x"
    assert unfollowed["error"]["message"] == "Moved to http://127.0.0.1/x"
    bundles = "".join(p.read_text() for d in ("f", "n") for p in (tmp_path / d).iterdir())
    assert f"-> {server.url}/x (server: " in bundles
    everything = followed.stdout + followed.stderr + first.stdout + first.stderr + markdown.stdout + bundles
    assert password not in everything and "u:secret" not in everything and "pw@" not in everything


# -- a deadline and a size limit for what the URL answers --------------------------------------


@pytest.mark.parametrize(("mode", "cut", "words"), [
    ("trickle", "deadline", "still arriving when the request's deadline (--probe-timeout) passed"),
    ("endless", "size", "Only the first 1024 KiB of the page were read"),
])  # fmt: skip
def test_a_page_that_never_ends_does_not_hang_diagnose(mode: str, cut: str, words: str) -> None:
    """--probe-timeout is each request's deadline, body included; at most 1 MiB of a body is read."""
    with SlowServer(mode) as server:
        rule = f"slow.example.com:80:127.0.0.1:{server.port}"
        args = ["diagnose", "http://slow.example.com/", "--format", "json", "--probe-timeout", "1",
                "--edge-connect-to", rule, "--connect-to-only"]  # fmt: skip
        started = time.monotonic()
        proc = run(args, {}, timeout=30)
        took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["error"]["status"] == 502 and report["error"]["page"]["cut"] == cut
    assert any(words in n for n in report["diagnosis"]["notes"])
    assert took < 15, took  # the page and its trace, a second each at most, plus start-up
