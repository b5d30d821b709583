"""The plan file: what `Plan.new` records, the write/read round trip, and the checksum guard.

A plan is the reviewed contract between `plan` and `apply`: a hand-edited change must be
refused before anything is written, an unreadable file must be a clear usage error, and plans
written by older versions (before findings carried fingerprints) must still apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cfremedy.errors import EXIT_REFUSED, EXIT_USAGE, Refused, UsageError
from cfremedy.models import Change, Finding, Severity
from cfremedy.plan import Plan, PlannedFinding, changes_checksum

ZONE = "plan.example"
ZONE_ID = "9a7806061c88ada191ed06f989cc3dac"
CHANGES = (
    Change("ssl_mode", "setting:ssl", "flexible", "strict", "the origin serves a valid certificate"),
    Change(
        "dns_origin",
        "dns:372e67954025e0ba6aaa6d586b9e0b59",
        {"type": "A", "name": "www.plan.example", "content": "192.0.2.1", "proxied": True},
        {"type": "A", "name": "www.plan.example", "content": "93.184.215.14", "proxied": True},
        "192.0.2.1 is a documentation address",
        lowers_security=False,
    ),
)
FINDINGS = (
    Finding("ssl_mode", Severity.HIGH, (525, 526), "plan.example", "Flexible SSL loops on HTTPS origins", key="zone"),
    Finding(
        "origin_cert_expiry", Severity.MEDIUM, (526,), "www.plan.example", "the origin certificate expires in 9 days"
    ),
    Finding("dns_origin", Severity.CRITICAL, (521,), "www.plan.example", "www points at 192.0.2.1", key="192.0.2.1"),
)
PLAYBOOKS = ("ssl_mode", "origin_cert_expiry", "dns_origin")


def plan() -> Plan:
    return Plan.new(ZONE, ZONE_ID, CHANGES, FINDINGS, PLAYBOOKS)


def written(tmp_path: Path, data: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_new_plan_records_every_finding_with_its_fingerprint_and_whether_a_change_addresses_it() -> None:
    made = plan()
    assert (made.zone, made.zone_id, made.changes, made.playbooks) == (ZONE, ZONE_ID, CHANGES, PLAYBOOKS)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made.created_at), made.created_at
    assert made.findings == (
        PlannedFinding(
            "ssl_mode",
            "plan.example",
            (525, 526),
            "high",
            "Flexible SSL loops on HTTPS origins",
            FINDINGS[0].fingerprint(ZONE),
            True,
        ),
        # No change of origin_cert_expiry in the plan: applying it will not resolve this one.
        PlannedFinding(
            "origin_cert_expiry",
            "www.plan.example",
            (526,),
            "medium",
            "the origin certificate expires in 9 days",
            FINDINGS[1].fingerprint(ZONE),
            False,
        ),
        PlannedFinding(
            "dns_origin",
            "www.plan.example",
            (521,),
            "critical",
            "www points at 192.0.2.1",
            FINDINGS[2].fingerprint(ZONE),
            True,
        ),
    )
    assert len({f.fingerprint for f in made.findings}) == 3
    assert made.findings[0].key == ("ssl_mode", "plan.example", (525, 526))


def test_a_plan_without_changes_addresses_none_of_its_findings() -> None:
    empty = Plan.new(ZONE, ZONE_ID, (), FINDINGS, PLAYBOOKS)
    assert [f.addressed for f in empty.findings] == [False, False, False]
    assert empty.checksum == changes_checksum(())


def test_the_checksum_covers_the_changes_and_only_the_changes() -> None:
    made = plan()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", made.checksum)
    assert made.checksum == changes_checksum(CHANGES)
    assert Plan.new(ZONE, ZONE_ID, CHANGES).checksum == made.checksum  # findings are not covered
    edited = (CHANGES[0], replace(CHANGES[1], after={**CHANGES[1].after, "proxied": False}))
    assert changes_checksum(edited) != made.checksum
    assert changes_checksum(tuple(reversed(CHANGES))) != made.checksum  # the order is applied too


def test_a_written_plan_reads_back_equal(tmp_path: Path) -> None:
    made = plan()
    path = tmp_path / "plan.json"
    made.write(path)
    assert Plan.read(path) == made
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["checksum"] == made.checksum
    assert data["playbooks"] == list(PLAYBOOKS)
    assert [f["addressed"] for f in data["findings"]] == [True, False, True]


def test_editing_a_changes_after_value_is_refused_by_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan().write(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["changes"][0]["after"] = "full"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(Refused, match="checksum mismatch") as caught:
        Plan.read(path)
    assert str(path) in caught.value.message
    assert caught.value.exit_code == EXIT_REFUSED
    assert "never edit a plan by hand" in caught.value.hint


def test_the_informational_fields_may_be_read_and_changed_without_breaking_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan().write(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["findings"][1]["message"] = "renewed yesterday"
    data["created_at"] = "2020-01-01T00:00:00Z"
    path.write_text(json.dumps(data), encoding="utf-8")
    read = Plan.read(path)
    assert read.findings[1].message == "renewed yesterday"
    assert read.changes == CHANGES


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{ not json", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[1, 2, 3]", "is not a cfremedy plan"),
        ('"a plan"', "is not a cfremedy plan"),
    ],
)
def test_a_file_that_is_not_a_plan_object_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = written(tmp_path, content)
    with pytest.raises(UsageError, match=message) as caught:
        Plan.read(path)
    assert str(path) in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("missing", ["zone", "zone_id", "changes", "checksum"])
def test_a_plan_without_a_required_key_is_a_usage_error_naming_it(tmp_path: Path, missing: str) -> None:
    data = plan().to_dict()
    del data[missing]
    with pytest.raises(UsageError, match=f"not a cfremedy plan \\(missing '{missing}'\\)"):
        Plan.read(written(tmp_path, data))


@pytest.mark.parametrize("changes", [42, [{"target": "setting:ssl"}], ["setting:ssl"]])
def test_a_plan_whose_changes_are_malformed_is_a_usage_error(tmp_path: Path, changes: Any) -> None:
    data = {**plan().to_dict(), "changes": changes}
    with pytest.raises(UsageError, match="not a (usable )?cfremedy plan"):
        Plan.read(written(tmp_path, data))


def test_a_missing_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read plan .*No such file"):
        Plan.read(tmp_path / "absent.json")


def test_a_plan_from_before_fingerprints_still_reads_with_its_findings_taken_as_addressed(tmp_path: Path) -> None:
    old = {
        "schema_version": 1,
        "tool": {"name": "cfremedy", "version": "0.0.9"},
        "zone": ZONE,
        "zone_id": ZONE_ID,
        "created_at": "2025-06-01T10:00:00Z",
        "changes": [
            {
                "playbook": "ssl_mode",
                "target": "setting:ssl",
                "before": "flexible",
                "after": "strict",
                "reason": "the origin serves a valid certificate",
                "lowers_security": False,
            }
        ],
        "checksum": changes_checksum(CHANGES[:1]),
        "findings": [
            {
                "playbook": "ssl_mode",
                "resource": "plan.example",
                "error_codes": [525],
                "severity": "high",
                "message": "Flexible SSL loops",
            }
        ],
    }
    read = Plan.read(written(tmp_path, old))
    assert read.changes == CHANGES[:1]
    assert read.playbooks == ()
    assert read.findings == (
        PlannedFinding("ssl_mode", "plan.example", (525,), "high", "Flexible SSL loops", "", True),
    )


def test_a_plan_with_a_non_numeric_error_code_is_a_usage_error(tmp_path: Path) -> None:
    data = plan().to_dict()
    data["findings"][0]["error_codes"] = ["five-twenty-five"]
    with pytest.raises(UsageError):
        Plan.read(written(tmp_path, data))


def test_a_binary_file_is_not_a_plan_either(tmp_path: Path) -> None:
    path = tmp_path / "plan.json.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe binary")
    with pytest.raises(UsageError):
        Plan.read(path)
