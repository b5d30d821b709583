"""Where the CLI's words go: the report to stdout, everything else to stderr, no secret anywhere.

Both streams pass through `redaction.redact`, which masks the token in any form, as a last line
of defence. Library log lines (-vv) also have cookie and credential header values masked, and
their tracebacks for errors cfremedy handles are only shown at -vvv.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import traceback
from collections.abc import Iterable

from cfremedy.errors import EXIT_INTERNAL, CfremedyError
from cfremedy.redaction import redact, redact_headers, without_url_credentials

LIBRARY_TRACEBACKS = 3  # the verbosity at which a library's logged tracebacks are shown

_color_refused = False  # `--no-color`, given to the root or to the command


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(redact_headers(without_url_credentials(super().format(record))))


class _QuietLibraries(logging.Filter):
    """A library's debug line keeps its message but not its traceback below -vvv: the SDK logs
    one for every failed request, which cfremedy already reports in one line."""

    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbosity < LIBRARY_TRACEBACKS and not record.name.startswith("cfremedy"):
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


# What -vv adds: every API request and answer, as the SDK and httpx log them. Everything
# else libraries log (HTTP/2 header encoding, connection pools, the event loop) waits for -vvv.
HTTP_LOGGERS = ("cloudflare", "httpx")


def setup_logging(verbosity: int, quiet: bool = False) -> None:
    """-q: warnings only; default: cfremedy's progress; -v: cfremedy's debug lines; -vv: every
    HTTP request and answer too; -vvv: all the libraries' debug output, tracebacks included."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("cfremedy: %(message)s"))
    handler.addFilter(_QuietLibraries(verbosity))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= LIBRARY_TRACEBACKS else logging.WARNING)
    ours = logging.getLogger("cfremedy")
    if quiet:
        ours.setLevel(logging.WARNING)
    else:
        ours.setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.NOTSET)
    if verbosity >= 2:
        handler.setFormatter(_RedactingFormatter("%(name)s: %(message)s"))


def err(text: str = "") -> None:
    print(redact(text), file=sys.stderr)


def terminal_width() -> int:
    """Columns to fit a table into: the terminal's, $COLUMNS, or 120 when neither is known."""
    return shutil.get_terminal_size((120, 24)).columns


def refuse_color(refused: bool = True) -> None:
    """`--no-color`: remembered for the rest of the process, for `use_color` to read."""
    global _color_refused
    _color_refused = refused


def use_color() -> bool:
    """Whether the report on stdout may be coloured: only for a person at a terminal.

    Never with `--no-color`, never when $NO_COLOR is set to anything (no-color.org), never on a
    terminal that says it is dumb, and never when stdout is a pipe or a file: what a script or
    a file receives is always plain text. `-o FILE` reports are never coloured at all.
    """
    if _color_refused or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def out(text: str) -> None:
    """The report: the only thing that goes to stdout."""
    sys.stdout.write(redact(text))
    sys.stdout.flush()


def report_error(exc: BaseException, verbosity: int = 0) -> int:
    """One clear line (and a hint) for expected failures; a bug says it is one."""
    if isinstance(exc, CfremedyError):
        err(f"cfremedy: error: {exc.message}")
        if exc.hint:
            err(f"cfremedy: hint: {exc.hint}")
        return exc.exit_code
    if verbosity:
        err("".join(traceback.format_exception(exc)))
    err(f"cfremedy: internal error: {type(exc).__name__}: {exc}")
    err("cfremedy: this is a bug in cfremedy; rerun with -v for the traceback and report it")
    return EXIT_INTERNAL


def lines(items: Iterable[str]) -> str:
    return "".join(f"{i}\n" for i in items)


class ProgressLine:
    """`123/1000 zones audited`: redrawn in place on a terminal, every 10 % as a log line in CI.

    Only ever on stderr, so it can never corrupt a report on stdout.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.live = sys.stderr.isatty()
        self._last_decile = -1
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        if self.live:
            sys.stderr.write(f"\rcfremedy: {done}/{total} {self.label}")
            sys.stderr.flush()
            self._drawn = True
            return
        decile = done * 10 // max(total, 1)
        if decile != self._last_decile:
            self._last_decile = decile
            logging.getLogger("cfremedy.progress").info("%d/%d %s", done, total, self.label)

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn = False
