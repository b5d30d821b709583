"""The `cfremedy` command: typer sub-apps wired together, one module per command group.

Every command's module is imported only when that command runs (click's lazily loaded
subcommands): `cfremedy --help` and `--version` load no SDK, no probe and no sandbox, and
`cfremedy audit zone` does not pay for `diagnose`'s imports. The table below is all the root
knows of each command: where it lives and the line its help shows
(`tests/cli/test_fast_start.py` checks that every entry loads and that `--help` imports none).

`--no-color` is accepted before the command (`cfremedy --no-color audit zone x`) and after it,
by every command (`load` gives each one the option): whatever prints a table prints it plain.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from cfremedy.cli.common import EXIT_CODES_HELP
from cfremedy.cli.console import refuse_color

HELP = """\
Find and safely fix the Cloudflare misconfigurations behind 5xx errors.

Start with `cfremedy demo` (no token needed). Against your account: set
CLOUDFLARE_API_TOKEN, run `cfremedy doctor`, then `cfremedy audit zone example.com`.
Reports go to stdout, progress and errors to stderr.
"""


@dataclass(frozen=True)
class Lazy:
    """A command (a function) or a group of commands (a `typer.Typer`), by module and name."""

    module: str
    attribute: str
    short_help: str
    epilog: str | None = None


NO_COLOR_HELP = (
    "Plain tables, without colour, even on a terminal (as NO_COLOR=1 does; a pipe or a file never gets colour)."
)


def _refuse_color(value: bool) -> None:
    if value:
        refuse_color()


def _no_color_option() -> Any:
    """The click parameter `--no-color`, as typer builds it, for `load` to add to a command."""
    probe = typer.Typer(rich_markup_mode=None, add_completion=False)

    @probe.command()
    def probe_command(
        no_color: bool = typer.Option(
            False, "--no-color", help=NO_COLOR_HELP, callback=_refuse_color, expose_value=False
        ),
    ) -> None:
        pass

    return typer.main.get_command(probe).params[0]


def _with_no_color(command: Any) -> Any:
    """Every command of a group (recursively), or the command, also accepts `--no-color`."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _with_no_color(sub)
    elif not any(param.name == "no_color" for param in command.params):
        command.params.append(_no_color_option())
    return command


COMMANDS: dict[str, Lazy] = {
    "demo": Lazy(
        "cfremedy.cli.sandbox_cmd", "demo_command", "Tour cfremedy on the built-in sandbox (no token needed)."
    ),
    "doctor": Lazy(
        "cfremedy.cli.doctor",
        "doctor_command",
        "Check the token, the API, and the permissions audit/apply need.",
        EXIT_CODES_HELP,
    ),
    "audit": Lazy("cfremedy.cli.audit", "audit_app", "Audit a zone or a whole account for 5xx misconfigurations."),
    "plan": Lazy("cfremedy.cli.audit", "plan_app", "Save the changes that fix an audit's findings as a plan."),
    "apply": Lazy(
        "cfremedy.cli.apply_cmd",
        "apply_command",
        "Apply a saved plan safely: drift checks, journal, re-audit.",
        EXIT_CODES_HELP,
    ),
    "history": Lazy(
        "cfremedy.cli.history_cmd", "history_command", "List audits, apply and rollback runs, and their outcomes."
    ),
    "diff": Lazy("cfremedy.cli.history_cmd", "diff_command", "Findings new and resolved between two audits."),
    "rollback": Lazy(
        "cfremedy.cli.apply_cmd", "rollback_command", "Undo a run, restoring the values it changed.", EXIT_CODES_HELP
    ),
    "diagnose": Lazy(
        "cfremedy.cli.diagnose_cmd",
        "diagnose_command",
        "Diagnose a live 5xx URL and write a support bundle.",
        EXIT_CODES_HELP,
    ),
    "errors": Lazy("cfremedy.cli.errors_cmd", "errors_app", "The 5xx Cloudflare counted for a zone, by code and hour."),
    "playbooks": Lazy("cfremedy.cli.playbooks_cmd", "playbooks_app", "List the playbooks, show one, or test your own."),
    "routes": Lazy("cfremedy.cli.routes_cmd", "routes_app", "Where Cloudflare sends each hostname's traffic."),
    "ips": Lazy(
        "cfremedy.cli.ips_cmd",
        "ips_app",
        "Cloudflare's IP ranges: write an origin allowlist, or check one (no token needed).",
    ),
    "sandbox": Lazy("cfremedy.cli.sandbox_cmd", "sandbox_app", "Serve the offline Cloudflare API sandbox."),
    "completion": Lazy(
        "cfremedy.cli.completion", "completion_command", "Print the shell completion script for bash, zsh or fish."
    ),
}

# `-h` as well as `--help`, on the root and, through click's context inheritance, on every
# command and group below it, loaded lazily or not.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def load(name: str, lazy: Lazy) -> Any:
    """The click command for one entry of `COMMANDS`, built by typer as if registered eagerly."""
    target = getattr(importlib.import_module(lazy.module), lazy.attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        group.short_help = lazy.short_help
        return _with_no_color(group)
    single = typer.Typer(rich_markup_mode=None)
    single.command(name, epilog=lazy.epilog, short_help=lazy.short_help)(target)
    return _with_no_color(typer.main.get_command(single))


class LazyRoot(TyperGroup):
    """The root group: lists every command from the table, imports one only when it is used."""

    # click's types (Context, Command, HelpFormatter) come vendored inside typer, not as a
    # public module: they are `Any` here.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in COMMANDS:
            found = load(cmd_name, COMMANDS[cmd_name])
            self.commands[cmd_name] = found
        return found

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """A mistyped command is refused naming the closest one (typer only suggests among
        the commands already loaded, which at the root is none)."""
        from typer._click.exceptions import UsageError

        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            if args and "Did you mean" not in exc.message:
                from cfremedy.suggest import closest

                match = closest(args[0], self.list_commands(ctx))
                if match is not None:
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {match!r}?"
            raise

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """Command names from the table, without importing a command to offer its name."""
        from typer._click.shell_completion import CompletionItem

        items = []
        for name in self.list_commands(ctx):
            if not name.startswith(incomplete):
                continue
            if name in COMMANDS and name not in self.commands:
                items.append(CompletionItem(name, help=COMMANDS[name].short_help))
                continue
            found = self.get_command(ctx, name)
            if found is not None and not found.hidden:
                items.append(CompletionItem(name, help=found.get_short_help_str()))
        # The root's own options (--version, --help), as click completes any command's.
        return items + list(super(TyperGroup, self).shell_complete(ctx, incomplete))

    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: str | None = None) -> None:
        """`_CFREMEDY_COMPLETE=bash_complete` (click's spelling) as well as `complete_bash`
        (typer's, which `cfremedy completion` prints): see `cfremedy.cli.completion`."""
        import os

        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        instruction = os.environ.get(var)
        if not instruction:
            return
        from cfremedy.cli.completion import respond

        raise SystemExit(respond(self, ctx_args, prog_name, var, instruction))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from the table, without importing a single command."""
        rows = [(name, COMMANDS[name].short_help) for name in self.list_commands(ctx) if name in COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _version(value: bool) -> None:
    if value:
        import cfremedy

        print(f"cfremedy {cfremedy.__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=LazyRoot,
    rich_markup_mode=None,
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=CONTEXT_SETTINGS,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    no_color: bool = typer.Option(False, "--no-color", help=NO_COLOR_HELP),
) -> None:
    refuse_color(no_color)


def main() -> None:
    app()
