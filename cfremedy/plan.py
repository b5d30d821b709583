"""The plan file (docs/architecture.md, "The plan file"): the reviewed, sealed list of changes `apply` will make.

A plan is a value object: it is built from an audit, written, read back and checked, never
edited in place. Its seal covers everything `apply` acts on — the schema version, the zone's
name and id, the changes, and what its re-audit compares with (the playbooks the audit ran,
and each finding's identity: playbook, resource, error codes, fingerprint, whether a change
addresses it) — so neither an edited change, nor a plan retargeted at another zone, nor a
finding list edited to hide what an apply made worse gets through. Only the human-facing
fields (`tool`, `created_at`, a finding's `message` and `severity`) can be annotated freely.

Every string in the file is checked before the seal: a control character (C0, DEL, C1, or a
bidirectional override) is a usage error naming the field (it could rewrite a reviewer's
terminal, hide a character of a target or reorder what the reviewer reads), and a lone
surrogate (not text at all: no seal can cover it) a damaged plan, refused like a checksum
that does not match.

An unkeyed seal (`sha256:`) only catches accidents: whoever can edit the file can recompute it.
With `CFREMEDY_PLAN_KEY` set, the seal is an HMAC-SHA256 (`hmac:`), so a CI job that carries
plans between jobs can refuse any plan nobody holding the key made. Either way `apply` decides
what a target may be and whether a change lowers security by itself (`cfremedy.targets`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cfremedy import __version__
from cfremedy.errors import Refused, UsageError
from cfremedy.files import read_json, write_private
from cfremedy.models import Change, Finding, utc_now_iso
from cfremedy.report import change_dict, change_from_dict
from cfremedy.targets import plan_problems

# 2: the seal covers the schema version, zone and zone id, not only the changes. A version 1
# plan could be retargeted at another zone without breaking its checksum, so it is refused.
# 3: the seal also covers the playbooks list and the findings' identities (what apply's
# re-audit compares with); a version 2 plan's could be edited unnoticed, so it is refused too.
PLAN_SCHEMA_VERSION = 3
# Why each older version is refused; any other version is unknown.
OLDER_VERSIONS = {
    1: "whose checksum does not cover the zone it targets",
    2: "whose checksum does not cover its playbooks and findings",
}
# Far beyond any real plan (a zone's plan holds a few changes; --max-changes defaults to 10),
# and small enough that a hostile file is refused before it is parsed, printed or applied.
MAX_PLAN_BYTES = 8 * 1024 * 1024
MAX_PLAN_CHANGES = 1000

SHA256 = "sha256:"
HMAC = "hmac:"
# What a seal looks like: anything else (another length, upper case, non-ASCII digits) is
# refused before it is compared.
SEAL_PATTERN = re.compile(r"(?:sha256|hmac):[0-9a-f]{64}")
# C0 controls, DEL, C1 controls, and the bidirectional overrides and isolates that make a
# reviewer read text in another order than apply does: never part of a plan a person reviews.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


def printable(text: str) -> str:
    """The text with control characters as escapes (`\\n`, `\\x1b`) and lone surrogates as
    `\\udXXX`: what a plan may hold in its human-facing prose."""
    return SURROGATE.sub(_escape, CONTROL.sub(_escape, text))


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def canonical_content(
    zone: str,
    zone_id: str,
    changes: Iterable[Change],
    playbooks: Iterable[str] = (),
    findings: Iterable[PlannedFinding] = (),
) -> bytes:
    """What the seal covers, as canonical JSON: sorted keys, no spaces, UTF-8."""
    content = {
        "schema_version": PLAN_SCHEMA_VERSION,
        "zone": zone,
        "zone_id": zone_id,
        "changes": [change_dict(c) for c in changes],
        "playbooks": list(playbooks),
        "findings": [f.sealed for f in findings],
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(content: bytes, key: bytes | None = None) -> str:
    """`sha256:<hex>` without a key, `hmac:<hex>` (HMAC-SHA256) with one."""
    if key is None:
        return SHA256 + hashlib.sha256(content).hexdigest()
    return HMAC + hmac.new(key, content, hashlib.sha256).hexdigest()


def check_seal(recorded: str, content: bytes, key: bytes | None, source: str) -> None:
    """Refuse (exit 4) a plan whose seal does not match, or is not of the kind the key asks for."""
    never_edit = "make a new plan with `cfremedy plan zone`; never edit a plan by hand"
    if not recorded.startswith((HMAC, SHA256)):
        raise Refused(f"{source}: the checksum is neither sha256: nor hmac:", hint=never_edit)
    if not SEAL_PATTERN.fullmatch(recorded):
        raise Refused(
            f"{source}: damaged checksum: not sha256: or hmac: followed by 64 lowercase hex digits",
            hint=never_edit,
        )
    if recorded.startswith(HMAC):
        if key is None:
            raise Refused(
                f"{source} is signed with a CFREMEDY_PLAN_KEY (an hmac: checksum) and no key is set,"
                " so it cannot be verified",
                hint="set CFREMEDY_PLAN_KEY to the key the plan was made with",
            )
        if not hmac.compare_digest(recorded, seal(content, key)):
            raise Refused(
                f"{source}: HMAC mismatch: the plan was made with another CFREMEDY_PLAN_KEY, or its"
                " zone, changes or findings were edited after it was made",
                hint=never_edit,
            )
        return
    if recorded.startswith(SHA256):
        if key is not None:
            raise Refused(
                f"{source} is not signed (a sha256: checksum) and CFREMEDY_PLAN_KEY is set: only plans"
                " made with the key are accepted",
                hint="make the plan again with the same CFREMEDY_PLAN_KEY set, or unset the key to"
                " apply an unsigned plan",
            )
        if not hmac.compare_digest(recorded, seal(content)):
            raise Refused(
                f"{source}: checksum mismatch: the zone, the changes or the findings were edited after the"
                " plan was made",
                hint=never_edit,
            )
        return
    raise AssertionError("unreachable: the pattern admits sha256: and hmac: only")


@dataclass(frozen=True)
class PlannedFinding:
    """A finding of the audit the plan came from, kept so `apply` can say, afterwards, which
    ones its changes resolved and which findings are new."""

    playbook: str
    resource: str
    error_codes: tuple[int, ...]
    severity: str
    message: str
    fingerprint: str = ""  # empty in plans made before cfremedy recorded it
    addressed: bool = True  # a change of this plan is meant to resolve it

    @property
    def key(self) -> tuple[str, str, tuple[int, ...]]:
        return (self.playbook, self.resource, self.error_codes)

    @property
    def sealed(self) -> dict[str, Any]:
        """What the seal covers of it: all apply's re-audit compares (not the message or severity)."""
        return {
            "playbook": self.playbook,
            "resource": self.resource,
            "error_codes": list(self.error_codes),
            "fingerprint": self.fingerprint,
            "addressed": self.addressed,
        }


