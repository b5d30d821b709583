"""Renderers: pure functions from a `Report` to text. No I/O here; the CLI writes the result."""

from __future__ import annotations

from collections.abc import Callable

from cfremedy.models import Report
from cfremedy.reporters.json_report import render_json
from cfremedy.reporters.table import render_table

Renderer = Callable[[Report], str]

RENDERERS: dict[str, Renderer] = {
    "table": render_table,
    "json": render_json,
}
