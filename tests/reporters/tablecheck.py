"""Reading the tables cfremedy prints back into columns, to check what a person sees.

A table is found by the rule of dashes under its header: one run of dashes per column, the
last as wide as its column, the others one wider (the cell's padding). A column's text is read
line by line from its span; word by word, in order, it must be exactly the words of the cells
given, each whole when it is no longer than the column, else in pieces (a word longer than its
column may be broken, nothing else): that is "wraps at word boundaries" and "loses nothing",
checked per column without knowing where rows start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

RULE = re.compile(r"^-+( -+)*$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Table:
    spans: list[tuple[int, int]]  # each column's text: line[start:end]
    header: list[str]
    body: list[str]

    @property
    def widths(self) -> list[int]:
        return [end - start for start, end in self.spans]

    def tokens(self, column: int, lines: Sequence[str]) -> list[str]:
        start, end = self.spans[column]
        return [word for line in lines for word in line[start:end].split()]


def _gaps(spans: list[tuple[int, int]]) -> list[int]:
    return [i for (_, end), (start, _) in zip(spans, spans[1:], strict=False) for i in range(end, start)]


def _fits_columns(line: str, spans: list[tuple[int, int]], width: int) -> bool:
    return bool(line.strip()) and len(line) <= width and all(i >= len(line) or line[i] == " " for i in _gaps(spans))


def tables(text: str) -> list[Table]:
    """Every table in a text, with its body: the lines under its rule that keep to its columns."""
    lines = text.splitlines()
    found = []
    for at, rule in enumerate(lines):
        if not RULE.match(rule):
            continue
        runs = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
        spans = [(start, end - 1) for start, end in runs[:-1]] + [runs[-1]]
        body = []
        for line in lines[at + 1 :]:
            if not _fits_columns(line, spans, len(rule)):
                break
            body.append(line)
        header = []
        for line in reversed(lines[:at]):
            if not _fits_columns(line, spans, len(rule)) or len(header) == 40:
                break
            header.insert(0, line)
        found.append(Table(spans, header, body))
    return found


def match_words(tokens: Sequence[str], cells: Sequence[str], width: int) -> None:
    """The tokens read from a column are the cells' words, in order: whole when they fit in
    `width`, else broken into consecutive pieces no wider than it."""
    at = 0
    for word in (w for cell in cells for w in cell.split()):
        if len(word) <= width:
            assert at < len(tokens) and tokens[at] == word, (
                f"{word!r} (fits in {width}) is not whole, in order, in column {tokens}"
            )
            at += 1
            continue
        joined = ""
        while at < len(tokens) and len(joined) < len(word):
            assert len(tokens[at]) <= width
            joined += tokens[at]
            at += 1
        assert joined == word, f"{word!r} (longer than {width}) lost or mixed: {joined!r}"
    assert at == len(tokens), f"text that is in no cell: {tokens[at:]}"


def _matches(tokens: Sequence[str], cells: Sequence[str], width: int) -> bool:
    try:
        match_words(tokens, cells, width)
    except AssertionError:
        return False
    return True


def check_table(table: Table, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The header and every cell of every row, read back from the table's columns."""
    assert len(table.spans) == len(headers), (table.spans, headers)
    for i, header in enumerate(headers):
        # the lines above the rule may start with a title: the header is their last tokens
        head = table.tokens(i, table.header)
        assert any(_matches(head[n:], [header], table.widths[i]) for n in range(len(head))), (header, head)
        match_words(table.tokens(i, table.body), [str(row[i]) for row in rows], table.widths[i])


def assert_fits(text: str, width: int, urls: bool = False) -> None:
    """Every line within `width`, no trailing space, no escape sequence. With `urls`, a line may
    be longer only to keep a URL whole: without it, it fits."""
    assert not ANSI.search(text), "escape sequences in plain text"
    for line in text.splitlines():
        assert line == line.rstrip(), f"trailing space: {line!r}"
        if len(line) > width:
            assert urls and URL.search(line), f"{len(line)} > {width}: {line!r}"
            assert len(URL.sub("", line)) <= width and len(URL.search(line).group()) > width - 20, line


def rows(table: Table, key: int = 0) -> list[list[str]]:
    """The body's rows, each cell's lines joined by spaces. A row starts on a line with text in
    column `key`: a column of ids, which never wrap."""
    found: list[list[str]] = []
    for line in table.body:
        cells = [line[start:end].strip() for start, end in table.spans]
        if cells[key] or not found:
            found.append(cells)
        else:
            found[-1] = [f"{a} {b}".strip() for a, b in zip(found[-1], cells, strict=True)]
    return found
