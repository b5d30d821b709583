"""Running playbooks over a zone: read once, probe once, judge many times.

`evaluate` is pure (facts in, report out) so it is what tests and `plan` share; `audit_zone`
is the thin async shell that gathers the facts through the gateway and the probes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cfremedy.allowlist import read_allowlist
from cfremedy.analytics import ZONES_PER_QUERY, ObservedErrors, window_ending
from cfremedy.errors import ApiError, AuthenticationFailed
from cfremedy.facts import IPNetwork, ZoneFacts, packaged_cloudflare_ranges
from cfremedy.gateway import CloudflareGateway
from cfremedy.inventory import EMPTY, Inventory
from cfremedy.models import (
    AllowlistFile,
    Change,
    Finding,
    PagesProject,
    StageError,
    Zone,
    ZoneReport,
    ZoneSnapshot,
    frozen_mapping,
)
from cfremedy.plan import Plan, PlannedFinding
from cfremedy.probes import ProbeOptions, plan_targets, probe_origins
from cfremedy.probes.results import Outcome, ProbeResults
from cfremedy.registry import Playbook

log = logging.getLogger("cfremedy.audit")


@dataclass(frozen=True)
class AuditOptions:
    playbooks: tuple[Playbook, ...]
    probe: ProbeOptions | None = field(default_factory=ProbeOptions)  # None: --no-probe
    inventory: Inventory = EMPTY
    errors_since: timedelta | None = None  # also read Cloudflare's 5xx counts over this window
    # cfremedy.toml `[playbooks.<id>]` settings, handed to the playbooks as `facts.options`.
    playbook_options: Mapping[str, Mapping[str, Any]] = field(default_factory=frozen_mapping)

    # Sources not to read even if a playbook wants them (`audit account --skip-rules`).
    skip: frozenset[str] = frozenset()

    def reads(self, source: str) -> bool:
        """Whether a selected playbook needs this source (`registry.SOURCES`) read."""
        return source not in self.skip and any(source in p.reads for p in self.playbooks)


@dataclass(frozen=True)
class Extras:
    """What an audit read beyond the snapshot and probes, for the playbooks that asked."""

    allowlists: tuple[AllowlistFile, ...] = ()
    cloudflare_ranges: tuple[IPNetwork, ...] = field(default_factory=packaged_cloudflare_ranges)
    pages_projects: tuple[PagesProject, ...] | None = None
    errors: tuple[StageError, ...] = ()


async def read_zone(gateway: CloudflareGateway, zone: Zone, options: AuditOptions) -> tuple[ZoneSnapshot, list[StageError]]:
    """Settings and DNS, plus the SSL-mode rules when a playbook needs them.

    The rules are read next to the snapshot (same wall time) but a failure to read them, such
    as a token without "Config Rules Read", costs only the per-hostname precision: it is
    reported and the zone is judged by its zone-wide SSL mode, instead of failing the audit.
    """
    if not options.reads("ssl_rules"):
        skipped = "ssl_rules" in options.skip and any("ssl_rules" in p.reads for p in options.playbooks)
        note = [StageError("rules", zone.name, "Configuration Rules and Page Rules not read"
                           " (--skip-rules): SSL modes were judged zone-wide")] if skipped else []
        return await gateway.snapshot(zone), note
    snapshot, rules = await asyncio.gather(
        gateway.snapshot(zone), gateway.ssl_rules(zone), return_exceptions=True
    )
    if isinstance(snapshot, BaseException):
        raise snapshot
    if isinstance(rules, AuthenticationFailed):
        raise rules
    if isinstance(rules, ApiError):
        return snapshot, [StageError("rules", zone.name, f"{rules.message}; SSL modes were judged"
                                     " zone-wide, without Configuration Rules and Page Rules")]
    if isinstance(rules, BaseException):
        raise rules
    return replace(snapshot, ssl_rules=rules), []


async def gather_extras(gateway: CloudflareGateway, snapshot: ZoneSnapshot, options: AuditOptions) -> Extras:
    """Allowlist files and Cloudflare's current ranges, Pages projects: only when asked for."""
    errors: list[StageError] = []
    zone = snapshot.zone
    allowlists: tuple[AllowlistFile, ...] = ()
    ranges = packaged_cloudflare_ranges()
    files = options.inventory.for_zone(zone.name).allowlist_files
    if files and options.reads("allowlists"):
        allowlists = tuple(read_allowlist(Path(f)) for f in files)
        errors += [StageError("allowlist", a.path, a.error) for a in allowlists if a.error]
        try:
            ranges = await gateway.once(("ips",), gateway.cloudflare_ips)
        except AuthenticationFailed:
            raise
        except ApiError as exc:
            errors.append(StageError("allowlist", zone.name, f"{exc.message}; allowlists were"
                                     " compared with the ranges shipped with cfremedy"))
    projects = None
    pages_cnames = any(r.pages_target for r in snapshot.records)
    if pages_cnames and options.reads("pages_projects"):
        try:
            projects = await gateway.once(("pages_projects", zone.account_id),
                                          lambda: gateway.pages_projects(zone.account_id))
        except AuthenticationFailed:
            raise
        except ApiError as exc:
            errors.append(StageError("pages", zone.name, exc.message))
    return Extras(allowlists, ranges, projects, tuple(errors))


