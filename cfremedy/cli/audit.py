"""`cfremedy audit zone|account` and `cfremedy plan zone`: read-only, however many changes they propose."""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cfremedy.cli.common import (
    EXIT_CODES_HELP,
    Quiet,
    RateLimitOpt,
    Verbose,
    command,
    gateway_for,
    load_settings,
    parse_rate,
    run_async,
)
from cfremedy.cli.console import ProgressLine, err, out, terminal_width, use_color
from cfremedy.cli.flags import (
    AccountIdOpt,
    ErrorsSince,
    ExcludePlaybookIds,
    ParallelOpt,
    PlaybookIds,
    ProbeFlags,
    ReportFlags,
    ShardOpt,
    ZoneGlobs,
    account_selection,
    audit_options,
    fail_threshold,
    flags,
    window_option,
)
from cfremedy.errors import EXIT_API, EXIT_CHANGES, EXIT_OK, ApiError, UsageError
from cfremedy.files import write_private
from cfremedy.selection import Selection, ZoneSelection
from cfremedy.settings import Settings

if TYPE_CHECKING:
    from cfremedy.audit import AuditOptions, Progress
    from cfremedy.config import Config
    from cfremedy.finish import Outcome
    from cfremedy.incremental import StoredZone
    from cfremedy.journal import Journal
    from cfremedy.models import Report, ZoneReport
    from cfremedy.plan import Plan
    from cfremedy.snapshot_store import SnapshotStore

log = logging.getLogger("cfremedy.cli")

audit_app = typer.Typer(
    rich_markup_mode=None,
    help="Audit zones for the misconfigurations behind 5xx errors (read-only).",
    no_args_is_help=True,
)
plan_app = typer.Typer(
    rich_markup_mode=None,
    help="Write the changes that would fix an audit's findings to a plan file.",
    no_args_is_help=True,
)

NO_PROBE_NOTE = (
    "cfremedy: note: --no-probe: origins are not contacted, so the checks that need them"
    " (SSL certificates 525/526, refused ports 521, HTTP/2 520, dead origins 522) do not run"
)


def run_audit(
    settings: Settings,
    selection: Selection,
    options: AuditOptions,
    rate: str = "1000/300",
    progress: Progress | None = None,
) -> Report:
    """The pipeline over a fresh read-only gateway, with the request count in the log."""
    from cfremedy.audit import audit

    if options.probe is None:
        err(NO_PROBE_NOTE)

    async def go() -> Report:
        async with gateway_for(settings, rate=parse_rate(rate)) as gateway:
            report = await audit(gateway, selection, options, progress)
            log.info(
                "%s: %d zone(s), %d finding(s), %d proposed change(s), %d API request(s)",
                selection.label,
                len(report.zones),
                len(report.findings),
                sum(len(z.changes) for z in report.zones),
                gateway.requests_sent,
            )
            return report

    return run_async(go())


def finish_and_emit(
    report: Report, settings: Settings, options: AuditOptions, config: Config, flags_: ReportFlags
) -> int:
    """The core's finishing steps, then the renderings: stdout and each `-o` file."""
    from cfremedy.finish import FinishOptions, finish
    from cfremedy.reporters import render
    from cfremedy.reporters.formats import resolve_outputs

    outputs = resolve_outputs(flags_.format, flags_.output, sys.stdout.isatty())  # typos fail first
    journal = open_journal(settings)
    try:
        outcome = finish(
            report,
            FinishOptions(config, fail_threshold(flags_.fail_on), flags_.baseline, min_severity=flags_.shown_from),
            journal,
        )
    finally:
        if journal is not None:
            journal.close()
    for fmt, destination in outputs:
        to_stdout = destination == "-"
        color = to_stdout and use_color()  # a file never gets escape sequences
        text = render(outcome.report, fmt, width=terminal_width(), color=color, playbooks=options.playbooks)
        if to_stdout:
            out(text)
            continue
        write_private(Path(destination), text, "the report")
        err(f"cfremedy: {fmt} report written to {destination}")
    print_notes(outcome)
    return outcome.exit_code


def print_notes(outcome: Outcome) -> None:
    for note in outcome.notes:
        err(f"cfremedy: {note}")


def open_journal(settings: Settings) -> Journal | None:
    """The history database, or None with a warning: an audit must report even without it."""
    from cfremedy.errors import CfremedyError
    from cfremedy.journal import Journal

    try:
        return Journal.in_state_dir(settings.state_dir)
    except CfremedyError as exc:
        err(f"cfremedy: warning: this audit will not be stored in history: {exc.message}")
        return None


