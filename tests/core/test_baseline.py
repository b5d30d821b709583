"""Baselines and diffs: finding identity by fingerprint, report files, and what counts as new.

`--baseline` decides which findings fail CI and `cfremedy diff` tells a team what changed
between two audits; both rest on fingerprints. A known finding must never be reported as new,
a new one must never be hidden, and a file that cannot serve as a baseline must say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cfremedy.baseline import diff_reports, fingerprints, load_report_file, subtract_baseline
from cfremedy.errors import EXIT_USAGE, UsageError
from cfremedy.models import Finding, Report, Severity, ZoneReport
from cfremedy.report import report_dict

SSL = Finding("ssl_mode", Severity.HIGH, (525,), "a.example", "Flexible SSL loops", key="zone")
ORIGIN = Finding(
    "dns_origin", Severity.CRITICAL, (521, 522), "www.a.example", "www points at 192.0.2.1", key="192.0.2.1"
)
HTTP2 = Finding("origin_http2", Severity.MEDIUM, (520,), "api.b.example", "the origin cannot speak h2")


def report(*zones: tuple[str, tuple[Finding, ...]]) -> Report:
    return Report(
        zones=tuple(ZoneReport(name, id=f"id-{name}", findings=fs) for name, fs in zones),
        scope="all zones",
        generated_at="2026-11-21T12:00:00Z",
    )


BASE = report(("a.example", (SSL, ORIGIN)), ("b.example", (HTTP2,)))


def test_fingerprints_of_a_json_report_are_those_of_its_findings_in_their_zones() -> None:
    found = fingerprints(report_dict(BASE), "base.json")
    assert found == {SSL.fingerprint("a.example"), ORIGIN.fingerprint("a.example"), HTTP2.fingerprint("b.example")}
    assert len(found) == 3
    assert fingerprints({"zones": []}, "empty.json") == set()
    assert fingerprints({"zones": [{"name": "a.example", "findings": []}]}, "clean.json") == set()


def test_a_fingerprint_is_the_findings_identity_not_its_wording_or_severity() -> None:
    reworded = Finding("ssl_mode", Severity.CRITICAL, (525,), "A.Example", "reworded", key="zone")
    assert reworded.fingerprint("A.EXAMPLE") == SSL.fingerprint("a.example")
    assert SSL.fingerprint("other.example") != SSL.fingerprint("a.example")
    other_codes = Finding("ssl_mode", Severity.HIGH, (526,), "a.example", "m", key="zone")
    assert other_codes.fingerprint("a.example") != SSL.fingerprint("a.example")


def test_a_report_whose_findings_carry_no_fingerprint_cannot_be_a_baseline() -> None:
    old = report_dict(BASE)
    del old["zones"][1]["findings"][0]["fingerprint"]
    with pytest.raises(UsageError, match="findings carry no fingerprint") as caught:
        fingerprints(old, "old-report.json")
    assert caught.value.message.startswith("old-report.json: ")


def test_a_report_file_reads_back_as_the_report_written(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    data = report_dict(BASE)
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_report_file(path) == data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<html>not json</html>", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[]", "is not a cfremedy JSON report"),
        ('{"findings": []}', "is not a cfremedy JSON report"),
        ('"zones"', "is not a cfremedy JSON report"),
    ],
)
def test_a_file_that_is_not_a_json_report_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "report.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        load_report_file(path)
    assert str(path) in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_a_missing_report_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read .*absent.json: No such file"):
        load_report_file(tmp_path / "absent.json")


def test_a_binary_file_is_not_a_json_report_either(tmp_path: Path) -> None:
    path = tmp_path / "report.json.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe binary")
    with pytest.raises(UsageError):
        load_report_file(path)


def test_subtracting_a_baseline_keeps_only_new_findings_and_counts_the_known_ones() -> None:
    known = fingerprints(report_dict(BASE), "base.json") | {"f" * 32}  # and one long since resolved
    new_here = Finding("ssl_mode", Severity.HIGH, (526,), "a.example", "invalid origin certificate")
    moved = HTTP2  # the same finding in another zone is another finding
    current = report(("a.example", (SSL, new_here, ORIGIN)), ("b.example", (HTTP2,)), ("c.example", (moved,)))

    result = subtract_baseline(current, known, "base.json")

    assert [(z.name, z.findings) for z in result.zones] == [
        ("a.example", (new_here,)),
        ("b.example", ()),
        ("c.example", (moved,)),
    ]
    assert (result.baseline, result.baseline_known) == ("base.json", 3)
    assert (result.scope, result.generated_at) == (current.scope, current.generated_at)
    assert [z.id for z in result.zones] == ["id-a.example", "id-b.example", "id-c.example"]
    assert len(current.findings) == 5  # pure: the input is untouched
    summary = report_dict(result)["summary"]
    assert summary["findings"] == 2
    assert summary["baseline"] == {"source": "base.json", "known_findings_left_out": 3}


def test_an_empty_baseline_leaves_every_finding_new() -> None:
    result = subtract_baseline(BASE, set(), "empty.json")
    assert result.findings == BASE.findings
    assert (result.baseline, result.baseline_known) == ("empty.json", 0)


def test_a_diff_lists_the_findings_that_appeared_and_those_resolved_by_fingerprint() -> None:
    new_a = Finding("ssl_mode", Severity.HIGH, (526,), "a.example", "invalid origin certificate")
    new_0 = Finding("dns_origin", Severity.HIGH, (521,), "api.0.example", "api points at 10.0.0.1", key="10.0.0.1")
    reworded_origin = Finding("dns_origin", Severity.HIGH, (521, 522), "www.a.example", "new wording", key="192.0.2.1")
    old = report_dict(BASE)
    new = report_dict(report(("a.example", (new_a, reworded_origin)), ("0.example", (new_0,))))

    diff = diff_reports(old, new, "audit 1", "audit 2")

    assert (diff.old, diff.new) == ("audit 1", "audit 2")
    # Sorted by zone; the reworded finding is the same finding, so it is neither.
    assert [(zone, f["fingerprint"]) for zone, f in diff.appeared] == [
        ("0.example", new_0.fingerprint("0.example")),
        ("a.example", new_a.fingerprint("a.example")),
    ]
    assert [(zone, f["fingerprint"]) for zone, f in diff.resolved] == [
        ("a.example", SSL.fingerprint("a.example")),
        ("b.example", HTTP2.fingerprint("b.example")),
    ]
    as_dict = diff.to_dict()
    assert (as_dict["old"], as_dict["new"]) == ("audit 1", "audit 2")
    assert [(r["zone"], r["playbook"], r["message"]) for r in as_dict["new_findings"]] == [
        ("0.example", "dns_origin", "api points at 10.0.0.1"),
        ("a.example", "ssl_mode", "invalid origin certificate"),
    ]
    assert [r["resource"] for r in as_dict["resolved_findings"]] == ["a.example", "api.b.example"]


def test_identical_reports_differ_by_nothing() -> None:
    diff = diff_reports(report_dict(BASE), report_dict(BASE), "old", "new")
    assert (diff.appeared, diff.resolved) == ((), ())
    assert diff.to_dict()["new_findings"] == [] and diff.to_dict()["resolved_findings"] == []


_DIFF_ORDER = """
import json
from cfremedy.baseline import diff_reports
new = {"zones": [{"name": "a.example",
                  "findings": [{"fingerprint": f"{i:032x}", "message": str(i)} for i in range(8)]}]}
print(json.dumps([f["fingerprint"] for _, f in diff_reports({"zones": []}, new, "old", "new").appeared]))
"""


def test_a_diff_lists_findings_in_the_same_order_on_every_run() -> None:
    orders = set()
    for seed in range(6):
        done = subprocess.run(
            [sys.executable, "-c", _DIFF_ORDER],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
            check=True,
        )
        orders.add(done.stdout)
    assert len(orders) == 1, orders
