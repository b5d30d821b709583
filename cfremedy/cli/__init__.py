"""The `cfremedy` command: typer sub-apps wired together, one module per command group."""

from __future__ import annotations

import typer

from cfremedy import __version__
from cfremedy.cli.audit import audit_app, plan_app
from cfremedy.cli.common import EXIT_CODES_HELP
from cfremedy.cli.doctor import doctor_command
from cfremedy.cli.playbooks_cmd import playbooks_app
from cfremedy.cli.sandbox_cmd import demo_command, sandbox_app

HELP = """\
Find and safely fix the Cloudflare misconfigurations behind 5xx errors.

Start with `cfremedy demo` (no token needed). Against your account: set
CLOUDFLARE_API_TOKEN, run `cfremedy doctor`, then `cfremedy audit zone example.com`.
Reports go to stdout, progress and errors to stderr.
"""


def _version(value: bool) -> None:
    if value:
        print(f"cfremedy {__version__}")
        raise typer.Exit()


app = typer.Typer(help=HELP, epilog=EXIT_CODES_HELP, no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


app.add_typer(audit_app, name="audit")
app.add_typer(plan_app, name="plan")
app.add_typer(playbooks_app, name="playbooks")
app.command("doctor", epilog=EXIT_CODES_HELP)(doctor_command)
app.add_typer(sandbox_app, name="sandbox")
app.command("demo")(demo_command)


def main() -> None:
    app()
