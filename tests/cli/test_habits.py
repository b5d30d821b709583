"""Habits users bring from other tools, through the installed CLI: `-h`, shell completion,
`playbooks list --format json`, `history --zone`, `diff --exit-code`, and a busy `--port`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cfremedy.cli import COMMANDS, app, load
from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import CFREMEDY, CLEAN_ENV, one_clear_line, run


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    with SandboxSession(load_scenario("demo")) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession, tmp_path: Path) -> dict[str, str]:
    demo.api.clear_log()
    return {**demo.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


# -- -h -------------------------------------------------------------------------------------------


def every_command_path() -> list[list[str]]:
    """The root, every command of the root's table, and every command of each group."""
    paths: list[list[str]] = [[]]
    for name, lazy in COMMANDS.items():
        paths.append([name])
        command = load(name, lazy)
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    return paths


@pytest.mark.parametrize("path", every_command_path(), ids=lambda p: " ".join(p) or "root")
def test_dash_h_is_help_everywhere(path: list[str]) -> None:
    runner = CliRunner()
    short = runner.invoke(app, [*path, "-h"], prog_name="cfremedy")
    long = runner.invoke(app, [*path, "--help"], prog_name="cfremedy")
    assert short.exit_code == 0, short.output
    assert short.output == long.output and short.output.startswith("Usage: cfremedy")
    assert "-h, --help" in short.output


def test_dash_h_through_the_installed_command() -> None:
    """A lazily loaded group and its command, as a shell runs them."""
    for args in (["-h"], ["audit", "-h"], ["audit", "zone", "-h"], ["playbooks", "list", "-h"]):
        proc = run(args)
        assert proc.returncode == 0 and proc.stdout.startswith("Usage: cfremedy"), (args, proc.stderr)


# -- shell completion -----------------------------------------------------------------------------


