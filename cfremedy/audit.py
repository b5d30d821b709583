"""The one audit pipeline: read once, probe once, judge many times.

Every command that audits (`audit zone`, `audit account`, `plan`, `diagnose`, `demo`, apply's
re-check) calls `audit(gateway, selection, options)`; what happens to the report afterwards
(suppressions, baseline, history, exit code) is `cfremedy.finish`. `evaluate` is the pure core
(facts in, zone report out) that tests and playbook authors run on plain data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cfremedy.allowlist import read_allowlist
from cfremedy.analytics import ZONES_PER_QUERY, ObservedErrors, window_ending
from cfremedy.errors import ApiError, AuthenticationFailed
from cfremedy.facts import ZoneFacts, packaged_cloudflare_ranges
from cfremedy.gateway import CloudflareGateway
from cfremedy.gateway.reads import CACHE_RULES_PHASE, CONFIG_RULES_PHASE, ORIGIN_RULES_PHASE
from cfremedy.incremental import (
    ZONE_SOURCES,
    AccountLog,
    Decision,
    Incremental,
    StoredZone,
    Unreadable,
    changes_by_zone,
    decide,
    decode,
    log_since,
    stored_zone,
)
from cfremedy.inventory import EMPTY, Inventory, ZoneInventory, unknown_hostnames, unknown_zones
from cfremedy.models import (
    AllowlistFile,
    Change,
    Finding,
    IPNetwork,
    LoadBalancer,
    PagesProject,
    Pool,
    Report,
    StageError,
    Tunnel,
    Zone,
    ZoneReport,
    ZoneSnapshot,
    frozen_mapping,
    iso_z,
    normalise_name,
)
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import Outcome, ProbeResults
from cfremedy.registry import ROUTE_SOURCES, Playbook
from cfremedy.routes import Routes, build_routes, tunnel_id_of
from cfremedy.selection import AccountSelection, HostnameSelection, NoZones, Selection, ZoneSelection
from cfremedy.tasks import all_of, together

if TYPE_CHECKING:
    from cfremedy.probes.runner import ProbePool

log = logging.getLogger("cfremedy.audit")

T = TypeVar("T")

DEFAULT_PARALLEL = 8  # zones in flight at once; the rate limiter, not this, bounds the API load
# `audit account --skip-rules`: no rule of any kind is read (two requests per zone fewer).
SKIP_RULES = frozenset({"ssl_rules", "origin_rules", "cache_rules"})

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
    # Sources to read whatever the playbooks need (`cfremedy routes` reads every route source).
    also_read: frozenset[str] = frozenset()
    # `audit account --incremental`: zones the audit log says are unchanged come from the store.
    incremental: Incremental | None = None
    # Called with every zone read afresh and whole, for the store (`--incremental`).
    remember: Callable[[StoredZone], None] | None = None

    def reads(self, source: str) -> bool:
        """Whether this source (`registry.SOURCES`) is read: a selected playbook needs it, or
        the probes do (they follow the routes that Origin Rules and Load Balancers shape)."""
        if source in self.skip:
            return False
        if source in self.also_read or (source in ROUTE_SOURCES and self.probes):
            return True
        return any(source in p.reads for p in self.playbooks)

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
    zones, lookup_errors, visible = await _zones(gateway, selection)
    if not zones:
        return Report(zones=tuple(lookup_errors), scope=selection.label)
    whole = isinstance(selection, AccountSelection) and selection == AccountSelection()
    for problem in unknown_zones(options.inventory, {z.name for z in zones}, visible, whole):
        log.warning("warning: %s", problem)
    log.info("auditing %d zone(s) (%s)", len(zones), selection.label)
    observed: dict[str, ObservedErrors] = {}
    analytics_errors: dict[str, list[StageError]] = {}
    if options.errors_since:
        observed, failures = await gather_observed(gateway, zones, options.errors_since)
        for error in failures:
            analytics_errors.setdefault(error.resource, []).append(error)
    reuse: Mapping[str, StoredZone] = {}
    if options.incremental is not None:
        reuse = (await decide_reuse(gateway, zones, options, options.incremental)).reuse
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
                reuse.get(zone.id),
            )
        done += 1
        if progress is not None:
            progress(done, len(zones))
        return report

    reports = await all_of(one(z) for z in zones)
    return Report(zones=tuple(sorted(reports, key=lambda r: r.name)), scope=selection.label)


async def _zones(
    gateway: CloudflareGateway, selection: Selection
) -> tuple[list[Zone], list[ZoneReport], frozenset[str]]:
    """The zones to audit, and the names of those the token can see as far as the audit
    listed them (an account's; for one zone, itself); for a single zone or hostname, a failed
    lookup is its report."""
    if isinstance(selection, AccountSelection):
        visible = await gateway.list_zones(selection.account_id)
        zones = sorted((z for z in visible if selection.selects(z)), key=lambda z: z.name)
        if not zones:
            raise NoZones(len(visible), selection)
        return zones, [], frozenset(z.name for z in visible)
    name = selection.name if isinstance(selection, ZoneSelection) else selection.zone or selection.hostname
    try:
        if isinstance(selection, HostnameSelection) and selection.zone is None:
            zone = await gateway.zone_for_hostname(selection.hostname)
        else:
            zone = await gateway.zone_by_name(name)
    except ApiError as exc:
        return [], [ZoneReport(name=name, errors=(StageError("api", name, exc.message, exc.hint),))], frozenset()
    return [zone], [], frozenset({zone.name})


async def decide_reuse(
    gateway: CloudflareGateway, zones: Sequence[Zone], options: AuditOptions, incremental: Incremental
) -> Decision:
    """Read the audit log of every account with stored snapshots worth reusing, then decide
    zone by zone (`cfremedy.incremental`). Any doubt about an account reads all its zones."""
    now = datetime.now(UTC)
    needed = frozenset(s for s in ZONE_SOURCES if options.reads(s))
    candidates: dict[str, list[StoredZone]] = {}
    for zone in zones:
        kept = incremental.stored.get(zone.id)
        if kept is not None and now - kept.read_at <= incremental.max_age and needed <= kept.sources:
            candidates.setdefault(zone.account_id, []).append(kept)
    if not candidates:
        log.warning(
            "incremental: no stored snapshot to start from (%s): auditing every zone in full;"
            " the next run will be incremental",
            "none stored yet" if not incremental.stored else "all older than --max-age or incomplete",
        )

    async def account_log(account_id: str, kept: list[StoredZone]) -> AccountLog:
        since = log_since(kept) or now
        try:
            reaches, entries = await together(
                gateway.audit_log_reaches(account_id, since), gateway.audit_log(account_id, since)
            )
        except AuthenticationFailed:
            raise
        except ApiError as exc:
            return AccountLog(account_id, since, None, exc.message)
        if not reaches:
            return AccountLog(account_id, since, None, f"the audit log does not reach back to {iso_z(since)}")
        return AccountLog(account_id, since, entries)

    logs = await all_of(account_log(a, kept) for a, kept in sorted(candidates.items()))
    for account_log_ in logs:
        if account_log_.entries is None:
            log.warning(
                "incremental: %s; every zone of account %s is audited in full",
                account_log_.problem,
                account_log_.account_id,
            )
    decision = decide(
        zones,
        incremental.stored,
        {a.account_id: a for a in logs},
        needed=needed,
        max_age=incremental.max_age,
        now=now,
    )
    unattributed = sorted(
        {e.resource_type or e.action or "unknown" for a in logs for e in changes_by_zone(a.entries or (), zones)[1]}
    )
    if unattributed:
        log.warning(
            "incremental: the audit log has changes that name no zone (%s): their accounts' zones are audited in full",
            ", ".join(unattributed[:5]),
        )
    log.info("incremental: %s", decision.summary())
    return decision


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
    stored: StoredZone | None = None,
) -> ZoneReport:
    """One zone already looked up: its read failures become its report's errors."""
    try:
        snapshot, read_errors = await read_zone(gateway, zone, options, stored)
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
    gateway: CloudflareGateway, zone: Zone, options: AuditOptions, stored: StoredZone | None = None
) -> tuple[ZoneSnapshot, list[StageError]]:
    """Settings and DNS, plus what the selected playbooks and the probes need to know about
    the hostnames' real routes: rules, load balancers, tunnels.

    Those extra reads run next to the snapshot (same wall time) but a failure to read them,
    such as a token without "Origin Rules Read", costs only precision: it is reported, as a
    warning naming what could not be seen, instead of failing the audit. `stored`: the zone's
    snapshot from an earlier run, to take instead of reading (`cfremedy.incremental`).
    """
    errors: list[StageError] = []
    if options.skip & SKIP_RULES and any(set(p.reads) & options.skip for p in options.playbooks):
        errors.append(
            StageError(
                "rules",
                zone.name,
                "rules not read (--skip-rules): SSL modes, origin ports and timeouts were judged zone-wide",
            )
        )
    kept = _decoded(stored, zone)
    if kept is not None:
        # Settings, records, rules and load balancers as stored; pools, their health and
        # tunnels (the account's, and state the audit log does not record) read as always.
        # A fuller snapshot than this run reads (stored without --skip-rules, say) is judged
        # as this run would have read it.
        unread: dict[str, Any] = {s: None for s in ZONE_SOURCES if not options.reads(s)}
        snapshot = replace(kept, **unread)
        balancing, balancing_errors = await _read_balancing(gateway, zone, options, known=snapshot.load_balancers)
        rule_errors: list[StageError] = []
    else:
        read_at = datetime.now(UTC)
        snapshot, (rules, rule_errors), (balancing, balancing_errors) = await together(
            gateway.snapshot(zone), _read_rules(gateway, zone, options), _read_balancing(gateway, zone, options)
        )
        snapshot = replace(snapshot, **rules)
    snapshot = replace(snapshot, **balancing)
    tunnels, tunnel_errors = await _read_tunnels(gateway, snapshot, options)
    snapshot = replace(snapshot, **tunnels)
    read_errors = rule_errors + balancing_errors + tunnel_errors
    if kept is None and options.remember is not None and not read_errors:
        # Only a whole read is worth keeping: one missing a source would be read again anyway.
        options.remember(stored_zone(snapshot, read_at, (s for s in ZONE_SOURCES if getattr(snapshot, s) is not None)))
    return snapshot, errors + read_errors


