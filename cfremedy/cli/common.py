"""What every command shares: options, settings loading, error handling, running async code."""

from __future__ import annotations

import asyncio
import enum
import functools
import sys
from datetime import timedelta
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError

from cfremedy.cli.console import register_secret, report_error, setup_logging
from cfremedy.errors import UsageError, first_validation_error
from cfremedy.gateway import CloudflareGateway
from cfremedy.inventory import EMPTY, Inventory, load_inventory
from cfremedy.models import Severity
from cfremedy.analytics import parse_since
from cfremedy.probes import ProbeOptions, parse_connect_to
from cfremedy.probes.tls import verifying_context
from cfremedy.ratelimit import DEFAULT_RATE, Rate, RateLimiter
from cfremedy.registry import Playbook, load_registry
from cfremedy.settings import Settings

T = TypeVar("T")

EXIT_CODES_HELP = (
    "Exit codes (the same for every command): 0 success (for audits: nothing at or above"
    " --fail-on); 1 findings at or above --fail-on; 2 bad usage, input or configuration;"
    " 3 Cloudflare API or network failure (auth, permission, rate limit, unreachable);"
    " 4 apply/rollback refused or partly failed; 70 a bug (in cfremedy or a playbook)."
)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    markdown = "markdown"


class FailOn(str, enum.Enum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


class ListFormat(str, enum.Enum):
    """For listings (history, diff, errors): a table for people, JSON for scripts."""

    table = "table"
    json = "json"


ListFormatOpt = Annotated[
    ListFormat | None,
    typer.Option("--format", "-f", help="Output format  [default: table on a terminal, json otherwise]"),
]


def list_format(option: ListFormat | None) -> str:
    return (option or (ListFormat.table if sys.stdout.isatty() else ListFormat.json)).value


Verbose = Annotated[
    int, typer.Option("--verbose", "-v", count=True, show_default=False,
                      help="More detail on stderr (-vv: HTTP too).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")]
Format = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", help="Report format  [default: table on a terminal, json otherwise]"),
]
Output = Annotated[
    list[str] | None,
    typer.Option("--output", "-o", metavar="[FORMAT:]FILE",
                 help="Write the report to FILE instead of stdout (repeatable: one audit, several"
                 " formats). FORMAT defaults to --format, else the extension (.json .sarif .xml"
                 " .md), else json. FILE '-' is stdout."),
]
FailOnOpt = Annotated[
    FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
]
PlaybookIds = Annotated[
    list[str] | None,
    typer.Option("--playbook", "-p", metavar="ID", help="Run only this playbook (repeatable; see `playbooks list`)."),
]
PlaybookDirs = Annotated[
    list[Path] | None,
    typer.Option("--playbooks-dir", metavar="DIR", help="Also load playbooks from this directory (repeatable)."),
]
InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", metavar="FILE", help="TOML inventory: real origin addresses,"
                 " slow endpoints  [env: CFREMEDY_INVENTORY]"),
]
ConnectTo = Annotated[
    list[str] | None,
    typer.Option("--connect-to", metavar="HOST:PORT:TO_HOST:TO_PORT",
                 help="Probe TO_HOST:TO_PORT instead of HOST:PORT, keeping SNI and Host (curl"
                 " syntax, repeatable, IPv6 in brackets)  [env: CFREMEDY_CONNECT_TO]"),
]
ConnectToOnly = Annotated[
    bool, typer.Option("--connect-to-only", help="Probe only origins a --connect-to rule covers"
                        "  [env: CFREMEDY_CONNECT_TO_ONLY]")
]
OriginCa = Annotated[
    list[Path] | None,
    typer.Option("--origin-ca", metavar="FILE", help="Extra CA certificates (PEM) Cloudflare trusts"
                 " for this zone's origins (repeatable)  [env: CFREMEDY_ORIGIN_CA]"),
]
ProbeTimeout = Annotated[
    float, typer.Option("--probe-timeout", min=0.1, metavar="SECONDS", help="Seconds allowed for each probe step.")
]
ProbeConcurrency = Annotated[
    int, typer.Option("--probe-concurrency", min=1, metavar="N", help="Origins probed at the same time.")
]
NoProbe = Annotated[bool, typer.Option("--no-probe", help="Do not contact origins at all.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="Config with [[ignore]] entries"
                 "  [default: ./cfremedy.toml when present; env: CFREMEDY_CONFIG]"),
]
BaselineOpt = Annotated[
    str | None,
    typer.Option("--baseline", metavar="FILE|last", help="Report only findings new since this JSON"
                 " report, or since the last stored audit of the same scope."),
]
ErrorsSince = Annotated[
    str | None,
    typer.Option("--errors-since", metavar="DURATION", help="Also read the 5xx Cloudflare counted"
                 " over this window (e.g. 24h; needs Analytics Read): observed 524s and 520s feed"
                 " the playbooks. One GraphQL query per 10 zones."),
]
RateLimitOpt = Annotated[
    str, typer.Option("--rate-limit", metavar="N/SECONDS", help="At most N API requests per"
                      " SECONDS (Cloudflare allows 1200/300 per token).")
]


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"bad configuration: {first_validation_error(exc)}") from None
    if settings.api_token is not None:
        register_secret(settings.api_token.get_secret_value())
    return settings


