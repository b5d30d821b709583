"""`cfremedy errors zone NAME`: the 5xx Cloudflare counted, from GraphQL Analytics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cfremedy.analytics import ObservedErrors, window_ending
from cfremedy.cli.common import (
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
from cfremedy.cli.flags import PlaybookDirs, select_playbooks, window_option
from cfremedy.errors import EXIT_OK
from cfremedy.reporters.errors import render_errors

errors_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Show the 5xx errors Cloudflare counted for a zone (GraphQL Analytics).",
)

Since = Annotated[str, typer.Option("--since", metavar="DURATION", help="How far back: 30m, 24h, 7d.")]


@errors_app.command("zone")
@command
def errors_zone_command(
    name: Annotated[str, typer.Argument(metavar="ZONE", help="The zone's domain name.")],
    since: Since = "24h",
    format: ListFormatOpt = None,
    playbooks_dir: PlaybookDirs = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """5xx responses by edge status and origin status over a window, hour by hour.

    One GraphQL query (POST /graphql, httpRequestsAdaptiveGroups) after finding the zone; the
    token needs Analytics Read. Each code is linked to the article's section and to the
    playbooks that check its causes (`cfremedy audit zone NAME --playbook ID`).

    Example:

      cfremedy errors zone example.com --since 7d
    """
    settings = load_settings()
    window = window_option(since)
    assert window is not None  # --since has a default
    fmt = list_format(format)
    playbooks = select_playbooks(settings, None, playbooks_dir)

    async def go() -> tuple[str, ObservedErrors, list[str], int]:
        async with gateway_for(settings) as gateway:
            zone = await gateway.zone_by_name(name)
            start, end = window_ending(datetime.now(UTC), window)
            before = gateway.requests_sent
            counts, messages = await gateway.error_counts([zone], start, end)
            queries = gateway.requests_sent - before
            return zone.name, ObservedErrors.of(start, end, counts.get(zone.id, [])), messages, queries

    zone, observed, messages, queries = run_async(go())
    for message in messages:
        err(f"cfremedy: warning: GraphQL: {message}")
    out(render_errors(zone, observed, playbooks, fmt, terminal_width(), color=use_color()))
    err(f"cfremedy: GraphQL: {queries} quer{'y' if queries == 1 else 'ies'} for 1 zone")
    return EXIT_OK
