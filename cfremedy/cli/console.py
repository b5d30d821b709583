"""Where the CLI's words go: the report to stdout, everything else to stderr, no secret anywhere.

The token is a `SecretStr` everywhere it travels, but a library could still echo it back (an
exception quoting a header, a debug log of a request). So every line written to stderr passes
through `redact`, which replaces every known secret value, as a last line of defence.
"""

from __future__ import annotations

import logging
import shutil
import sys
import traceback
from collections.abc import Iterable

from cfremedy.errors import EXIT_INTERNAL, CfremedyError

_SECRETS: set[str] = set()
MASK = "********"


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, MASK)
    return text


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(verbosity: int, quiet: bool = False) -> None:
    """-q: warnings only; default: cfremedy's progress; -v: cfremedy debug; -vv: libraries too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("cfremedy: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    ours = logging.getLogger("cfremedy")
    if quiet:
        ours.setLevel(logging.WARNING)
    else:
        ours.setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    if verbosity >= 2:
        handler.setFormatter(_RedactingFormatter("%(name)s: %(message)s"))
    # httpcore's debug lines dump raw headers (Set-Cookie from an edge, say): -vv shows the
    # requests through httpx's and the SDK's own lines instead.
    logging.getLogger("httpcore").setLevel(logging.INFO)


def err(text: str = "") -> None:
    print(redact(text), file=sys.stderr)


def terminal_width() -> int:
    """Columns to fit a table into: the terminal's, $COLUMNS, or 120 when neither is known."""
    return shutil.get_terminal_size((120, 24)).columns


def out(text: str) -> None:
    """The report: the only thing that goes to stdout."""
    sys.stdout.write(text)
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