@dataclass(frozen=True)
class Plan:
    zone: str
    zone_id: str
    changes: tuple[Change, ...]
    created_at: str
    findings: tuple[PlannedFinding, ...] = ()
    playbooks: tuple[str, ...] = ()  # the playbooks the plan's audit ran

    @classmethod
    def new(
        cls,
        zone: str,
        zone_id: str,
        changes: tuple[Change, ...],
        findings: tuple[Finding, ...] = (),
        playbooks: tuple[str, ...] = (),
    ) -> Plan:
        now = utc_now_iso()
        # Messages and reasons quote what origins and the API said (a certificate's subject, a
        # header): their control characters are written escaped, or the plan this tool wrote
        # would be refused by its own apply.
        changes = tuple(replace(c, reason=printable(c.reason)) for c in changes)
        planned = tuple(
            PlannedFinding(
                f.playbook,
                f.resource,
                f.error_codes,
                f.severity.value,
                printable(f.message),
                f.fingerprint(zone),
                any(c.playbook == f.playbook for c in changes),
            )
            for f in findings
        )
        return cls(zone=zone, zone_id=zone_id, changes=changes, created_at=now, findings=planned, playbooks=playbooks)

    @property
    def content(self) -> bytes:
        return canonical_content(self.zone, self.zone_id, self.changes, self.playbooks, self.findings)

    @property
    def checksum(self) -> str:
        """The unkeyed seal: the plan's identity in the journal, whatever key signed the file."""
        return seal(self.content)

    @property
    def manual(self) -> tuple[PlannedFinding, ...]:
        """Findings no change of the plan addresses: a person must fix them."""
        return tuple(f for f in self.findings if not f.addressed)

    def subset(self, targets: Iterable[str]) -> Plan:
        """Only the changes to these targets (`apply --only`), in the plan's order; a finding
        counts as addressed only if a change its playbook proposed is still in."""
        wanted = set(targets)
        unknown = sorted(wanted - {c.target for c in self.changes})
        if unknown:
            raise UsageError(
                f"--only {unknown[0]}: the plan has no change to that target",
                hint="the plan's targets: " + ", ".join(c.target for c in self.changes),
            )
        changes = tuple(c for c in self.changes if c.target in wanted)
        kept = {c.playbook for c in changes}
        findings = tuple(replace(f, addressed=f.addressed and f.playbook in kept) for f in self.findings)
        return replace(self, changes=changes, findings=findings)

    def to_dict(self, key: bytes | None = None) -> dict[str, Any]:
        return {
            "schema_version": PLAN_SCHEMA_VERSION,
            "tool": {"name": "cfremedy", "version": __version__},
            "zone": self.zone,
            "zone_id": self.zone_id,
            "created_at": self.created_at,
            "changes": [change_dict(c) for c in self.changes],
            "checksum": seal(self.content, key),
            # What the audit ran and found, and which findings the changes should resolve:
            # apply's re-audit compares with it, so all but messages and severities are sealed.
            "playbooks": list(self.playbooks),
            "findings": [
                {
                    "playbook": f.playbook,
                    "resource": f.resource,
                    "error_codes": list(f.error_codes),
                    "severity": f.severity,
                    "message": f.message,
                    "fingerprint": f.fingerprint,
                    "addressed": f.addressed,
                }
                for f in self.findings
            ],
        }

    def write(self, path: Path, key: bytes | None = None) -> None:
        """0600: a plan names the zone's records and settings."""
        write_private(path, json.dumps(self.to_dict(key), indent=2, ensure_ascii=False) + "\n", "the plan")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "plan", key: bytes | None = None) -> Plan:
        """The plan, once its schema version, size, zone id, targets and seal all hold.

        Malformed input is a `UsageError` (exit 2); a plan whose seal does not match, or that the
        key in force did not sign, is `Refused` (exit 4). Nothing here sends a request.
        """
        _check_version(data, source)
        _check_text(data, source)
        try:
            raw_changes = data["changes"]
            if not isinstance(raw_changes, list):
                raise TypeError("`changes` is not a list")
            if len(raw_changes) > MAX_PLAN_CHANGES:
                raise UsageError(
                    f"{source} has {len(raw_changes)} changes, more than the {MAX_PLAN_CHANGES} cfremedy"
                    " applies from one plan; refusing to read it",
                    hint="plan fewer zones or playbooks at a time",
                )
            plan = cls(
                zone=_text(data, "zone"),
                zone_id=_text(data, "zone_id"),
                changes=tuple(change_from_dict(c) for c in raw_changes),
                created_at=str(data.get("created_at", "")),
                findings=tuple(
                    PlannedFinding(
                        str(f["playbook"]),
                        str(f["resource"]),
                        tuple(int(c) for c in f.get("error_codes", ())),
                        str(f.get("severity", "")),
                        str(f.get("message", "")),
                        str(f.get("fingerprint", "")),
                        bool(f.get("addressed", True)),
                    )
                    for f in data.get("findings", ())
                ),
                playbooks=tuple(str(p) for p in data.get("playbooks", ())),
            )
            recorded = _text(data, "checksum")
        except KeyError as exc:
            raise UsageError(f"{source} is not a cfremedy plan (missing {exc})") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{source} is not a usable cfremedy plan ({exc})") from None
        problems = plan_problems(plan.zone_id, plan.changes)
        if problems:
            raise UsageError(
                f"{source} is not a plan cfremedy can apply: {'; '.join(problems[:5])}"
                + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                hint="make a new plan with `cfremedy plan zone`; never edit a plan by hand",
            )
        check_seal(recorded, plan.content, key, source)
        return plan

    @classmethod
    def read(cls, path: Path, key: bytes | None = None) -> Plan:
        data = read_json(path, "plan", limit=MAX_PLAN_BYTES)
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a cfremedy plan")
        return cls.from_dict(data, str(path), key)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"`{name}` is not a string")
    return value