def _decoded(stored: StoredZone | None, zone: Zone) -> ZoneSnapshot | None:
    """The stored snapshot, or None (with a warning) when it cannot be used: then the zone is
    read as in a full audit; a cache never stops one."""
    if stored is None:
        return None
    try:
        return decode(stored.data, zone)
    except Unreadable as exc:
        log.warning("incremental: the stored snapshot of %s is unusable (%s): reading it again", zone.name, exc)
        return None


async def _optional(read: Awaitable[T], stage: str, zone: Zone, consequence: str) -> tuple[T | None, list[StageError]]:
    """A read whose failure makes the audit less precise, not failed: None and a warning."""
    try:
        return await read, []
    except AuthenticationFailed:
        raise
    except ApiError as exc:
        return None, [StageError(stage, zone.name, f"{exc.message}; {consequence}", exc.hint)]


async def _read_rules(
    gateway: CloudflareGateway, zone: Zone, options: AuditOptions
) -> tuple[dict[str, Any], list[StageError]]:
    """Page Rules, and the entry points of the rule phases the zone has (its rulesets list
    says which: a zone without Origin or Cache Rules costs no request for them)."""
    wanted = {source for source in ("ssl_rules", "origin_rules", "cache_rules") if options.reads(source)}
    if not wanted:
        return {}, []
    phases, errors = await _optional(
        gateway.ruleset_phases(zone),
        "rules",
        zone,
        "rules were not read: SSL modes, ports and timeouts were judged zone-wide",
    )
    if phases is None:
        return {}, errors

    async def entry(phase: str, read: Callable[[Zone], Awaitable[T]]) -> T | tuple[()]:
        return await read(zone) if phase in phases else ()

    reads: dict[str, Awaitable[Any]] = {}
    if "ssl_rules" in wanted:
        reads["config"] = _optional(
            entry(CONFIG_RULES_PHASE, gateway.config_ssl_rules),
            "rules",
            zone,
            "SSL modes were judged zone-wide, without Configuration Rules",
        )
        reads["pages"] = _optional(
            gateway.page_ssl_rules(zone), "rules", zone, "SSL modes were judged zone-wide, without Page Rules"
        )
    if "origin_rules" in wanted:
        reads["origin"] = _optional(
            entry(ORIGIN_RULES_PHASE, gateway.origin_rules),
            "routes",
            zone,
            "Origin Rules were not seen: origins were probed on their default ports, SNI and Host",
        )
    if "cache_rules" in wanted:
        reads["cache"] = _optional(
            entry(CACHE_RULES_PHASE, gateway.cache_rules),
            "routes",
            zone,
            "Cache Rules were not seen: timeouts were judged by the zone setting alone",
        )
    done = dict(zip(reads, await all_of(reads.values()), strict=True))
    found: dict[str, Any] = {}
    for _, failures in done.values():
        errors += failures
    if "ssl_rules" in wanted:
        config, pages = done["config"][0], done["pages"][0]
        if config is not None or pages is not None:
            found["ssl_rules"] = (config or ()) + (pages or ())
    if "origin" in done and done["origin"][0] is not None:
        found["origin_rules"] = done["origin"][0]
    if "cache" in done and done["cache"][0] is not None:
        found["cache_rules"] = done["cache"][0]
    return found, errors