def require_token(settings: Settings) -> SecretStr:
    if settings.api_token is None:
        raise UsageError(
            "CLOUDFLARE_API_TOKEN is not set",
            hint="create a token (My Profile > API Tokens) with Zone Read, Zone Settings Read and"
            " DNS Read, export it as CLOUDFLARE_API_TOKEN (or put it in .env); `cfremedy demo`"
            " needs no token",
        )
    return settings.api_token


def gateway_for(settings: Settings, allow_writes: bool = False,
                rate: Rate = DEFAULT_RATE) -> CloudflareGateway:
    """Read-only unless the command is apply or rollback: audit and plan can never write."""
    return CloudflareGateway(require_token(settings), settings.base_url, allow_writes=allow_writes,
                             limiter=RateLimiter(rate))


def window_option(text: str | None, option: str = "--since") -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def parse_rate(text: str) -> Rate:
    try:
        return Rate.parse(text)
    except ValueError as exc:
        raise UsageError(f"--rate-limit: {exc}") from None


def select_playbooks(settings: Settings, ids: list[str] | None, dirs: list[Path] | None) -> tuple[Playbook, ...]:
    extra = list(dirs or [])
    if settings.playbooks_dir is not None:
        extra.append(settings.playbooks_dir)
    return load_registry(extra).select(ids)


def load_inventory_option(settings: Settings, path: Path | None) -> Inventory:
    path = path or settings.inventory
    return load_inventory(path) if path is not None else EMPTY


def probe_options(
    settings: Settings, connect_to: list[str] | None, connect_to_only: bool,
    origin_ca: list[Path] | None, timeout: float, concurrency: int, no_probe: bool,
) -> ProbeOptions | None:
    if no_probe:
        return None
    rules = [*settings.connect_to_rules, *(connect_to or [])]
    try:
        parsed = tuple(parse_connect_to(r) for r in rules)
    except ValueError as exc:
        raise UsageError(f"--connect-to: {exc}") from None
    cas = tuple([*settings.origin_ca_files, *(origin_ca or [])])
    for ca in cas:
        if not ca.is_file():
            raise UsageError(f"--origin-ca: {ca} is not a file")
    options = ProbeOptions(
        timeout=timeout, concurrency=concurrency, connect_to=parsed, origin_ca=cas,
        only_connect_to=connect_to_only or settings.connect_to_only,
    )
    verifying_context(options)  # an unusable --origin-ca fails now, before any API request
    return options


def fail_threshold(fail_on: FailOn) -> Severity | None:
    return None if fail_on is FailOn.never else Severity(fail_on.value)


_EXTENSIONS = {".json": OutputFormat.json, ".sarif": OutputFormat.sarif, ".xml": OutputFormat.junit,
               ".md": OutputFormat.markdown, ".txt": OutputFormat.table}


def resolve_outputs(fmt: OutputFormat | None, outputs: list[str] | None) -> list[tuple[OutputFormat, str]]:
    """Where each rendering goes: (format, path), "-" being stdout."""
    if not outputs:
        default = OutputFormat.table if sys.stdout.isatty() else OutputFormat.json
        return [(fmt or default, "-")]
    resolved = []
    for spec in outputs:
        prefix, sep, rest = spec.partition(":")
        if sep and prefix in OutputFormat.__members__ and rest:
            resolved.append((OutputFormat(prefix), rest))
        else:
            suffix = Path(spec).suffix.lower()
            resolved.append((fmt or _EXTENSIONS.get(suffix, OutputFormat.json), spec))
    return resolved


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def command(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body, turning its result or error into the process exit code (DESIGN §4)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        verbose = int(kwargs.get("verbose") or 0)
        setup_logging(verbose, bool(kwargs.get("quiet")))
        try:
            code = fn(*args, **kwargs) or 0
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the one place every failure is reported
            code = report_error(exc, verbose)
        raise typer.Exit(code)

    return wrapper
