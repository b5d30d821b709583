"""Renderers: pure functions from a `Report` to text. No I/O here; the CLI writes the result."""

from __future__ import annotations

from cfremedy.models import Report
from cfremedy.reporters.json_report import render_json
from cfremedy.reporters.table import DEFAULT_WIDTH, render_table

FORMATS = ("table", "json")


def render(report: Report, fmt: str, *, width: int = DEFAULT_WIDTH) -> str:
    """`width` only shapes the table, which wraps its free-text columns to a terminal's width."""
    if fmt == "table":
        return render_table(report, width)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"unknown format {fmt!r}")
