"""The one audit pipeline: read once, probe once, judge many times.

Every command that audits (`audit zone`, `audit account`, `plan`, `diagnose`, `demo`, apply's
re-check) calls `audit(gateway, selection, options)`; what happens to the report afterwards
(suppressions, baseline, history, exit code) is `cfremedy.finish`. `evaluate` is the pure core
(facts in, zone report out) that tests and playbook authors run on plain data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfremedy.allowlist import read_allowlist
from cfremedy.analytics import ZONES_PER_QUERY, ObservedErrors, window_ending
from cfremedy.errors import ApiError, AuthenticationFailed
from cfremedy.facts import ZoneFacts, packaged_cloudflare_ranges
from cfremedy.gateway import CloudflareGateway
from cfremedy.inventory import EMPTY, Inventory
from cfremedy.models import (
    AllowlistFile,
    Change,
    Finding,
    IPNetwork,
    PagesProject,
    Report,
    StageError,
    Zone,
    ZoneReport,
    ZoneSnapshot,
    frozen_mapping,
)
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import Outcome, ProbeResults
from cfremedy.registry import Playbook
from cfremedy.selection import AccountSelection, HostnameSelection, NoZones, Selection, ZoneSelection

if TYPE_CHECKING:
    from cfremedy.probes.runner import ProbePool

log = logging.getLogger("cfremedy.audit")

DEFAULT_PARALLEL = 8  # zones in flight at once; the rate limiter, not this, bounds the API load

Progress = Callable[[int, int], None]


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
    parallel: int = DEFAULT_PARALLEL  # zones audited at once

    def reads(self, source: str) -> bool:
        """Whether a selected playbook needs this source (`registry.SOURCES`) read."""
        return source not in self.skip and any(source in p.reads for p in self.playbooks)

    @property
    def probes(self) -> bool:
        """Whether origins are contacted at all in this run."""
        return self.probe is not None and any(p.uses_probes for p in self.playbooks)


# -- the pipeline ---------------------------------------------------------------------------------


async def audit(
    gateway: CloudflareGateway, selection: Selection, options: AuditOptions, progress: Progress | None = None
) -> Report:
    """Audit what `selection` names. A zone that cannot be read still appears in the report,
    with its error; only a token the API refuses outright ends an account audit early."""
    zones, lookup_errors = await _zones(gateway, selection)
    if not zones:
        return Report(zones=tuple(lookup_errors), scope=selection.label)
    log.info("auditing %d zone(s) (%s)", len(zones), selection.label)
    observed: dict[str, ObservedErrors] = {}
    analytics_errors: dict[str, list[StageError]] = {}
    if options.errors_since:
        observed, failures = await gather_observed(gateway, zones, options.errors_since)
        for error in failures:
            analytics_errors.setdefault(error.resource, []).append(error)
    pool = _probe_pool(options)
    hostname = selection.hostname if isinstance(selection, HostnameSelection) else None
    slots = asyncio.Semaphore(options.parallel)
    done = 0

    async def one(zone: Zone) -> ZoneReport:
        nonlocal done
        async with slots:
            report = await audit_zone(
                gateway,
                zone,
                options,
                observed.get(zone.id),
                tuple(analytics_errors.get(zone.name, ())),
                pool,
                hostname,
            )
        done += 1
        if progress is not None:
            progress(done, len(zones))
        return report

    reports = await asyncio.gather(*(one(z) for z in zones))
    return Report(zones=tuple(sorted(reports, key=lambda r: r.name)), scope=selection.label)


async def _zones(gateway: CloudflareGateway, selection: Selection) -> tuple[list[Zone], list[ZoneReport]]:
    """The zones to audit; for a single zone or hostname, a failed lookup is its report."""
    if isinstance(selection, AccountSelection):
        visible = await gateway.list_zones(selection.account_id)
        zones = sorted((z for z in visible if selection.selects(z)), key=lambda z: z.name)
        if not zones:
            raise NoZones(len(visible), selection)
        return zones, []
    name = selection.name if isinstance(selection, ZoneSelection) else selection.zone or selection.hostname
    try:
        if isinstance(selection, HostnameSelection) and selection.zone is None:
            return [await gateway.zone_for_hostname(selection.hostname)], []
        return [await gateway.zone_by_name(name)], []
    except ApiError as exc:
        return [], [ZoneReport(name=name, errors=(StageError("api", name, exc.message, exc.hint),))]


def _probe_pool(options: AuditOptions) -> ProbePool | None:
    if options.probe is None or not options.probes:
        return None
    from cfremedy.probes.runner import ProbePool  # opens sockets: only for runs that probe

    return ProbePool(options.probe)


async def audit_zone(
    gateway: CloudflareGateway,
    zone: Zone,
    options: AuditOptions,
    observed: ObservedErrors | None = None,
    errors: tuple[StageError, ...] = (),
    pool: ProbePool | None = None,
    hostname: str | None = None,
) -> ZoneReport:
    """One zone already looked up: its read failures become its report's errors."""
    try:
        snapshot, read_errors = await read_zone(gateway, zone, options)
    except AuthenticationFailed:
        raise  # the token itself is refused: every other zone would fail the same way
    except ApiError as exc:
        return ZoneReport(
            name=zone.name,
            id=zone.id,
            plan=zone.plan,
            errors=(StageError("api", zone.name, exc.message, exc.hint), *errors),
        )
    report = await judge(gateway, snapshot, options, observed, pool, hostname)
    if hostname is not None:
        report = replace(report, findings=tuple(f for f in report.findings if about_hostname(f, hostname, zone.name)))
    return replace(report, errors=report.errors + tuple(read_errors) + errors)


