"""`cfremedy audit zone|account` and `cfremedy plan zone`: read-only, however many changes they propose."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cfremedy.account import AccountScope, Shard, audit_account
from cfremedy.audit import AuditOptions, audit_zone
from cfremedy.baseline import fingerprints, load_report_file, subtract_baseline
from cfremedy.cli.common import (
    EXIT_CODES_HELP, BaselineOpt, ConfigOpt, ConnectTo, ConnectToOnly, ErrorsSince, FailOn, FailOnOpt, Format,
    InventoryOpt, NoProbe, OriginCa, Output, PlaybookDirs, PlaybookIds, ProbeConcurrency,
    ProbeTimeout, Quiet, RateLimitOpt, Verbose, command, fail_threshold, gateway_for,
    load_inventory_option, load_settings, parse_rate, probe_options, resolve_outputs, run_async,
    select_playbooks, window_option,
)
from cfremedy.cli.console import ProgressLine, err, out, terminal_width
from cfremedy.config import Config, apply_suppressions, expired, load_config
from cfremedy.errors import (
    EXIT_API, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, ApiError, CfremedyError, UsageError,
)
from cfremedy.journal import Journal
from cfremedy.models import Report, StageError, ZoneReport, utc_now_iso
from cfremedy.plan import Plan
from cfremedy.registry import Playbook
from cfremedy.report import report_dict
from cfremedy.reporters import render
from cfremedy.reporters.table import render_changes
from cfremedy.settings import Settings

log = logging.getLogger("cfremedy.cli")

audit_app = typer.Typer(rich_markup_mode=None, help="Audit zones for the misconfigurations behind 5xx errors (read-only).",
                        no_args_is_help=True)
plan_app = typer.Typer(rich_markup_mode=None, help="Write the changes that would fix an audit's findings to a plan file.",
                       no_args_is_help=True)


def _options(settings: Settings, playbook: list[str] | None, playbooks_dir: list[Path] | None,
             inventory: Path | None, connect_to: list[str] | None, connect_to_only: bool,
             origin_ca: list[Path] | None, probe_timeout: float, probe_concurrency: int,
             no_probe: bool, errors_since: str | None = None, config: Config | None = None) -> AuditOptions:
    if no_probe:
        err("cfremedy: note: --no-probe: origins are not contacted, so the checks that need them"
            " (SSL certificates 525/526, refused ports 521, HTTP/2 520, dead origins 522) do not run")
    return AuditOptions(
        playbooks=select_playbooks(settings, playbook, playbooks_dir),
        probe=probe_options(settings, connect_to, connect_to_only, origin_ca, probe_timeout,
                            probe_concurrency, no_probe),
        inventory=load_inventory_option(settings, inventory),
        errors_since=window_option(errors_since, "--errors-since"),
        playbook_options=(config or load_config(settings.config)).playbook_options,
    )


def _audit(name: str, settings: Settings, options: AuditOptions, rate: str) -> ZoneReport:
    log.info("auditing %s%s", name, "" if options.probe is None else " (reading it, then probing its origins)")

    async def go() -> ZoneReport:
        async with gateway_for(settings, rate=parse_rate(rate)) as gateway:
            report = await audit_zone(gateway, name, options)
            log.info("%s: %d finding(s), %d proposed change(s), %d API request(s)",
                     report.name, len(report.findings), len(report.changes), gateway.requests_sent)
            return report

    return run_async(go())


def _baseline(spec: str | None, scope: str, journal: Journal | None) -> tuple[set[str], str] | None:
    if spec is None:
        return None
    if spec != "last":
        return fingerprints(load_report_file(Path(spec)), spec), spec
    if journal is None:
        raise UsageError("--baseline last needs the state database, which could not be opened")
    earlier = journal.audits(limit=1, scope=scope)
    if not earlier:
        err(f"cfremedy: no earlier audit of {scope} is stored: every finding is new")
        return set(), "last (none stored)"
    return fingerprints(earlier[0].report, f"audit {earlier[0].id}"), f"audit {earlier[0].id}"


def _open_journal(settings: Settings) -> Journal | None:
    try:
        return Journal.in_state_dir(settings.state_dir)
    except CfremedyError as exc:
        err(f"cfremedy: warning: this audit will not be stored in history: {exc.message}")
        return None


def _finish(report: Report, scope: str, settings: Settings, playbooks: tuple[Playbook, ...],
            config: Config, baseline: str | None, fmt_option: Format,
            outputs: list[str] | None, fail_on: FailOn) -> int:
    """Suppress, store, subtract the baseline, render, and turn what is left into an exit code."""
    today = date.today()
    for rule in expired(config, today):
        err(f"cfremedy: {rule.label} expired on {rule.until}; its findings count again")
    report = apply_suppressions(replace(report, generated_at=utc_now_iso()), config, today)
    journal = _open_journal(settings)
    try:
        known = _baseline(baseline, scope, journal)
        if journal is not None:
            audit_id = journal.record_audit(scope, report_dict(report))
            log.info("stored as audit %s (scope: %s)", audit_id, scope)
    finally:
        if journal is not None:
            journal.close()
    if known is not None:
        report = subtract_baseline(report, *known)
    for fmt, destination in resolve_outputs(fmt_option, outputs):
        text = render(report, fmt.value, width=terminal_width(), playbooks=playbooks)
        if destination == "-":
            out(text)
            continue
        try:
            Path(destination).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report to {destination}: {exc.strerror}") from None
        err(f"cfremedy: {fmt.value} report written to {destination}")
    for zone in report.zones:
        for error in zone.errors:
            if error.stage == "analytics":
                err(f"cfremedy: warning: no analytics for {zone.name}: {error.message}")
    degraded = [(z.name, e.message) for z in report.zones for e in z.errors if e.degraded]
    if degraded:  # once per run, not once per zone: an account audit may have thousands
        err(f"cfremedy: warning: {len(degraded)} zone(s) judged without their Configuration Rules"
            f" and Page Rules, e.g. {degraded[0][0]}: {degraded[0][1]}")
    crashed = [f"{e.resource} on {z.name}" for z in report.zones for e in z.errors if e.stage == "playbook"]
    if crashed:
        err(f"cfremedy: error: playbook failures, the audit is incomplete: {', '.join(crashed[:5])}")
        return EXIT_INTERNAL
    if any(e.stage == "api" for z in report.zones for e in z.errors):
        failed = [z.name for z in report.zones if any(e.stage == "api" for e in z.errors)]
        err(f"cfremedy: {len(failed)} zone(s) could not be audited: {', '.join(failed[:10])}"
            f"{' ...' if len(failed) > 10 else ''}")
        return EXIT_API
    threshold = fail_threshold(fail_on)
    worst = report.worst()
    return EXIT_FINDINGS if threshold is not None and worst is not None and worst >= threshold else EXIT_OK


@audit_app.command("zone", epilog=EXIT_CODES_HELP)
@command
def audit_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    format: Format = None,
    output: Output = None,
    fail_on: FailOnOpt = FailOn.high,
    playbook: PlaybookIds = None,
    playbooks_dir: PlaybookDirs = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    inventory: InventoryOpt = None,
    connect_to: ConnectTo = None,
    connect_to_only: ConnectToOnly = False,
    origin_ca: OriginCa = None,
    probe_timeout: ProbeTimeout = 10.0,
    probe_concurrency: ProbeConcurrency = 100,
    no_probe: NoProbe = False,
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit one zone: read its settings and DNS (3 API calls), probe its origins, report.

    Sends only GET requests to the API, whatever it finds. Needs CLOUDFLARE_API_TOKEN with
    Zone Read, Zone Settings Read and DNS Read. Every audit is stored in the state database
    (see `cfremedy history`), so `--baseline last` can report only what is new.

    Examples:

      cfremedy audit zone example.com

      cfremedy audit zone example.com --format json --fail-on critical

      cfremedy audit zone example.com --inventory origins.toml --playbook origin_ip
    """
    settings = load_settings()
    rules = load_config(config or settings.config)  # a typo fails now, not after the API calls
    options = _options(settings, playbook, playbooks_dir, inventory, connect_to, connect_to_only,
                       origin_ca, probe_timeout, probe_concurrency, no_probe, errors_since, rules)
    name = name.strip().rstrip(".").lower()
    try:
        zone = _audit(name, settings, options, rate_limit)
    except ApiError as exc:  # the zone still appears in the report, with its error (DESIGN §5)
        err(f"cfremedy: error: {exc.message}")
        if exc.hint:
            err(f"cfremedy: hint: {exc.hint}")
        zone = ZoneReport(name=name, errors=(StageError("api", name, exc.message),))
    return _finish(Report(zones=(zone,)), f"zone {zone.name}", settings, options.playbooks, rules,
                   baseline, format, output, fail_on)


