"""`cfremedy audit zone` and `cfremedy plan zone`: read-only, however many changes they propose."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cfremedy.audit import AuditOptions, audit_zone
from cfremedy.cli.common import (
    EXIT_CODES_HELP, ConnectTo, ConnectToOnly, FailOn, FailOnOpt, Format, InventoryOpt, NoProbe,
    OriginCa, Output, OutputFormat, PlaybookDirs, PlaybookIds, ProbeConcurrency, ProbeTimeout,
    Quiet, Verbose, command, fail_threshold, gateway_for, load_inventory_option, load_settings,
    probe_options, resolve_format, run_async, select_playbooks,
)
from cfremedy.cli.console import err, out, terminal_width
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK
from cfremedy.models import Report, ZoneReport
from cfremedy.plan import Plan
from cfremedy.reporters import render
from cfremedy.reporters.table import render_changes

log = logging.getLogger("cfremedy.cli")

audit_app = typer.Typer(rich_markup_mode=None, help="Audit zones for the misconfigurations behind 5xx errors (read-only).",
                        no_args_is_help=True)
plan_app = typer.Typer(rich_markup_mode=None, help="Write the changes that would fix an audit's findings to a plan file.",
                       no_args_is_help=True)


def _audit(
    name: str, playbook: list[str] | None, playbooks_dir: list[Path] | None, inventory: Path | None,
    connect_to: list[str] | None, connect_to_only: bool, origin_ca: list[Path] | None,
    probe_timeout: float, probe_concurrency: int, no_probe: bool,
) -> ZoneReport:
    settings = load_settings()
    options = AuditOptions(
        playbooks=select_playbooks(settings, playbook, playbooks_dir),
        probe=probe_options(settings, connect_to, connect_to_only, origin_ca, probe_timeout,
                            probe_concurrency, no_probe),
        inventory=load_inventory_option(settings, inventory),
    )

    async def go() -> ZoneReport:
        async with gateway_for(settings) as gateway:
            report = await audit_zone(gateway, name, options)
            log.info("%s: %d finding(s), %d proposed change(s), %d API request(s)",
                     report.name, len(report.findings), len(report.changes), gateway.requests_sent)
            return report

    return run_async(go())


@audit_app.command("zone", epilog=EXIT_CODES_HELP)
@command
def audit_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    format: Format = None,
    output: Output = None,
    fail_on: FailOnOpt = FailOn.high,
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
    """Audit one zone: read its settings and DNS (3 API calls), probe its origins, report.

    Sends only GET requests to the API, whatever it finds. Needs CLOUDFLARE_API_TOKEN with
    Zone Read, Zone Settings Read and DNS Read.

    Examples:

      cfremedy audit zone example.com

      cfremedy audit zone example.com --format json --fail-on critical

      cfremedy audit zone example.com --inventory origins.toml --playbook origin_ip
    """
    zone = _audit(name, playbook, playbooks_dir, inventory, connect_to, connect_to_only, origin_ca,
                  probe_timeout, probe_concurrency, no_probe)
    report = Report(zones=(zone,))
    text = render(report, resolve_format(format, output).value, width=terminal_width())
    if output is not None:
        output.write_text(text, encoding="utf-8")
        err(f"cfremedy: report written to {output}")
    else:
        out(text)
    threshold = fail_threshold(fail_on)
    worst = report.worst()
    return EXIT_FINDINGS if threshold is not None and worst is not None and worst >= threshold else EXIT_OK


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
    zone = _audit(name, playbook, playbooks_dir, inventory, connect_to, connect_to_only, origin_ca,
                  probe_timeout, probe_concurrency, no_probe)
    plan = Plan.new(zone.name, zone.id, zone.changes, zone.findings)
    plan.write(output)
    out(render_changes(plan.changes, title=f"Plan for {zone.name} ({len(plan.changes)} change(s))",
                       width=terminal_width()))
    for finding in zone.findings:
        if not any(c.playbook == finding.playbook for c in plan.changes) and finding.remediation:
            err(f"cfremedy: manual fix needed for {finding.resource} ({finding.playbook}):"
                f" {finding.remediation[0]}")
    err(f"cfremedy: plan written to {output} ({plan.checksum[:19]}…)")
    return EXIT_OK


__all__ = ["audit_app", "plan_app", "OutputFormat"]
