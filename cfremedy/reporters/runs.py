"""Rendering journal runs: what `apply`, `rollback` and `history` print."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from cfremedy.apply import Recheck, Refreshed
from cfremedy.baseline import Diff
from cfremedy.journal import AuditRecord, ChangeState, Run
from cfremedy.report import change_dict
from cfremedy.reporters.table import DEFAULT_WIDTH, _text_width, describe_change


def render_run(run: Run, width: int = DEFAULT_WIDTH) -> str:
    rows = [
        [e.state.value.upper().replace("_", " "), e.change.target, describe_change(e.change), e.detail]
        for e in run.entries
    ]
    widths: list[int | None] = [None, None, 40]
    return (
        tabulate(
            rows,
            headers=["RESULT", "TARGET", "CHANGE", "DETAIL"],
            tablefmt="simple",
            maxcolwidths=[*widths, _text_width(width, rows, widths)],
        )
        + "\n"
    )


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


def render_refresh(refreshed: Sequence[Refreshed], width: int = DEFAULT_WIDTH) -> str:
    """The live values read before asking: every change that would not simply be written, and
    the count of each kind."""
    rows = [
        [r.status.upper(), r.change.target, describe_change(r.change), r.detail]
        for r in refreshed
        if r.status != "to change"
    ]
    text = f"Refreshed against the live zone: {refresh_summary(refreshed)}.\n"
    if not rows:
        return text
    widths: list[int | None] = [None, None, 40]
    return (
        text
        + tabulate(
            rows,
            headers=["NOW", "TARGET", "CHANGE", "DETAIL"],
            tablefmt="simple",
            maxcolwidths=[*widths, _text_width(width, rows, widths)],
        )
        + "\n"
    )


def render_rechecks(rechecks: Sequence[Recheck], width: int = DEFAULT_WIDTH) -> str:
    if not rechecks:
        return "Re-audit of every playbook on a fresh snapshot: nothing to report.\n"
    rows = [[r.status, r.playbook, r.resource, ",".join(map(str, r.error_codes)) or "-", r.note] for r in rechecks]
    widths: list[int | None] = [None, None, None, None]
    return (
        "Re-audit of every playbook on a fresh snapshot:\n"
        + tabulate(
            rows,
            headers=["FINDING", "PLAYBOOK", "RESOURCE", "CODES", "NOTE"],
            tablefmt="simple",
            maxcolwidths=[*widths, _text_width(width, rows, widths)],
        )
        + "\n"
    )


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


def render_history(runs: Sequence[Run], audits: Sequence[AuditRecord], fmt: str) -> str:
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
                    f"{s.get('findings', 0)}" + (f" ({severities})" if severities else ""),
                    s.get("suppressed", 0),
                    s.get("errors", 0),
                ]
            )
        parts.append(
            "Audits:\n"
            + tabulate(
                rows,
                headers=["AUDIT", "STARTED (UTC)", "SCOPE", "ZONES", "FINDINGS", "SUPPRESSED", "ERRORS"],
                tablefmt="simple",
            )
        )
    else:
        parts.append("Audits: none stored yet.")
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
        parts.append(
            "Apply and rollback runs:\n"
            + tabulate(rows, headers=["RUN", "STARTED (UTC)", "KIND", "ZONE", "APPLIED", "OUTCOME"], tablefmt="simple")
        )
    else:
        parts.append("Apply and rollback runs: none yet.")
    return "\n\n".join(parts) + "\n"


def audit_dict(record: AuditRecord) -> dict[str, Any]:
    summary = record.report.get("summary", {})
    return {"id": record.id, "scope": record.scope, "started_at": record.started_at, "summary": summary}


def render_diff(diff: Diff, fmt: str) -> str:
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
                ",".join(map(str, f.get("error_codes", []))) or "-",
            ]
            for zone, f in items
        ]
        return tabulate(rows, headers=["SEVERITY", "PLAYBOOK", "ZONE", "RESOURCE", "CODES"], tablefmt="simple") + "\n"

    return (
        f"From {diff.old}\nto   {diff.new}\n\n"
        f"New findings ({len(diff.appeared)}):\n{table(diff.appeared)}\n"
        f"Resolved findings ({len(diff.resolved)}):\n{table(diff.resolved)}"
    )