def _check_text(data: Mapping[str, Any], source: str) -> None:
    """Refuse a lone surrogate (exit 4: damaged, no seal can cover it) or a control character
    (exit 2) in any string of the plan, keys included, naming where: never echoing it."""
    stack: list[tuple[str, Any]] = [("", data)]
    control: tuple[str, str] | None = None
    while stack:  # iterative: JSON nested to the parser's limit must not exhaust Python's
        where, node = stack.pop()
        if isinstance(node, str):
            if SURROGATE.search(node):
                raise Refused(
                    f"{source}: damaged plan: {where} is not valid Unicode (it holds a lone surrogate)",
                    hint="make a new plan with `cfremedy plan zone`; never edit a plan by hand",
                )
            found = CONTROL.search(node)
            if found and control is None:
                control = (where, f"U+{ord(found.group()):04X}")
        elif isinstance(node, Mapping):
            for key, value in reversed(list(node.items())):
                path = _field(where, key)
                stack.append((f"`{path}`", value))
                stack.append((f"the key of `{path}`", key))
        elif isinstance(node, list):
            stack.extend((f"`{where.strip('`')}[{i}]`", v) for i, v in reversed(list(enumerate(node))))
    if control is not None:
        raise UsageError(
            f"{source}: {control[0]} contains a control character ({control[1]}):"
            " cfremedy applies plans of printable text only",
            hint="make a new plan with `cfremedy plan zone`; never edit a plan by hand",
        )


