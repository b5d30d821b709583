"""`cfremedy ips allowlist|check`: Cloudflare's IP ranges at the origin (521/522).

A firewall or web server that lets in an old copy of Cloudflare's ranges turns away the
requests Cloudflare sends from the ranges added since: visitors get 521 or 522. `allowlist`
writes the current list in the origin's own dialect; `check` compares existing files with it.
Both read `GET /ips`, which needs no token, or the copy shipped with cfremedy (`--packaged`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import SecretStr

from cfremedy import __version__
from cfremedy.allowlist import (
    FORMATS,
    SOURCE_API,
    SOURCE_PACKAGED,
    AllowlistCheck,
    check,
    guess_format,
    read_allowlist,
    render,
)
from cfremedy.cli.common import (
    EXIT_CODES_HELP,
    ListFormatOpt,
    Quiet,
    Verbose,
    api_timeout,
    command,
    list_format,
    load_settings,
    run_async,
)
from cfremedy.cli.console import err, out, terminal_width
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from cfremedy.facts import packaged_cloudflare_ranges
from cfremedy.gateway import CloudflareGateway
from cfremedy.models import AllowlistFile, IPNetwork
from cfremedy.ratelimit import DEFAULT_RATE, RateLimiter
from cfremedy.reporters.grid import Column, grid, paragraph
from cfremedy.settings import Settings

log = logging.getLogger("cfremedy.cli")

ips_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Cloudflare's IP ranges at the origin: generate an allowlist, or check one (521/522). Needs no API token.",
)


# The dialects `allowlist.render` writes, offered as the option's choices (type checkers see str).
if TYPE_CHECKING:
    AllowlistFormat = str
else:
    AllowlistFormat = Literal[FORMATS]

Packaged = Annotated[
    bool,
    typer.Option(
        "--packaged",
        help="Use the copy of Cloudflare's ranges shipped with this cfremedy instead of asking the API (no network).",
    ),
]


def _ranges(settings: Settings, packaged: bool) -> tuple[tuple[IPNetwork, ...], str]:
    """Cloudflare's current ranges and where they came from (for headers and reports)."""
    if packaged:
        return packaged_cloudflare_ranges(), SOURCE_PACKAGED

    async def go() -> tuple[IPNetwork, ...]:
        # GET /ips is public: no token needed (the gateway sends none with it), so a missing
        # CLOUDFLARE_API_TOKEN is fine here, unlike for every command that reads a zone.
        token = settings.api_token or SecretStr("")
        async with CloudflareGateway(
            token, settings.base_url, timeout=api_timeout(settings), limiter=RateLimiter(DEFAULT_RATE)
        ) as gateway:
            return await gateway.cloudflare_ips()

    ranges = run_async(go())
    log.debug("GET /ips: %d ranges", len(ranges))
    return ranges, SOURCE_API


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a firewall or server reloading mid-write must not see half a list."""
    partial = path.with_name(f".{path.name}.cfremedy-partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"--output: cannot write {path}: {exc.strerror or exc}") from None


@ips_app.command("allowlist", epilog=EXIT_CODES_HELP)
@command
def allowlist_command(
    format: Annotated[
        AllowlistFormat,
        typer.Option(
            "--format",
            "-f",
            show_default=False,
            help="The origin's dialect: nginx (realip + a geo"
            " lock-down), iptables (iptables and ip6tables script), nftables (a table with interval"
            " sets), ufw (commands), apache (mod_remoteip + a lock-down), caddy (trusted_proxies +"
            " a remote_ip matcher).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the allowlist to FILE (replaced whole, never half-written) instead of stdout.",
        ),
    ] = None,
    packaged: Packaged = False,
    port: Annotated[
        list[int] | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            metavar="PORT",
            help="TCP port the firewall formats open (repeatable)  [default: 80 and 443]",
        ),
    ] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Print Cloudflare's current IP ranges as an allowlist for the origin.

    A firewall that lets in only an old copy of Cloudflare's ranges drops the connections
    Cloudflare opens from newer ones, and visitors get 521 or 522. This writes the current
    list, in the dialect of the origin's firewall or web server, ready to include; the header
    says when and from where it was made. The ranges come from the API (GET /ips: one
    request, no token needed), or with --packaged from the copy shipped with cfremedy.
    Regenerate it on a schedule, and check existing files with `cfremedy ips check`.

    Examples:

      cfremedy ips allowlist --format nginx -o /etc/nginx/conf.d/cloudflare.conf

      cfremedy ips allowlist --format nftables --port 443 -o cloudflare.nft

      cfremedy ips allowlist --format ufw --packaged | sudo sh
    """
    settings = load_settings()
    if output is not None and not output.parent.is_dir():  # before any request
        raise UsageError(f"--output: directory {output.parent} does not exist")
    ranges, source = _ranges(settings, packaged)
    try:
        text = render(format, ranges, tuple(port or (80, 443)), source=source)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if output is None:
        out(text)
    else:
        _write(output, text)
        log.info("wrote %d Cloudflare ranges (%s) to %s", len(ranges), format, output)
    return EXIT_OK


