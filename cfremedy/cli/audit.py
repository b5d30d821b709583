"""`cfremedy audit zone|account` and `cfremedy plan zone`: read-only, however many changes they propose."""

from __future__ import annotations

import logging
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
from cfremedy.cli.console import ProgressLine, err, out, terminal_width
from cfremedy.cli.flags import (
    ErrorsSince,
    PlaybookIds,
    ProbeFlags,
    ReportFlags,
    audit_options,
    fail_threshold,
    flags,
    window_option,
)
from cfremedy.errors import EXIT_OK, ApiError, UsageError
from cfremedy.files import write_private
from cfremedy.selection import AccountSelection, Selection, Shard, ZoneSelection
from cfremedy.settings import Settings

if TYPE_CHECKING:
    from cfremedy.audit import AuditOptions, Progress
    from cfremedy.config import Config
    from cfremedy.finish import Outcome
    from cfremedy.incremental import StoredZone
    from cfremedy.journal import Journal
    from cfremedy.models import Report
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
        outcome = finish(report, FinishOptions(config, fail_threshold(flags_.fail_on), flags_.baseline), journal)
    finally:
        if journal is not None:
            journal.close()
    for fmt, destination in outputs:
        text = render(outcome.report, fmt, width=terminal_width(), playbooks=options.playbooks)
        if destination == "-":
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
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit one zone: read its settings, DNS and rules, probe its origins, report.

    Sends only GET requests to the API, whatever it finds. Needs CLOUDFLARE_API_TOKEN with
    Zone Read, Zone Settings Read and DNS Read (and the rules permissions; `cfremedy doctor`
    lists them). Every audit is stored in the state database (see `cfremedy history`), so
    `--baseline last` can report only what is new.

    Examples:

      cfremedy audit zone example.com

      cfremedy audit zone example.com --format json --fail-on critical

      cfremedy audit zone example.com --inventory origins.toml --playbook origin_ip
    """
    settings = load_settings()
    config = report.load_config(settings)  # a typo fails now, not after the API calls
    options = audit_options(settings, probe, playbooks=playbook, errors_since=errors_since, config=config)
    result = run_audit(settings, ZoneSelection(name), options, rate_limit)
    return finish_and_emit(result, settings, options, config, report)


@audit_app.command("account", epilog=EXIT_CODES_HELP)
@command
@flags(report=ReportFlags, probe=ProbeFlags)
def audit_account_command(
    report: ReportFlags,
    probe: ProbeFlags,
    account_id: Annotated[
        str | None, typer.Option("--account-id", metavar="ID", help="Only zones of this account.")
    ] = None,
    zone: Annotated[
        list[str] | None, typer.Option("--zone", metavar="GLOB", help="Only zones whose name matches (repeatable).")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", metavar="I/N", help="Audit only the I-th of N deterministic slices of the zones (CI matrix)."
        ),
    ] = None,
    playbook: PlaybookIds = None,
    rate_limit: RateLimitOpt = "1000/300",
    errors_since: ErrorsSince = None,
    parallel: Annotated[int, typer.Option("--parallel", metavar="N", min=1, help="Zones audited at once.")] = 8,
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
    try:
        selection = AccountSelection(account_id, tuple(zone or ()), Shard.parse(shard) if shard else None)
    except ValueError as exc:
        raise UsageError(f"--shard: {exc}") from None
    config = report.load_config(settings)  # a typo fails now, not after the API calls
    options = audit_options(
        settings,
        probe,
        playbooks=playbook,
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


def open_store(settings: Settings) -> SnapshotStore | None:
    from cfremedy.snapshot_store import SnapshotStore

    return SnapshotStore.open(settings.state_dir)


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
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Audit a zone and save the proposed changes as a plan file. Changes nothing.

    The plan records each change's value before and after, why, whether it lowers security,
    and a checksum. Review it, then apply it with `cfremedy apply PLAN.json`.

    Example:

      cfremedy plan zone example.com -o plan.json --playbook ssl_origin_cert
    """
    from cfremedy.plan import Plan
    from cfremedy.reporters.table import render_changes

    settings = load_settings()
    options = audit_options(settings, probe, playbooks=playbook)
    (zone,) = run_audit(settings, ZoneSelection(name), options).zones
    failure = next((e for e in zone.errors if e.stage == "api"), None)
    if failure is not None:
        raise ApiError(failure.message, hint=failure.hint)
    plan = Plan.new(zone.name, zone.id, zone.changes, zone.findings, tuple(p.id for p in options.playbooks))
    plan.write(output)
    out(
        render_changes(
            plan.changes, title=f"Plan for {zone.name} ({len(plan.changes)} change(s))", width=terminal_width()
        )
    )
    for finding in zone.findings:
        if not any(c.playbook == finding.playbook for c in plan.changes) and finding.remediation:
            err(f"cfremedy: manual fix needed for {finding.resource} ({finding.playbook}): {finding.remediation[0]}")
    err(f"cfremedy: plan written to {output} ({plan.checksum[:19]}…)")
    return EXIT_OK


__all__ = ["audit_app", "plan_app"]
