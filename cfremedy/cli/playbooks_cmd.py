"""`cfremedy playbooks list|show|test`: what the tool checks, which errors it prevents, what it
needs, and a runner for the case files of playbooks people write themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cfremedy.cli.common import ListFormatOpt, Quiet, Verbose, command, list_format, load_settings
from cfremedy.cli.console import out, terminal_width, use_color
from cfremedy.cli.flags import PlaybookDirs, select_playbooks
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from cfremedy.reporters.grid import Column, fit_text, grid, paragraph, severity_style
from cfremedy.reporters.table import codes_text

LIST_COLUMNS = (
    Column("ID", keep=True),
    Column("ERRORS"),
    Column("SEVERITY", keep=True, style=severity_style),
    Column("CHECKS", free=True),
    Column("READ", free=True),
    Column("WRITE (apply)", free=True),
)
SHOW_LABEL = 15  # "  writes with: ": the values of `show` line up after it

playbooks_app = typer.Typer(
    rich_markup_mode=None, help="List the playbooks and show what each one checks.", no_args_is_help=True
)


@playbooks_app.command("list")
@command
def list_command(
    playbooks_dir: PlaybookDirs = None, format: ListFormatOpt = None, verbose: Verbose = 0, quiet: Quiet = False
) -> int:
    """List every playbook with the errors it prevents and the token permissions it needs.

    --format json prints {"schema_version": 1, "playbooks": [...]}, one object per playbook:
    id, title, summary, severity, error_codes, docs_url, read_permissions, write_permissions,
    automatic_fix, reads, uses_probes, builtin, source (docs/architecture.md, "The playbook list").

    Examples:

      cfremedy playbooks list

      cfremedy playbooks list --format json | jq -r '.playbooks[] | select(.automatic_fix) | .id'
    """
    playbooks = select_playbooks(load_settings(), None, playbooks_dir)
    if list_format(format) == "json":
        import json

        from cfremedy.catalog import catalog_dict

        out(json.dumps(catalog_dict([p.meta for p in playbooks]), indent=2, ensure_ascii=False) + "\n")
        return 0
    rows = [
        [
            p.id,
            codes_text(p.error_codes),
            p.severity.value,
            p.title,
            ", ".join(p.read_permissions),
            ", ".join(p.write_permissions) or "-",
        ]
        for p in playbooks
    ]
    out(grid(LIST_COLUMNS, rows, terminal_width(), color=use_color()))
    return 0


@playbooks_app.command("show")
@command
def show_command(
    playbook_id: Annotated[str, typer.Argument(metavar="ID", help="A playbook id from `playbooks list`.")],
    playbooks_dir: PlaybookDirs = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Show one playbook: the anti-pattern it detects, the fix, permissions and the article section."""
    (playbook,) = select_playbooks(load_settings(), [playbook_id], playbooks_dir)
    width = terminal_width()
    fields = {
        "prevents": ", ".join(map(str, playbook.error_codes)) or "no status code (see the docs page)",
        "severity": f"{playbook.severity.value} (default)",
        "reads with": ", ".join(playbook.read_permissions),
        "writes with": ", ".join(playbook.write_permissions) or "- (manual fixes only)",
        "article": playbook.docs_url,
        "source": str(playbook.source),
    }
    out(
        paragraph(f"{playbook.id}: {playbook.title}", width, indent="  ")
        + "".join(_field(label, value, width) for label, value in fields.items())
        + "\n"
        + fit_text(playbook.docstring, width)
    )
    return 0


def _field(label: str, value: str, width: int) -> str:
    """`  reads with:  Zone Read, ...`, wrapped under the value; a value of one word (the
    article's address, the source's path) stays whole beside its label, to be clicked or copied."""
    line = f"  {label + ':':<{SHOW_LABEL - 2}}{value}"
    return paragraph(line, width, indent=" " * SHOW_LABEL) if " " in value.strip() else f"{line}\n"


@playbooks_app.command("test")
@command
def test_command(
    cases: Annotated[Path, typer.Argument(metavar="CASES_DIR", help="A directory of <playbook>.yml case files.")],
    playbooks_dir: PlaybookDirs = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Run playbooks against their YAML case files: plain data in, exact findings out.

    The runner cfremedy's own test suite uses (`cfremedy.testing`), for the playbooks you
    write: each case describes a zone (settings, records, probe results, inventory) and the
    findings and changes the playbook must return. Unknown keys in a case file are errors.
    Exits 1 when a case fails.

    Example:

      cfremedy playbooks test my_cases/ --playbooks-dir my_playbooks/
    """
    from cfremedy.testing import run_directory

    if not cases.is_dir():
        raise UsageError(f"{cases} is not a directory of case files")
    playbooks = {p.id: p for p in select_playbooks(load_settings(), None, playbooks_dir)}
    results = run_directory(cases, playbooks)
    if not results:
        raise UsageError(f"no case file (*.yml) in {cases}")
    for result in results:
        if not result.passed:
            out(
                f"FAIL {result.playbook}: {result.case} ({result.file.name})\n"
                + "".join(f"     {line}\n" for line in result.failure.splitlines())
            )
    failed = sum(not r.passed for r in results)
    out(
        f"{len(results) - failed} passed, {failed} failed"
        f" ({len({r.playbook for r in results})} playbook(s), {len({r.file for r in results})} file(s))\n"
    )
    return EXIT_FINDINGS if failed else EXIT_OK