async def gather_observed(
    gateway: CloudflareGateway, zones: Sequence[Zone], since: timedelta
) -> tuple[dict[str, ObservedErrors], list[StageError]]:
    """5xx counts for every zone, ten zones per GraphQL query (the API's limit)."""
    start, end = window_ending(datetime.now(timezone.utc), since)
    observed: dict[str, ObservedErrors] = {}
    errors: list[StageError] = []
    for i in range(0, len(zones), ZONES_PER_QUERY):
        batch = zones[i:i + ZONES_PER_QUERY]
        try:
            counts, messages = await gateway.error_counts(batch, start, end)
        except AuthenticationFailed:
            raise
        except ApiError as exc:
            errors += [StageError("analytics", z.name, exc.message) for z in batch]
            continue
        for zone in batch:
            if zone.id in counts:
                observed[zone.id] = ObservedErrors.of(start, end, counts[zone.id])
            else:
                detail = "; ".join(m for m in messages if zone.id in m) or "; ".join(messages)
                errors.append(StageError("analytics", zone.name, detail or "no analytics returned"))
    return observed, errors


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
        except Exception as exc:  # one broken playbook must not hide the others' findings
            log.debug("playbook %s failed", playbook.id, exc_info=True)
            errors.append(StageError("playbook", playbook.id, f"detect: {type(exc).__name__}: {exc}"))
            continue
        findings.extend(found)  # kept even if planning their fix fails
        try:
            changes.extend(playbook.plan_fix(facts, found) if found else [])
        except Exception as exc:
            log.debug("playbook %s failed to plan", playbook.id, exc_info=True)
            errors.append(StageError("playbook", playbook.id, f"plan_fix: {type(exc).__name__}: {exc}"))
    merged, conflicts = _merge_changes(changes)
    return ZoneReport(
        name=zone.name,
        id=zone.id,
        plan=zone.plan,
        findings=tuple(sorted(findings, key=_finding_order)),
        changes=tuple(merged),
        errors=tuple(_probe_errors(facts) + errors + conflicts),
    )


def _probe_errors(facts: ZoneFacts) -> list[StageError]:
    """Probes that failed on our side, said out loud: an origin we could not look at is not a pass.

    (Not probing at all, `--no-probe`, is the user's choice; the CLI says it once per run.)
    """
    errors = []
    for probe in facts.probes.probes:
        for port, step in ((443, probe.tcp443), (80, probe.tcp80)):
            if step.outcome is Outcome.ERROR:
                errors.append(StageError("probe", f"{probe.hostname} ({probe.address}:{port})",
                                         f"probe failed on our side: {step.error}"))
    return errors


async def gather_probes(snapshot: ZoneSnapshot, options: AuditOptions) -> ProbeResults:
    if options.probe is None:
        return ProbeResults(skipped_reason="probing disabled (--no-probe)")
    if not any(p.uses_probes for p in options.playbooks):
        return ProbeResults(skipped_reason="no selected playbook uses origin probes")
    targets = plan_targets(snapshot, options.probe)
    log.debug("probing %d origin(s) of %s", len(targets), snapshot.zone.name)
    return await probe_origins(targets, options.probe)


async def judge(gateway: CloudflareGateway, snapshot: ZoneSnapshot, options: AuditOptions,
                observed: ObservedErrors | None = None, probes: ProbeResults | None = None) -> ZoneReport:
    """Probe (unless given), read the extras, assemble the facts, run the playbooks: every
    audit's last step."""
    if probes is None:
        probes, extras = await asyncio.gather(gather_probes(snapshot, options),
                                              gather_extras(gateway, snapshot, options))
    else:
        extras = await gather_extras(gateway, snapshot, options)
    facts = ZoneFacts(snapshot=snapshot, probes=probes,
                      inventory=options.inventory.for_zone(snapshot.zone.name),
                      now=datetime.now(timezone.utc), observed=observed,
                      allowlists=extras.allowlists, cloudflare_ranges=extras.cloudflare_ranges,
                      pages_projects=extras.pages_projects, options=options.playbook_options)
    report = evaluate(facts, options.playbooks)
    return replace(report, errors=report.errors + extras.errors)


async def audit_zone(gateway: CloudflareGateway, name: str, options: AuditOptions) -> ZoneReport:
    snapshot, read_errors = await read_zone(gateway, await gateway.zone_by_name(name), options)
    observed, analytics_errors = (
        await gather_observed(gateway, [snapshot.zone], options.errors_since)
        if options.errors_since else ({}, [])
    )
    report = await judge(gateway, snapshot, options, observed.get(snapshot.zone.id))
    return replace(report, errors=report.errors + tuple(read_errors + analytics_errors))


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
    scoped = replace(options, playbooks=affected, errors_since=None)
    snapshot, _ = await read_zone(gateway, await gateway.zone_by_name(plan.zone), scoped)
    now_found = {(f.playbook, f.resource, f.error_codes)
                 for f in (await judge(gateway, snapshot, scoped)).findings}
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


def about_hostname(finding: Finding, hostname: str, zone: str) -> bool:
    """Findings on the hostname itself, its paths, or the whole zone (its SSL mode, say)."""
    resource = finding.resource.lower()
    return resource in (hostname, zone) or resource.startswith(hostname + "/")


async def audit_hostname(gateway: CloudflareGateway, zone: Zone, hostname: str,
                         options: AuditOptions) -> list[Finding]:
    """Run the given playbooks for one hostname: only its origins are probed (`diagnose`)."""
    snapshot, _ = await read_zone(gateway, zone, options)
    probes = None
    if options.probe is not None and any(p.uses_probes for p in options.playbooks):
        targets = [t for t in plan_targets(snapshot, options.probe) if t.hostname == hostname]
        probes = await probe_origins(targets, options.probe)
    report = await judge(gateway, snapshot, options, probes=probes)
    return [f for f in report.findings if about_hostname(f, hostname, zone.name)]
