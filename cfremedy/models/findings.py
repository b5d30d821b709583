"""What an audit concludes: findings, proposed changes, errors, and the report that holds them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cfremedy.models.common import Severity, frozen_mapping


@dataclass(frozen=True)
class Suppression:
    """Why a finding is accepted for now: it is still reported and counted, never hidden."""

    reason: str
    rule: str  # which ignore entry matched, e.g. "cfremedy.toml ignore[2]"
    until: date | None = None


@dataclass(frozen=True)
class Finding:
    """One detected misconfiguration, explained well enough to act on without reading code."""

    playbook: str
    severity: Severity
    error_codes: tuple[int, ...]
    resource: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=frozen_mapping)
    docs_url: str = ""
    # Steps a person must take when no API change fixes it (or in addition to the change).
    remediation: tuple[str, ...] = ()
    # Tells apart findings of one playbook on one resource (e.g. the origin address), so each
    # keeps its own identity across runs. Messages are not identity: their wording may change.
    key: str = ""
    suppression: Suppression | None = None

    def fingerprint(self, zone: str) -> str:
        """Stable across runs for the same problem: baselines, diffs and SARIF alerts use it."""
        identity = "|".join(
            [self.playbook, zone.lower(), self.resource.lower(), self.key, ",".join(map(str, self.error_codes))]
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Change:
    """An inert description of one write; nothing happens until `apply` reads it from a plan.

    `target` is `setting:<id>` or `dns:<record id>`. For settings, `before`/`after` are the
    setting values; for DNS they are the record fields the change compares and writes.
    """

    playbook: str
    target: str
    before: Any
    after: Any
    reason: str
    lowers_security: bool = False

    @property
    def kind(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def key(self) -> str:
        return self.target.split(":", 1)[1]


@dataclass(frozen=True)
class StageError:
    """Something that stopped part of an audit; reported, never silently skipped."""

    stage: str  # "api", "probe", "playbook", "rules", "allowlist", "pages", "analytics", ...
    resource: str
    message: str
    hint: str = ""  # what to do about it, when there is something to say (not in the JSON report)

    @property
    def degraded(self) -> bool:
        """The audit ran in full, only less precisely (SSL modes judged zone-wide without the
        rules): a warning, not a failed execution."""
        return self.stage in ("rules", "routes")


@dataclass(frozen=True)
class ZoneReport:
    name: str
    id: str = ""
    plan: str = ""
    findings: tuple[Finding, ...] = ()
    changes: tuple[Change, ...] = ()
    errors: tuple[StageError, ...] = ()


@dataclass(frozen=True)
class Report:
    zones: tuple[ZoneReport, ...]
    scope: str = ""  # what was audited: "zone example.com", "all zones; shard 1/4", ...
    generated_at: str = ""  # ISO 8601 UTC; the only field that differs between identical runs
    # Set when findings known in a baseline were left out: where it came from, how many.
    baseline: str = ""
    baseline_known: int = 0
    # Set when `--min-severity` left findings below it out of what is shown: the level, how many.
    min_severity: str = ""
    below_min_severity: int = 0

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for z in self.zones for f in z.findings)

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        """Findings that count: not suppressed (these decide the exit code)."""
        return tuple(f for f in self.findings if f.suppression is None)

    @property
    def has_errors(self) -> bool:
        return any(z.errors for z in self.zones)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.active_findings), default=None, key=lambda s: s.rank)
