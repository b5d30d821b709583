"""The installed `cfremedy` command against the sandbox: exit codes, streams, formats, secrecy.

Each test runs the real console script in a subprocess with the environment a user would set,
against a sandbox API and real origin servers on loopback.
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

from cfremedy.sandbox.scenario import FaultSpec, TokenSpec, load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.reporters.tablecheck import rows, tables
from tests.support import NO_API, clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
SECRET = "s3cr3t-5ee-this-and-fail-7f3a"
CLEAN_ENV = clean_env()


def run(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    drop: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The installed CLI with `clean_env()` plus `env`, less the variables in `drop` (say
    CLOUDFLARE_BASE_URL, for a test where a `.env` must supply it)."""
    merged = {k: v for k, v in {**CLEAN_ENV, **(env or {})}.items() if k not in drop}
    return subprocess.run([CFREMEDY, *args], env=merged, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The error as the user sees it: no traceback, an `error:` line first."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cfremedy: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    scenario = load_scenario("demo")
    extra = (
        TokenSpec(name="secret", value=SECRET, permissions=scenario.tokens[0].permissions),
        TokenSpec(name="no-dns", value="no-dns-token", permissions=("Zone Read", "Zone Settings Read")),
    )
    scenario = scenario.model_copy(update={"tokens": scenario.tokens + extra})
    with SandboxSession(scenario) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession) -> dict[str, str]:
    demo.api.clear_log()
    demo.api.set_faults([])
    return demo.env()


def test_audit_json_is_the_report_and_only_the_report(demo: SandboxSession, env: dict[str, str]) -> None:
    proc = run(["audit", "zone", "shop.example", "--format", "json"], env)
    report = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert proc.returncode == 1, proc.stderr  # high findings, --fail-on high by default
    assert report["schema_version"] == 1 and report["tool"]["name"] == "cfremedy"
    (zone,) = report["zones"]
    assert (zone["name"], zone["plan"]) == ("shop.example", "enterprise")
    assert {f["playbook"] for f in zone["findings"]} == {"http2_to_origin", "proxy_read_timeout", "origin_cert_expiry"}
    assert {(c["target"], c["before"], c["after"]) for c in zone["changes"]} == {
        ("setting:origin_max_http_version", "2", "1"),
        ("setting:proxy_read_timeout", 100, 360),
    }
    assert report["summary"] == {
        "zones": 1,
        "findings": 3,
        "by_severity": {"high": 2, "medium": 1},
        "suppressed": 0,
        "changes": 2,
        "errors": 0,
    }
    assert "shop.example" in proc.stderr  # progress goes to stderr
    log = demo.api.requests
    # the zone, its settings, DNS records, rulesets list (no rules: no entry point) and Page
    # Rules; the account has pools: them and what references them (no load balancer of this
    # zone, so its load balancers are not asked for): reads only
    assert len(log) == 7 and {r.method for r in log} == {"GET"}
    assert sorted(r.path.rsplit("/", 1)[-1] for r in log) == [
        "dns_records", "pagerules", "pools", "references", "rulesets", "settings", "zones"
    ]  # fmt: skip


def test_default_format_off_a_terminal_is_json_and_table_on_request(env: dict[str, str]) -> None:
    assert json.loads(run(["audit", "zone", "healthy.example"], env).stdout)["zones"][0]["findings"] == []
    proc = run(["audit", "zone", "blog.example", "--format", "table"], env)
    assert proc.returncode == 1
    assert re.search(r"CRITICAL\s+ssl_origin_cert\s+526\s+blog\.example", proc.stdout)
    assert "setting:ssl  strict -> full" in proc.stdout and "LOWERS SECURITY" in proc.stdout


@pytest.mark.parametrize("fail_on, code", [("critical", 0), ("high", 1), ("never", 0)])
def test_fail_on_sets_the_exit_code(env: dict[str, str], fail_on: str, code: int) -> None:
    assert run(["audit", "zone", "shop.example", "--fail-on", fail_on], env).returncode == code


