"""The JSON report of docs/architecture.md ("The JSON report"): the stable, versioned shape scripts rely on.

Pure functions from the frozen models to plain dicts; every reporter starts from here, so the
table, the JSON and later formats can never disagree about what was found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from cfremedy import __version__
from cfremedy.models import Change, Finding, Report, Severity, StageError, ZoneReport

SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    """Evidence may hold read-only mappings and tuples; JSON wants dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def finding_dict(finding: Finding, zone: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "playbook": finding.playbook,
        "severity": finding.severity.value,
        "error_codes": list(finding.error_codes),
        "resource": finding.resource,
        "message": finding.message,
        "evidence": _plain(finding.evidence),
        "docs_url": finding.docs_url,
    }
    if finding.remediation:
        data["remediation"] = list(finding.remediation)
    data["fingerprint"] = finding.fingerprint(zone)
    if finding.suppression is not None:
        data["suppressed"] = {
            "reason": finding.suppression.reason,
            "rule": finding.suppression.rule,
            "until": finding.suppression.until.isoformat() if finding.suppression.until else None,
        }
    return data


def change_dict(change: Change) -> dict[str, Any]:
    return {
        "playbook": change.playbook,
        "target": change.target,
        "before": _plain(change.before),
        "after": _plain(change.after),
        "reason": change.reason,
        "lowers_security": change.lowers_security,
    }


def change_from_dict(data: Mapping[str, Any]) -> Change:
    return Change(
        playbook=str(data["playbook"]),
        target=str(data["target"]),
        before=data.get("before"),
        after=data.get("after"),
        reason=str(data.get("reason", "")),
        lowers_security=bool(data.get("lowers_security", False)),
    )


def error_dict(error: StageError) -> dict[str, str]:
    return {"stage": error.stage, "resource": error.resource, "message": error.message}


def zone_dict(zone: ZoneReport) -> dict[str, Any]:
    return {
        "name": zone.name,
        "id": zone.id,
        "plan": zone.plan,
        "findings": [finding_dict(f, zone.name) for f in zone.findings],
        "changes": [change_dict(c) for c in zone.changes],
        "errors": [error_dict(e) for e in zone.errors],
    }


def summary(report: Report) -> dict[str, Any]:
    """Counts over findings that count; suppressed ones are counted apart, never dropped."""
    active = report.active_findings
    counts = Counter(f.severity for f in active)
    data: dict[str, Any] = {
        "zones": len(report.zones),
        "findings": len(active),
        "by_severity": {s.value: counts[s] for s in reversed(Severity) if counts[s]},
        "suppressed": len(report.findings) - len(active),
        "changes": sum(len(z.changes) for z in report.zones),
        "errors": sum(len(z.errors) for z in report.zones),
    }
    if report.baseline:
        data["baseline"] = {"source": report.baseline, "known_findings_left_out": report.baseline_known}
    if report.min_severity:
        data["min_severity"] = {"level": report.min_severity, "findings_left_out": report.below_min_severity}
    return data


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "cfremedy", "version": __version__},
        "generated_at": report.generated_at,
        "zones": [zone_dict(z) for z in report.zones],
        "summary": summary(report),
    }
