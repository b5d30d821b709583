"""What a person at a terminal reads (issue 14): the installed `cfremedy` on the sandbox, its
tables fitted to 80, 120 and 200 columns, and colour only on a terminal.

Each table is read back into columns (`tests.reporters.tablecheck`) and compared with the same
data from `--format json` (or the registry): every cell's words, in order, whole when they fit
their column. Colour is looked for on a pseudo-terminal (stdout a TTY, as for a person) and
must be absent through a pipe, in an `-o` file, with NO_COLOR set, with `--no-color` before or
after the command, and on a dumb terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfremedy.registry import load_registry
from cfremedy.sandbox.scenario import load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.reporters.tablecheck import ANSI, assert_fits, check_table, tables
from tests.support import clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
CLEAN_ENV = clean_env("COLUMNS", "NO_COLOR", "TERM", "FORCE_COLOR")
WIDTHS = (80, 120, 200)
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m")  # a foreground colour, not just bold


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    with SandboxSession(load_scenario("demo")) as session:
        yield session


def run(args: list[str], env: dict[str, str], columns: int | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"COLUMNS": str(columns)} if columns else {}
    return subprocess.run(
        [CFREMEDY, *args], env={**CLEAN_ENV, **env, **extra}, capture_output=True, text=True, timeout=120
    )


def on_a_terminal(args: list[str], env: dict[str, str], columns: int = 120) -> tuple[int, str]:
    """stdout on a pseudo-terminal `columns` wide, as a person runs it: (exit code, what it showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    try:
        proc = subprocess.Popen(
            [CFREMEDY, *args],
            env={**CLEAN_ENV, "TERM": "xterm-256color", **env},
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, shown.decode().replace("\r\n", "\n")


# -- widths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_playbooks_list_and_show_fit(width: int) -> None:
    playbooks = load_registry().playbooks
    listed = run(["playbooks", "list", "--format", "table"], {}, width)  # off a terminal it is JSON
    assert listed.returncode == 0, listed.stderr
    assert_fits(listed.stdout, width)
    (table,) = tables(listed.stdout)
    check_table(
        table,
        ["ID", "ERRORS", "SEVERITY", "CHECKS", "READ", "WRITE (apply)"],
        [
            [
                p.id,
                ", ".join(map(str, p.error_codes)) or "-",
                p.severity.value,
                p.title,
                ", ".join(p.read_permissions),
                ", ".join(p.write_permissions) or "-",
            ]
            for p in playbooks
        ],
    )
    for playbook in ("ssl_origin_cert", "origin_dns", "cloudflare_ips_allowlist"):
        show = run(["playbooks", "show", playbook], {}, width)
        assert_fits(show.stdout, width, urls=True)  # the article's address, whole beside its label
        meta = next(p for p in playbooks if p.id == playbook)
        assert show.stdout.split() == [  # the same words as before, refilled to the width
            *f"{meta.id}: {meta.title}".split(),
            *f"prevents: {', '.join(map(str, meta.error_codes))}".split(),
            *f"severity: {meta.severity.value} (default)".split(),
            *f"reads with: {', '.join(meta.read_permissions)}".split(),
            *f"writes with: {', '.join(meta.write_permissions) or '- (manual fixes only)'}".split(),
            *f"article: {meta.docs_url}".split(),
            *f"source: {meta.source}".split(),
            *meta.docstring.split(),
        ]


@pytest.mark.parametrize("width", WIDTHS)
def test_an_audit_fits(demo: SandboxSession, width: int) -> None:
    env = demo.env()
    report = json.loads(run(["audit", "zone", "blog.example", "--format", "json"], env).stdout)
    table = run(["audit", "zone", "blog.example", "--format", "table"], env, width)
    assert table.returncode == 1, table.stderr
    assert_fits(table.stdout, width)
    (zone,) = report["zones"]
    findings, changes = tables(table.stdout)
    check_table(
        findings,
        ["SEVERITY", "PLAYBOOK", "CODES", "RESOURCE", "FINDING"],
        [
            [f["severity"].upper(), f["playbook"], ", ".join(map(str, f["error_codes"])), f["resource"], f["message"]]
            for f in zone["findings"]
        ],
    )
    assert len(changes.spans) == 4 and "setting:ssl" in changes.body[0]
    words = table.stdout.split()
    for f in zone["findings"]:  # every finding's playbook whole, its resource whole when it fits
        assert f["playbook"] in words
        assert f["resource"] in words or len(f["resource"]) > findings.widths[3]


def reference(args: list[str], env: dict[str, str]) -> list[list[list[str]]]:
    """Each table's rows, cell by cell, from the same command on a terminal wide enough that
    nothing wraps: what a narrower table must show, word for word."""
    proc = run(args, env, 1000)
    assert proc.returncode == 0, proc.stderr
    found = []
    for table in tables(proc.stdout):
        assert all(line[table.spans[0][0] : table.spans[0][1]].strip() for line in table.body)  # a line a row
        found.append([[line[start:end].strip() for start, end in table.spans] for line in table.body])
    return found


@pytest.mark.parametrize(
    "args, headers",
    [
        (["routes", "zone", "apps.example", "--format", "table"], ["HOSTNAME", "ROUTE", "SSL", "TIMEOUT", "GOES TO"]),
        (["doctor"], ["PERMISSION", "STATUS", "NEEDED FOR"]),
        (
            ["errors", "zone", "shop.example", "--since", "24h", "--format", "table"],
            ["CODE", "COUNT", "ORIGIN ANSWERED", "OVER TIME (oldest to newest)", "CHECKED BY", "ARTICLE SECTION"],
        ),
    ],
    ids=["routes", "doctor", "errors"],
)
def test_routes_doctor_and_errors_fit(demo: SandboxSession, args: list[str], headers: list[str]) -> None:
    env = demo.env()
    (expected,) = reference(args, env)
    assert len(expected) >= 3
    for width in WIDTHS:
        proc = run(args, env, width)
        assert proc.returncode == 0, proc.stderr
        assert_fits(proc.stdout, width, urls=args[0] == "errors")  # the article's address stays whole
        (table,) = tables(proc.stdout)
        check_table(table, headers, expected)


def zone_blocks(text: str) -> dict[str, str]:
    """An account audit's table, zone by zone: `== name (plan) ==` and what follows it."""
    return dict(re.findall(r"^== (\S+) \(\w+\) ==\n(.*?)(?=^== |\Z)", text, re.M | re.S))


@pytest.mark.parametrize("width", (80, 200))
def test_an_account_audit_fits(demo: SandboxSession, width: int, tmp_path: Path) -> None:
    """Issue 14 measured 201-202 characters at 200 columns: every line of every zone's tables
    now fits, and each zone's findings are those of the JSON report of the same run, word for word."""
    saved = tmp_path / "report.json"
    args = ["audit", "account", "--probe-timeout", "1", "--format", "table", "-o", "-", "-o", f"json:{saved}"]
    table = run(args, demo.env(), width)
    assert table.returncode == 1, table.stderr
    assert_fits(table.stdout, width)
    report = json.loads(saved.read_text())
    blocks = zone_blocks(table.stdout)
    assert set(blocks) == {z["name"] for z in report["zones"]} and len(blocks) == 6
    for zone in report["zones"]:
        found = tables(blocks[zone["name"]])
        if not zone["findings"]:
            assert found == [] and blocks[zone["name"]].startswith("No findings.")
            continue
        check_table(
            found[0],
            ["SEVERITY", "PLAYBOOK", "CODES", "RESOURCE", "FINDING"],
            [
                [f["severity"].upper(), f["playbook"], ", ".join(map(str, f["error_codes"])) or "-", f["resource"],
                 f["message"]]
                for f in zone["findings"]
            ],
        )  # fmt: skip


def test_history_fits(tmp_path: Path) -> None:
    """`history` with audits and an apply run (its own sandbox: the apply changes the zone), at
    80 and 200 columns, against what it shows on a terminal wide enough that nothing wraps."""
    with SandboxSession(load_scenario("demo")) as session:
        env = session.env()
        assert run(["audit", "zone", "blog.example"], env).returncode == 1
        assert run(["audit", "account", "--zone", "b*", "--format", "json"], env).returncode == 1
        plan = tmp_path / "plan.json"
        assert run(["plan", "zone", "shop.example", "-o", str(plan)], env).returncode == 0
        applied = run(["apply", str(plan), "--yes"], env)
        assert applied.returncode == 0, applied.stderr
        audits, runs = reference(["history", "--format", "table"], env)
        assert len(audits) == 2 and len(runs) == 1
        for width in (80, 200):
            proc = run(["history", "--format", "table"], env, width)
            assert proc.returncode == 0, proc.stderr
            assert_fits(proc.stdout, width)
            found_audits, found_runs = tables(proc.stdout)
            check_table(found_audits, ["AUDIT", "STARTED (UTC)", "SCOPE", "ZONES", "FINDINGS"], audits)
            check_table(found_runs, ["RUN", "STARTED (UTC)", "KIND", "ZONE", "APPLIED", "OUTCOME"], runs)


def test_the_readme_sample_is_what_the_command_prints(demo: SandboxSession) -> None:
    """The README's first table is the demo's output at 100 columns, byte for byte."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"^```\n\$ cfremedy (audit zone [^\n]+)\n(.*?)^```$", readme, re.M | re.S)
    assert sample is not None
    command, shown = sample.groups()
    assert "100 columns" in readme.split(command, 1)[1].split("\n## ", 1)[0]  # the width it says
    proc = run(command.split(), demo.env(), 100)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == shown


# -- colour ---------------------------------------------------------------------------------------


def test_a_terminal_gets_colour_and_a_pipe_never_does(demo: SandboxSession, tmp_path: Path) -> None:
    code, shown = on_a_terminal(["playbooks", "list"], {})
    assert code == 0
    assert "\x1b[1;31mcritical" in shown and "\x1b[31mhigh" in shown and "\x1b[33mmedium" in shown
    assert ANSI.sub("", shown).split() == run(["playbooks", "list", "--format", "table"], {}, 120).stdout.split()
    code, shown = on_a_terminal(["playbooks", "list"], {}, columns=80)  # the terminal's own width
    assert code == 0 and "\x1b[1;31mcritical" in shown
    assert_fits(ANSI.sub("", shown), 80)

    env = demo.env()
    report = tmp_path / "report.txt"
    code, shown = on_a_terminal(
        ["audit", "zone", "blog.example", "--format", "table", "-o", "-", "-o", str(report)], env
    )
    assert code == 1 and "\x1b[1;31mCRITICAL" in shown and "\x1b[31mHIGH" in shown
    assert "CRITICAL" in report.read_text() and not ANSI.search(report.read_text())  # a file: never

    piped = run(["audit", "zone", "blog.example", "--format", "table"], env)
    assert "CRITICAL" in piped.stdout and not ANSI.search(piped.stdout)


@pytest.mark.parametrize(
    "args, extra",
    [
        (["playbooks", "list"], {"NO_COLOR": "1"}),
        (["playbooks", "list"], {"NO_COLOR": "anything"}),
        (["--no-color", "playbooks", "list"], {}),
        (["playbooks", "list", "--no-color"], {}),
        (["playbooks", "list"], {"TERM": "dumb"}),
    ],
    ids=["NO_COLOR=1", "NO_COLOR=anything", "root-option", "command-option", "dumb-terminal"],
)
def test_no_colour_when_refused(args: list[str], extra: dict[str, str]) -> None:
    code, shown = on_a_terminal(args, extra)
    assert code == 0 and "cloudflare_ips_allowlist" in shown
    assert not ANSI.search(shown), shown[:300]


def test_an_empty_no_color_does_not_refuse() -> None:
    """no-color.org: set to a non-empty value. An empty one is as good as unset."""
    code, shown = on_a_terminal(["playbooks", "list"], {"NO_COLOR": ""})
    assert code == 0 and COLOUR.search(shown)


def test_no_color_on_an_audit_on_a_terminal(demo: SandboxSession) -> None:
    for args in (["--no-color", "audit", "zone", "blog.example"], ["audit", "zone", "blog.example", "--no-color"]):
        code, shown = on_a_terminal([*args, "--format", "table"], demo.env())
        assert code == 1 and "CRITICAL" in shown and not ANSI.search(shown)


def test_every_command_accepts_no_color() -> None:
    for args in (["audit", "zone"], ["history"], ["doctor"], ["playbooks", "show"], ["ips", "check"], ["demo"]):
        proc = run([*args, "--help"], {})
        assert proc.returncode == 0 and "--no-color" in proc.stdout, args
    assert "--no-color" in run(["--help"], {}).stdout
