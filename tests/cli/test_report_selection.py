"""Choosing what runs and what the report shows, through the installed CLI against the sandbox:
`--exclude-playbook` (the complement of `--playbook`) and `--min-severity` (presentation, unlike
`--fail-on`, which decides the exit code)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfremedy.sandbox.scenario import load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import one_clear_line, run


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    with SandboxSession(load_scenario("demo")) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession, tmp_path: Path) -> dict[str, str]:
    demo.api.clear_log()
    return {**demo.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


def report(proc: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def playbooks_of(data: dict[str, Any]) -> set[str]:
    return {f["playbook"] for z in data["zones"] for f in z["findings"]}


# -- --exclude-playbook ---------------------------------------------------------------------------


def test_an_excluded_playbook_does_not_run_and_the_others_do(env: dict[str, str]) -> None:
    everything = report(run(["audit", "zone", "blog.example", "--format", "json"], env))
    assert "ssl_origin_cert" in playbooks_of(everything)
    proc = run(["audit", "zone", "blog.example", "--format", "json", "--exclude-playbook", "ssl_origin_cert"], env)
    assert proc.returncode == 1, proc.stderr  # the allowlist and Pages findings are high
    kept = report(proc)
    assert playbooks_of(kept) == playbooks_of(everything) - {"ssl_origin_cert"}
    assert kept["zones"][0]["changes"] == []  # the SSL change was ssl_origin_cert's


def test_exclusion_applies_after_playbook_and_to_plans(env: dict[str, str], tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    proc = run(
        [
            "plan", "zone", "blog.example", "-o", str(plan_file),
            "-p", "ssl_origin_cert", "-p", "pages_custom_domain", "--exclude-playbook", "ssl_origin_cert",
        ],
        env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(plan_file.read_text())
    assert plan["playbooks"] == ["pages_custom_domain"] and plan["changes"] == []
    assert {f["playbook"] for f in plan["findings"]} == {"pages_custom_domain"}


def test_account_audits_and_plans_exclude_too(env: dict[str, str], tmp_path: Path) -> None:
    proc = run(
        ["audit", "account", "--format", "json", "--no-probe", "--exclude-playbook", "cloudflare_ips_allowlist"], env
    )
    assert proc.returncode == 1, proc.stderr
    assert playbooks_of(report(proc)) and "cloudflare_ips_allowlist" not in playbooks_of(report(proc))
    plans = tmp_path / "plans"
    proc = run(["plan", "account", "-o", str(plans), "--no-probe", "--exclude-playbook", "origin_ip"], env)
    assert proc.returncode == 0, proc.stderr
    for path in plans.glob("*.json"):
        assert "origin_ip" not in json.loads(path.read_text())["playbooks"]


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "zone", "blog.example"],
        ["audit", "account"],
        ["plan", "zone", "blog.example", "-o", "{tmp}/p.json"],
        ["plan", "account", "-o", "{tmp}/plans"],
        ["diagnose", "http://www.blog.example/"],
    ],
    ids=["audit-zone", "audit-account", "plan-zone", "plan-account", "diagnose"],
)
def test_an_unknown_excluded_id_is_a_usage_error_naming_the_closest(
    demo: SandboxSession, env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    proc = run([*args, "--exclude-playbook", "ssl_orign_cert"], env)
    assert proc.returncode == 2, proc.stderr
    line = one_clear_line(proc)
    assert "--exclude-playbook: unknown playbook 'ssl_orign_cert'" in line
    assert "did you mean 'ssl_origin_cert'?" in line
    assert demo.api.requests == []  # refused before any request
    assert not (tmp_path / "plans").exists()  # nor a directory made for nothing


def test_a_mistyped_playbook_names_the_closest_too(env: dict[str, str]) -> None:
    proc = run(["audit", "zone", "blog.example", "--playbook", "orgin_ip"], env)
    assert proc.returncode == 2
    assert "unknown playbook 'orgin_ip' (did you mean 'origin_ip'?)" in one_clear_line(proc)


@pytest.mark.parametrize(
    "selection",
    [["-p", "origin_ip", "--exclude-playbook", "origin_ip"], ["-p", "origin_ip", "-p", "origin_dns",
     "--exclude-playbook", "origin_dns", "--exclude-playbook", "origin_ip"]],
    ids=["one", "two"],
)  # fmt: skip
def test_excluding_every_selected_playbook_is_a_usage_error(env: dict[str, str], selection: list[str]) -> None:
    proc = run(["audit", "zone", "blog.example", *selection], env)
    assert proc.returncode == 2
    assert "--exclude-playbook leaves no playbook to run" in one_clear_line(proc)


def test_diagnose_does_not_run_an_excluded_playbook(env: dict[str, str]) -> None:
    """www.blog.example answers 526: ssl_origin_cert checks it, unless excluded."""
    args = ["diagnose", "http://www.blog.example/", "--format", "json"]
    ran = report(run(args, env))["playbooks"]["run"]
    assert "ssl_origin_cert" in ran
    proc = run([*args, "--exclude-playbook", "ssl_origin_cert"], env)
    assert proc.returncode == 1, proc.stderr  # the URL still answers 526
    data = report(proc)["playbooks"]
    assert "ssl_origin_cert" not in data["run"] and data["run"]
    assert all(f["playbook"] != "ssl_origin_cert" for f in data["findings"])


# -- --min-severity -------------------------------------------------------------------------------


def test_min_severity_hides_findings_but_fail_on_still_counts_them(env: dict[str, str]) -> None:
    """docs.example has high and low findings and nothing critical: the report at critical is
    empty, and --fail-on high still fails the run."""
    full = report(run(["audit", "zone", "docs.example", "--format", "json"], env))
    severities = [f["severity"] for f in full["zones"][0]["findings"]]
    assert "high" in severities and "critical" not in severities
    proc = run(["audit", "zone", "docs.example", "--format", "json", "--min-severity", "critical"], env)
    assert proc.returncode == 1, proc.stderr
    shown = report(proc)
    (zone,) = shown["zones"]
    assert zone["findings"] == [] and zone["changes"] == []  # changes only hidden findings proposed
    assert shown["summary"]["findings"] == 0
    assert shown["summary"]["min_severity"] == {"level": "critical", "findings_left_out": len(severities)}
    notes = [line for line in proc.stderr.splitlines() if "--min-severity" in line]
    assert notes == [
        f"cfremedy: note: {len(severities)} finding(s) below critical left out of the report (--min-severity);"
        " --fail-on high still counts them"
    ]
    # the other way round: what fails the run is --fail-on's, whatever is shown
    assert run(["audit", "zone", "docs.example", "--min-severity", "low", "--fail-on", "critical"], env).returncode == 0


def test_min_severity_keeps_findings_at_and_above_it_and_their_changes(env: dict[str, str], tmp_path: Path) -> None:
    """blog.example: three critical ssl_origin_cert findings (and their SSL change), two high."""
    target = tmp_path / "report.sarif"
    proc = run(["audit", "zone", "blog.example", "--min-severity", "critical", "-o", "-", "-o", f"sarif:{target}"], env)
    assert proc.returncode == 1, proc.stderr
    (zone,) = report(proc)["zones"]
    assert [f["severity"] for f in zone["findings"]] == ["critical"] * 3
    assert [c["target"] for c in zone["changes"]] == ["setting:ssl"]
    sarif = json.loads(target.read_text())
    assert len(sarif["runs"][0]["results"]) == 3  # every rendering shows the same findings


def test_min_severity_is_presentation_history_stores_every_finding(env: dict[str, str]) -> None:
    run(["audit", "zone", "docs.example", "--min-severity", "critical"], env)
    (stored,) = json.loads(run(["history", "--format", "json"], env).stdout)["audits"]
    assert stored["summary"]["findings"] > 0 and "min_severity" not in stored["summary"]


def test_min_severity_takes_the_core_severities_only(env: dict[str, str]) -> None:
    proc = run(["audit", "zone", "docs.example", "--min-severity", "severe"], env)
    assert proc.returncode == 2 and "--min-severity" in proc.stderr
    help_text = run(["audit", "account", "--help"]).stdout
    assert "--min-severity" in help_text and "--fail-on still counts" in " ".join(help_text.split())


# -- -o typos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "output", "said"),
    [
        (["audit", "zone", "blog.example"], "sarf:out.sarif", "unknown format 'sarf'"),
        (["audit", "zone", "blog.example"], "report.xlsx", "cannot tell the format from .xlsx"),
        (["audit", "account"], "sarf:out.sarif", "unknown format 'sarf'"),
    ],
)
def test_a_mistyped_output_fails_before_the_first_api_request(
    env: dict[str, str], demo: SandboxSession, tmp_path: Path, command: list[str], output: str, said: str
) -> None:
    proc = run([*command, "-o", str(tmp_path / output) if ":" not in output else output], env, cwd=tmp_path)
    assert proc.returncode == 2
    assert said in one_clear_line(proc)
    assert demo.api.requests == []  # the audit it would have thrown away never ran
    assert list(tmp_path.glob("*sarif*")) == [] and list(tmp_path.glob("*.xlsx")) == []
