"""Renderers: pure functions from a `Report` to text. No I/O here; the CLI writes the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cfremedy.models import PlaybookMeta, Report
from cfremedy.reporters.formats import REPORT_FORMATS
from cfremedy.reporters.json_report import render_json
from cfremedy.reporters.junit import render_junit
from cfremedy.reporters.markdown import render_markdown
from cfremedy.reporters.sarif import render_sarif
from cfremedy.reporters.table import DEFAULT_WIDTH, render_table

# Formats that describe rules need the playbooks' metadata; without it they derive a minimal
# rule from the findings, so callers that pass none still get a valid file.
_WITH_PLAYBOOKS: dict[str, Callable[[Report, Sequence[PlaybookMeta]], str]] = {
    "sarif": render_sarif,
    "junit": render_junit,
    "markdown": render_markdown,
}

FORMATS = REPORT_FORMATS


def render(
    report: Report,
    fmt: str,
    *,
    width: int = DEFAULT_WIDTH,
    color: bool = False,
    playbooks: Sequence[PlaybookMeta] = (),
) -> str:
    """`width` and `color` only shape the table, which fits a terminal's width and may colour
    severities there; every other format is the same wherever it goes."""
    if fmt == "table":
        return render_table(report, width, color=color)
    if fmt == "json":
        return render_json(report)
    if fmt in _WITH_PLAYBOOKS:
        return _WITH_PLAYBOOKS[fmt](report, playbooks)
    raise ValueError(f"unknown format {fmt!r}")
