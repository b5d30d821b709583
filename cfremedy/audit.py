"""Running playbooks over a zone: read once, probe once, judge many times.

`evaluate` is pure (facts in, report out) so it is what tests and `plan` share; `audit_zone`
is the thin async shell that gathers the facts through the gateway and the probes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cfremedy.facts import ZoneFacts
from cfremedy.gateway import CloudflareGateway
from cfremedy.inventory import EMPTY, Inventory
from cfremedy.models import Change, Finding, StageError, ZoneReport, ZoneSnapshot
from cfremedy.probes import ProbeOptions, plan_targets, probe_origins
from cfremedy.plan import Plan, PlannedFinding
from cfremedy.probes.results import ProbeResults
from cfremedy.registry import Playbook

log = logging.getLogger("cfremedy.audit")


@dataclass(frozen=True)
class AuditOptions:
    playbooks: tuple[Playbook, ...]
    probe: ProbeOptions | None = field(default_factory=ProbeOptions)  # None: --no-probe
    inventory: Inventory = EMPTY


def _finding_order(f: Finding) -> tuple[int, str, str, str]:
    return (-f.severity.rank, f.playbook, f.resource, f.message)


def _merge_changes(changes: list[Change]) -> tuple[list[Change], list[StageError]]:
    """One change per target: duplicates collapse, contradictions are dropped and reported.

    Two playbooks asking for different values of the same setting is not something to resolve
    by order of discovery; a person has to look.
    """
    by_target: dict[str, list[Change]] = {}
    for change in changes:
        by_target.setdefault(change.target, []).append(change)
    merged: list[Change] = []
    errors: list[StageError] = []
    for target, group in by_target.items():
        afters = {repr(c.after) for c in group}
        if len(afters) == 1:
            merged.append(group[0])
        else:
            who = ", ".join(f"{c.playbook} wants {c.after!r}" for c in group)
            errors.append(StageError("plan", target, f"conflicting changes dropped: {who}"))
    return merged, errors


def evaluate(facts: ZoneFacts, playbooks: Sequence[Playbook]) -> ZoneReport:
    findings: list[Finding] = []
    changes: list[Change] = []
    errors: list[StageError] = []
    zone = facts.snapshot.zone
    for playbook in playbooks:
        try:
            found = list(playbook.detect(facts))
            proposed = list(playbook.plan_fix(facts, found)) if found else []
        except Exception as exc:  # one broken playbook must not hide the others' findings
            log.debug("playbook %s failed", playbook.id, exc_info=True)
            errors.append(StageError("playbook", playbook.id, f"{type(exc).__name__}: {exc}"))
            continue
        findings.extend(found)
        changes.extend(proposed)
    merged, conflicts = _merge_changes(changes)
    return ZoneReport(
        name=zone.name,
        id=zone.id,
        plan=zone.plan,
        findings=tuple(sorted(findings, key=_finding_order)),
        changes=tuple(merged),
        errors=tuple(errors + conflicts),
    )


async def gather_probes(snapshot: ZoneSnapshot, options: AuditOptions) -> ProbeResults:
    if options.probe is None:
        return ProbeResults(skipped_reason="probing disabled (--no-probe)")
    if not any(p.uses_probes for p in options.playbooks):
        return ProbeResults(skipped_reason="no selected playbook uses origin probes")
    targets = plan_targets(snapshot, options.probe)
    log.debug("probing %d origin(s) of %s", len(targets), snapshot.zone.name)
    return await probe_origins(targets, options.probe)


async def audit_zone(gateway: CloudflareGateway, name: str, options: AuditOptions) -> ZoneReport:
    snapshot = await gateway.zone_snapshot(name)
    probes = await gather_probes(snapshot, options)
    facts = ZoneFacts(
        snapshot=snapshot,
        probes=probes,
        inventory=options.inventory.for_zone(snapshot.zone.name),
        now=datetime.now(timezone.utc),
    )
    return evaluate(facts, options.playbooks)


@dataclass(frozen=True)
class Recheck:
    """Whether a finding a plan set out to fix is gone from a fresh audit."""

    finding: PlannedFinding
    resolved: bool | None  # None: could not be re-checked
    note: str = ""


async def recheck(gateway: CloudflareGateway, plan: Plan, options: AuditOptions) -> list[Recheck]:
    """Re-run the playbooks a plan's changes came from on a fresh snapshot (after apply)."""
    changed = {c.playbook for c in plan.changes}
    affected = tuple(p for p in options.playbooks if p.id in changed)
    snapshot = await gateway.zone_snapshot(plan.zone)
    scoped = AuditOptions(playbooks=affected, probe=options.probe, inventory=options.inventory)
    probes = await gather_probes(snapshot, scoped)
    facts = ZoneFacts(snapshot=snapshot, probes=probes,
                      inventory=options.inventory.for_zone(plan.zone), now=datetime.now(timezone.utc))
    now_found = {(f.playbook, f.resource, f.error_codes) for f in evaluate(facts, affected).findings}
    by_id = {p.id: p for p in affected}
    results = []
    for finding in plan.findings:
        playbook = by_id.get(finding.playbook)
        if playbook is None:
            results.append(Recheck(finding, None, "playbook not available"))
        elif playbook.uses_probes and options.probe is None:
            results.append(Recheck(finding, None, "not re-checked: probing is disabled"))
        else:
            results.append(Recheck(finding, finding.key not in now_found))
    return results
