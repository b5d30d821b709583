"""`--format table`: what a person reads in a terminal, one block per zone."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from cfremedy.models import Change, Report, ZoneReport
from cfremedy.report import summary


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
_MIN_TEXT = 30  # the free-text column never gets narrower than this


def _text_width(width: int, rows: list[list[str]], fixed: list[int | None]) -> int:
    """What is left for the last (free-text) column once the others take what they need."""
    used = 0
    for i, cap in enumerate(fixed):
        longest = max((len(r[i]) for r in rows), default=0)
        used += min(longest, cap) if cap else longest
    return max(_MIN_TEXT, width - used - 2 * len(fixed))


def render_changes(
    changes: tuple[Change, ...] | list[Change], title: str = "Proposed changes (dry run)", width: int = DEFAULT_WIDTH
) -> str:
    if not changes:
        return f"{title}: none\n"
    rows = [
        [c.target, describe_change(c), c.playbook, ("LOWERS SECURITY; " if c.lowers_security else "") + c.reason]
        for c in changes
    ]
    widths: list[int | None] = [None, 40, None]
    table = tabulate(
        rows,
        headers=["TARGET", "CHANGE", "PLAYBOOK", "WHY"],
        tablefmt="simple",
        maxcolwidths=[*widths, _text_width(width, rows, widths)],
    )
    return f"{title}:\n{table}\n"


def render_zone(zone: ZoneReport, width: int = DEFAULT_WIDTH) -> str:
    header = f"== {zone.name} ({zone.plan or 'plan unknown'}) =="
    parts = [header]
    if zone.findings:
        rows = [
            [
                f.severity.value.upper() if f.suppression is None else f"({f.severity.value}) SUPPRESSED",
                f.playbook,
                ",".join(map(str, f.error_codes)) or "-",
                f.resource,
                f.message
                if f.suppression is None
                else f"{f.message} [suppressed by {f.suppression.rule}: {f.suppression.reason}]",
            ]
            for f in zone.findings
        ]
        widths: list[int | None] = [None, None, None, 28]
        parts.append(
            tabulate(
                rows,
                headers=["SEVERITY", "PLAYBOOK", "CODES", "RESOURCE", "FINDING"],
                tablefmt="simple",
                maxcolwidths=[*widths, _text_width(width, rows, widths)],
            )
        )
    else:
        parts.append("No findings.")
    parts.append(render_changes(zone.changes, width=width).rstrip("\n"))
    for error in zone.errors:
        parts.append(f"! {error.stage} error ({error.resource}): {error.message}")
    return "\n".join(parts) + "\n"


def render_table(report: Report, width: int = DEFAULT_WIDTH) -> str:
    """`width` is the terminal's; the free-text columns wrap to fit it."""
    blocks = [render_zone(z, width) for z in report.zones]
    blocks.append(summary_line(report) + "\n")
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