@audit_app.command("zone", epilog=EXIT_CODES_HELP)
@command
@flags(report=ReportFlags, probe=ProbeFlags)
def audit_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    report: ReportFlags,
    probe: ProbeFlags,
    playbook: PlaybookIds = None,
    exclude_playbook: ExcludePlaybookIds = None,
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit one zone: read its settings, DNS and rules, probe its origins, report.

    Only reads, whatever it finds: GET requests, and with --errors-since one GraphQL query (a
    POST to /graphql that reads the 5xx analytics) per 10 zones. Needs CLOUDFLARE_API_TOKEN with
    Zone Read, Zone Settings Read and DNS Read (and the rules permissions; `cfremedy doctor`
    lists them). Every audit is stored in the state database (see `cfremedy history`), so
    `--baseline last` can report only what is new.

    Examples:

      cfremedy audit zone example.com

      cfremedy audit zone example.com --format json --fail-on critical

      cfremedy audit zone example.com --inventory origins.toml --playbook origin_ip

      cfremedy audit zone example.com --exclude-playbook origin_keepalive

      cfremedy audit zone example.com --min-severity medium --fail-on high
    """
    settings = load_settings()
    config = report.load_config(settings)  # a typo fails now, not after the API calls
    check_baseline(report.baseline, settings)
    options = audit_options(
        settings, probe, playbooks=playbook, exclude=exclude_playbook, errors_since=errors_since, config=config
    )
    result = run_audit(settings, ZoneSelection(name), options, rate_limit)
    return finish_and_emit(result, settings, options, config, report)


@audit_app.command("account", epilog=EXIT_CODES_HELP)
@command
@flags(report=ReportFlags, probe=ProbeFlags)
def audit_account_command(
    report: ReportFlags,
    probe: ProbeFlags,
    account_id: AccountIdOpt = None,
    zone: ZoneGlobs = None,
    shard: ShardOpt = None,
    playbook: PlaybookIds = None,
    exclude_playbook: ExcludePlaybookIds = None,
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    parallel: ParallelOpt = 8,
    skip_rules: Annotated[
        bool,
        typer.Option(
            "--skip-rules",
            help="Do not read any rules (Configuration, Page, Origin, Cache Rules): 2 requests per zone"
            " fewer; SSL modes, origin ports and timeouts judged zone-wide (said in each zone's errors).",
        ),
    ] = False,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Read again only the zones the account's audit log says changed since the last"
            " --incremental run, and take the others from the snapshots it stored (in"
            " CFREMEDY_STATE_DIR); origins are probed as always. The first run is a full one.",
        ),
    ] = False,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            metavar="DURATION",
            help="With --incremental: read a zone again once its stored snapshot is this old (e.g. 36h)  [default: 7d]",
        ),
    ] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit every zone the token can see: the nightly CI job.

    Lists the zones (one request per 50), then reads each zone's settings, DNS and rules
    under a client-side rate limit, and waits out any 429's Retry-After. A zone that fails is
    reported in its `errors` and the others complete (exit 3 at the end). With --shard I/N, N
    CI jobs cover every zone exactly once; they share the token's budget, so give each
    --rate-limit 1000/300 divided by N, or each its own token.

    With --incremental, a nightly run costs what changed: the zone list, the audit log (two
    requests per account, needs Account Settings Read) and the changed zones. It falls back to
    a full audit of an account, with a warning, when its log cannot be read or does not reach
    back to the stored snapshots. Keep CFREMEDY_STATE_DIR between CI runs (a cache).

    Examples:

      cfremedy audit account --format sarif -o cfremedy.sarif

      cfremedy audit account --zone '*.example.com' --shard 2/4 --baseline last

      cfremedy audit account --incremental --max-age 7d --baseline last
    """
    from cfremedy.audit import SKIP_RULES

    settings = load_settings()
    if max_age is not None and not incremental:
        raise UsageError("--max-age only applies with --incremental")
    freshest = window_option(max_age or "7d", "--max-age")
    selection = account_selection(account_id, zone, shard)
    config = report.load_config(settings)  # a typo fails now, not after the API calls
    check_baseline(report.baseline, settings)
    options = audit_options(
        settings,
        probe,
        playbooks=playbook,
        exclude=exclude_playbook,
        errors_since=errors_since,
        config=config,
        parallel=parallel,
        skip=SKIP_RULES if skip_rules else frozenset(),
    )
    store = open_store(settings) if incremental else None
    fresh: list[StoredZone] = []
    if store is not None and freshest is not None:
        from cfremedy.incremental import Incremental

        stored = store.load_all()
        options = replace(options, incremental=Incremental(stored, freshest), remember=fresh.append)
    progress = ProgressLine("zones audited")
    try:
        result = run_audit(settings, selection, options, rate_limit, progress.update)
    finally:
        progress.close()
        if store is not None:
            if fresh:
                log.info("stored %d zone snapshot(s) for the next --incremental run", store.save(fresh))
            store.close()
    return finish_and_emit(result, settings, options, config, report)


