"""The project config file (`cfremedy.toml`): what a team has decided to accept, and until when.

```toml
[[ignore]]
playbook = "ssl_origin_cert"        # a playbook id, or "*"
zone = "legacy-*.example.com"       # glob on the zone name (default "*")
resource = "*"                      # glob on the finding's resource (default "*")
reason = "origin certificates are being replaced (TICKET-123)"
until = 2027-01-31                  # optional: the entry stops applying after this date

[playbooks.origin_cert_expiry]
days = 30                           # warn this many days before an origin certificate expires
```

Suppressed findings stay in every report, marked and counted; they only stop counting toward
`--fail-on`. An entry past its `until` date no longer applies, so forgotten exceptions expire
on their own instead of hiding a problem forever.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cfremedy.errors import UsageError, first_validation_error
from cfremedy.files import read_toml
from cfremedy.models import Report, Suppression, frozen_mapping
from cfremedy.suggest import did_you_mean

DEFAULT_FILE = "cfremedy.toml"


class _Ignore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    playbook: str
    zone: str = "*"
    resource: str = "*"
    reason: str = Field(min_length=1)
    until: date | None = None


class _Expiry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    days: int | None = Field(default=None, ge=1, le=3650, strict=True)  # None: the playbook's own default


class _PlaybookOptions(BaseModel):
    """Settings a playbook takes from the team's file; unknown playbooks or keys are typos."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    origin_cert_expiry: _Expiry | None = None


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ignore: list[_Ignore] = Field(default_factory=list)
    playbooks: _PlaybookOptions = Field(default_factory=_PlaybookOptions)


@dataclass(frozen=True)
class IgnoreRule:
    playbook: str
    zone: str
    resource: str
    reason: str
    until: date | None
    label: str  # "cfremedy.toml ignore[1]": where to look when a report cites it

    def matches(self, playbook: str, zone: str, resource: str) -> bool:
        return (
            fnmatch.fnmatchcase(playbook, self.playbook)
            and fnmatch.fnmatchcase(zone.lower(), self.zone.lower())
            and fnmatch.fnmatchcase(resource.lower(), self.resource.lower())
        )

    def active(self, today: date) -> bool:
        return self.until is None or today <= self.until


@dataclass(frozen=True)
class Config:
    ignore: tuple[IgnoreRule, ...] = ()
    source: str = ""
    # `[playbooks.<id>]` tables: what each playbook reads through `ZoneFacts.option`.
    playbook_options: Mapping[str, Mapping[str, Any]] = field(default_factory=frozen_mapping)


EMPTY = Config()


def parse_config(data: dict[str, Any], source: str) -> Config:
    try:
        model = _Config.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {first_validation_error(exc)}") from None
    name = Path(source).name
    return Config(
        ignore=tuple(
            IgnoreRule(i.playbook, i.zone, i.resource, i.reason, i.until, f"{name} ignore[{n}]")
            for n, i in enumerate(model.ignore, start=1)
        ),
        source=source,
        playbook_options=frozen_mapping(model.playbooks.model_dump(exclude_none=True)),
    )


def load_config(path: Path | None) -> Config:
    """The file given, else ./cfremedy.toml when it exists, else nothing to apply."""
    if path is None:
        path = Path(DEFAULT_FILE)
        if not path.is_file():
            return EMPTY
    return parse_config(read_toml(path, "config"), str(path))


def apply_suppressions(report: Report, config: Config, today: date) -> Report:
    """Mark each finding the first active ignore entry matches. Pure."""
    rules = [r for r in config.ignore if r.active(today)]
    if not rules:
        return report
    zones = []
    for zone in report.zones:
        findings = []
        for finding in zone.findings:
            rule = next((r for r in rules if r.matches(finding.playbook, zone.name, finding.resource)), None)
            if rule is not None:
                finding = replace(finding, suppression=Suppression(rule.reason, rule.label, rule.until))
            findings.append(finding)
        zones.append(replace(zone, findings=tuple(findings)))
    return replace(report, zones=tuple(zones))


def expired(config: Config, today: date) -> list[IgnoreRule]:
    return [r for r in config.ignore if not r.active(today)]


def unknown_playbooks(config: Config, known: Sequence[str]) -> list[str]:
    """One warning per `[[ignore]]` entry whose `playbook` (an id or a glob) names no known
    playbook: such an entry suppresses nothing, so the finding it was meant for still fails
    the run, with no hint why. Pure."""
    problems = []
    for rule in config.ignore:
        if not any(fnmatch.fnmatchcase(playbook, rule.playbook) for playbook in known):
            problems.append(
                f"{rule.label}: playbook {rule.playbook!r} matches no playbook"
                f"{did_you_mean(rule.playbook, known)}; the entry suppresses nothing"
            )
    return problems
