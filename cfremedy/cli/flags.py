"""Option groups: each command-line option declared once, shared by every command that takes it.

A group is a frozen dataclass whose fields carry their typer declaration (`Annotated[...,
typer.Option(...)]`) and default. `@flags(probe=ProbeFlags)` spreads a group's fields into the
command's signature, so typer sees ordinary options, and hands the command one `ProbeFlags`
value instead. `audit_options` is the one place an `AuditOptions` is built from flags.

Choices come from the core (`Severity`, the report formats), never a mirror of them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

from cfremedy.cli.console import err
from cfremedy.errors import UsageError
from cfremedy.models import Severity
from cfremedy.reporters.formats import REPORT_FORMATS, resolve_outputs
from cfremedy.settings import Settings

if TYPE_CHECKING:
    from cfremedy.audit import AuditOptions
    from cfremedy.config import Config
    from cfremedy.inventory import Inventory
    from cfremedy.probes.options import ProbeOptions
    from cfremedy.registry import Playbook, Registry
    from cfremedy.selection import AccountSelection

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("cfremedy.cli")

NEVER = "never"
FAIL_ON_CHOICES = (*(s.value for s in Severity), NEVER)
SEVERITY_CHOICES = tuple(s.value for s in Severity)

# Typer offers a `Literal`'s values as the option's choices; the values come from the core, so
# a new severity or report format needs no edit here. (Type checkers see plain strings.)
if TYPE_CHECKING:
    FailOnChoice = str
    FormatChoice = str
    SeverityChoice = str
else:
    FailOnChoice = Literal[FAIL_ON_CHOICES]
    FormatChoice = Literal[REPORT_FORMATS]
    SeverityChoice = Literal[SEVERITY_CHOICES]


def fail_threshold(fail_on: str) -> Severity | None:
    return None if fail_on == NEVER else Severity(fail_on)


# -- declaring groups ---------------------------------------------------------------------------


def flags(**groups: type[Any]) -> Callable[[F], F]:
    """Replace each `name: Group` parameter of a command by the group's options, and rebuild
    the group from them when the command runs."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        kept = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name not in groups
        ]
        added: list[inspect.Parameter] = []
        fields_of: dict[str, list[str]] = {}
        for group_name, group in groups.items():
            group_hints = typing.get_type_hints(group, include_extras=True)
            fields_of[group_name] = [f.name for f in dataclasses.fields(group)]
            added += [
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=group_hints[f.name]
                )
                for f in dataclasses.fields(group)
            ]
        # Options of the command's own come first in --help, then the groups', then -v/-q.
        tail = [p for p in kept if p.name in ("verbose", "quiet")]
        head = [p for p in kept if p not in tail]
        # Typer passes every value by keyword, so all may be keyword-only (which lets the
        # groups' options, all with defaults, sit after the command's own arguments).
        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in (*head, *added, *tail)]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for group_name, group in groups.items():
                kwargs[group_name] = group(**{name: kwargs.pop(name) for name in fields_of[group_name]})
            return fn(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return typing.cast(F, wrapper)

    return decorate


# -- the groups ----------------------------------------------------------------------------------


InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        metavar="FILE",
        help="TOML inventory: real origin addresses, slow endpoints  [env: CFREMEDY_INVENTORY]",
    ),
]
ConnectTo = Annotated[
    list[str] | None,
    typer.Option(
        "--connect-to",
        metavar="HOST:PORT:TO_HOST:TO_PORT",
        help="Probe TO_HOST:TO_PORT instead of HOST:PORT, keeping SNI and Host (curl syntax,"
        " repeatable, IPv6 in brackets)  [env: CFREMEDY_CONNECT_TO]",
    ),
]
ConnectToOnly = Annotated[
    bool,
    typer.Option(
        "--connect-to-only", help="Probe only origins a --connect-to rule covers  [env: CFREMEDY_CONNECT_TO_ONLY]"
    ),
]
OriginCa = Annotated[
    list[Path] | None,
    typer.Option(
        "--origin-ca",
        metavar="FILE",
        help="Extra CA certificates (PEM) Cloudflare trusts for this zone's origins (repeatable)"
        "  [env: CFREMEDY_ORIGIN_CA]",
    ),
]
ProbeTimeout = Annotated[
    float, typer.Option("--probe-timeout", min=0.1, metavar="SECONDS", help="Seconds allowed for each probe step.")
]
ProbeConcurrency = Annotated[
    int | None,
    typer.Option(
        "--probe-concurrency",
        min=1,
        metavar="N",
        help="Origins probed at the same time, shared by every zone of the run"
        "  [default: what the open-files limit allows, at most 500]",
    ),
]
NoProbe = Annotated[bool, typer.Option("--no-probe", help="Do not contact origins at all.")]
NoRevocationCheck = Annotated[
    bool,
    typer.Option(
        "--no-revocation-check",
        help="Do not ask the OCSP responders that the certificates of origins in Full (strict), Full"
        " or Flexible name, nor read the responses origins staple (526: a revoked certificate; no"
        " raise to Full (strict) over one)",
    ),
]
ResolverOpt = Annotated[
    str | None,
    typer.Option(
        "--resolver",
        metavar="IP[:PORT]",
        help="Resolve origin host names with this DNS resolver instead of the system's (Cloudflare"
        " resolves from the public Internet: a name your network resolves and the world does not"
        " is a 530 / 1016)  [env: CFREMEDY_RESOLVER]",
    ),
]
PlaybookDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--playbooks-dir",
        metavar="DIR",
        help="Also load playbooks from this directory (repeatable)  [env: CFREMEDY_PLAYBOOKS_DIR]",
    ),
]