async def _read_balancing(
    gateway: CloudflareGateway, zone: Zone, options: AuditOptions, known: tuple[LoadBalancer, ...] | None = None
) -> tuple[dict[str, Any], list[StageError]]:
    """The account's pools and what references them (once per account): the zone's load
    balancers are read only when a load balancer of the zone uses one of them (no pool, no load
    balancer), and each pool they use has its health read once per run. `known`: the zone's
    load balancers from a stored snapshot, taken instead of reading them."""
    if not options.reads("load_balancers"):
        return {}, []
    unseen = "load-balanced hostnames were judged by their DNS records"
    pools, errors = await _optional(
        gateway.once(("pools", zone.account_id), lambda: gateway.pools(zone.account_id)), "routes", zone, unseen
    )
    if pools is None:
        return {"load_balancers": None}, errors
    if not pools:
        return {"pools": pools, "load_balancers": ()}, errors

    async def referrers() -> frozenset[str]:
        names = await all_of(gateway.pool_referrers(zone.account_id, p.id) for p in pools)
        return frozenset(n for group in names for n in group)

    hostnames, more = await _optional(
        gateway.once(("pool_referrers", zone.account_id), referrers), "routes", zone, unseen
    )
    if hostnames is None:
        return {"pools": pools, "load_balancers": None}, errors + more
    if not any(h == zone.name or h.endswith("." + zone.name) for h in hostnames):
        return {"pools": pools, "load_balancers": ()}, errors + more
    if known is not None:
        balancers: tuple[LoadBalancer, ...] | None = known
    else:
        balancers, more = await _optional(gateway.load_balancers(zone), "routes", zone, unseen)
    if balancers is None:
        return {"pools": pools, "load_balancers": None}, errors + more
    referenced = {p for lb in balancers for p in lb.pool_ids}
    by_id = {p.id: p for p in pools}

    async def health(pool: Pool) -> tuple[Pool, list[StageError]]:
        answer, failures = await _optional(
            gateway.once(("pool_health", pool.id), lambda: gateway.pool_health(zone.account_id, pool.id)),
            "routes",
            zone,
            f"the health of pool {pool.name} is unknown",
        )
        if answer is None:
            return pool, failures
        healthy, origins = answer
        return replace(
            pool,
            healthy=healthy,
            origins=tuple(replace(o, healthy=origins.get(o.address.lower())) for o in pool.origins),
        ), failures

    checked = await all_of(health(by_id[p]) for p in sorted(referenced) if p in by_id)
    updated = {pool.id: pool for pool, _ in checked}
    return {"pools": tuple(updated.get(p.id, p) for p in pools), "load_balancers": balancers}, [
        *errors,
        *more,
        *(e for _, failures in checked for e in failures),
    ]