def _field(where: str, key: Any) -> str:
    """`changes[0].after.content` (from "`changes[0].after`"); a key that is not printable is
    shown escaped."""
    name = str(key)
    name = name if name.isprintable() and "." not in name and "`" not in name else ascii(name)
    parent = where.strip("`")
    return f"{parent}.{name}" if parent else name


def _check_version(data: Mapping[str, Any], source: str) -> None:
    if "schema_version" not in data:
        raise UsageError(f"{source} is not a cfremedy plan (missing 'schema_version')")
    version = data["schema_version"]
    if version == PLAN_SCHEMA_VERSION and not isinstance(version, bool):
        return
    if not isinstance(version, bool) and isinstance(version, int) and version in OLDER_VERSIONS:
        raise UsageError(
            f"{source} is a version {version} plan, {OLDER_VERSIONS[version]};"
            f" this cfremedy applies version {PLAN_SCHEMA_VERSION} plans only",
            hint="make a new plan with `cfremedy plan zone`",
        )
    raise UsageError(
        f"{source} has plan schema_version {version!r}, which this cfremedy ({__version__}) does not know;"
        f" it applies version {PLAN_SCHEMA_VERSION} plans only",
        hint="make the plan with this version of cfremedy, or apply it with the version that made it",
    )


def summary_line(plans: Sequence[Plan]) -> str:
    """`Plan: 2 to change, 1 manual (findings without an automatic fix).` — what CI logs grep
    and people read first; over several zones it says in how many."""
    changes = sum(len(p.changes) for p in plans)
    manual = sum(len(p.manual) for p in plans)
    where = f" in {sum(1 for p in plans if p.changes)} of {len(plans)} zone(s)" if len(plans) != 1 else ""
    return f"Plan: {changes} to change{where}, {manual} manual (findings without an automatic fix)."
