"""`cfremedy doctor`: can this token, from this machine, audit and fix this account?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import typer

from cfremedy import permissions
from cfremedy.cli.common import Quiet, Verbose, command, gateway_for, load_settings, run_async
from cfremedy.cli.console import err, out, terminal_width, use_color
from cfremedy.cli.flags import PlaybookDirs, select_playbooks
from cfremedy.errors import EXIT_OK, ApiError
from cfremedy.gateway import TokenStatus
from cfremedy.models import Zone
from cfremedy.registry import ROUTE_SOURCES, SOURCES, Playbook
from cfremedy.reporters.grid import Column, grid, paragraph

BASE_READ = ("Zone Read", "Zone Settings Read", "DNS Read")  # without them no audit runs at all
STATUS_STYLES = {"MISSING": "bold red", "missing (optional)": "yellow", "ok": "green"}


def _needs(playbooks: Sequence[Playbook]) -> dict[str, str]:
    """Every permission group a command may use, once, with what needs it."""
    needs: dict[str, dict[str, list[str]]] = {}

    def add(group: str, use: str, detail: str = "") -> None:
        details = needs.setdefault(group, {}).setdefault(use, [])
        if detail and detail not in details:
            details.append(detail)

    for group in BASE_READ:
        for use in ("audit", "plan", "diagnose", "routes"):
            add(group, use)
    for source in ROUTE_SOURCES:  # every audit that probes follows the routes they shape
        for group in SOURCES[source]:
            add(group, "audit", "the routes probes follow")
    for source in ("ssl_rules", "origin_rules", "cache_rules", "load_balancers", "tunnels"):
        for group in SOURCES[source]:
            add(group, "routes")
    for playbook in playbooks:
        for group in playbook.read_permissions:
            if group not in BASE_READ:
                add(group, "audit", playbook.id)
        for group in playbook.write_permissions:
            add(group, "apply, rollback", playbook.id)
    add("Analytics Read", "errors zone")
    add("Analytics Read", "audit", "--errors-since")
    add("Account Settings Read", "audit account", "--incremental: the audit log")
    return {
        group: "; ".join(f"{use} ({', '.join(details)})" if details else use for use, details in uses.items())
        for group, uses in needs.items()
    }


@dataclass(frozen=True)
class _Findings:
    token: TokenStatus
    zones: list[Zone]
    zone: Zone | None


@command
def doctor_command(
    zone: Annotated[
        str | None,
        typer.Option(
            "--zone", "-z", help="Check permissions on this zone (default: the first zone the token can see)."
        ),
    ] = None,
    playbooks_dir: PlaybookDirs = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Check the token, the API's reachability, and which permissions audit and apply need.

    Verifies the token, lists the zones it can see, and compares the permissions the API
    reports for a zone with those the playbooks declare. Exits 3 when the token is invalid or
    lacks a permission an audit needs; missing write permissions only matter for `apply`.
    """
    settings = load_settings()
    playbooks = select_playbooks(settings, None, playbooks_dir)

    async def go() -> _Findings:
        async with gateway_for(settings) as gateway:
            token = await gateway.verify_token()
            if zone:
                target = await gateway.zone_by_name(zone)
                return _Findings(token, [target], target)
            zones = await gateway.list_zones(limit=50)
            return _Findings(token, zones, zones[0] if zones else None)

    found = run_async(go())
    lines = [
        f"API:   {settings.base_url} reachable",
        f"Token: {found.token.status or 'unknown status'} (id {found.token.id or '?'}"
        + (f", expires {found.token.expires_on}" if found.token.expires_on else "")
        + ")",
        f"Zones: the token can see {len(found.zones)}{'+' if len(found.zones) >= 50 else ''}"
        + (
            f" ({', '.join(z.name for z in found.zones[:5])}{', ...' if len(found.zones) > 5 else ''})"
            if found.zones
            else ""
        ),
        f"State: {settings.state_dir}",
    ]
    width = terminal_width()
    out("".join(paragraph(line, width, indent=" " * len("Zones: ")) for line in lines))
    if found.token.status and found.token.status != "active":
        raise ApiError(f"the API token is {found.token.status}")
    if found.zone is None:
        raise ApiError("the token cannot see any zone", hint="grant it Zone Read on the zones to audit")

    needed = _needs(playbooks)
    granted = found.zone.permissions
    rows = []
    missing_for_audit = []
    degraded = []
    for group, uses in needed.items():
        if not granted:
            status = "unknown"
        elif permissions.missing([group], granted):
            if group in BASE_READ:
                status = "MISSING"
                missing_for_audit.append(group)
            elif group.endswith("Write"):
                status = "MISSING"  # apply and rollback will stop, naming it
            else:
                status = "missing (optional)"
                degraded.append(group)
        else:
            status = "ok"
        rows.append([group, status, uses])
    out(f"\nPermissions on {found.zone.name}:\n" + _permissions_table(rows, width, use_color()))
    if not granted:
        out("The API did not report this token's permissions for the zone; an audit will tell.\n")
    if degraded:
        err(
            f"cfremedy: warning: without {', '.join(degraded)}, audits still run but say what they could"
            " not see (rules, load balancers, tunnels) and judge those hostnames less precisely"
        )
    if missing_for_audit:
        raise ApiError(
            f"the token lacks {', '.join(missing_for_audit)} on {found.zone.name}, needed to audit",
            hint="edit the token in the dashboard (My Profile > API Tokens) and add them",
        )
    return EXIT_OK


def _permissions_table(rows: list[list[str]], width: int, color: bool) -> str:
    columns = (
        Column("PERMISSION"),
        Column("STATUS", style=STATUS_STYLES.get),
        Column("NEEDED FOR", free=True),
    )
    return grid(columns, rows, width, color=color)