def test_output_file(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    proc = run(["audit", "zone", "docs.example", "-o", str(target), "--fail-on", "critical"], env)
    assert proc.stdout == "" and proc.returncode == 0  # high (gzip) and low findings, none critical
    assert json.loads(target.read_text())["zones"][0]["changes"][0]["after"] == "strict"


def test_audit_and_plan_send_no_write_even_with_changes_to_propose(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    for zone in ("blog.example", "static.example"):
        run(["audit", "zone", zone, "--probe-timeout", "0.5"], env)
        plan_file = tmp_path / f"{zone}.json"
        proc = run(["plan", "zone", zone, "-o", str(plan_file), "--probe-timeout", "0.5"], env)
        assert proc.returncode == 0, proc.stderr
        plan = json.loads(plan_file.read_text())
        assert plan["zone"] == zone and plan["changes"] and plan["checksum"].startswith("sha256:")
    assert demo.api.requests and {r.method for r in demo.api.requests} == {"GET"}


@pytest.mark.parametrize(
    "token, zone, fault, fragment",
    [
        ("wrong-token", "shop.example", None, "API token was rejected"),
        (None, "nope.example", None, "zone nope.example not found"),
        ("no-dns-token", "shop.example", None, "lacks the 'DNS Read' permission"),
        (None, "shop.example", FaultSpec(kind="429", retry_after=0.1), "rate limit"),
    ],
    ids=["wrong-token", "unknown-zone", "no-dns-read", "permanent-429"],
)
def test_api_failures_exit_3_with_one_clear_line(
    demo: SandboxSession, env: dict[str, str], token: str | None, zone: str, fault: FaultSpec | None, fragment: str
) -> None:
    if fault is not None:
        demo.api.set_faults([fault])
    proc = run(["audit", "zone", zone], {**env, **({"CLOUDFLARE_API_TOKEN": token} if token else {})})
    assert proc.returncode == 3
    assert fragment in one_clear_line(proc)
    (failed,) = json.loads(proc.stdout)["zones"]  # the zone still appears, with its error
    assert failed["name"] == zone and failed["findings"] == []
    assert [e["stage"] for e in failed["errors"]] == ["api"] and fragment in failed["errors"][0]["message"]


def test_unreachable_api_exits_3(env: dict[str, str]) -> None:
    proc = run(["audit", "zone", "shop.example"], {**env, "CLOUDFLARE_BASE_URL": NO_API})
    assert proc.returncode == 3
    assert "cannot reach the Cloudflare API" in one_clear_line(proc)


@pytest.mark.parametrize(
    "args, extra_env, fragment",
    [
        (["audit", "zone", "shop.example", "--playbook", "nope"], {}, "unknown playbook 'nope'"),
        (["audit", "zone", "shop.example", "--connect-to", "a:b:c"], {}, "--connect-to"),
        (["audit", "zone", "shop.example", "--inventory", "/nonexistent.toml"], {}, "cannot read inventory"),
        (["audit", "zone", "shop.example", "--origin-ca", "/nonexistent.pem"], {}, "--origin-ca"),
        (["audit", "zone", "shop.example"], {"CLOUDFLARE_API_TOKEN": ""}, "CLOUDFLARE_API_TOKEN is not set"),
    ],
    ids=["playbook", "connect-to", "inventory", "origin-ca", "no-token"],
)
def test_bad_usage_exits_2(env: dict[str, str], args: list[str], extra_env: dict[str, str], fragment: str) -> None:
    proc = run(args, {**env, **extra_env})
    assert proc.returncode == 2, proc.stderr
    assert fragment in one_clear_line(proc)


def test_click_usage_errors_exit_2(env: dict[str, str]) -> None:
    proc = run(["audit", "zone"], env)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_the_token_never_appears_anywhere(demo: SandboxSession, env: dict[str, str], tmp_path: Path) -> None:
    secret_env = {**env, "CLOUDFLARE_API_TOKEN": SECRET}
    outputs: list[str] = []
    for args in (
        ["-vv"],
        ["--format", "json", "-vv"],
        ["--format", "table"],
        ["-o", str(tmp_path / "r.json")],
    ):
        proc = run(["audit", "zone", "blog.example", *args], secret_env)
        assert proc.returncode == 1, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    outputs.append((tmp_path / "r.json").read_text())
    run(["plan", "zone", "blog.example", "-o", str(tmp_path / "p.json"), "-vv"], secret_env)
    outputs.append((tmp_path / "p.json").read_text())
    outputs += [run(["doctor", "-vv"], secret_env).stderr]
    # failures at full verbosity: a rejected token (it contains SECRET, so it must be masked
    # whole) and an unreachable API
    for extra in (
        {"CLOUDFLARE_API_TOKEN": SECRET + "-revoked"},
        {"CLOUDFLARE_BASE_URL": NO_API},
    ):
        proc = run(["audit", "zone", "blog.example", "-vv"], {**secret_env, **extra})
        assert proc.returncode == 3
        outputs += [proc.stdout, proc.stderr]
    assert all(SECRET not in text for text in outputs)
    # the verbose runs really logged HTTP traffic, so the check above had something to see
    assert "GET" in "".join(outputs) and "HTTP" in "".join(outputs)


def test_playbooks_list_and_show() -> None:
    proc = run(["playbooks", "list", "--format", "table"])
    assert proc.returncode == 0
    (table,) = tables(proc.stdout)
    listed = {row[0]: row[1] for row in rows(table)}
    for playbook, codes in [
        ("origin_ip", "521, 522, 523, 1000"),
        ("ssl_origin_cert", "521, 522, 523, 525, 526"),
        ("http2_to_origin", "520"),
        ("proxy_read_timeout", "524"),
    ]:
        assert listed[playbook] == codes, proc.stdout
    show = run(["playbooks", "show", "ssl_origin_cert"])
    assert "Anti-pattern:" in show.stdout and "Zone Settings Write" in show.stdout


def test_doctor(demo: SandboxSession, env: dict[str, str]) -> None:
    full = run(["doctor"], env)
    assert full.returncode == 0, full.stderr
    assert "Token: active" in full.stdout
    assert re.search(r"DNS Write\s+ok", full.stdout)
    read_only = run(["doctor"], {**env, "CLOUDFLARE_API_TOKEN": "sandbox-read-only-token"})
    assert read_only.returncode == 0, read_only.stderr  # enough to audit
    assert re.search(r"Zone Settings Write\s+MISSING\s+apply", read_only.stdout)
    no_dns = run(["doctor", "--zone", "shop.example"], {**env, "CLOUDFLARE_API_TOKEN": "no-dns-token"})
    assert no_dns.returncode == 3
    assert re.search(r"DNS Read\s+MISSING", no_dns.stdout)
    assert "lacks DNS Read" in one_clear_line(no_dns)
    assert run(["doctor"], {**env, "CLOUDFLARE_API_TOKEN": "wrong"}).returncode == 3


def test_demo_shows_every_playbook_firing_beside_a_clean_zone() -> None:
    proc = run(["demo"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    blocks = dict(re.findall(r"^== (\S+) \(\w+\) ==\n(.*?)(?=^== |\Z)", proc.stdout, re.M | re.S))
    assert set(blocks) == {
        "healthy.example", "shop.example", "blog.example", "static.example", "docs.example", "apps.example"
    }  # fmt: skip
    assert blocks["healthy.example"].startswith("No findings.")
    for playbook in ("origin_ip", "ssl_origin_cert", "http2_to_origin", "proxy_read_timeout"):
        assert playbook in proc.stdout
    # where the DNS records are not the whole story: a load balancer's pool origin, tunnels, a
    # name that does not resolve; the healthy tunnel and the Origin Rule's port are quiet
    apps = re.sub(r"\s+", " ", blocks["apps.example"])
    assert "via load balancer www.apps.example pool eu-web origin 2 (web-2)" in apps
    found = {tuple(row[1:4]) for row in rows(tables(blocks["apps.example"])[0], key=1)}
    assert ("tunnel_health", "530, 1033", "admin.apps.example") in found and "app.apps.example" not in apps
    assert ("origin_dns", "530, 1016", "status.apps.example") in found
    assert "api.apps.example" not in apps
    assert "CLOUDFLARE_API_TOKEN" in proc.stdout  # says how to point it at a real account
    assert "all reads" in " ".join(proc.stdout.split())  # the summary is wrapped to the width


def test_sandbox_serve_is_usable_from_another_process(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    server = subprocess.Popen(
        [CFREMEDY, "sandbox", "serve", "--port", "0", "--env-file", str(env_file)],
        env=CLEAN_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists() and time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()
            time.sleep(0.1)
        exported = dict(re.findall(r"^export (\w+)=(.*)$", env_file.read_text(), re.M))
        exported = {k: v.strip("'") for k, v in exported.items()}
        assert exported["CLOUDFLARE_BASE_URL"].startswith("http://127.0.0.1:")
        proc = run(["audit", "zone", "blog.example", "--format", "json"], exported)
        findings: list[dict[str, Any]] = json.loads(proc.stdout)["zones"][0]["findings"]
        assert {(f["resource"], tuple(f["error_codes"])) for f in findings} >= {("blog.example", (526,))}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_settings_come_from_a_dotenv_file(demo: SandboxSession, tmp_path: Path) -> None:
    env = demo.env()
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    args = ["audit", "zone", "docs.example", "--format", "json", "--fail-on", "critical"]
    proc = run(args, cwd=tmp_path, drop=("CLOUDFLARE_BASE_URL",))  # the .env's comes through
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["zones"][0]["changes"][0]["target"] == "setting:ssl"


def test_help_teaches() -> None:
    top = run(["--help"])
    assert top.returncode == 0
    for word in ("demo", "audit", "plan", "doctor", "playbooks", "sandbox", "CLOUDFLARE_API_TOKEN", "Exit codes"):
        assert word in top.stdout
    audit = run(["audit", "zone", "--help"]).stdout
    for word in (
        "--format",
        "--fail-on",
        "--inventory",
        "--connect-to",
        "--origin-ca",
        "--probe-timeout",
        "--no-probe",
        "Examples",
        "Exit codes",
        "Zone Settings Read",
    ):
        assert word in audit, word
    assert run(["--version"]).stdout.startswith("cfremedy ")


def test_apply_history_rollback_through_the_cli(tmp_path: Path) -> None:
    with SandboxSession(load_scenario("demo")) as session:
        env = {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}
        zone_id = session.api.state.zone_by_name("blog.example").id
        plan_file = tmp_path / "plan.json"
        assert run(["plan", "zone", "blog.example", "-o", str(plan_file)], env).returncode == 0
        session.api.clear_log()

        refused = run(["apply", str(plan_file), "--yes"], env)
        assert refused.returncode == 4
        assert "setting:ssl would lower security (pass --allow-downgrade)" in one_clear_line(refused)
        no_prompt = run(["apply", str(plan_file), "--allow-downgrade"], env)
        assert no_prompt.returncode == 2 and "pass --yes" in no_prompt.stderr
        read_only = run(
            ["apply", str(plan_file), "--yes", "--allow-downgrade"],
            {**env, "CLOUDFLARE_API_TOKEN": "sandbox-read-only-token"},
        )
        assert read_only.returncode == 3
        assert "lacks 'Zone Settings Write'" in one_clear_line(read_only)
        edited = json.loads(plan_file.read_text())
        edited["changes"][0]["after"] = "flexible"
        (tmp_path / "edited.json").write_text(json.dumps(edited))
        tampered = run(["apply", str(tmp_path / "edited.json"), "--yes", "--allow-downgrade"], env)
        assert tampered.returncode == 4 and "checksum mismatch" in one_clear_line(tampered)
        assert not [r for r in session.api.requests if r.method != "GET"]  # none of it wrote

        applied = run(["apply", str(plan_file), "--yes", "--allow-downgrade"], env)
        assert applied.returncode == 0, applied.stderr
        assert re.search(r"APPLIED\s+setting:ssl\s+strict -> full", applied.stdout)
        assert re.search(r"resolved\s+ssl_origin_cert\s+blog\.example\s+526", applied.stdout)
        run_id = re.search(r"cfremedy rollback (\S+)", applied.stdout).group(1)
        assert session.api.state.setting_value(zone_id, "ssl") == "full"

        session.api.clear_log()
        again = run(["apply", str(plan_file), "--yes", "--allow-downgrade"], env)
        assert again.returncode == 0 and "no-op" in again.stdout
        assert not [r for r in session.api.requests if r.method != "GET"]

        history = json.loads(run(["history", "--format", "json"], env).stdout)["runs"]
        assert [(r["kind"], r["outcome"]) for r in history] == [("apply", "no-op"), ("apply", "applied")]
        ambiguous = run(["rollback", run_id[:12], "--yes"], env)  # both runs started then
        assert ambiguous.returncode == 2 and "is ambiguous" in one_clear_line(ambiguous)
        undo = run(["rollback", run_id.rsplit("-", 1)[1], "--yes"], env)  # the suffix is unique
        assert undo.returncode == 0, undo.stderr
        assert session.api.state.setting_value(zone_id, "ssl") == "strict"
        table = run(["history", "--format", "table"], env).stdout
        assert f"rollback of {run_id}" in table


def test_a_permission_lost_mid_apply_still_shows_what_was_written(tmp_path: Path) -> None:
    with SandboxSession(load_scenario("demo")) as session:
        env = {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}
        plan_file = tmp_path / "plan.json"
        assert run(["plan", "zone", "shop.example", "-o", str(plan_file)], env).returncode == 0
        session.api.set_faults([FaultSpec(kind="403", method="PATCH", path="/settings/proxy_read_timeout$")])
        proc = run(["apply", str(plan_file), "--yes"], env)
        assert proc.returncode == 4, proc.stderr  # partly applied
        assert re.search(r"APPLIED\s+setting:origin_max_http_version", proc.stdout)
        assert re.search(r"NOT APPLIED\s+setting:proxy_read_timeout", proc.stdout)
        assert "stopped: the API token lacks the 'Zone Settings Write' permission" in proc.stderr
        run_id = re.search(r"cfremedy rollback (\S+)", proc.stdout).group(1)
        session.api.set_faults([])
        assert run(["rollback", run_id, "--yes"], env).returncode == 0
        zone = session.api.state.zone_by_name("shop.example").id
        assert session.api.state.setting_value(zone, "origin_max_http_version") == "2"


def test_bad_paths_fail_before_any_api_request(env: dict[str, str], demo: SandboxSession, tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate")
    demo.api.clear_log()
    proc = run(["audit", "zone", "shop.example", "--origin-ca", str(not_pem)], env)
    assert proc.returncode == 2 and "ca.pem" in one_clear_line(proc)
    assert demo.api.requests == []
    unwritable = run(["plan", "zone", "docs.example", "-o", str(tmp_path / "missing" / "plan.json")], env)
    assert unwritable.returncode == 2 and "cannot write the plan" in one_clear_line(unwritable)


def test_a_crashing_playbook_fails_the_run_but_not_the_others_findings(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "explodes.py").write_text(
        '"""Explodes.\n\nAnti-pattern:\n    x\n\nFix:\n    y\n"""\n'
        'id = "explodes"\ntitle = "t"\nseverity = "low"\nerror_codes = (520,)\n'
        'docs_url = "https://example.invalid"\nread_permissions = ("Zone Read",)\nwrite_permissions = ()\n'
        "def detect(facts):\n    raise RuntimeError('kaboom')\n"
        "def plan_fix(facts, findings):\n    return []\n"
    )
    proc = run(["audit", "zone", "blog.example", "--playbooks-dir", str(tmp_path), "--format", "json"], env)
    assert proc.returncode == 70
    assert "playbook failures, the audit is incomplete: explodes on blog.example" in proc.stderr
    zone = json.loads(proc.stdout)["zones"][0]
    # the others still ran
    assert {f["playbook"] for f in zone["findings"]} == {
        "ssl_origin_cert",
        "cloudflare_ips_allowlist",
        "pages_custom_domain",
    }
    assert zone["errors"] == [{"stage": "playbook", "resource": "explodes", "message": "detect: RuntimeError: kaboom"}]


def test_the_table_marks_suppressed_findings(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "cfremedy.toml").write_text(
        '[[ignore]]\nplaybook = "ssl_origin_cert"\nresource = "legacy.*"\nreason = "retiring in May"\n'
    )
    proc = run(["audit", "zone", "blog.example", "--format", "table", "--config", str(tmp_path / "cfremedy.toml")], env)
    row = next(row for row in rows(tables(proc.stdout)[0], key=1) if row[3] == "legacy.blog.example")
    assert row[0] == "(critical) SUPPRESSED"
    assert "4 finding(s) (2 critical, 2 high), 1 suppressed" in proc.stdout


def test_the_expiry_horizon_comes_from_the_config_file(env: dict[str, str], tmp_path: Path) -> None:
    def expiry(days: int) -> list[str]:
        (tmp_path / "cfremedy.toml").write_text(f"[playbooks.origin_cert_expiry]\ndays = {days}\n")
        proc = run(
            [
                "audit",
                "zone",
                "shop.example",
                "--format",
                "json",
                "--playbook",
                "origin_cert_expiry",
                "--config",
                str(tmp_path / "cfremedy.toml"),
            ],
            env,
        )
        return [f["resource"] for f in json.loads(proc.stdout)["zones"][0]["findings"]]

    assert expiry(30) == ["www.shop.example"]  # the demo's certificate has 12 days left
    assert expiry(5) == []
