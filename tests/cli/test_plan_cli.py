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
    proc = run(["plan", "account", "-o", str(plans), "--detailed-exitcode"], env, timeout=180)
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
    audited = run(["audit", "account", "--format", "json"], env, timeout=180)
    assert audited.returncode in (0, 1), audited.stderr
    assert Counter((r.method, r.path) for r in demo.api.requests) == account_requests
    for zone in json.loads(audited.stdout)["zones"]:
        if zone["changes"]:
            planned = json.loads((plans / f"{zone['name']}.json").read_text())
            assert planned["changes"] == zone["changes"] and planned["zone_id"] == zone["id"], zone["name"]

    # and a file is the plan `plan zone` makes for its zone
    single = tmp_path / "blog.example.json"
    assert run(["plan", "zone", "blog.example", "-o", str(single)], env).returncode == 0
    assert Plan.read(plans / "blog.example.json").changes == Plan.read(single).changes


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
