"""Findings over time: what is new since a baseline, and what two audits differ by.

A finding's identity is its fingerprint (playbook, zone, resource, key, error codes), the same
one SARIF uploads carry, so "new" here means the same thing as a new alert in code scanning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cfremedy.errors import UsageError
from cfremedy.files import read_json
from cfremedy.models import Report, Severity, normalise_name


def _findings(report: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for zone in report.get("zones", []):
        for finding in zone.get("findings", []):
            yield zone.get("name", ""), finding


def fingerprints(report: Mapping[str, Any], source: str) -> set[str]:
    found = set()
    for _, finding in _findings(report):
        if "fingerprint" not in finding:
            raise UsageError(
                f"{source}: findings carry no fingerprint (a report from an older"
                " cfremedy?); make a new baseline with --format json"
            )
        found.add(finding["fingerprint"])
    return found


def zones_of(report: Mapping[str, Any]) -> set[str]:
    """The names of the zones a stored report covers (audited, or failed to be)."""
    return {normalise_name(str(z.get("name", ""))) for z in report.get("zones", [])}


def zone_slice(report: Mapping[str, Any], zone: str) -> dict[str, Any] | None:
    """A JSON report cut to one zone, its summary counted again over that zone alone (an
    account audit's totals say nothing about one of its zones); None when it does not cover
    `zone` (a normalised name). Pure."""
    zones = [z for z in report.get("zones", []) if normalise_name(str(z.get("name", ""))) == zone]
    if not zones:
        return None
    findings = [f for z in zones for f in z.get("findings", [])]
    active = [f for f in findings if "suppressed" not in f]
    counts = Counter(str(f.get("severity", "")) for f in active)
    summary = {
        "zones": len(zones),
        "findings": len(active),
        "by_severity": {s.value: counts[s.value] for s in reversed(Severity) if counts[s.value]},
        "suppressed": len(findings) - len(active),
        "changes": sum(len(z.get("changes", [])) for z in zones),
        "errors": sum(len(z.get("errors", [])) for z in zones),
    }
    return {**report, "zones": zones, "summary": summary}


def load_report_file(path: Path) -> dict[str, Any]:
    data = read_json(path, "report")
    if not isinstance(data, dict) or "zones" not in data:
        raise UsageError(f"{path} is not a cfremedy JSON report (--format json)")
    return data


def subtract_baseline(report: Report, known: set[str], source: str) -> Report:
    """Only the findings not in the baseline; how many were left out is kept. Pure."""
    zones = []
    left_out = 0
    for zone in report.zones:
        new = tuple(f for f in zone.findings if f.fingerprint(zone.name) not in known)
        left_out += len(zone.findings) - len(new)
        zones.append(replace(zone, findings=new))
    return replace(report, zones=tuple(zones), baseline=source, baseline_known=left_out)


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    appeared: tuple[tuple[str, dict[str, Any]], ...]  # (zone, finding) in new, not in old
    resolved: tuple[tuple[str, dict[str, Any]], ...]  # in old, gone from new

    def to_dict(self) -> dict[str, Any]:
        def rows(items: tuple[tuple[str, dict[str, Any]], ...]) -> list[dict[str, Any]]:
            return [{"zone": zone, **finding} for zone, finding in items]

        return {
            "old": self.old,
            "new": self.new,
            "new_findings": rows(self.appeared),
            "resolved_findings": rows(self.resolved),
        }


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any], old_label: str, new_label: str) -> Diff:
    """Findings that appeared and that were resolved between two JSON reports. Pure."""
    before = {f["fingerprint"]: (z, f) for z, f in _findings(old) if "fingerprint" in f}
    after = {f["fingerprint"]: (z, f) for z, f in _findings(new) if "fingerprint" in f}

    def ordered(side: dict[str, tuple[str, dict[str, Any]]], keys: set[str]) -> tuple[tuple[str, dict[str, Any]], ...]:
        # Zone, playbook, resource, then the fingerprint: the same order on every run.
        return tuple(
            side[k]
            for k in sorted(
                keys,
                key=lambda k: (side[k][0], str(side[k][1].get("playbook", "")), str(side[k][1].get("resource", "")), k),
            )
        )

    return Diff(
        old=old_label,
        new=new_label,
        appeared=ordered(after, after.keys() - before.keys()),
        resolved=ordered(before, before.keys() - after.keys()),
    )
