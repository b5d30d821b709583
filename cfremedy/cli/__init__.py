"""The `cfremedy` command: typer sub-apps wired together, one module per command group."""

from __future__ import annotations

import typer

from cfremedy import __version__
from cfremedy.cli.apply_cmd import apply_command, rollback_command
from cfremedy.cli.audit import audit_app, plan_app
from cfremedy.cli.common import EXIT_CODES_HELP
from cfremedy.cli.diagnose_cmd import diagnose_command
from cfremedy.cli.doctor import doctor_command
from cfremedy.cli.errors_cmd import errors_app
from cfremedy.cli.history_cmd import diff_command, history_command
from cfremedy.cli.ips_cmd import ips_app
from cfremedy.cli.playbooks_cmd import playbooks_app
from cfremedy.cli.routes_cmd import routes_app
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


app = typer.Typer(
    rich_markup_mode=None,
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


app.command("demo", short_help="Tour cfremedy on the built-in sandbox (no token needed).")(demo_command)
app.command(
    "doctor", epilog=EXIT_CODES_HELP, short_help="Check the token, the API, and the permissions audit/apply need."
)(doctor_command)
app.add_typer(audit_app, name="audit", short_help="Audit a zone or a whole account for 5xx misconfigurations.")
app.add_typer(plan_app, name="plan", short_help="Save the changes that fix an audit's findings as a plan.")
app.command("apply", epilog=EXIT_CODES_HELP, short_help="Apply a saved plan safely: drift checks, journal, re-audit.")(
    apply_command
)
app.command("history", short_help="List audits, apply and rollback runs, and their outcomes.")(history_command)
app.command("diff", short_help="Findings new and resolved between two audits.")(diff_command)
app.command("rollback", epilog=EXIT_CODES_HELP, short_help="Undo a run, restoring the values it changed.")(
    rollback_command
)
app.command("diagnose", epilog=EXIT_CODES_HELP, short_help="Diagnose a live 5xx URL and write a support bundle.")(
    diagnose_command
)
app.add_typer(errors_app, name="errors", short_help="The 5xx Cloudflare counted for a zone, by code and hour.")
app.add_typer(playbooks_app, name="playbooks", short_help="List the playbooks, show one, or test your own.")
app.add_typer(routes_app, name="routes", short_help="Where Cloudflare sends each hostname's traffic.")
app.add_typer(
    ips_app, name="ips", short_help="Cloudflare's IP ranges: write an origin allowlist, or check one (no token needed)."
)
app.add_typer(sandbox_app, name="sandbox", short_help="Serve the offline Cloudflare API sandbox.")


def main() -> None:
    app()
