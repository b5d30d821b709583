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


def render_changes(changes: tuple[Change, ...] | list[Change], title: str = "Proposed changes (dry run)") -> str:
    if not changes:
        return f"{title}: none\n"
    rows = [
        [c.target, describe_change(c), c.playbook,
         ("LOWERS SECURITY; " if c.lowers_security else "") + c.reason]
        for c in changes
    ]
    table = tabulate(
        rows, headers=["TARGET", "CHANGE", "PLAYBOOK", "WHY"], tablefmt="simple",
        maxcolwidths=[None, 44, None, 60],
    )
    return f"{title}:\n{table}\n"


def render_zone(zone: ZoneReport) -> str:
    header = f"== {zone.name} ({zone.plan or 'plan unknown'}) =="
    parts = [header]
    if zone.findings:
        rows = [
            [f.severity.value.upper(), f.playbook, ",".join(map(str, f.error_codes)) or "-",
             f.resource, f.message]
            for f in zone.findings
        ]
        parts.append(tabulate(
            rows, headers=["SEVERITY", "PLAYBOOK", "CODES", "RESOURCE", "FINDING"],
            tablefmt="simple", maxcolwidths=[None, None, None, 32, 70],
        ))
    else:
        parts.append("No findings.")
    parts.append(render_changes(zone.changes).rstrip("\n"))
    for error in zone.errors:
        parts.append(f"! {error.stage} error ({error.resource}): {error.message}")
    return "\n".join(parts) + "\n"


def render_table(report: Report) -> str:
    blocks = [render_zone(z) for z in report.zones]
    s = summary(report)
    severities = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items()) or "none"
    blocks.append(
        f"{s['zones']} zone(s), {s['findings']} finding(s) ({severities}),"
        f" {s['changes']} proposed change(s), {s['errors']} error(s)\n"
    )
    return "\n".join(blocks)