def registry_for(settings: Settings, dirs: list[Path] | None) -> Registry:
    """The built-in playbooks and those of `--playbooks-dir` and CFREMEDY_PLAYBOOKS_DIR."""
    from cfremedy.registry import load_registry

    extra = list(dirs or [])
    if settings.playbooks_dir is not None:
        extra.append(settings.playbooks_dir)
    return load_registry(extra)


def select_playbooks(settings: Settings, ids: list[str] | None, dirs: list[Path] | None) -> tuple[Playbook, ...]:
    """Those playbooks by id (all of them when `ids` is empty)."""
    return registry_for(settings, dirs).select(ids)


@dataclass(frozen=True)
class ProbeFlags:
    """How origins are probed, and what cfremedy knows beyond the API (`audit`, `plan`,
    `apply`'s re-check, `diagnose`)."""

    inventory: InventoryOpt = None
    connect_to: ConnectTo = None
    connect_to_only: ConnectToOnly = False
    origin_ca: OriginCa = None
    probe_timeout: ProbeTimeout = 10.0
    probe_concurrency: ProbeConcurrency = None
    no_probe: NoProbe = False
    no_revocation_check: NoRevocationCheck = False
    resolver: ResolverOpt = None
    playbooks_dir: PlaybookDirs = None

    def probe_options(self, settings: Settings) -> ProbeOptions | None:
        """The probe options, checked now: a bad rule or CA file fails before any API request."""
        if self.no_probe:
            return None
        from cfremedy.probes.connect_to import parse_connect_to
        from cfremedy.probes.options import ProbeOptions
        from cfremedy.probes.tls import verifying_context

        rules = [*settings.connect_to_rules, *(self.connect_to or [])]
        try:
            parsed = tuple(parse_connect_to(r) for r in rules)
        except ValueError as exc:
            raise UsageError(f"--connect-to: {exc}") from None
        from cfremedy.probes.dns import parse_resolver

        resolver = self.resolver or settings.resolver or None
        if resolver is not None:
            try:
                parse_resolver(resolver)
            except ValueError as exc:
                raise UsageError(f"--resolver: {exc}") from None
        cas = tuple([*settings.origin_ca_files, *(self.origin_ca or [])])
        for ca in cas:
            if not ca.is_file():
                raise UsageError(f"--origin-ca: {ca} is not a file")
        from cfremedy.probes.limits import size

        sizing = size(self.probe_concurrency)
        if sizing.note:
            log.warning("%s", sizing.note)
        options = ProbeOptions(
            timeout=self.probe_timeout,
            concurrency=sizing.concurrency,
            connect_to=parsed,
            origin_ca=cas,
            only_connect_to=self.connect_to_only or settings.connect_to_only,
            resolver=resolver,
            revocation_check=not self.no_revocation_check,
        )
        verifying_context(options)  # an unusable --origin-ca fails now
        return options

    def load_inventory(self, settings: Settings) -> Inventory:
        from cfremedy.inventory import EMPTY, load_inventory

        path = self.inventory or settings.inventory
        return load_inventory(path) if path is not None else EMPTY


FailOnOpt = Annotated[
    FailOnChoice, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
]


