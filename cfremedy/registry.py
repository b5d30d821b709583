"""Discovering playbooks: the built-in `playbooks` package plus any directory a user adds.

A playbook is a plain module (docs/architecture.md, "The playbook contract"). The registry
reads its metadata once, checks the parts a run depends on, and hands out `Playbook` values so
nothing else imports playbook modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from cfremedy.errors import UsageError
from cfremedy.facts import ZoneFacts
from cfremedy.models import Change, Finding, PlaybookMeta, Severity
from cfremedy.suggest import did_you_mean

BUILTIN_PACKAGE = "playbooks"

# Data beyond settings, DNS and probes that a playbook may ask the audit to read, and the
# permission groups reading it takes. An audit reads a source only when a selected playbook
# declares it in `reads`, so a run that does not need it does not pay its API requests.
SOURCES: dict[str, tuple[str, ...]] = {
    "ssl_rules": ("Config Rules Read", "Page Rules Read"),  # Page Rules, and Configuration Rules when the zone has some
    "origin_rules": ("Origin Rules Read",),  # only when the zone has some (its rulesets list says)
    "cache_rules": ("Cache Rules Read",),  # likewise
    "load_balancers": ("Load Balancers Read", "Load Balancing: Monitors and Pools Read"),  # pools once per account
    "tunnels": ("Cloudflare Tunnel Read",),  # once per account, only for CNAMEs to a tunnel
    "pages_projects": ("Cloudflare Pages Read",),  # per account, only for CNAMEs to *.pages.dev
    "allowlists": (),  # local files named in the inventory, plus one `GET /ips` per run
    # The inventory's origin addresses that differ from the records, probed (never a route) so a
    # proposed DNS rewrite to them is checked first; no API read.
    "candidates": (),
}
# Read by every run that probes origins, whatever the playbooks declare: the probes follow
# each hostname's route (cfremedy.routes), and Origin Rules and Load Balancers change it.
ROUTE_SOURCES = ("origin_rules", "load_balancers")

Detect = Callable[[ZoneFacts], list[Finding]]
PlanFix = Callable[[ZoneFacts, Sequence[Finding]], list[Change]]


@dataclass(frozen=True, kw_only=True)
class Playbook(PlaybookMeta):
    """A playbook's metadata and its two functions, as loaded from its module."""

    detect: Detect
    plan_fix: PlanFix

    @property
    def meta(self) -> PlaybookMeta:
        return PlaybookMeta(**{f: getattr(self, f) for f in PlaybookMeta.__dataclass_fields__})


class PlaybookLoadError(UsageError):
    pass


def _from_module(module: ModuleType, expected_id: str, builtin: bool) -> Playbook:
    where = getattr(module, "__file__", expected_id)

    def need(attr: str) -> object:
        if not hasattr(module, attr):
            raise PlaybookLoadError(
                f'playbook {where}: missing `{attr}` (see docs/architecture.md, "The playbook contract")'
            )
        return getattr(module, attr)

    playbook_id = need("id")
    if playbook_id != expected_id:
        raise PlaybookLoadError(f"playbook {where}: `id` is {playbook_id!r} but the module is named {expected_id!r}")
    for fn in ("detect", "plan_fix"):
        if not callable(need(fn)):
            raise PlaybookLoadError(f"playbook {where}: `{fn}` must be a function")
    try:
        severity = Severity(need("severity"))
    except ValueError:
        raise PlaybookLoadError(
            f"playbook {where}: `severity` must be one of {', '.join(s.value for s in Severity)}"
        ) from None
    reads = tuple(str(r) for r in getattr(module, "reads", ()))
    unknown = [r for r in reads if r not in SOURCES]
    if unknown:
        raise PlaybookLoadError(f"playbook {where}: unknown `reads` {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    return Playbook(
        id=expected_id,
        title=str(need("title")),
        severity=severity,
        error_codes=tuple(int(c) for c in need("error_codes")),  # type: ignore[attr-defined]
        docs_url=str(need("docs_url")),
        read_permissions=tuple(need("read_permissions")),  # type: ignore[arg-type]
        write_permissions=tuple(need("write_permissions")),  # type: ignore[arg-type]
        docstring=inspect.getdoc(module) or "",
        source=str(where),
        builtin=builtin,
        uses_probes=bool(getattr(module, "uses_probes", True)),
        reads=reads,
        detect=module.detect,
        plan_fix=module.plan_fix,
    )


def _builtin_modules() -> Iterable[tuple[str, ModuleType]]:
    package = importlib.import_module(BUILTIN_PACKAGE)
    if not getattr(package, "CFREMEDY_PLAYBOOKS", False):
        raise PlaybookLoadError(
            f"the importable `{BUILTIN_PACKAGE}` package at {package.__file__} is not cfremedy's;"
            " another installed distribution shadows it"
        )
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            yield info.name, importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")


def _directory_modules(directory: Path) -> Iterable[tuple[str, ModuleType]]:
    if not directory.is_dir():
        raise PlaybookLoadError(f"playbooks directory {directory} does not exist")
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"cfremedy_user_playbooks.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise PlaybookLoadError(f"cannot load playbook {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a user's module failing to import is their input error
            raise PlaybookLoadError(f"playbook {path} failed to import: {exc}") from None
        yield path.stem, module


@dataclass(frozen=True)
class Registry:
    playbooks: tuple[Playbook, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.playbooks)

    def get(self, playbook_id: str, option: str = "") -> Playbook:
        """The playbook of that id; an unknown id is a usage error naming the closest one
        (`option`, e.g. "--exclude-playbook", says where the id came from)."""
        for playbook in self.playbooks:
            if playbook.id == playbook_id:
                return playbook
        where = f"{option}: " if option else ""
        raise UsageError(
            f"{where}unknown playbook {playbook_id!r}{did_you_mean(playbook_id, self.ids)};"
            f" known playbooks: {', '.join(self.ids)}"
        )

    def select(self, ids: Sequence[str] | None, exclude: Sequence[str] | None = None) -> tuple[Playbook, ...]:
        """`ids` (all when empty), less `exclude`. Excluding every selected playbook is a
        usage error: a run that checks nothing would pass forever."""
        chosen = tuple(self.get(i) for i in dict.fromkeys(ids)) if ids else self.playbooks
        left_out = {self.get(i, "--exclude-playbook").id for i in exclude or ()}
        kept = tuple(p for p in chosen if p.id not in left_out)
        if not kept:
            raise UsageError(
                "--exclude-playbook leaves no playbook to run",
                hint="exclude fewer, or choose the ones to run with --playbook",
            )
        return kept


def load_registry(extra_dirs: Sequence[Path] = ()) -> Registry:
    found: dict[str, Playbook] = {}
    sources: list[tuple[Iterable[tuple[str, ModuleType]], bool]] = [(_builtin_modules(), True)]
    sources += [(_directory_modules(d), False) for d in extra_dirs]
    for modules, builtin in sources:
        for name, module in modules:
            playbook = _from_module(module, name, builtin)
            if playbook.id in found:
                raise PlaybookLoadError(
                    f"playbook id {playbook.id!r} defined twice: {found[playbook.id].source} and {playbook.source}"
                )
            found[playbook.id] = playbook
    return Registry(tuple(found.values()))