@audit_app.command("account", epilog=EXIT_CODES_HELP)
@command
def audit_account_command(
    account_id: Annotated[str | None, typer.Option("--account-id", metavar="ID",
                                                   help="Only zones of this account.")] = None,
    zone: Annotated[list[str] | None, typer.Option("--zone", metavar="GLOB", help="Only zones"
                                                   " whose name matches (repeatable).")] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="I/N", help="Audit only the I-th"
                                              " of N deterministic slices of the zones (CI matrix).")] = None,
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    parallel: Annotated[int, typer.Option("--parallel", metavar="N", min=1,
                                          help="Zones audited at once.")] = 8,
    skip_rules: Annotated[bool, typer.Option(
        "--skip-rules", help="Do not read Configuration Rules and Page Rules: 2 requests per zone"
        " instead of 4, at the cost of judging SSL modes zone-wide (said in each zone's errors)."
    )] = False,
    format: Format = None,
    output: Output = None,
    fail_on: FailOnOpt = FailOn.high,
    playbook: PlaybookIds = None,
    playbooks_dir: PlaybookDirs = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    inventory: InventoryOpt = None,
    connect_to: ConnectTo = None,
    connect_to_only: ConnectToOnly = False,
    origin_ca: OriginCa = None,
    probe_timeout: ProbeTimeout = 10.0,
    probe_concurrency: ProbeConcurrency = 100,
    no_probe: NoProbe = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit every zone the token can see: the nightly CI job.

    Lists the zones (one request per 50), then reads each zone's settings and DNS (two
    requests) under a client-side rate limit, and waits out any 429's Retry-After. A zone that
    fails is reported in its `errors` and the others complete (exit 3 at the end). With
    --shard I/N, N CI jobs cover every zone exactly once; they share the token's budget, so
    give each --rate-limit 1000/300 divided by N, or each its own token.

    Examples:

      cfremedy audit account --format sarif -o cfremedy.sarif

      cfremedy audit account --zone '*.example.com' --shard 2/4 --baseline last
    """
    settings = load_settings()
    try:
        scope = AccountScope(account_id, tuple(zone or ()), Shard.parse(shard) if shard else None)
    except ValueError as exc:
        raise UsageError(f"--shard: {exc}") from None
    rules = load_config(config or settings.config)  # a typo fails now, not after the API calls
    options = _options(settings, playbook, playbooks_dir, inventory, connect_to, connect_to_only,
                       origin_ca, probe_timeout, probe_concurrency, no_probe, errors_since, rules)
    if skip_rules:
        options = replace(options, skip=frozenset({"ssl_rules"}))
    progress = ProgressLine("zones audited")

    async def go() -> Report:
        async with gateway_for(settings, rate=parse_rate(rate_limit)) as gateway:
            report = await audit_account(gateway, scope, options, parallel=parallel,
                                         progress=progress.update)
            progress.close()
            log.info("%d zone(s), %d API request(s)", len(report.zones), gateway.requests_sent)
            return report

    report = run_async(go())
    return _finish(report, scope.label, settings, options.playbooks, rules, baseline, format,
                   output, fail_on)


@plan_app.command("zone", epilog=EXIT_CODES_HELP)
@command
def plan_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PLAN.json", help="Where to write the plan (JSON).")],
    playbook: PlaybookIds = None,
    playbooks_dir: PlaybookDirs = None,
    inventory: InventoryOpt = None,
    connect_to: ConnectTo = None,
    connect_to_only: ConnectToOnly = False,
    origin_ca: OriginCa = None,
    probe_timeout: ProbeTimeout = 10.0,
    probe_concurrency: ProbeConcurrency = 100,
    no_probe: NoProbe = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit a zone and save the proposed changes as a plan file. Changes nothing.

    The plan records each change's value before and after, why, whether it lowers security,
    and a checksum. Review it, then apply it with `cfremedy apply PLAN.json`.

    Example:

      cfremedy plan zone example.com -o plan.json --playbook ssl_origin_cert
    """
    settings = load_settings()
    options = _options(settings, playbook, playbooks_dir, inventory, connect_to, connect_to_only,
                       origin_ca, probe_timeout, probe_concurrency, no_probe)
    zone = _audit(name, settings, options, "1000/300")
    plan = Plan.new(zone.name, zone.id, zone.changes, zone.findings)
    try:
        plan.write(output)
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {output}: {exc.strerror}") from None
    out(render_changes(plan.changes, title=f"Plan for {zone.name} ({len(plan.changes)} change(s))",
                       width=terminal_width()))
    for finding in zone.findings:
        if not any(c.playbook == finding.playbook for c in plan.changes) and finding.remediation:
            err(f"cfremedy: manual fix needed for {finding.resource} ({finding.playbook}):"
                f" {finding.remediation[0]}")
    err(f"cfremedy: plan written to {output} ({plan.checksum[:19]}…)")
    return EXIT_OK


__all__ = ["audit_app", "plan_app"]