async def _read_tunnels(
    gateway: CloudflareGateway, snapshot: ZoneSnapshot, options: AuditOptions
) -> tuple[dict[str, Any], list[StageError]]:
    """The account's tunnels, once per account and only when a proxied CNAME points at one;
    then the ingress rules of each remote-managed tunnel the zone uses, once per tunnel."""
    zone = snapshot.zone
    wanted = {tunnel_id_of(r.content) for r in snapshot.records if r.type == "CNAME" and r.proxied} - {None}
    if not wanted or not options.reads("tunnels"):
        return {}, []
    tunnels, errors = await _optional(
        gateway.once(("tunnels", zone.account_id), lambda: gateway.tunnels(zone.account_id)),
        "routes",
        zone,
        "tunnel hostnames were not checked against their tunnels",
    )
    if tunnels is None:
        return {}, errors

    async def ingress(tunnel: Tunnel) -> tuple[Tunnel, list[StageError]]:
        if tunnel.id not in wanted or not tunnel.remote_config or tunnel.deleted:
            return tunnel, []
        rules, failures = await _optional(
            gateway.once(("tunnel_ingress", tunnel.id), lambda: gateway.tunnel_ingress(zone.account_id, tunnel.id)),
            "routes",
            zone,
            f"the ingress rules of tunnel {tunnel.name} were not read",
        )
        return (replace(tunnel, ingress=rules) if rules is not None else tunnel), failures

    checked = await all_of(ingress(t) for t in tunnels)
    return {"tunnels": tuple(t for t, _ in checked)}, [*errors, *(e for _, failures in checked for e in failures)]


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
    routes: Routes,
    options: AuditOptions,
    pool: ProbePool | None = None,
    hostname: str | None = None,
    inventory: ZoneInventory | None = None,
) -> ProbeResults:
    """Probe every endpoint of every route (only `hostname`'s when given), and, for playbooks
    that read `candidates`, the inventory's addresses that differ from the records."""
    if options.probe is None:
        return ProbeResults(skipped_reason="probing disabled (--no-probe)")
    if not options.probes:
        return ProbeResults(skipped_reason="no selected playbook uses origin probes")
    from cfremedy.probes.runner import probe_origins
    from cfremedy.probes.targets import plan_candidates, plan_targets

    targets = [t for t in plan_targets(routes, options.probe) if hostname in (None, t.hostname)]
    candidates = []
    if inventory is not None and options.reads("candidates"):
        planned = plan_candidates(routes, inventory.origins_for, options.probe)
        candidates = [c for c in planned if hostname in (None, c.hostname)]
    log.debug("probing %d origin endpoint(s) and %d candidate address(es)", len(targets), len(candidates))
    return await probe_origins(targets, options.probe, pool, candidates)