def about_hostname(finding: Finding, hostname: str, zone: str) -> bool:
    """Findings on the hostname itself, its paths, or the whole zone (its SSL mode, say)."""
    resource = finding.resource.lower()
    return resource in (hostname, zone) or resource.startswith(hostname + "/")


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """What an audit read beyond the snapshot and probes, for the playbooks that asked."""

    allowlists: tuple[AllowlistFile, ...] = ()
    cloudflare_ranges: tuple[IPNetwork, ...] = field(default_factory=packaged_cloudflare_ranges)
    pages_projects: tuple[PagesProject, ...] | None = None
    errors: tuple[StageError, ...] = ()


async def read_zone(
    gateway: CloudflareGateway, zone: Zone, options: AuditOptions
) -> tuple[ZoneSnapshot, list[StageError]]:
    """Settings and DNS, plus the SSL-mode rules when a playbook needs them.

    The rules are read next to the snapshot (same wall time) but a failure to read them, such
    as a token without "Config Rules Read", costs only the per-hostname precision: it is
    reported and the zone is judged by its zone-wide SSL mode, instead of failing the audit.
    """
    if not options.reads("ssl_rules"):
        skipped = "ssl_rules" in options.skip and any("ssl_rules" in p.reads for p in options.playbooks)
        note = (
            [
                StageError(
                    "rules",
                    zone.name,
                    "Configuration Rules and Page Rules not read (--skip-rules): SSL modes were judged zone-wide",
                )
            ]
            if skipped
            else []
        )
        return await gateway.snapshot(zone), note
    snapshot, rules = await asyncio.gather(gateway.snapshot(zone), gateway.ssl_rules(zone), return_exceptions=True)
    if isinstance(snapshot, BaseException):
        raise snapshot
    if isinstance(rules, AuthenticationFailed):
        raise rules
    if isinstance(rules, ApiError):
        return snapshot, [
            StageError(
                "rules",
                zone.name,
                f"{rules.message}; SSL modes were judged zone-wide, without Configuration Rules and Page Rules",
            )
        ]
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
            errors.append(
                StageError(
                    "allowlist",
                    zone.name,
                    f"{exc.message}; allowlists were compared with the ranges shipped with cfremedy",
                )
            )
    projects = None
    pages_cnames = any(r.pages_target for r in snapshot.records)
    if pages_cnames and options.reads("pages_projects"):
        try:
            projects = await gateway.once(
                ("pages_projects", zone.account_id), lambda: gateway.pages_projects(zone.account_id)
            )
        except AuthenticationFailed:
            raise
        except ApiError as exc:
            errors.append(StageError("pages", zone.name, exc.message))
    return Extras(allowlists, ranges, projects, tuple(errors))


async def gather_observed(
    gateway: CloudflareGateway, zones: Sequence[Zone], since: timedelta
) -> tuple[dict[str, ObservedErrors], list[StageError]]:
    """5xx counts for every zone, ten zones per GraphQL query (the API's limit)."""
    start, end = window_ending(datetime.now(UTC), since)
    observed: dict[str, ObservedErrors] = {}
    errors: list[StageError] = []
    for i in range(0, len(zones), ZONES_PER_QUERY):
        batch = zones[i : i + ZONES_PER_QUERY]
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


async def gather_probes(
    snapshot: ZoneSnapshot, options: AuditOptions, pool: ProbePool | None = None, hostname: str | None = None
) -> ProbeResults:
    if options.probe is None:
        return ProbeResults(skipped_reason="probing disabled (--no-probe)")
    if not options.probes:
        return ProbeResults(skipped_reason="no selected playbook uses origin probes")
    from cfremedy.probes.runner import probe_origins
    from cfremedy.probes.targets import plan_targets

    targets = [t for t in plan_targets(snapshot, options.probe) if hostname in (None, t.hostname)]
    log.debug("probing %d origin(s) of %s", len(targets), snapshot.zone.name)
    return await probe_origins(targets, options.probe, pool)


# -- judging ---------------------------------------------------------------------------------------


async def judge(
    gateway: CloudflareGateway,
    snapshot: ZoneSnapshot,
    options: AuditOptions,
    observed: ObservedErrors | None = None,
    pool: ProbePool | None = None,
    hostname: str | None = None,
) -> ZoneReport:
    """Probe, read the extras, assemble the facts, run the playbooks: every audit's last step."""
    probes, extras = await asyncio.gather(
        gather_probes(snapshot, options, pool, hostname), gather_extras(gateway, snapshot, options)
    )
    facts = ZoneFacts(
        snapshot=snapshot,
        probes=probes,
        inventory=options.inventory.for_zone(snapshot.zone.name),
        now=datetime.now(UTC),
        observed=observed,
        allowlists=extras.allowlists,
        cloudflare_ranges=extras.cloudflare_ranges,
        pages_projects=extras.pages_projects,
        options=options.playbook_options,
    )
    report = evaluate(facts, options.playbooks)
    return replace(report, errors=report.errors + extras.errors)


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
    """Run the playbooks over one zone's facts. Pure: no clock, no network, no files."""
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
                errors.append(
                    StageError(
                        "probe", f"{probe.hostname} ({probe.address}:{port})", f"probe failed on our side: {step.error}"
                    )
                )
    return errors
