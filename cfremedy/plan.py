"""The plan file (docs/architecture.md, "The JSON report"): the reviewed, checksummed list of changes `apply` will make.

A plan is a value object: it is built from an audit, written, read back and checked, never
edited in place. The checksum covers the changes only, so a hand-edited change is caught while
the human-facing fields can be read freely.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfremedy import __version__
from cfremedy.errors import Refused, UsageError
from cfremedy.files import read_json, write_private
from cfremedy.models import Change, Finding, utc_now_iso
from cfremedy.report import SCHEMA_VERSION, change_dict, change_from_dict


def changes_checksum(changes: tuple[Change, ...]) -> str:
    canonical = json.dumps([change_dict(c) for c in changes], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


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
        planned = tuple(
            PlannedFinding(
                f.playbook,
                f.resource,
                f.error_codes,
                f.severity.value,
                f.message,
                f.fingerprint(zone),
                any(c.playbook == f.playbook for c in changes),
            )
            for f in findings
        )
        return cls(zone=zone, zone_id=zone_id, changes=changes, created_at=now, findings=planned, playbooks=playbooks)

    @property
    def checksum(self) -> str:
        return changes_checksum(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "cfremedy", "version": __version__},
            "zone": self.zone,
            "zone_id": self.zone_id,
            "created_at": self.created_at,
            "changes": [change_dict(c) for c in self.changes],
            "checksum": self.checksum,
            # Informational, outside the checksum: what the audit found, and which findings the
            # changes should resolve; apply's re-audit compares with it.
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

    def write(self, path: Path) -> None:
        """0600: a plan names the zone's records and settings."""
        write_private(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", "the plan")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "plan") -> Plan:
        try:
            plan = cls(
                zone=str(data["zone"]),
                zone_id=str(data["zone_id"]),
                changes=tuple(change_from_dict(c) for c in data["changes"]),
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
            recorded = str(data["checksum"])
        except KeyError as exc:
            raise UsageError(f"{source} is not a cfremedy plan (missing {exc})") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{source} is not a usable cfremedy plan ({exc})") from None
        if recorded != plan.checksum:
            raise Refused(
                f"{source}: checksum mismatch: the changes were edited after the plan was made",
                hint="make a new plan with `cfremedy plan zone`; never edit a plan by hand",
            )
        return plan

    @classmethod
    def read(cls, path: Path) -> Plan:
        data = read_json(path, "plan")
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a cfremedy plan")
        return cls.from_dict(data, str(path))