def check_baseline(baseline: str | None, settings: Settings) -> None:
    """A baseline that cannot be used fails now, before an account audit's twenty minutes,
    not after them (when the report would be lost)."""
    from cfremedy.baseline import load_report_file
    from cfremedy.finish import LAST

    if baseline is None:
        return
    if baseline != LAST:
        load_report_file(Path(baseline))
        return
    journal = open_journal(settings)
    if journal is None:
        raise UsageError("--baseline last needs the state database, which could not be opened")
    journal.close()


def open_store(settings: Settings) -> SnapshotStore | None:
    from cfremedy.snapshot_store import SnapshotStore

    return SnapshotStore.open(settings.state_dir)


DetailedExitcode = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 5 when the plan proposes changes and 0 when it proposes none (for CI; like"
        " Terraform's, moved to 5 because 2 is bad usage here). Failures keep their codes.",
    ),
]


def _plan_of(zone: ZoneReport, options: AuditOptions) -> Plan:
    """The zone's plan; a change apply would refuse (a playbook of `--playbooks-dir` changing a
    setting apply does not know) is said now, not at apply time."""
    from cfremedy.plan import Plan
    from cfremedy.targets import plan_problems

    plan = Plan.new(zone.name, zone.id, zone.changes, zone.findings, tuple(p.id for p in options.playbooks))
    for problem in plan_problems(plan.zone_id, plan.changes):
        err(f"cfremedy: warning: {zone.name}: apply will refuse this plan: {problem}")
    return plan


def _say_manual(zone: ZoneReport, plan: Plan) -> None:
    for finding in zone.findings:
        if not any(c.playbook == finding.playbook for c in plan.changes) and finding.remediation:
            err(f"cfremedy: manual fix needed for {finding.resource} ({finding.playbook}): {finding.remediation[0]}")


def _plan_exit(plans: list[Plan], detailed: bool) -> int:
    return EXIT_CHANGES if detailed and any(p.changes for p in plans) else EXIT_OK


