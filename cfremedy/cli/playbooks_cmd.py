"""`cfremedy playbooks list|show`: what the tool checks, which errors it prevents, what it needs."""

from __future__ import annotations

from typing import Annotated

import typer
from tabulate import tabulate

from cfremedy.cli.common import Quiet, Verbose, command, load_settings
from cfremedy.cli.flags import PlaybookDirs, select_playbooks
from cfremedy.cli.console import out

playbooks_app = typer.Typer(rich_markup_mode=None, help="List the playbooks and show what each one checks.",
                            no_args_is_help=True)


@playbooks_app.command("list")
@command
def list_command(playbooks_dir: PlaybookDirs = None, verbose: Verbose = 0, quiet: Quiet = False) -> int:
    """List every playbook with the errors it prevents and the token permissions it needs."""
    playbooks = select_playbooks(load_settings(), None, playbooks_dir)
    rows = [
        [p.id, ",".join(map(str, p.error_codes)) or "-", p.severity.value, p.title,
         ", ".join(p.read_permissions), ", ".join(p.write_permissions) or "-"]
        for p in playbooks
    ]
    out(tabulate(rows, headers=["ID", "ERRORS", "SEVERITY", "CHECKS", "READ", "WRITE (apply)"],
                 tablefmt="simple", maxcolwidths=[None, None, None, 40, 30, 22]) + "\n")
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
    out(
        f"{playbook.id}: {playbook.title}\n"
        f"  prevents:    {', '.join(map(str, playbook.error_codes)) or 'no status code (see the docs page)'}\n"
        f"  severity:    {playbook.severity.value} (default)\n"
        f"  reads with:  {', '.join(playbook.read_permissions)}\n"
        f"  writes with: {', '.join(playbook.write_permissions) or '- (manual fixes only)'}\n"
        f"  article:     {playbook.docs_url}\n"
        f"  source:      {playbook.source}\n\n"
        f"{playbook.docstring}\n"
    )
    return 0
