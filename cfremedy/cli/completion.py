"""`cfremedy completion bash|zsh|fish`, and the answers the shell asks for on each TAB.

The script is typer's (click's completion protocol, vendored in typer): installed, it runs
`_CFREMEDY_COMPLETE=complete_bash cfremedy` with the words typed so far, and the root command
answers with the candidates (`LazyRoot._main_shell_completion`). The root accepts click's
spelling of the instruction too (`bash_complete`, `bash_source`, what click's documentation
teaches), so either works. Command names are completed from the root's table without
importing a command; a command's own options load only that command.

Everything typer-internal that completion needs is used here and nowhere else.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from cfremedy.cli.common import Quiet, Verbose, command
from cfremedy.cli.console import out

PROG = "cfremedy"
COMPLETE_VAR = "_CFREMEDY_COMPLETE"
ACTIONS = ("source", "complete")


class Shell(str, enum.Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def _parse(instruction: str) -> tuple[str, str] | None:
    """(shell, action) from `complete_bash` (typer) or `bash_complete` (click)."""
    first, _, second = instruction.partition("_")
    if first in ACTIONS:
        return second, first
    if second in ACTIONS:
        return first, second
    return None


def respond(cli: Any, ctx_args: Any, prog_name: str, complete_var: str, instruction: str) -> int:
    """What the shell's completion function asked for: the script, or the candidates for the
    words in COMP_WORDS/COMP_CWORD (bash) or _TYPER_COMPLETE_ARGS (zsh, fish). The exit code."""
    import sys

    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init

    completion_init()
    parsed = _parse(instruction)
    found = get_completion_class(parsed[0]) if parsed is not None else None
    if parsed is None or found is None:
        print(f"cfremedy: error: {complete_var}={instruction!r}: not a completion instruction", file=sys.stderr)
        return 2
    shell, action = parsed
    completer = found(cli, ctx_args, prog_name, complete_var)
    print(script(shell) if action == "source" else completer.complete())
    return 0


@command
def completion_command(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Print the shell completion script for SHELL: commands, options and choices complete on TAB.

    Run the line for your shell to load it now, or add it to the shell's start-up file
    (~/.bashrc; ~/.zshrc, after compinit; ~/.config/fish/config.fish):

    \b
      eval "$(cfremedy completion bash)"
      eval "$(cfremedy completion zsh)"
      cfremedy completion fish | source
    """
    out(script(shell.value))
    return 0
