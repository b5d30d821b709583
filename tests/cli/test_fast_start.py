"""`cfremedy --help` and `--version` start fast: the root imports no command until one runs.

The figure (about 0.09 s, `benchmarks/fast_start.py`) follows from what is imported, so this
is what is checked: after `--help` or `--version`, none of the heavy packages is loaded. And
since the root only knows its commands by a table (`cfremedy.cli.COMMANDS`), every entry of
it is checked to load and to answer `--help`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cfremedy.cli import COMMANDS, app, load

HEAVY = ("cloudflare", "cryptography", "httpx", "pydantic", "dns", "asyncio", "rich", "cfremedy.sandbox",
         "cfremedy.probes", "cfremedy.gateway", "cfremedy.audit", "cfremedy.reporters",
         "importlib.metadata")  # fmt: skip
PROBE = (
    "import json, sys\n"
    "from cfremedy.cli import main\n"
    "sys.argv = ['cfremedy', *sys.argv[1:]]\n"
    "try:\n    main()\n"
    "except SystemExit:\n    pass\n"
    "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


def modules_after(*args: str, env: dict[str, str] | None = None) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return set(json.loads(proc.stderr.splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["-h"], []], ids=["help", "h", "no-arguments"])
def test_the_root_help_imports_no_command(args: list[str]) -> None:
    loaded = modules_after(*args)
    assert [m for m in sorted(loaded) if m.split(".")[0] in HEAVY or m.startswith(HEAVY)] == []
    assert not any(
        m.startswith("cfremedy.cli.") and m not in ("cfremedy.cli.common", "cfremedy.cli.console") for m in loaded
    )


def test_completing_a_command_name_imports_no_command() -> None:
    """Every TAB runs cfremedy: offering command names reads the table, as --help does."""
    loaded = modules_after(env={"_CFREMEDY_COMPLETE": "bash_complete", "COMP_WORDS": "cfremedy ", "COMP_CWORD": "1"})
    assert "cfremedy.cli.completion" in loaded  # it did answer
    # Parsing the words typed so far runs typer's value coercion, which is pydantic's.
    heavy = tuple(h for h in HEAVY if h not in ("pydantic", "importlib.metadata"))
    assert [m for m in sorted(loaded) if m.split(".")[0] in heavy or m.startswith(heavy)] == []
    commands = {lazy.module for lazy in COMMANDS.values()} - {"cfremedy.cli.completion"}
    assert not commands & loaded


def test_version_reads_the_metadata_and_nothing_heavier() -> None:
    loaded = modules_after("--version")
    assert "importlib.metadata" in loaded
    assert [m for m in sorted(loaded) if m.startswith(HEAVY[:-1])] == []


def test_the_root_help_lists_every_command_of_the_table_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.startswith("  ")]
    assert [n for n in listed if n in COMMANDS] == list(COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_of_the_table_loads_and_teaches(name: str) -> None:
    command = load(name, COMMANDS[name])
    assert command.name == name
    result = CliRunner().invoke(app, [name, "--help"], prog_name="cfremedy")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cfremedy {name} ")