def complete_bash(line: str, instruction: str = "bash_complete") -> list[str]:
    """What the root answers for the words typed so far (the cursor at the end of `line`)."""
    words = line.split(" ")
    proc = subprocess.run(
        [CFREMEDY],
        env={**CLEAN_ENV, "_CFREMEDY_COMPLETE": instruction, "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_completion_bash_prints_a_script_that_completes_through_the_lazy_root() -> None:
    proc = run(["completion", "bash"])
    assert proc.returncode == 0, proc.stderr
    assert "complete -o default -F _cfremedy_completion cfremedy" in proc.stdout
    assert "_CFREMEDY_COMPLETE=complete_bash" in proc.stdout
    assert complete_bash("cfremedy au") == ["audit"]
    assert complete_bash("cfremedy audit ") == ["zone", "account"]
    assert complete_bash("cfremedy audit zone example.com --fail-") == ["--fail-on"]
    assert complete_bash("cfremedy audit zone example.com --min-severity ") == [
        "info", "low", "medium", "high", "critical"
    ]  # fmt: skip
    # the spelling the script itself uses answers the same
    assert complete_bash("cfremedy au", "complete_bash") == ["audit"]
    assert set(complete_bash("cfremedy ")) == set(COMMANDS)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_works_in_bash(tmp_path: Path) -> None:
    """Sourced in a real bash, its completion function fills COMPREPLY by calling cfremedy."""
    script = tmp_path / "cfremedy.bash"
    script.write_text(run(["completion", "bash"]).stdout)
    proc = subprocess.run(
        [
            "bash", "--norc", "--noprofile", "-c",
            f'source {script}; COMP_WORDS=(cfremedy playbooks ""); COMP_CWORD=2;'
            ' _cfremedy_completion cfremedy; printf "%s\\n" "${COMPREPLY[@]}"',
        ],
        env={**CLEAN_ENV, "PATH": f"{Path(CFREMEDY).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["list", "show", "test"]


@pytest.mark.parametrize("shell, fragment", [("zsh", "compdef _cfremedy_completion cfremedy"),
                                             ("fish", "complete --command cfremedy")])  # fmt: skip
def test_completion_zsh_and_fish(shell: str, fragment: str) -> None:
    proc = run(["completion", shell])
    assert proc.returncode == 0 and fragment in proc.stdout and f"complete_{shell}" in proc.stdout
    answer = subprocess.run(
        [CFREMEDY],
        env={
            **CLEAN_ENV,
            "_CFREMEDY_COMPLETE": f"complete_{shell}",
            "_TYPER_COMPLETE_ARGS": "cfremedy audit ",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "zone" in answer.stdout and "account" in answer.stdout


def test_completion_refuses_an_unknown_shell_and_instruction() -> None:
    assert run(["completion", "tcsh"]).returncode == 2
    proc = subprocess.run(
        [CFREMEDY], env={**CLEAN_ENV, "_CFREMEDY_COMPLETE": "nonsense"}, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "not a completion instruction" in proc.stderr


def test_a_mistyped_command_names_the_closest() -> None:
    proc = run(["audti", "zone", "example.com"])
    assert proc.returncode == 2 and "Did you mean 'audit'?" in proc.stderr


# -- playbooks list --format json -----------------------------------------------------------------


def test_playbooks_list_json_is_the_documented_shape() -> None:
    proc = run(["playbooks", "list", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    registry = {p.id: p for p in load_registry().playbooks}
    assert [p["id"] for p in data["playbooks"]] == list(registry)
    by_id = {p["id"]: p for p in data["playbooks"]}
    ssl = by_id["ssl_origin_cert"]
    assert set(ssl) == {
        "id", "title", "summary", "severity", "error_codes", "docs_url", "read_permissions", "write_permissions",
        "automatic_fix", "reads", "uses_probes", "builtin", "source",
    }  # fmt: skip
    assert ssl["error_codes"] == [521, 522, 523, 525, 526] and ssl["severity"] == "critical"
    assert "Zone Settings Write" in ssl["write_permissions"] and ssl["automatic_fix"] is True
    assert ssl["docs_url"].startswith("https://developers.cloudflare.com/")
    assert ssl["summary"] == registry["ssl_origin_cert"].summary and ssl["builtin"] is True
    assert by_id["ssl_per_hostname"]["reads"] == list(registry["ssl_per_hostname"].reads) != []
    assert by_id["origin_keepalive"]["automatic_fix"] is False


def test_playbooks_list_is_json_off_a_terminal_and_a_table_on_request(tmp_path: Path) -> None:
    assert json.loads(run(["playbooks", "list"]).stdout)["playbooks"]
    table = run(["playbooks", "list", "--format", "table"], {"COLUMNS": "200"}).stdout
    assert re.search(r"^origin_ip\s+521, 522, 523, 1000\s", table, re.M), table
    assert run(["playbooks", "list", "--format", "yaml"]).returncode == 2


# -- history --zone -------------------------------------------------------------------------------


def audits(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    proc = run(["history", "--format", "json", *args], env)
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, Any]] = json.loads(proc.stdout)["audits"]
    return found


def test_history_zone_lists_its_audits_and_the_account_audits_that_covered_it(env: dict[str, str]) -> None:
    for args in (
        ["audit", "zone", "blog.example", "--no-probe"],
        ["audit", "zone", "shop.example", "--no-probe"],
        ["audit", "account", "--zone", "shop.example", "--zone", "blog.example", "--no-probe"],
        ["audit", "account", "--zone", "docs.example", "--no-probe"],
    ):
        assert run(args, env).returncode in (0, 1)
    assert len(audits(env)) == 4
    blog = audits(env, "--zone", "BLOG.example.")  # names are compared as the API spells them
    assert [a["scope"] for a in blog] == ["all zones; zones shop.example,blog.example", "zone blog.example"]
    account, own = blog
    assert account["summary"]["zones"] == 1  # the account audit, counted over blog.example alone
    assert account["summary"]["findings"] == own["summary"]["findings"] > 0
    assert [a["scope"] for a in audits(env, "--zone", "blog.example", "--limit", "1")] == [account["scope"]]


def test_history_zone_lists_only_that_zones_runs(tmp_path: Path) -> None:
    with SandboxSession(load_scenario("demo")) as session:
        env = {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}
        for zone in ("docs.example", "shop.example"):
            plan = tmp_path / f"{zone}.json"
            assert run(["plan", "zone", zone, "-o", str(plan)], env).returncode == 0
            applied = run(["apply", str(plan), "--yes", "--no-probe"], env)
            assert applied.returncode in (0, 1), applied.stderr
        everything = json.loads(run(["history", "--format", "json"], env).stdout)["runs"]
        assert {r["zone"] for r in everything} == {"docs.example", "shop.example"}
        docs = json.loads(run(["history", "--format", "json", "--zone", "docs.example"], env).stdout)
        assert [r["zone"] for r in docs["runs"]] == ["docs.example"]
        assert docs["audits"] == []  # plans and applies store no audit


def test_history_warns_about_a_zone_it_has_never_seen(env: dict[str, str]) -> None:
    run(["audit", "zone", "blog.example", "--no-probe"], env)
    proc = run(["history", "--zone", "blgo.example"], env)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"runs": [], "audits": []}
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "cfremedy: warning: no run or audit in history names zone 'blgo.example' (did you mean 'blog.example'?)"
    ]
    bad = run(["history", "--zone", "not a zone"], env)
    assert bad.returncode == 2 and "--zone" in one_clear_line(bad)


# -- diff --exit-code -----------------------------------------------------------------------------


def test_diff_exit_code_is_1_only_when_there_are_new_findings(env: dict[str, str], tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    run(["audit", "zone", "blog.example", "-p", "ssl_origin_cert", "-o", f"json:{old}"], env)
    run(["audit", "zone", "blog.example", "-o", f"json:{new}"], env)
    appeared = run(["diff", str(old), str(new), "--exit-code", "--format", "json"], env)
    assert appeared.returncode == 1, appeared.stderr
    assert json.loads(appeared.stdout)["new_findings"]  # the diff is still printed
    assert run(["diff", str(old), str(new)], env).returncode == 0  # without the flag: 0
    resolved = run(["diff", str(new), str(old), "--exit-code", "--format", "json"], env)
    assert resolved.returncode == 0 and json.loads(resolved.stdout)["resolved_findings"]
    assert run(["diff", str(new), str(new), "--exit-code"], env).returncode == 0
    # stored audits, the default sides: the newest against the one before it
    run(["audit", "zone", "blog.example", "-p", "ssl_origin_cert", "--no-probe"], env)
    run(["audit", "zone", "blog.example", "--no-probe"], env)
    assert run(["diff", "--exit-code"], env).returncode == 1


# -- sandbox serve on a busy port ----------------------------------------------------------------


def test_sandbox_serve_on_a_busy_port_is_a_usage_error_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run(["sandbox", "serve", "--port", str(port)], timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"--port {port}: port {port} on 127.0.0.1 is already in use" in one_clear_line(proc)
    assert "cfremedy: hint: choose another --port, or --port 0 for any free one" in proc.stderr
    assert proc.stdout == ""
