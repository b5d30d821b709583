"""`--format table`: what a person reads in a terminal, one block per zone."""

from __future__ import annotations

import json
from typing import Any

from cfremedy.models import Change, Report, ZoneReport
from cfremedy.report import summary
from cfremedy.reporters.grid import Column, grid, paragraph, severity_style


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def describe_change(change: Change) -> str:
    """`before -> after` showing only what differs, so a DNS change reads as one field."""
    before, after = change.before, change.after
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in after if before.get(k) != after.get(k)]
        label = " ".join(str(before.get(k, "")) for k in ("name", "type") if before.get(k))
        diff = ", ".join(f"{k}: {_value(before.get(k))} -> {_value(after.get(k))}" for k in keys)
        return f"{label} {diff}".strip()
    return f"{_value(before)} -> {_value(after)}"


DEFAULT_WIDTH = 120

CHANGE_COLUMNS = (
    Column("TARGET"),
    Column("CHANGE", free=True),
    Column("PLAYBOOK", keep=True),
    Column("WHY", free=True),
)
FINDING_COLUMNS = (
    Column("SEVERITY", keep=True, style=severity_style),
    Column("PLAYBOOK", keep=True),
    Column("CODES"),
    Column("RESOURCE"),
    Column("FINDING", free=True),
)


def codes_text(codes: tuple[int, ...] | list[int]) -> str:
    """`521, 522`: a space after each comma, so a narrow column wraps between codes, not inside one."""
    return ", ".join(map(str, codes)) or "-"


def render_changes(
    changes: tuple[Change, ...] | list[Change],
    title: str = "Proposed changes (dry run)",
    width: int = DEFAULT_WIDTH,
    *,
    color: bool = False,
) -> str:
    if not changes:
        return f"{title}: none\n"
    rows = [
        [c.target, describe_change(c), c.playbook, ("LOWERS SECURITY; " if c.lowers_security else "") + c.reason]
        for c in changes
    ]
    return f"{title}:\n{grid(CHANGE_COLUMNS, rows, width, color=color)}"


def render_zone(zone: ZoneReport, width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    parts = [paragraph(f"== {zone.name} ({zone.plan or 'plan unknown'}) ==", width)]
    if zone.findings:
        rows = [
            [
                f.severity.value.upper() if f.suppression is None else f"({f.severity.value}) SUPPRESSED",
                f.playbook,
                codes_text(f.error_codes),
                f.resource,
                f.message
                if f.suppression is None
                else f"{f.message} [suppressed by {f.suppression.rule}: {f.suppression.reason}]",
            ]
            for f in zone.findings
        ]
        parts.append(grid(FINDING_COLUMNS, rows, width, color=color))
    else:
        parts.append("No findings.\n")
    parts.append(render_changes(zone.changes, width=width, color=color))
    for error in zone.errors:
        parts.append(paragraph(f"! {error.stage} error ({error.resource}): {error.message}", width, indent="  "))
    return "".join(parts)


def render_table(report: Report, width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    """`width` is the terminal's: every table fits in it. `color` only for a terminal."""
    blocks = [render_zone(z, width, color=color) for z in report.zones]
    blocks.append(paragraph(summary_line(report), width))
    return "\n".join(blocks)


def summary_line(report: Report) -> str:
    s = summary(report)
    severities = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items()) or "none"
    suppressed = f", {s['suppressed']} suppressed" if s["suppressed"] else ""
    known = f", {s['baseline']['known_findings_left_out']} known in the baseline left out" if "baseline" in s else ""
    return (
        f"{s['zones']} zone(s), {s['findings']} finding(s) ({severities}){suppressed}{known},"
        f" {s['changes']} proposed change(s), {s['errors']} error(s)"
    )
