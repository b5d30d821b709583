"""`cfremedy routes zone NAME`: where Cloudflare really sends each hostname's traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cfremedy.cli.common import (
    EXIT_CODES_HELP,
    ListFormatOpt,
    Quiet,
    Verbose,
    command,
    gateway_for,
    list_format,
    load_settings,
    run_async,
)
from cfremedy.cli.console import err, out, terminal_width, use_color
from cfremedy.errors import EXIT_OK

if TYPE_CHECKING:
    from cfremedy.models import StageError, ZoneSnapshot
    from cfremedy.routes import Routes

routes_app = typer.Typer(
    rich_markup_mode=None,
    help="Show where Cloudflare sends each hostname's traffic (read-only).",
    no_args_is_help=True,
)

# Every source that shapes a route: rules, load balancers, tunnels.
ROUTE_READS = frozenset({"ssl_rules", "origin_rules", "cache_rules", "load_balancers", "tunnels"})


@routes_app.command("zone", epilog=EXIT_CODES_HELP)
@command
def routes_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name, e.g. example.com.")],
    format: ListFormatOpt = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Show every hostname's route: DNS records, load balancers, tunnels, Origin Rules.

    For each proxied hostname: where Cloudflare connects (addresses, ports, SNI and Host
    header), through which load balancer pool or Origin Rule, or which tunnel serves it; the
    SSL mode and proxy read timeout in force for it, and the rule that sets them. This is the
    route every audit probes and judges. Reads only (the zone, its settings, DNS records and
    rulesets, Page Rules, the entry points it has, load balancers and tunnels when there are
    some); contacts no origin.

    Example:

      cfremedy routes zone example.com
    """
    from cfremedy.audit import AuditOptions, read_zone
    from cfremedy.reporters.routes import render_routes
    from cfremedy.routes import build_routes

    settings = load_settings()
    options = AuditOptions(playbooks=(), probe=None, also_read=ROUTE_READS)

    async def go() -> tuple[ZoneSnapshot, Routes, list[StageError]]:
        async with gateway_for(settings) as gateway:
            zone = await gateway.zone_by_name(name)
            snapshot, errors = await read_zone(gateway, zone, options)
            return snapshot, build_routes(snapshot), list(errors)

    snapshot, routes, errors = run_async(go())
    for error in errors:
        err(f"cfremedy: warning: {error.message}")
    out(render_routes(snapshot, routes, list_format(format), terminal_width(), color=use_color()))
    return EXIT_OK