# -- judging ---------------------------------------------------------------------------------------


async def judge(
    gateway: CloudflareGateway,
    snapshot: ZoneSnapshot,
    options: AuditOptions,
    observed: ObservedErrors | None = None,
    pool: ProbePool | None = None,
    hostname: str | None = None,
) -> ZoneReport:
    """Build the routes, probe, read the extras, assemble the facts, run the playbooks: every
    audit's last step."""
    routes = build_routes(snapshot)
    inventory = options.inventory.for_zone(snapshot.zone.name)
    for problem in unknown_hostnames(inventory, snapshot.zone.name, options.inventory.source, _hostnames(snapshot)):
        log.warning("warning: %s", problem)
    probes, extras = await together(
        gather_probes(routes, options, pool, hostname, inventory), gather_extras(gateway, snapshot, options)
    )
    facts = ZoneFacts(
        snapshot=snapshot,
        routes=routes,
        probes=probes,
        inventory=inventory,
        now=datetime.now(UTC),
        observed=observed,
        allowlists=extras.allowlists,
        cloudflare_ranges=extras.cloudflare_ranges,
        pages_projects=extras.pages_projects,
        options=options.playbook_options,
    )
    report = evaluate(facts, options.playbooks)
    return replace(report, errors=report.errors + extras.errors)


def _hostnames(snapshot: ZoneSnapshot) -> frozenset[str]:
    """Every name the zone answers for: its apex, DNS records and load balancers."""
    names = {snapshot.zone.name, *(r.name for r in snapshot.records)}
    names |= {lb.name for lb in snapshot.load_balancers or ()}
    return frozenset(normalise_name(n) for n in names)


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
