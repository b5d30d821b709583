"""The plan file: what `Plan.new` records, the write/read round trip, and the seal.

A plan is the reviewed contract between `plan` and `apply`: a hand-edited change or a plan
retargeted at another zone must be refused before anything is written, an unreadable file must
be a clear usage error, and plans whose findings predate fingerprints must still apply.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cfremedy.errors import EXIT_REFUSED, EXIT_USAGE, Refused, UsageError
from cfremedy.models import Change, Finding, Severity
from cfremedy.plan import (
    MAX_PLAN_BYTES,
    MAX_PLAN_CHANGES,
    PLAN_SCHEMA_VERSION,
    Plan,
    PlannedFinding,
    canonical_content,
    seal,
    summary_line,
)
from cfremedy.report import change_dict, change_from_dict

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


def sealed_findings(data: dict[str, Any]) -> list[PlannedFinding]:
    """The findings as the seal sees them (message and severity are not covered)."""
    return [
        PlannedFinding(
            f["playbook"],
            f["resource"],
            tuple(f.get("error_codes", ())),
            "",
            "",
            f.get("fingerprint", ""),
            f.get("addressed", True),
        )
        for f in data.get("findings", ())
    ]


def resealed(data: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """What anyone who can edit the file can do: recompute the unkeyed checksum (or, holding
    the key, the HMAC) over whatever the file now says."""
    changes = [change_from_dict(c) for c in data["changes"]]
    content = canonical_content(
        data["zone"], data["zone_id"], changes, data.get("playbooks", ()), sealed_findings(data)
    )
    return {**data, "checksum": seal(content, key)}


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
    assert empty.checksum == seal(canonical_content(ZONE, ZONE_ID, (), PLAYBOOKS, empty.findings))
    assert len(empty.manual) == 3


def test_the_checksum_covers_what_apply_acts_on_and_not_messages_or_severities() -> None:
    made = plan()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", made.checksum)
    covered = json.loads(made.content)
    written_findings = made.to_dict()["findings"]
    assert covered == {
        "schema_version": PLAN_SCHEMA_VERSION,
        "zone": ZONE,
        "zone_id": ZONE_ID,
        "changes": made.to_dict()["changes"],
        "playbooks": list(PLAYBOOKS),
        "findings": [{k: v for k, v in f.items() if k not in ("message", "severity")} for f in written_findings],
    }
    assert made.content == json.dumps(covered, sort_keys=True, separators=(",", ":")).encode()  # canonical
    assert Plan.new(ZONE, ZONE_ID, CHANGES).checksum != made.checksum  # findings and playbooks are covered
    reworded = tuple(replace(f, message="reworded", severity="low") for f in made.findings)
    assert replace(made, findings=reworded).checksum == made.checksum  # their wording is not
    edited = (CHANGES[0], replace(CHANGES[1], after={**CHANGES[1].after, "proxied": False}))
    assert seal(canonical_content(ZONE, ZONE_ID, edited)) != made.checksum
    assert seal(canonical_content(ZONE, ZONE_ID, tuple(reversed(CHANGES)))) != made.checksum  # order counts
    assert seal(canonical_content("other.example", ZONE_ID, CHANGES)) != made.checksum
    assert seal(canonical_content(ZONE, "0" * 32, CHANGES)) != made.checksum


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


@pytest.mark.parametrize("missing", ["schema_version", "zone", "zone_id", "changes", "checksum"])
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


def test_a_plan_whose_findings_predate_fingerprints_still_reads_with_them_taken_as_addressed(tmp_path: Path) -> None:
    old = resealed(
        {
            "schema_version": PLAN_SCHEMA_VERSION,
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
    )
    read = Plan.read(written(tmp_path, old))
    assert read.changes == CHANGES[:1]
    assert read.playbooks == ()
    assert read.findings == (
        PlannedFinding("ssl_mode", "plan.example", (525,), "high", "Flexible SSL loops", "", True),
    )


# -- the plan file turned against its own safety checks (issue 13) ---------------------------------


def test_a_plan_retargeted_at_another_zone_is_refused_by_the_checksum(tmp_path: Path) -> None:
    """Zone and zone id were outside the old checksum: editing both applied the changes to
    another zone."""
    data = plan().to_dict()
    data["zone"], data["zone_id"] = "victim.example", "0123456789abcdef0123456789abcdef"
    with pytest.raises(Refused, match="checksum mismatch") as caught:
        Plan.read(written(tmp_path, data))
    assert caught.value.exit_code == EXIT_REFUSED


@pytest.mark.parametrize("version", [1, 2, 4, 0, "3", True, None, 3.5])
def test_a_plan_of_an_unknown_schema_version_is_refused(tmp_path: Path, version: Any) -> None:
    data = resealed({**plan().to_dict(), "schema_version": version})
    with pytest.raises(UsageError, match="version [12] plan|schema_version") as caught:
        Plan.read(written(tmp_path, data))
    assert caught.value.exit_code == EXIT_USAGE
    assert "applies version 3 plans only" in caught.value.message


def test_a_version_2_plan_is_refused_saying_its_findings_were_not_sealed(tmp_path: Path) -> None:
    """Version 2 sealed the zone and changes but not the findings and playbooks apply's
    re-audit compares with: it is refused with the reason, not as "edited"."""
    data = plan().to_dict()
    changes = [change_from_dict(c) for c in data["changes"]]
    v2 = {"schema_version": 2, "zone": ZONE, "zone_id": ZONE_ID, "changes": [change_dict(c) for c in changes]}
    canonical = json.dumps(v2, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data.update(schema_version=2, checksum="sha256:" + hashlib.sha256(canonical.encode()).hexdigest())
    with pytest.raises(UsageError, match="version 2 plan, whose checksum does not cover its playbooks and findings"):
        Plan.read(written(tmp_path, data))


def test_a_version_1_plan_with_its_old_changes_only_checksum_is_refused(tmp_path: Path) -> None:
    """Version 1 plans sealed only their changes: accepting them would reopen retargeting."""
    data = plan().to_dict()
    canonical = json.dumps(data["changes"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data.update(schema_version=1, checksum="sha256:" + hashlib.sha256(canonical.encode()).hexdigest())
    with pytest.raises(UsageError, match="version 1 plan, whose checksum does not cover the zone"):
        Plan.read(written(tmp_path, data))


@pytest.mark.parametrize(
    "target",
    [
        "setting:../dns_records/372e67954025e0ba6aaa6d586b9e0b59",
        "setting:../../../user/tokens/x",
        "setting:ssl/../../x",
        "setting:ssl%2F..",
        "setting:ssl ",
        "setting: ssl",
        "setting:s sl",  # (a control character, "setting:ssl\n", is refused before: see below)
        "setting:SSL",
        "setting:",
        "setting:brotli",  # a real setting, but not one cfremedy changes
        "dns:372e67954025e0ba6aaa6d586b9e0b59/../x",
        "dns:../372e67954025e0ba6aaa6d586b9e0b59",
        "dns:372E67954025E0BA6AAA6D586B9E0B59",
        "dns:372e6795",
        "dns:372e67954025e0ba6aaa6d586b9e0b5g",
        "dns:",
        "ssl",
        "zone:ssl",
        "page_rule:372e67954025e0ba6aaa6d586b9e0b59",
    ],
)
def test_a_target_outside_the_grammar_is_refused_even_with_a_recomputed_checksum(tmp_path: Path, target: str) -> None:
    data = plan().to_dict()
    data["changes"][0]["target"] = target
    with pytest.raises(UsageError, match="not a plan cfremedy can apply") as caught:
        Plan.read(written(tmp_path, resealed(data)))
    assert repr(target) in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    "zone_id",
    ["../../user/tokens", "9a7806061c88ada191ed06f989cc3dac/..", "9A7806061C88ADA191ED06F989CC3DAC", "", "x" * 32],
)
def test_a_zone_id_that_is_not_32_lowercase_hex_is_refused(tmp_path: Path, zone_id: str) -> None:
    data = resealed({**plan().to_dict(), "zone_id": zone_id})
    with pytest.raises(UsageError, match="is not 32 lowercase hex digits"):
        Plan.read(written(tmp_path, data))


def test_the_same_target_twice_is_refused(tmp_path: Path) -> None:
    data = plan().to_dict()
    data["changes"].append({**data["changes"][0], "after": "full"})
    with pytest.raises(UsageError, match="appears twice"):
        Plan.read(written(tmp_path, resealed(data)))


def test_a_plan_with_more_changes_than_the_limit_is_refused_before_anything_else(tmp_path: Path) -> None:
    change = plan().to_dict()["changes"][0]
    data = resealed({**plan().to_dict(), "changes": [change] * (MAX_PLAN_CHANGES + 1)})
    with pytest.raises(UsageError, match=f"has {MAX_PLAN_CHANGES + 1} changes, more than the {MAX_PLAN_CHANGES}"):
        Plan.read(written(tmp_path, data))


def test_a_plan_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    data = plan().to_dict()
    data["findings"][0]["message"] = "x" * MAX_PLAN_BYTES
    with pytest.raises(UsageError, match="larger than 8 MiB"):
        Plan.read(written(tmp_path, data))


# -- the plan key (CFREMEDY_PLAN_KEY): an HMAC nobody without the key can forge ----------------------

KEY = b"ci-plan-key-0123456789abcdef"


def test_a_plan_made_with_a_key_is_signed_and_reads_back_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    made = plan()
    made.write(path, KEY)
    recorded = json.loads(path.read_text(encoding="utf-8"))["checksum"]
    assert re.fullmatch(r"hmac:[0-9a-f]{64}", recorded)
    assert Plan.read(path, KEY) == made
    assert made.checksum.startswith("sha256:")  # the plan's identity in the journal stays unkeyed


@pytest.mark.parametrize(
    "made_with, read_with, message",
    [
        (KEY, None, "signed with a CFREMEDY_PLAN_KEY .* and no key is set"),
        (KEY, b"another-key-0123456789abcdef", "HMAC mismatch: the plan was made with another CFREMEDY_PLAN_KEY"),
        (None, KEY, "is not signed .* and CFREMEDY_PLAN_KEY is set: only plans made with the key are accepted"),
    ],
    ids=["signed-read-without-key", "signed-read-with-another-key", "unsigned-read-with-key"],
)
def test_the_key_in_force_decides_which_plans_are_accepted(
    tmp_path: Path, made_with: bytes | None, read_with: bytes | None, message: str
) -> None:
    path = tmp_path / "plan.json"
    plan().write(path, made_with)
    with pytest.raises(Refused, match=message) as caught:
        Plan.read(path, read_with)
    assert caught.value.exit_code == EXIT_REFUSED


def test_with_a_key_a_recomputed_unkeyed_checksum_no_longer_gets_through(tmp_path: Path) -> None:
    data = plan().to_dict(KEY)
    data["changes"][0]["after"] = "off"
    for forged in (resealed(data), {**resealed(data), "checksum": "hmac:" + resealed(data)["checksum"][7:]}):
        with pytest.raises(Refused):
            Plan.read(written(tmp_path, forged), KEY)
    assert Plan.read(written(tmp_path, resealed(data, KEY)), KEY).changes[0].after == "off"  # the key holder can


def test_a_checksum_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    data = {**plan().to_dict(), "checksum": "md5:0123"}
    with pytest.raises(Refused, match="neither sha256: nor hmac:"):
        Plan.read(written(tmp_path, data))


@pytest.mark.parametrize(
    "digest",
    ["é" * 64, "0" * 63 + "٠", "A" * 64, "0" * 63, ""],
    ids=["non-ascii", "arabic-indic-digit", "upper-case", "short", "empty"],
)
@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
def test_a_damaged_checksum_is_refused_like_a_mismatch_not_a_crash(
    tmp_path: Path, digest: str, key: bytes | None
) -> None:
    """A non-ASCII checksum made `hmac.compare_digest` raise TypeError (exit 70)."""
    data = {**plan().to_dict(key), "checksum": ("hmac:" if key else "sha256:") + digest}
    with pytest.raises(Refused, match="damaged checksum: not sha256: or hmac: followed by 64") as caught:
        Plan.read(written(tmp_path, data, name="plan.json"), key)
    assert caught.value.exit_code == EXIT_REFUSED


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("changes", 0, "reason"), "`changes[0].reason`"),
        (("changes", 1, "after", "content"), "`changes[1].after.content`"),
        (("zone",), "`zone`"),
        (("findings", 0, "message"), "`findings[0].message`"),
        (("playbooks", 2), "`playbooks[2]`"),
    ],
)
def test_a_lone_surrogate_in_any_string_is_a_damaged_plan_refused_naming_the_field(
    tmp_path: Path, path: tuple[Any, ...], named: str
) -> None:
    """JSON's `\ud800` escape reads as a lone surrogate, which no UTF-8 seal can cover: it made
    `plan.content` raise UnicodeEncodeError (exit 70)."""
    data = plan().to_dict()
    node: Any = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = "x\ud800"
    text = json.dumps(data)  # ensure_ascii: the file holds the escape, as a hostile one would
    assert "\\ud800" in text
    with pytest.raises(Refused, match="damaged plan") as caught:
        Plan.read(written(tmp_path, text))
    assert caught.value.exit_code == EXIT_REFUSED
    assert f"{named} is not valid Unicode" in caught.value.message
    caught.value.message.encode("utf-8")  # the message itself can be printed


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\n", "\t", "\x7f", "\x85", "\x9b", "\u202e", "\u2066"])
@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("zone",), "`zone`"),
        (("changes", 0, "target"), "`changes[0].target`"),
        (("changes", 0, "after"), "`changes[0].after`"),
        (("changes", 1, "before", "content"), "`changes[1].before.content`"),
        (("changes", 0, "reason"), "`changes[0].reason`"),
        (("findings", 1, "message"), "`findings[1].message`"),
        (("playbooks", 0), "`playbooks[0]`"),
    ],
)
def test_a_control_character_in_any_plan_string_is_a_usage_error_naming_the_field_unechoed(
    tmp_path: Path, char: str, path: tuple[Any, ...], named: str
) -> None:
    data = plan().to_dict()
    node: Any = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = f"{node[path[-1]]}{char}[2J"
    with pytest.raises(UsageError, match="contains a control character") as caught:
        Plan.read(written(tmp_path, resealed(data)))  # the checksum is no defence: it is checked first
    assert caught.value.exit_code == EXIT_USAGE
    assert f"{named} contains a control character (U+{ord(char):04X})" in caught.value.message
    assert caught.value.message.isprintable() and caught.value.hint.isprintable()


def test_a_control_character_in_a_key_is_named_escaped(tmp_path: Path) -> None:
    data = plan().to_dict()
    data["changes"][1]["after"]["\x1b]0;owned\x07"] = 1
    with pytest.raises(UsageError) as caught:
        Plan.read(written(tmp_path, data))
    assert "the key of `changes[1].after.'\\x1b]0;owned\\x07'` contains a control character" in caught.value.message
    assert caught.value.message.isprintable()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["playbooks"].remove("dns_origin"),
        lambda d: d["playbooks"].append("origin_ip"),
        lambda d: d["findings"][0].update(fingerprint="0" * 32),
        lambda d: d["findings"][2].update(fingerprint=""),
        lambda d: d["findings"][1].update(addressed=True),
        lambda d: d["findings"][1].update(resource="other.plan.example"),
        lambda d: d["findings"].pop(),
        lambda d: d["findings"].append({**d["findings"][0], "fingerprint": "f" * 32}),
    ],
    ids=[
        "playbook-dropped",
        "playbook-added",
        "fingerprint-changed",
        "fingerprint-blanked",
        "addressed-flipped",
        "resource-changed",
        "finding-removed",
        "finding-added",
    ],
)
@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
def test_editing_the_playbooks_or_a_findings_identity_breaks_the_seal(
    tmp_path: Path, edit: Any, key: bytes | None
) -> None:
    """They decide what apply's re-audit calls new (exit 1) or resolved: an edited list could
    hide what an apply made worse."""
    data = plan().to_dict(key)
    edit(data)
    with pytest.raises(Refused, match="mismatch") as caught:
        Plan.read(written(tmp_path, data), key)
    assert caught.value.exit_code == EXIT_REFUSED
    assert Plan.read(written(tmp_path, resealed(data, key)), key)  # resealed by the key holder: accepted


# -- subsets and the summary line --------------------------------------------------------------------


def test_a_subset_keeps_the_selected_changes_in_order_and_what_they_address() -> None:
    only_dns = plan().subset(["dns:372e67954025e0ba6aaa6d586b9e0b59"])
    assert only_dns.changes == CHANGES[1:]
    assert [f.addressed for f in only_dns.findings] == [False, False, True]
    assert plan().subset([c.target for c in reversed(CHANGES)]).changes == CHANGES
    with pytest.raises(UsageError, match="--only setting:brotli: the plan has no change to that target") as caught:
        plan().subset(["setting:ssl", "setting:brotli"])
    assert "setting:ssl, dns:372e67954025e0ba6aaa6d586b9e0b59" in caught.value.hint


def test_the_summary_line_counts_changes_and_manual_findings() -> None:
    assert summary_line([plan()]) == "Plan: 2 to change, 1 manual (findings without an automatic fix)."
    empty = Plan.new("calm.example", ZONE_ID, ())
    assert summary_line([empty]) == "Plan: 0 to change, 0 manual (findings without an automatic fix)."
    assert summary_line([plan(), empty, plan()]) == (
        "Plan: 4 to change in 2 of 3 zone(s), 2 manual (findings without an automatic fix)."
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


def test_the_plan_key_setting_is_stripped_blank_means_unset_and_a_short_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pydantic import ValidationError

    from cfremedy.settings import Settings

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("CFREMEDY_PLAN_KEY", "  0123456789abcdef\r\n")  # $(cat key.txt) of a CRLF file
    assert Settings().plan_key_bytes == b"0123456789abcdef"
    monkeypatch.setenv("CFREMEDY_PLAN_KEY", "   ")
    assert Settings().plan_key_bytes is None
    monkeypatch.setenv("CFREMEDY_PLAN_KEY", "0123456789abcde")
    with pytest.raises(ValidationError, match="at least 16 characters") as caught:
        Settings()
    assert "0123456789abcde" not in str(caught.value.errors()[0]["msg"])


def test_a_plan_quoting_control_characters_from_an_origin_is_written_escaped_and_still_applies(tmp_path: Path) -> None:
    """A certificate subject or header quoted in a message must not make cfremedy's own plan
    one its apply refuses: prose is written with its control characters escaped."""
    quoted = "the origin's certificate names evil\x1b[2J.example\nand more\ud800"
    changes = (replace(CHANGES[0], reason="Full (strict) rejects \x1b]0;x\x07"), CHANGES[1])
    findings = (replace(FINDINGS[0], message=quoted), *FINDINGS[1:])
    path = tmp_path / "plan.json"
    Plan.new(ZONE, ZONE_ID, changes, findings, PLAYBOOKS).write(path)
    back = Plan.read(path)
    assert back.findings[0].message == "the origin's certificate names evil\\x1b[2J.example\\nand more\\ud800"
    assert back.changes[0].reason == "Full (strict) rejects \\x1b]0;x\\x07"
    assert all(f.message.isprintable() for f in back.findings)
