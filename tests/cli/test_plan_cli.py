"""The installed `cfremedy plan zone|account` against the demo sandbox: exit codes CI can branch
on, the one-line summary, and one plan file per zone from the same pipeline as `audit account`."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfremedy.plan import Plan
from cfremedy.sandbox.scenario import load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import one_clear_line, run

CHANGED_ZONES = {"apps.example", "blog.example", "docs.example", "shop.example", "static.example"}


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    with SandboxSession(load_scenario("demo")) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession, tmp_path: Path) -> dict[str, str]:
    demo.api.clear_log()
    return {**demo.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


@pytest.mark.parametrize(
    "zone, detailed, code, summary",
    [
        ("shop.example", True, 5, "Plan: 2 to change, 1 manual (findings without an automatic fix)."),
        ("shop.example", False, 0, "Plan: 2 to change, 1 manual (findings without an automatic fix)."),
        ("healthy.example", True, 0, "Plan: 0 to change, 0 manual (findings without an automatic fix)."),
    ],
)
def test_plan_zone_exit_code_and_summary(
    env: dict[str, str], tmp_path: Path, zone: str, detailed: bool, code: int, summary: str
) -> None:
    flag = ["--detailed-exitcode"] if detailed else []
    proc = run(["plan", "zone", zone, "-o", str(tmp_path / "p.json"), *flag], env)
    assert proc.returncode == code, proc.stderr
    assert last_line(proc.stdout) == summary
    assert Plan.read(tmp_path / "p.json").zone == zone


def test_plan_zone_failures_keep_their_codes_with_detailed_exitcode(env: dict[str, str], tmp_path: Path) -> None:
    proc = run(["plan", "zone", "nope.example", "-o", str(tmp_path / "p.json"), "--detailed-exitcode"], env)
    assert proc.returncode == 3 and "zone nope.example not found" in one_clear_line(proc)


def test_plan_account_writes_one_plan_per_zone_with_changes(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    plans = tmp_path / "plans"
    quick = ["--probe-timeout", "2"]  # the demo's silent origin costs two timeouts (a retry) per run
    proc = run(["plan", "account", "-o", str(plans), "--detailed-exitcode", *quick], env, timeout=180)
    assert proc.returncode == 5, proc.stderr
    assert {p.name for p in plans.iterdir()} == {f"{z}.json" for z in CHANGED_ZONES}  # healthy.example: none
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in plans.iterdir())
    assert last_line(proc.stdout) == (
        "Plan: 7 to change in 5 of 6 zone(s), 8 manual (findings without an automatic fix)."
    )
    assert f"5 plan file(s) written to {plans}" in proc.stderr
    account_requests = Counter((r.method, r.path) for r in demo.api.requests)
    assert {method for method, _ in account_requests} == {"GET"}

    # the same pipeline as `audit account`: the same requests, the same proposed changes
    demo.api.clear_log()
    audited = run(["audit", "account", "--format", "json", *quick], env, timeout=180)
    assert audited.returncode in (0, 1), audited.stderr
    assert Counter((r.method, r.path) for r in demo.api.requests) == account_requests
    for zone in json.loads(audited.stdout)["zones"]:
        if zone["changes"]:
            planned = json.loads((plans / f"{zone['name']}.json").read_text())
            assert planned["changes"] == zone["changes"] and planned["zone_id"] == zone["id"], zone["name"]

    # and a file is the plan `plan zone` makes for its zone
    single = tmp_path / "blog.example.json"
    assert run(["plan", "zone", "blog.example", "-o", str(single), *quick], env).returncode == 0
    assert Plan.read(plans / "blog.example.json").changes == Plan.read(single).changes


def test_the_demos_static_plan_applied_leaves_no_new_finding(tmp_path: Path) -> None:
    """static.example is Flexible, and its www origin redirects plain HTTP to HTTPS: the plan
    moves assets and media to the file server the inventory names, which serves the page over
    plain HTTP (the origin_ip candidate check), so the apply trades their 522/523 for no
    redirect loop. Its own sandbox: the apply changes the zone."""
    with SandboxSession(load_scenario("demo")) as session:
        env = {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}
        quick = ["--probe-timeout", "1"]  # the dead files.static.example costs two timeouts per run
        plan = tmp_path / "static.example.json"
        made = run(["plan", "zone", "static.example", "-o", str(plan), *quick], env)
        assert made.returncode == 0, made.stderr
        assert {(c.before["name"], c.before["content"], c.after["content"]) for c in Plan.read(plan).changes} == {
            ("assets.static.example", "10.0.12.7", "93.184.215.41"),
            ("media.static.example", "93.184.215.99", "93.184.215.41"),
        }
        applied = run(["apply", str(plan), "--yes", *quick], env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        rechecks = applied.stdout.split("Re-audit", 1)[1]
        assert re.search(r"^resolved\s+origin_ip\s+assets\.static\.example", rechecks, re.M), rechecks
        assert re.search(r"^resolved\s+origin_ip\s+media\.static\.example", rechecks, re.M), rechecks
        assert not re.search(r"^new\s", rechecks, re.M), rechecks
        after = json.loads(run(["audit", "zone", "static.example", "--format", "json", *quick], env).stdout)
        loops = [f["resource"] for f in after["zones"][0]["findings"] if f["playbook"] == "flexible_redirect_loop"]
        assert loops == ["www.static.example"]


def test_plan_account_selects_zones_like_audit_account_and_refuses_a_used_directory(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path
) -> None:
    calm = run(["plan", "account", "--zone", "healthy.*", "-o", str(tmp_path / "calm"), "--detailed-exitcode"], env)
    assert calm.returncode == 0, calm.stderr
    assert list((tmp_path / "calm").iterdir()) == []
    assert last_line(calm.stdout) == "Plan: 0 to change, 0 manual (findings without an automatic fix)."

    used = tmp_path / "used"
    assert run(["plan", "account", "--zone", "blog.*", "-o", str(used)], env).returncode == 0
    demo.api.clear_log()
    again = run(["plan", "account", "--zone", "blog.*", "-o", str(used)], env)
    assert again.returncode == 2
    assert "already holds plan files (blog.example.json)" in one_clear_line(again)
    assert demo.api.requests == []  # refused before any request


def test_the_help_says_what_the_codes_and_options_are() -> None:
    plan_help = run(["plan", "zone", "--help"]).stdout
    for text in ("--detailed-exitcode", "Exit 5 when the plan proposes changes", "Plan: 2 to change, 1 manual"):
        assert text in plan_help, text
    assert "5 plan --detailed-exitcode" in re.sub(r"\s+", " ", plan_help)
    account_help = run(["plan", "account", "--help"]).stdout
    for text in ("--output", "DIR/ZONE.json", "--zone", "--shard", "--detailed-exitcode"):
        assert text in account_help, text
    apply_help = re.sub(r"\s+", " ", run(["apply", "--help"]).stdout)
    for text in ("--only", "--lock-timeout", "only the typed word `yes` approves", "CFREMEDY_PLAN_KEY", "drifted"):
        assert text in apply_help, text


def test_the_readme_and_the_help_list_every_exit_code_and_every_setting_apply_changes() -> None:
    from cfremedy import errors
    from cfremedy.cli.common import EXIT_CODES_HELP
    from cfremedy.targets import SETTINGS
    from tests.support import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    codes = {int(getattr(errors, name)) for name in dir(errors) if name.startswith("EXIT_")}
    table = readme.split("### Exit codes", 1)[1].split("###", 1)[0]
    assert {int(c) for c in re.findall(r"^\| (\d+) \|", table, re.M)} == codes
    assert "| 5 | `plan zone|account --detailed-exitcode`" in table
    assert {int(c) for c in re.findall(r"(?:^|; )(\d+) ", EXIT_CODES_HELP.split(": ", 1)[1])} == codes
    safety = readme.split("## Safety", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"setting cfremedy knows how to change\s+\(([^;]*);", safety)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == SETTINGS
    for text in ("CFREMEDY_PLAN_KEY", "--lock-timeout", "--only TARGET", "typed word `yes`", "unsettled"):
        assert text in safety, text


def test_every_setting_is_in_env_example() -> None:
    from cfremedy.settings import Settings
    from tests.support import ROOT

    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    for field in Settings.model_fields.values():
        assert f"\n# {field.validation_alias}=" in documented or f"\n{field.validation_alias}=" in documented, field


def test_a_plan_apply_would_refuse_is_said_when_it_is_made(env: dict[str, str], tmp_path: Path) -> None:
    """A playbook of one's own may propose a setting apply does not know how to change."""
    (tmp_path / "brotli_on.py").write_text(
        '"""Brotli.\n\nAnti-pattern:\n    x\n\nFix:\n    y\n"""\n'
        "from cfremedy.kit import Change, Finding, Severity\n"
        'id = "brotli_on"\ntitle = "t"\nseverity = Severity.LOW\nerror_codes = (520,)\n'
        'docs_url = "https://example.invalid"\nread_permissions = ("Zone Read",)\n'
        'write_permissions = ("Zone Settings Write",)\nuses_probes = False\n'
        "def detect(facts):\n    return [Finding(id, severity, error_codes, facts.snapshot.zone.name, 'off')]\n"
        "def plan_fix(facts, findings):\n    return [Change(id, 'setting:brotli', 'off', 'on', 'r')]\n"
    )
    plan = tmp_path / "p.json"
    args = ["--playbooks-dir", str(tmp_path), "--playbook", "brotli_on", "--no-probe"]
    made = run(["plan", "zone", "healthy.example", "-o", str(plan), *args], env)
    assert made.returncode == 0, made.stderr
    assert "warning: healthy.example: apply will refuse this plan: 'setting:brotli'" in made.stderr
    refused = run(["apply", str(plan), "--yes", "--no-probe"], env)
    assert refused.returncode == 2
    assert "cfremedy does not change the setting 'brotli'" in one_clear_line(refused)