@dataclass(frozen=True)
class ReportFlags:
    """What becomes of an audit's report: its format and files, suppressions, baseline, and
    the severity that fails the run (`audit zone`, `audit account`)."""

    format: Annotated[
        FormatChoice | None,
        typer.Option("--format", "-f", help="Report format  [default: table on a terminal, json otherwise]"),
    ] = None
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            metavar="[FORMAT:]FILE",
            help="Write the report to FILE instead of stdout (repeatable: one audit, several formats)."
            " FORMAT defaults to --format, else the extension (.json .sarif .xml .md .txt). FILE '-'"
            " is stdout.",
        ),
    ] = None
    fail_on: FailOnOpt = "high"
    min_severity: Annotated[
        SeverityChoice | None,
        typer.Option(
            "--min-severity",
            help="Show only findings at or above this severity: the others (and the changes only they"
            " propose) are left out of the report and counted in a note on stderr. Presentation"
            " only: --fail-on still counts every finding, and history stores them all.",
        ),
    ] = None
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Config with [[ignore]] entries  [default: ./cfremedy.toml when present; env: CFREMEDY_CONFIG]",
        ),
    ] = None
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            metavar="FILE|last",
            help="Report only findings new since this JSON report, or since the last stored audit of"
            " the same scope that ran to the end.",
        ),
    ] = None

    @property
    def shown_from(self) -> Severity | None:
        return Severity(self.min_severity) if self.min_severity is not None else None

    def load_config(self, settings: Settings) -> Config:
        """The config file, once it and every `-o` are known to be usable: a typo fails before
        the first API request, not after the audit it would have thrown away."""
        from cfremedy.config import load_config

        resolve_outputs(self.format, self.output, terminal=False)
        return load_config(self.config or settings.config)


PlaybookIds = Annotated[
    list[str] | None,
    typer.Option("--playbook", "-p", metavar="ID", help="Run only this playbook (repeatable; see `playbooks list`)."),
]
ExcludePlaybookIds = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-playbook",
        metavar="ID",
        help="Do not run this playbook (repeatable; applied after --playbook). An unknown id, or"
        " excluding every selected playbook, is an error.",
    ),
]
ErrorsSince = Annotated[
    str | None,
    typer.Option(
        "--errors-since",
        metavar="DURATION",
        help="Also read the 5xx Cloudflare counted over this window (e.g. 24h; needs"
        " Analytics Read): observed 524s and 520s feed the playbooks. One GraphQL query"
        " per 10 zones.",
    ),
]


AccountIdOpt = Annotated[str | None, typer.Option("--account-id", metavar="ID", help="Only zones of this account.")]
ZoneGlobs = Annotated[
    list[str] | None, typer.Option("--zone", metavar="GLOB", help="Only zones whose name matches (repeatable).")
]
ShardOpt = Annotated[
    str | None,
    typer.Option("--shard", metavar="I/N", help="Only the I-th of N deterministic slices of the zones (CI matrix)."),
]
ParallelOpt = Annotated[int, typer.Option("--parallel", metavar="N", min=1, help="Zones audited at once.")]


def account_selection(account_id: str | None, zones: list[str] | None, shard: str | None) -> AccountSelection:
    """`audit account` and `plan account` select zones the same way."""
    from cfremedy.selection import AccountSelection, Shard

    try:
        return AccountSelection(account_id, tuple(zones or ()), Shard.parse(shard) if shard else None)
    except ValueError as exc:
        raise UsageError(f"--shard: {exc}") from None


def window_option(text: str | None, option: str = "--since") -> timedelta | None:
    if text is None:
        return None
    from cfremedy.analytics import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def audit_options(
    settings: Settings,
    probe: ProbeFlags,
    *,
    playbooks: list[str] | None = None,
    exclude: list[str] | None = None,
    errors_since: str | None = None,
    config: Config | None = None,
    **more: Any,
) -> AuditOptions:
    """The one place an `AuditOptions` is built from flags."""
    from cfremedy.audit import AuditOptions

    registry = registry_for(settings, probe.playbooks_dir)
    if config is not None:  # checked against every playbook known, not only those selected
        from cfremedy.config import unknown_playbooks

        for problem in unknown_playbooks(config, registry.ids):
            err(f"cfremedy: warning: {problem}")
    return AuditOptions(
        playbooks=registry.select(playbooks, exclude),
        probe=probe.probe_options(settings),
        inventory=probe.load_inventory(settings),
        errors_since=window_option(errors_since, "--errors-since"),
        playbook_options=config.playbook_options if config is not None else {},
        **more,
    )
