"""What happens to every audit's report before anyone reads it: one function, every command.

Suppressions from `cfremedy.toml`, the baseline (a file, or the last stored audit of the same
scope that ran to the end), the history database, and the exit code of the CLI contract (0
nothing at or above `--fail-on`, 1 findings, 3 a zone the API would not let us read, 70 a
playbook crashed). The CLI only prints `notes` and renders `report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from cfremedy.baseline import fingerprints, load_report_file, subtract_baseline
from cfremedy.config import EMPTY, Config, apply_suppressions, expired
from cfremedy.errors import EXIT_API, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, UsageError
from cfremedy.journal import Journal
from cfremedy.models import Report, Severity, utc_now_iso
from cfremedy.report import report_dict

log = logging.getLogger("cfremedy.finish")

LAST = "last"  # `--baseline last`: the newest successful stored audit of the same scope


@dataclass(frozen=True)
class FinishOptions:
    config: Config = EMPTY
    fail_on: Severity | None = Severity.HIGH  # None: never fail on findings
    baseline: str | None = None  # a JSON report file, LAST, or None
    store: bool = True  # record the audit in the history database
    # `--min-severity`: findings below it are left out of the report shown, after the exit
    # code is decided (hiding is presentation: `fail_on` still sees them) and history stored.
    min_severity: Severity | None = None


@dataclass(frozen=True)
class Outcome:
    report: Report  # suppressions applied, baseline subtracted: what is rendered
    exit_code: int
    notes: tuple[str, ...] = ()  # one line each, for stderr, in order ("warning: ...", "error: ...")
    audit_id: str | None = None  # where history stored it


def failed_zones(report: Report) -> list[str]:
    return [z.name for z in report.zones if any(e.stage == "api" for e in z.errors)]


def crashed_playbooks(report: Report) -> list[str]:
    return [f"{e.resource} on {z.name}" for z in report.zones for e in z.errors if e.stage == "playbook"]


def succeeded(report: Report) -> bool:
    """It ran to the end: only such an audit may serve as a baseline or a side of a diff."""
    return not failed_zones(report) and not crashed_playbooks(report)


def exit_code(report: Report, fail_on: Severity | None) -> int:
    if crashed_playbooks(report):
        return EXIT_INTERNAL
    if failed_zones(report):
        return EXIT_API
    worst = report.worst()
    return EXIT_FINDINGS if fail_on is not None and worst is not None and worst >= fail_on else EXIT_OK


def _baseline(spec: str | None, scope: str, journal: Journal | None) -> tuple[set[str], str] | None:
    if spec is None:
        return None
    if spec != LAST:
        return fingerprints(load_report_file(Path(spec)), spec), spec
    if journal is None:
        raise UsageError("--baseline last needs the state database, which could not be opened")
    earlier = journal.audits(limit=1, scope=scope, ok_only=True)
    if not earlier:
        return set(), "last (none stored)"
    return fingerprints(earlier[0].report, f"audit {earlier[0].id}"), f"audit {earlier[0].id}"


def finish(report: Report, options: FinishOptions, journal: Journal | None, today: date | None = None) -> Outcome:
    """Suppress, store, subtract the baseline, and decide the exit code."""
    today = today or date.today()
    notes = [
        f"{rule.label} expired on {rule.until}; its findings count again" for rule in expired(options.config, today)
    ]
    report = apply_suppressions(replace(report, generated_at=utc_now_iso()), options.config, today)
    ok = succeeded(report)
    known = _baseline(options.baseline, report.scope, journal)
    if known is not None and known[1] == "last (none stored)":
        notes.append(f"no earlier successful audit of {report.scope} is stored: every finding is new")
    audit_id = None
    # A zone nobody found (a typo, a token that sees nothing) is not an audit of anything.
    found_any = any(z.id for z in report.zones)
    if journal is not None and options.store and found_any:
        audit_id = journal.record_audit(report.scope, report_dict(report), ok=ok)
        log.info(
            "stored as audit %s (scope: %s)%s",
            audit_id,
            report.scope,
            "" if ok else "; incomplete, so never used as a baseline",
        )
    if known is not None:
        report = subtract_baseline(report, *known)
    notes += _run_notes(report)
    code = exit_code(report, options.fail_on)
    if options.min_severity is not None:
        report = hide_below(report, options.min_severity)
        if report.below_min_severity:
            notes.append(_hidden_note(report.below_min_severity, options.min_severity, options.fail_on))
    return Outcome(report, code, tuple(notes), audit_id)


def hide_below(report: Report, level: Severity) -> Report:
    """The report as `--min-severity` shows it: findings below `level` left out, and the
    changes of a playbook none of whose findings in that zone is left; how many findings were
    left out is kept (the JSON summary says it). Pure."""
    zones = []
    hidden = 0
    for zone in report.zones:
        shown = tuple(f for f in zone.findings if f.severity >= level)
        hidden += len(zone.findings) - len(shown)
        playbooks = {f.playbook for f in shown}
        zones.append(replace(zone, findings=shown, changes=tuple(c for c in zone.changes if c.playbook in playbooks)))
    return replace(report, zones=tuple(zones), min_severity=level.value, below_min_severity=hidden)


def _hidden_note(hidden: int, level: Severity, fail_on: Severity | None) -> str:
    counted = f"--fail-on {fail_on.value} still counts them" if fail_on is not None else "they are stored in history"
    return f"note: {hidden} finding(s) below {level.value} left out of the report (--min-severity); {counted}"


def _run_notes(report: Report) -> list[str]:
    notes = []
    for zone in report.zones:
        for error in zone.errors:
            if error.stage == "analytics":
                notes.append(f"warning: no analytics for {zone.name}: {error.message}")
    degraded = [(z.name, e.message) for z in report.zones for e in z.errors if e.degraded]
    if degraded:  # once per run, not once per zone: an account audit may have thousands
        notes.append(
            f"warning: {len(degraded)} zone(s) judged without their Configuration Rules"
            f" and Page Rules, e.g. {degraded[0][0]}: {degraded[0][1]}"
        )
    crashed = crashed_playbooks(report)
    if crashed:
        notes.append(f"error: playbook failures, the audit is incomplete: {', '.join(crashed[:5])}")
    failed = failed_zones(report)
    if failed:
        if len(report.zones) == 1:
            error = next(e for e in report.zones[0].errors if e.stage == "api")
            notes.append(f"error: {error.message}")
            if error.hint:
                notes.append(f"hint: {error.hint}")
        else:
            notes.append(
                f"error: {len(failed)} zone(s) could not be audited: {', '.join(failed[:10])}"
                f"{' ...' if len(failed) > 10 else ''}"
            )
    return notes
