"""The tables cfremedy prints for people: fitted to the terminal, wrapped at word boundaries.

Every table goes through `grid`, which decides the column widths itself (`fit_widths`) and
lets `rich` lay the cells out in them. rich's own fitting shrinks the widest columns first
without regard to words, so it would cut a playbook id or a hostname in two to spare a free-text
column; here a column only gets narrower than its longest word when the words of every column
together cannot fit, and then the longest words are broken first.

Plain text (no colour) is the default, and byte-stable: no trailing spaces, ASCII rules, no
escape sequence from the data either (control characters in a cell are shown escaped, so an
API-controlled name cannot drive the terminal). `color=True` is for a person at a terminal only;
the CLI decides it (`cfremedy.cli.console.use_color`).

rich is imported inside `grid`: this module is imported by commands, and `cfremedy --help`
must not pay for rich.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

GAP = 2  # cells between two columns: the right padding and the (blank) divider
FREE_FLOOR = 16  # a free-text column gives up width first, but stays this wide while it can,
FREE_MIN = 10  # and this wide before an id is broken

SEVERITY_STYLES = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
_TRAILING_SPACE = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.M)


def severity_style(cell: str) -> str | None:
    """`CRITICAL`, `high`, `(medium) SUPPRESSED`: the colour of the severity named; a suppressed
    finding is dimmed whatever its severity (it does not count)."""
    if "SUPPRESSED" in cell:
        return "dim"
    return SEVERITY_STYLES.get(cell.strip().lower())


def paragraph(text: str, width: int, indent: str = "") -> str:
    """A line of prose around a table (a summary, an error) wrapped at spaces to `width`, its
    continuation lines indented by `indent`, ending with a newline.

    A word longer than the width is left whole on its own line: outside a table that is a URL
    or a path, which a person copies or clicks, and a broken one would be useless.
    """
    lines = textwrap.wrap(
        clean(text),
        width=max(width, len(indent) + 1),
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "".join(f"{line}\n" for line in lines) or "\n"


_COLUMN_GAP = re.compile(r"\S( {2,})(?=\S)")  # hand-aligned columns: `name   description`
_LIST_ITEM = re.compile(r"([-*\u2022]|\d+[.)]) ")


def fit_text(text: str, width: int) -> str:
    """Prose written for a wide terminal (a docstring, a scenario's description) fitted to `width`.

    Lines of one indentation up to a blank line or a list item are one paragraph, refilled with
    that indentation (a list item's continuation goes under its text). A line aligned in
    columns by hand (two spaces or more inside it) keeps its line, and wraps under its last
    column.
    """
    paragraphs: list[tuple[str, list[str]]] = []  # (the continuation lines' indent, the lines)
    joinable = False
    for line in text.splitlines():
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        gaps = list(_COLUMN_GAP.finditer(line))
        item = _LIST_ITEM.match(body)
        if not body:
            paragraphs.append(("", []))
            joinable = False
        elif gaps:
            paragraphs.append((" " * gaps[-1].end(1), [line]))
            joinable = False
        elif joinable and paragraphs[-1][0] == indent and not item:
            paragraphs[-1][1].append(body)
        else:
            paragraphs.append((indent + " " * (item.end() if item else 0), [line]))
            joinable = True
    return "".join(paragraph(" ".join(lines), width, indent=hang) if lines else "\n" for hang, lines in paragraphs)


@dataclass(frozen=True)
class Column:
    """One column: its header, and how it behaves when the terminal is too narrow.

    `free`: free text (a finding, a reason) that gives up width before the other columns do.
    `keep`: ids (a playbook, a target) whose words are broken only as a last resort; the other
    columns (a resource, a host name) break a word longer than their share first.
    `whole`: each cell is one word, spaces included (a sparkline): never wrapped while it fits.
    `style`: the rich style of a cell from its text, used only when the table is coloured.
    """

    header: str
    free: bool = False
    keep: bool = False
    whole: bool = False
    justify: Literal["left", "right"] = "left"
    style: Callable[[str], str | None] | None = None


def clean(value: object) -> str:
    """A cell's text: control characters (escape, tab, carriage return) shown as `\\x1b`..., so a
    cell never moves the cursor, colours the terminal or throws the widths off. Newlines stay:
    they separate the lines of a cell."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch == "\n" or ch.isprintable() else (" " if ch == "\t" else repr(ch)[1:-1]) for ch in text)


def _measure(cells: Sequence[str], whole: bool = False) -> tuple[int, int]:
    """(the longest word, the longest line) of a column, in terminal cells (a wide character
    takes two), counted as rich counts them."""
    from rich.cells import cell_len as _cell_len

    longest_word = longest_line = 0
    for cell in cells:
        for line in cell.split("\n"):
            longest_line = max(longest_line, _cell_len(line))
            for word in [line] if whole else line.split():
                longest_word = max(longest_word, _cell_len(word))
    return max(longest_word, 1), max(longest_line, 1)


def _measure_column(column: Column, cells: Sequence[str]) -> tuple[int, int]:
    """(the longest word, the longest line) of a column, its header included (which wraps)."""
    head_word, head_line = _measure([column.header])
    word, line = _measure(cells, column.whole)
    return max(head_word, word), max(head_line, line)


def _level(widths: list[int], floors: Sequence[int], target: int) -> list[int]:
    """Cut the widest columns down to a common level (never below their floor) until the total
    is `target`; as close as the floors allow when it cannot be reached."""
    if sum(widths) <= target:
        return widths
    floors = [min(f, w) for f, w in zip(floors, widths, strict=True)]
    if sum(floors) >= target:
        return list(floors)
    low, high = 0, max(widths)  # the largest level whose total still fits
    while low < high:
        mid = (low + high + 1) // 2
        if sum(max(f, min(w, mid)) for f, w in zip(floors, widths, strict=True)) <= target:
            low = mid
        else:
            high = mid - 1
    levelled = [max(f, min(w, low)) for f, w in zip(floors, widths, strict=True)]
    spare = target - sum(levelled)
    for i, (w, cut) in enumerate(zip(widths, levelled, strict=True)):  # the rounding, left to right
        if spare and w > cut:
            levelled[i] += 1
            spare -= 1
    return levelled


Floor = Callable[["Column", int, int, int], int]  # (column, longest word, longest line, width now) -> floor


def _steps(share: int) -> list[Floor]:
    """How far each column may narrow at each step of `fit_widths`, in order."""
    return [
        lambda c, word, line, now: max(word, min(share, line)) if c.free else now,
        lambda c, word, line, now: min(share, line) if c.free else now,
        lambda c, word, line, now: now if c.free else word,
        lambda c, word, line, now: min(now, share) if not (c.free or c.keep) else now,
        lambda c, word, line, now: min(FREE_FLOOR, line) if c.free else now,
        lambda c, word, line, now: min(FREE_MIN, line) if c.free else now if c.keep else 1,
        lambda c, word, line, now: 1,
    ]


def fit_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Each column's text width so the table (gaps included) fits in `width` cells.

    Every column starts as wide as its longest line. Until the table fits, in this order (each
    step narrows the widest columns first, and only as far as the table needs):

    1. free-text columns wrap at spaces, down to their share of the width (a third of it for
       one free column, less for more) or their longest word if wider; then they break words
       longer than that share (a URL);
    2. the other columns wrap at spaces, down to their longest word;
    3. plain columns break words longer than that share (a path); ids (`keep`) stay whole;
    4. free-text columns narrow to `FREE_FLOOR`;
    5. free-text columns (down to `FREE_MIN`) and plain columns break words, the widest first;
    6. ids break too.

    Below one cell per column it cannot fit, and exceeds `width` rather than lose text.
    """
    measured = [_measure_column(c, [row[i] for row in rows]) for i, c in enumerate(columns)]
    widths = [line for _, line in measured]
    target = width - GAP * (len(columns) - 1)
    share = max(FREE_FLOOR, target // (2 + sum(c.free for c in columns)))
    for floor in _steps(share):
        if sum(widths) <= target:
            break
        floors = [floor(c, word, line, now) for c, (word, line), now in zip(columns, measured, widths, strict=True)]
        widths = _level(widths, floors, target)
    return widths


_BOX_LINES = (
    "    ",
    "    ",
    " -  ",  # under the header: a rule of dashes under each column
    "    ",
    "    ",
    "    ",
    "    ",
    "    ",
)


def grid(columns: Sequence[Column], rows: Sequence[Sequence[object]], width: int, *, color: bool = False) -> str:
    """The table as text, every line at most `width` cells (unless even one cell per column does
    not fit), ending with a newline. Cells wrap at spaces; a word is broken only when it is longer
    than its column."""
    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [[clean(value) for value in row] for row in rows]
    widths = fit_widths(columns, cells, width)
    table = Table(
        box=Box("\n".join(_BOX_LINES) + "\n", ascii=True),
        show_edge=False,
        pad_edge=False,
        padding=(0, GAP - 1, 0, 0),
        header_style="bold" if color else "",
        expand=False,
    )
    for column, column_width in zip(columns, widths, strict=True):
        table.add_column(
            Text(column.header), width=column_width, justify=column.justify, overflow="fold", no_wrap=False
        )
    for row in cells:
        table.add_row(
            *(
                Text(text, style=(column.style(text) or "") if color and column.style else "")
                for column, text in zip(columns, row, strict=True)
            )
        )
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=max(width, sum(widths) + GAP * (len(columns) - 1)),
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    console.print(table)
    return _TRAILING_SPACE.sub(r"\1", buffer.getvalue())
