"""docs/ci.md: the CI examples are valid YAML and every cfremedy command in them parses.

Each `cfremedy ...` command found in a run/script step is fed to the real command-line parser
(click, under typer), so an option renamed or removed in the CLI breaks this test, not a
user's nightly build.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cfremedy.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def _scripts(node: Any, under_script: bool = False) -> list[str]:
    """The shell text of `run:` (GitHub) and `script:` (GitLab) entries, nothing else."""
    if isinstance(node, str):
        return [node] if under_script else []
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _scripts(value, key in ("run", "script"))]
    if isinstance(node, list):
        return [s for item in node for s in _scripts(item, under_script)]
    return []


def _commands(block: str) -> list[list[str]]:
    commands = []
    for text in _scripts(yaml.safe_load(block)):
        # CI variables become plausible values; folded scalars are already one line.
        text = re.sub(r"\$\{\{ matrix\.shard \}\}", "1", text)
        text = re.sub(r"\$\{\{[^}]*\}\}", "x", text)
        text = text.replace("$CI_NODE_INDEX", "1").replace("$CI_NODE_TOTAL", "4")
        text = re.sub(r"\$[A-Z_]+", "/tmp/out", text)
        for line in text.replace("\\\n", " ").splitlines():
            words = shlex.split(line)
            if words and words[0] == "cfremedy":
                commands.append(words[1:])
    return commands


COMMANDS = [(n, c) for n, block in enumerate(BLOCKS) for c in _commands(block)]


def test_the_doc_has_a_github_workflow_and_a_gitlab_job() -> None:
    workflows = [yaml.safe_load(b) for b in BLOCKS]
    github = next(w for w in workflows if "jobs" in w)
    triggers = github.get("on", github.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert triggers["schedule"] and github["permissions"]["security-events"] == "write"
    steps = github["jobs"]["audit"]["steps"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in steps)
    assert github["jobs"]["audit"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    gitlab = next(w for w in workflows if "cfremedy-audit" in w)
    assert gitlab["cfremedy-audit"]["artifacts"]["reports"]["junit"] == "cfremedy-junit.xml"
    assert len(COMMANDS) >= 2


@pytest.mark.parametrize("block, args", COMMANDS, ids=[" ".join(c[:2]) for _, c in COMMANDS])
def test_every_command_parses_with_the_real_cli(block: int, args: list[str]) -> None:
    command = typer.main.get_command(app)  # typer's (vendored) click command tree
    path = []
    while hasattr(command, "commands"):  # a group: descend into the named subcommand
        name, args = args[0], args[1:]
        command = command.get_command(None, name)  # the root imports its commands lazily
        path.append(name)
    context = command.make_context(" ".join(["cfremedy", *path]), list(args))
    assert context.params  # parsed: unknown options or bad values would have raised
    for spec in context.params.get("output") or ():
        fmt = spec.split(":", 1)[0]
        assert fmt in ("json", "sarif", "junit", "markdown", "table"), spec
    if "shard" in context.params:
        assert re.fullmatch(r"\d+/\d+", context.params["shard"])