@plan_app.command("zone", epilog=EXIT_CODES_HELP)
@command
@flags(probe=ProbeFlags)
def plan_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="PLAN.json", help="Where to write the plan (JSON).")
    ],
    probe: ProbeFlags,
    playbook: PlaybookIds = None,
    exclude_playbook: ExcludePlaybookIds = None,
    detailed_exitcode: DetailedExitcode = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit a zone and save the proposed changes as a plan file. Changes nothing.

    The plan records each change's value before and after, why, whether it lowers security,
    and a checksum over the zone, its id and the changes (an HMAC when CFREMEDY_PLAN_KEY is
    set: apply then accepts only plans signed with that key). It ends with one line, e.g.
    "Plan: 2 to change, 1 manual (findings without an automatic fix)." Review the plan, then
    apply it with `cfremedy apply PLAN.json`. With --detailed-exitcode: 0 no changes, 5
    changes proposed.

    Examples:

      cfremedy plan zone example.com -o plan.json --playbook ssl_origin_cert

      cfremedy plan zone example.com -o plan.json --detailed-exitcode || [ $? -eq 5 ]
    """
    from cfremedy.plan import seal, summary_line
    from cfremedy.reporters.table import render_changes

    settings = load_settings()
    options = audit_options(settings, probe, playbooks=playbook, exclude=exclude_playbook)
    (zone,) = run_audit(settings, ZoneSelection(name), options).zones
    failure = next((e for e in zone.errors if e.stage == "api"), None)
    if failure is not None:
        raise ApiError(failure.message, hint=failure.hint)
    plan = _plan_of(zone, options)
    key = settings.plan_key_bytes
    plan.write(output, key)
    out(
        render_changes(
            plan.changes,
            title=f"Plan for {zone.name} ({len(plan.changes)} change(s))",
            width=terminal_width(),
            color=use_color(),
        )
    )
    _say_manual(zone, plan)
    out(summary_line([plan]) + "\n")
    signed = ", signed with CFREMEDY_PLAN_KEY" if key is not None else ""
    err(f"cfremedy: plan written to {output} ({seal(plan.content, key)[:19]}…{signed})")
    return _plan_exit([plan], detailed_exitcode)


def plan_file_name(zone: str) -> str:
    """`example.com.json`; refused for a name that could leave the directory (from the API,
    it is input like any other)."""
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", zone) or ".." in zone:
        raise UsageError(f"zone name {zone!r} cannot be a plan file name")
    return f"{zone}.json"


def _plan_directory(directory: Path) -> None:
    """A fresh directory per run: a loop over DIR/*.json must never apply a stale plan."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--output {directory} is not a directory", hint="plan account writes one file per zone")
    stale = sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []
    if stale:
        raise UsageError(
            f"--output {directory} already holds plan files ({', '.join(stale[:3])}"
            f"{', ...' if len(stale) > 3 else ''}): one directory holds one run's plans",
            hint="remove them, or give a new directory",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None


@plan_app.command("account", epilog=EXIT_CODES_HELP)
@command
@flags(probe=ProbeFlags)
def plan_account_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Directory for the plans: DIR/ZONE.json for each zone with changes (created;"
            " refused if it already holds plans).",
        ),
    ],
    probe: ProbeFlags,
    account_id: AccountIdOpt = None,
    zone: ZoneGlobs = None,
    shard: ShardOpt = None,
    playbook: PlaybookIds = None,
    exclude_playbook: ExcludePlaybookIds = None,
    rate_limit: RateLimitOpt = "1000/300",
    parallel: ParallelOpt = 8,
    detailed_exitcode: DetailedExitcode = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Plan every zone the token can see (or --zone, --shard): one plan file per zone. Changes nothing.

    Audits the zones exactly as `audit account` does (same selection, rate limit and requests),
    then writes DIR/ZONE.json for each zone with changes, each a plan `cfremedy apply` takes as
    it takes one from `plan zone`. Zones without changes get no file, so DIR lists what there is
    to apply. A zone that cannot be read is reported and gets no plan (exit 3 at the end).
    Ends with one line, e.g. "Plan: 3 to change in 2 of 40 zone(s), 5 manual (findings without
    an automatic fix)." With --detailed-exitcode: 0 no changes, 5 changes proposed.

    Examples:

      cfremedy plan account -o plans/ --detailed-exitcode

      cfremedy plan account --zone '*.example.com' -o plans/ && for p in plans/*.json; do cfremedy apply "$p"; done
    """
    from cfremedy.plan import summary_line
    from cfremedy.reporters.table import render_changes

    settings = load_settings()
    selection = account_selection(account_id, zone, shard)
    options = audit_options(settings, probe, playbooks=playbook, exclude=exclude_playbook, parallel=parallel)
    _plan_directory(output)  # after the flags are checked, before any API request
    progress = ProgressLine("zones planned")
    try:
        report = run_audit(settings, selection, options, rate_limit, progress.update)
    finally:
        progress.close()
    key = settings.plan_key_bytes
    plans: list[Plan] = []
    failed: list[str] = []
    for zone_report in report.zones:
        failure = next((e for e in zone_report.errors if e.stage == "api"), None)
        if failure is not None:
            failed.append(zone_report.name)
            err(f"cfremedy: error: {zone_report.name}: {failure.message}")
            continue
        plan = _plan_of(zone_report, options)
        plans.append(plan)
        if not plan.changes:
            continue
        path = output / plan_file_name(plan.zone)
        plan.write(path, key)
        out(
            render_changes(
                plan.changes,
                title=f"Plan for {plan.zone} ({len(plan.changes)} change(s)) -> {path}",
                width=terminal_width(),
                color=use_color(),
            )
            + "\n"
        )
        _say_manual(zone_report, plan)
    out(summary_line(plans) + "\n")
    written = sum(1 for p in plans if p.changes)
    err(f"cfremedy: {written} plan file(s) written to {output}" + (" (signed)" if key is not None else ""))
    if failed:
        err(f"cfremedy: error: {len(failed)} zone(s) could not be planned: {', '.join(failed[:10])}")
        return EXIT_API
    return _plan_exit(plans, detailed_exitcode)


__all__ = ["audit_app", "plan_app"]