def _fix_command(path: str) -> str:
    return f"cfremedy ips allowlist --format {guess_format(path) or 'FORMAT'} --output {path}"


def _short(networks: Sequence[IPNetwork], limit: int = 6) -> str:
    shown = ", ".join(map(str, networks[:limit]))
    return shown + (f" and {len(networks) - limit} more" if len(networks) > limit else "")


CHECK_COLUMNS = (
    Column("STATE"),
    Column("FILE"),
    Column("MISSING", keep=True, justify="right"),
    Column("STALE", keep=True, justify="right"),
    Column("OTHER", keep=True, justify="right"),
)


def _table(results: list[tuple[AllowlistFile, AllowlistCheck]], total: int, source: str, width: int) -> str:
    rows = []
    for file, result in results:
        state = "ok" if result.ok else ("MISSING RANGES" if result.missing else "STALE RANGES")
        rows.append([state, file.path, f"{len(result.missing)}/{total}", len(result.stale), len(result.other)])
    details = []
    for file, result in results:
        if result.missing:
            details.append(f"{file.path}: missing {_short(result.missing)}")
        if result.stale:
            details.append(
                f"{file.path}: stale {_short(result.stale)} (retired by Cloudflare, or"
                " wider than its ranges: they also let other addresses in)"
            )
        if not file.networks:
            details.append(f"{file.path}: no addresses found in it; is it the right file?")
        if not result.ok:
            details.append(f"  fix: {_fix_command(file.path)}")
    footer = f"Compared with Cloudflare's {total} current ranges from {source}."
    lines = [paragraph(line, width, indent=" " * (len(line) - len(line.lstrip()) + 2)) for line in details]
    return grid(CHECK_COLUMNS, rows, width) + "".join(lines) + "\n" + paragraph(footer, width)


def _json(results: list[tuple[AllowlistFile, AllowlistCheck]], ranges: Sequence[IPNetwork], source: str) -> str:
    document = {
        "schema_version": 1,
        "tool": {"name": "cfremedy", "version": __version__},
        "source": "packaged" if source == SOURCE_PACKAGED else "api",
        "cloudflare_ranges": [str(r) for r in ranges],
        "files": [
            {
                "path": file.path,
                "ok": result.ok,
                "missing": [str(n) for n in result.missing],
                "stale": [str(n) for n in result.stale],
                "other": [str(n) for n in result.other],
                "other_count": len(result.other),
                "networks": len(file.networks),
                "fix": None if result.ok else _fix_command(file.path),
            }
            for file, result in results
        ],
    }
    return json.dumps(document, indent=2) + "\n"


@ips_app.command("check", epilog=EXIT_CODES_HELP)
@command
def check_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            show_default=False,
            help="Firewall or web-server files meant to let"
            " Cloudflare in: nginx, iptables(-save), nftables, ufw (rules or `ufw status` output),"
            " Apache, Caddy.",
        ),
    ],
    packaged: Packaged = False,
    format: ListFormatOpt = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Check that files let in every current Cloudflare range, and no retired one.

    Reads every address and CIDR each file allows (comments and deny/drop lines do not
    count) and compares them with Cloudflare's current ranges: a range the file misses is
    refused at the origin (521/522); a stale one (retired by Cloudflare, like 199.27.128.0/21,
    or wider than its ranges, like the 104.16.0.0/12 split in 2021) lets addresses in that
    are not Cloudflare's. Other addresses (an office, a monitor) are counted, not judged.
    Exits 1 when a file misses or holds a stale range, 2 when one cannot be read.

    Examples:

      cfremedy ips check /etc/nginx/conf.d/cloudflare.conf

      cfremedy ips check ufw-status.txt /etc/caddy/Caddyfile --packaged -f json
    """
    settings = load_settings()
    read = [read_allowlist(path) for path in files]
    unreadable = [f for f in read if f.error]
    if unreadable:  # before any request: bad input is named, not half-checked
        for file in unreadable[:-1]:
            err(f"cfremedy: error: {file.error}")
        raise UsageError(unreadable[-1].error, hint="pass files that exist and that this user can read")
    ranges, source = _ranges(settings, packaged)
    results = [(file, check(file.networks, ranges)) for file in read]
    fmt = list_format(format)
    out(_json(results, ranges, source) if fmt == "json" else _table(results, len(ranges), source, terminal_width()))
    return EXIT_OK if all(r.ok for _, r in results) else EXIT_FINDINGS
