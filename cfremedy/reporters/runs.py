"""Rendering journal runs: what `apply`, `rollback` and `history` print."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cfremedy.apply import Recheck, Refreshed
from cfremedy.baseline import Diff
from cfremedy.journal import AuditRecord, ChangeState, Run
from cfremedy.report import change_dict
from cfremedy.reporters.grid import Column, grid, paragraph, severity_style
from cfremedy.reporters.table import DEFAULT_WIDTH, codes_text, describe_change

RUN_COLUMNS = (
    Column("RESULT", keep=True),
    Column("TARGET"),
    Column("CHANGE", free=True),
    Column("DETAIL", free=True),
)
REFRESH_COLUMNS = (
    Column("NOW", keep=True),
    Column("TARGET"),
    Column("CHANGE", free=True),
    Column("DETAIL", free=True),
)
RECHECK_COLUMNS = (
    Column("FINDING"),
    Column("PLAYBOOK", keep=True),
    Column("RESOURCE"),
    Column("CODES"),
    Column("NOTE", free=True),
)
AUDIT_COLUMNS = (
    Column("AUDIT", keep=True),
    Column("STARTED (UTC)"),
    Column("SCOPE"),
    Column("ZONES", keep=True, justify="right"),
    Column("FINDINGS", free=True),
)
HISTORY_RUN_COLUMNS = (
    Column("RUN", keep=True),
    Column("STARTED (UTC)"),
    Column("KIND", free=True),
    Column("ZONE"),
    Column("APPLIED", keep=True, justify="right"),
    Column("OUTCOME", free=True),
)
DIFF_COLUMNS = (
    Column("SEVERITY", keep=True, style=severity_style),
    Column("PLAYBOOK", keep=True),
    Column("ZONE"),
    Column("RESOURCE"),
    Column("CODES"),
)


def render_run(run: Run, width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    rows = [
        [e.state.value.upper().replace("_", " "), e.change.target, describe_change(e.change), e.detail]
        for e in run.entries
    ]
    return grid(RUN_COLUMNS, rows, width, color=color)


def refresh_summary(refreshed: Sequence[Refreshed]) -> str:
    """One line: what applying would do now, e.g. `2 to change, 1 drifted (left alone)`."""
    counts = {
        status: sum(1 for r in refreshed if r.status == status)
        for status in ("to change", "unreadable", "drifted", "already done")
    }
    labels = {
        "to change": "to change",
        "unreadable": "not readable now (the write re-checks them)",
        "drifted": "drifted (left alone)",
        "already done": "already done",
    }
    parts = [f"{n} {labels[s]}" for s, n in counts.items() if n or s == "to change"]
    return ", ".join(parts)


def render_refresh(refreshed: Sequence[Refreshed], width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    """The live values read before asking: every change that would not simply be written, and
    the count of each kind."""
    rows = [
        [r.status.upper(), r.change.target, describe_change(r.change), r.detail]
        for r in refreshed
        if r.status != "to change"
    ]
    text = paragraph(f"Refreshed against the live zone: {refresh_summary(refreshed)}.", width)
    if not rows:
        return text
    return text + grid(REFRESH_COLUMNS, rows, width, color=color)


def render_rechecks(rechecks: Sequence[Recheck], width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    if not rechecks:
        return "Re-audit of every playbook on a fresh snapshot: nothing to report.\n"
    rows = [[r.status, r.playbook, r.resource, codes_text(r.error_codes), r.note] for r in rechecks]
    return "Re-audit of every playbook on a fresh snapshot:\n" + grid(RECHECK_COLUMNS, rows, width, color=color)


def run_summary(run: Run) -> str:
    counts = [f"{run.count(s)} {s.value.replace('_', ' ')}" for s in ChangeState if run.count(s)]
    only = f" (--only {' '.join(run.only)})" if run.only else ""
    return f"{run.kind.value} run {run.id} on {run.zone}{only}: {run.outcome} ({', '.join(counts) or 'no changes'})"


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind.value,
        "zone": run.zone,
        "zone_id": run.zone_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "rolls_back": run.rolls_back,
        "plan_checksum": run.plan_checksum,
        "only": list(run.only),  # the targets `apply --only` selected; empty: the whole plan
        "outcome": run.outcome,
        "unsettled": len(run.in_doubt),  # writes sent that nobody has yet seen land or not
        "changes": [{**change_dict(e.change), "state": e.state.value, "detail": e.detail} for e in run.entries],
    }


def render_history(
    runs: Sequence[Run], audits: Sequence[AuditRecord], fmt: str, width: int = DEFAULT_WIDTH, *, color: bool = False
) -> str:
    if fmt == "json":
        return (
            json.dumps(
                {"runs": [run_dict(r) for r in runs], "audits": [audit_dict(a) for a in audits]},
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    parts = []
    if audits:
        rows = []
        for a in audits:
            s = a.report.get("summary", {})
            severities = ", ".join(f"{n} {sev}" for sev, n in s.get("by_severity", {}).items())
            rows.append(
                [
                    a.id,
                    a.started_at.replace("T", " ")[:19],
                    a.scope,
                    s.get("zones", 0),
                    f"{s.get('findings', 0)}"
                    + (f" ({severities})" if severities else "")
                    + (f"; {s['suppressed']} suppressed" if s.get("suppressed") else "")
                    + (f"; {s['errors']} error(s)" if s.get("errors") else ""),
                ]
            )
        parts.append("Audits:\n" + grid(AUDIT_COLUMNS, rows, width, color=color))
    else:
        parts.append("Audits: none stored yet.\n")
    if runs:
        rows = [
            [
                r.id,
                r.started_at.replace("T", " ")[:19],
                r.kind.value + (f" of {r.rolls_back}" if r.rolls_back else "") + (" --only" if r.only else ""),
                r.zone,
                f"{r.count(ChangeState.APPLIED)}/{len(r.entries)}",
                r.outcome + (f" ({len(r.in_doubt)} unsettled)" if r.in_doubt else ""),
            ]
            for r in runs
        ]
        parts.append("Apply and rollback runs:\n" + grid(HISTORY_RUN_COLUMNS, rows, width, color=color))
    else:
        parts.append("Apply and rollback runs: none yet.\n")
    return "\n".join(parts)


def audit_dict(record: AuditRecord) -> dict[str, Any]:
    summary = record.report.get("summary", {})
    return {"id": record.id, "scope": record.scope, "started_at": record.started_at, "summary": summary}


def render_diff(diff: Diff, fmt: str, width: int = DEFAULT_WIDTH, *, color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def table(items: tuple[tuple[str, dict[str, Any]], ...]) -> str:
        if not items:
            return "  none\n"
        rows = [
            [
                f.get("severity", ""),
                f.get("playbook", ""),
                zone,
                f.get("resource", ""),
                codes_text(f.get("error_codes", [])),
            ]
            for zone, f in items
        ]
        return grid(DIFF_COLUMNS, rows, width, color=color)

    return (
        f"From {diff.old}\nto   {diff.new}\n\n"
        f"New findings ({len(diff.appeared)}):\n{table(diff.appeared)}\n"
        f"Resolved findings ({len(diff.resolved)}):\n{table(diff.resolved)}"
    )
