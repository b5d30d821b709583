"""The SARIF, JUnit and Markdown reports, built from plain model values.

Each format is checked against what its consumer needs: the published schema (SARIF, JUnit),
the identity GitHub tracks alerts by, counts a CI viewer shows, and text that a hostile
certificate subject or message cannot break out of.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import xmlschema

from cfremedy.models import (
    Change,
    Finding,
    Report,
    Severity,
    StageError,
    Suppression,
    ZoneReport,
    frozen_mapping,
)
from cfremedy.registry import load_registry
from cfremedy.reporters import FORMATS, render
from cfremedy.reporters.junit import render_junit
from cfremedy.reporters.markdown import render_markdown
from cfremedy.reporters.sarif import artifact_uri, render_sarif
from tests.support import JUNIT_XSD, SARIF_SCHEMA

PLAYBOOKS = load_registry().playbooks
ARTICLE = (
    "https://developers.cloudflare.com/support/troubleshooting/cloudflare-errors/troubleshooting-cloudflare-5xx-errors/"
)
NASTY = 'Cert "CN=<script>alert(1)</script>" & issuer | A|B\nsecond line: café ✓'
REASON = 'Migration <b>in progress</b> | until Q3 & then "fixed"'

CRITICAL = Finding(
    playbook="ssl_origin_cert",
    severity=Severity.CRITICAL,
    error_codes=(526,),
    resource="www.example.com",
    message=NASTY,
    evidence=frozen_mapping({"ssl_mode": "strict", "origin": "192.0.2.10"}),
    docs_url=ARTICLE + "#error-526-invalid-ssl-certificate",
    remediation=("Install an Origin CA certificate.", "Set SSL/TLS back to Full (strict)."),
    key="192.0.2.10",
)
SECOND_ORIGIN = replace(
    CRITICAL,
    key="192.0.2.11",
    message="Full (strict) cannot validate 192.0.2.11",
    evidence=frozen_mapping({"ssl_mode": "strict", "origin": "192.0.2.11"}),
)
HIGH = Finding(
    playbook="http2_to_origin",
    severity=Severity.HIGH,
    error_codes=(520,),
    resource="api.example.com",
    message="api.example.com offers h2 but resets streams",
    docs_url=ARTICLE + "#error-520-web-server-returns-an-unknown-error",
    key="192.0.2.20",
)
SUPPRESSED = Finding(
    playbook="origin_ip",
    severity=Severity.CRITICAL,
    error_codes=(522,),
    resource="legacy.example.com",
    message="legacy.example.com points at 10.0.0.5",
    key="rec1",
    suppression=Suppression(REASON, "cfremedy.toml ignore[0]", date(2030, 1, 31)),
)
MEDIUM = Finding(
    playbook="proxy_read_timeout",
    severity=Severity.MEDIUM,
    error_codes=(524,),
    resource="shop.example.net/export",
    message="/export takes 180 s; the timeout is 100 s",
)
LOW = Finding(
    playbook="ssl_origin_cert",
    severity=Severity.LOW,
    error_codes=(),
    resource="shop.example.net",
    message="SSL mode is full; every origin passes strict",
)
INFO = Finding(
    playbook="ssl_origin_cert",
    severity=Severity.INFO,
    error_codes=(),
    resource="shop.example.net",
    message="SSL mode 'origin_pull' is not one cfremedy knows",
)
CHANGES = (
    Change(
        "ssl_origin_cert",
        "setting:ssl",
        "strict",
        "full",
        "Full (strict) rejects www's certificate",
        lowers_security=True,
    ),
    Change(
        "origin_ip",
        "dns:rec9",
        {"name": "www", "type": "A", "content": "10.0.0.1"},
        {"name": "www", "type": "A", "content": "203.0.113.7"},
        "the inventory says | 203.0.113.7",
    ),
)
API_ERROR = StageError("api", "broken.example.org", "403 Forbidden: missing <Zone Read> & more")

REPORT = Report(
    zones=(
        ZoneReport(
            "example.com",
            id="023e105f4ecef8ad9ca31a8372d0c353",
            plan="enterprise",
            findings=(CRITICAL, SECOND_ORIGIN, HIGH, SUPPRESSED),
            changes=CHANGES,
        ),
        ZoneReport("shop.example.net", id="b1", plan="pro", findings=(MEDIUM, LOW, INFO)),
        ZoneReport("broken.example.org", id="c2", plan="free", errors=(API_ERROR,)),
        ZoneReport("clean.example.com", id="d3", plan="free"),
    ),
    generated_at="2024-08-01T12:00:00Z",
    baseline="last",
    baseline_known=3,
)
EMPTY = Report(zones=())
# A report only the findings describe: a playbook the registry does not know.
UNKNOWN = Report(
    zones=(
        ZoneReport(
            "x.example",
            findings=(
                Finding(
                    "custom_check",
                    Severity.MEDIUM,
                    (502,),
                    "x.example",
                    "custom says <no>",
                    docs_url="https://example.com/custom",
                ),
            ),
        ),
    )
)

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# RFC 3986 characters: the schema's uri-reference format is not checked without extra packages.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


@cache
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text("utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


@cache
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def sarif(report: Report = REPORT, playbooks: Any = PLAYBOOKS) -> dict[str, Any]:
    return json.loads(render_sarif(report, playbooks))


def results_by_message(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["message"]["text"]: r for r in log["runs"][0]["results"]}


# --- SARIF ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "report,playbooks",
    [(REPORT, PLAYBOOKS), (EMPTY, PLAYBOOKS), (EMPTY, ()), (UNKNOWN, ()), (REPORT, ())],
    ids=["full", "empty", "empty-no-playbooks", "unknown-playbook", "no-playbooks"],
)
def test_sarif_validates_against_the_schema(report: Report, playbooks: Any) -> None:
    log = sarif(report, playbooks)
    errors = [e.message for e in sarif_validator().iter_errors(log)]
    assert errors == []
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert URI_REFERENCE.fullmatch(uri), uri
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and len(rule["fullDescription"]["text"]) <= 1024


def test_sarif_has_one_rule_per_playbook_with_its_docs_and_level() -> None:
    rules = sarif(EMPTY)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [p.id for p in PLAYBOOKS]
    for rule, playbook in zip(rules, PLAYBOOKS, strict=False):
        assert rule["helpUri"] == playbook.docs_url
        assert urlparse(rule["helpUri"]).scheme == "https"
        assert rule["defaultConfiguration"]["level"] == LEVEL[playbook.severity]
        assert rule["shortDescription"]["text"] == playbook.title
        assert "Anti-pattern" in rule["help"]["markdown"] and "Fix" in rule["help"]["text"]
        properties = rule["properties"]
        assert "security" in properties["tags"] and properties["precision"] == "high"
        if playbook.severity is Severity.INFO:
            assert "security-severity" not in properties  # info has no security severity
            continue
        score = float(properties["security-severity"])  # a string, as GitHub wants
        assert isinstance(properties["security-severity"], str)
        low, high = {
            Severity.CRITICAL: (9.0, 10.0),
            Severity.HIGH: (7.0, 8.9),
            Severity.MEDIUM: (4.0, 6.9),
            Severity.LOW: (0.1, 3.9),
        }[playbook.severity]
        assert low < score <= high


def test_sarif_result_levels_follow_each_findings_severity() -> None:
    results = results_by_message(sarif())
    for finding in (CRITICAL, HIGH, MEDIUM, LOW, INFO):
        assert results[finding.message]["level"] == LEVEL[finding.severity], finding.severity
        assert results[finding.message]["properties"]["severity"] == finding.severity.value


def test_sarif_rule_index_points_at_the_results_rule() -> None:
    run = sarif()["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == 7
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_fingerprint_is_the_findings_and_stable() -> None:
    first, second = results_by_message(sarif()), results_by_message(sarif())
    fingerprint = first[CRITICAL.message]["partialFingerprints"]
    assert fingerprint["cfremedyFindingHash/v1"] == CRITICAL.fingerprint("example.com")
    assert fingerprint["primaryLocationLineHash"] == CRITICAL.fingerprint("example.com") + ":1"
    assert second[CRITICAL.message]["partialFingerprints"] == fingerprint
    # Reworded message, same problem: same alert.
    reworded = Report(zones=(ZoneReport("example.com", findings=(replace(CRITICAL, message="new words"),)),))
    assert results_by_message(sarif(reworded))["new words"]["partialFingerprints"] == fingerprint
    # Same playbook and resource, another origin (`key`): another alert.
    other = first[SECOND_ORIGIN.message]["partialFingerprints"]["cfremedyFindingHash/v1"]
    assert other == SECOND_ORIGIN.fingerprint("example.com")
    assert other != fingerprint["cfremedyFindingHash/v1"]


def test_sarif_findings_sharing_an_identity_stay_two_alerts() -> None:
    # LOW and INFO: same playbook and resource, no key, no codes, so the same fingerprint.
    assert LOW.fingerprint("shop.example.net") == INFO.fingerprint("shop.example.net")
    results = results_by_message(sarif())
    hashes = [results[f.message]["partialFingerprints"]["primaryLocationLineHash"] for f in (LOW, INFO)]
    assert hashes == [LOW.fingerprint("shop.example.net") + ":1", LOW.fingerprint("shop.example.net") + ":2"]


def test_sarif_location_is_a_stable_virtual_path_with_a_logical_location() -> None:
    location = results_by_message(sarif())[MEDIUM.message]["locations"][0]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "cloudflare/shop.example.net/shop.example.net%2Fexport"
    assert physical["region"]["startLine"] == 1
    logical = location["logicalLocations"][0]
    assert logical["name"] == MEDIUM.resource
    assert logical["fullyQualifiedName"] == "shop.example.net/shop.example.net/export"
    assert artifact_uri("Example.COM", "WWW.example.com") == "cloudflare/example.com/www.example.com"
    assert artifact_uri("example.com", "..") == "cloudflare/example.com/%2E%2E"
    assert artifact_uri("example.com", "a b<|>") == "cloudflare/example.com/a%20b%3C%7C%3E"


def test_sarif_keeps_suppressed_findings_as_suppressed_results() -> None:
    results = results_by_message(sarif())
    suppressed = results[SUPPRESSED.message]
    assert suppressed["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": REASON,
            "properties": {"rule": "cfremedy.toml ignore[0]", "until": "2030-01-31"},
        }
    ]
    assert all("suppressions" not in r for m, r in results.items() if m != SUPPRESSED.message)


def test_sarif_zone_errors_are_tool_notifications() -> None:
    invocation = sarif()["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and API_ERROR.message in note["message"]["text"]
    assert note["properties"] == {"zone": "broken.example.org", "stage": "api", "resource": "broken.example.org"}
    assert sarif(EMPTY)["runs"][0]["invocations"][0] == {"executionSuccessful": True, "toolExecutionNotifications": []}


def test_a_zone_judged_without_its_rules_is_a_warning_not_a_failed_run() -> None:
    degraded = StageError("rules", "ok.example.org", "token lacks Config Rules Read; SSL modes were judged zone-wide")
    log = sarif(Report(zones=(ZoneReport(name="ok.example.org", errors=(degraded,)),)))
    invocation = log["runs"][0]["invocations"][0]
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and invocation["executionSuccessful"] is True
    sarif_validator().validate(log)


def test_sarif_category_and_messages() -> None:
    run = sarif()["runs"][0]
    assert run["automationDetails"]["id"] == "cfremedy/audit/"
    assert (
        json.loads(render_sarif(EMPTY, category="cfremedy/audit/shard-2"))["runs"][0]["automationDetails"]["id"]
        == "cfremedy/audit/shard-2/"
    )
    assert "café ✓" in render_sarif(REPORT, PLAYBOOKS)  # UTF-8, not \u escapes
    assert run["properties"]["summary"]["suppressed"] == 1


def test_sarif_without_playbooks_derives_rules_from_findings() -> None:
    rules = sarif(UNKNOWN, ())["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["custom_check"]
    assert rules[0]["helpUri"] == "https://example.com/custom"
    assert rules[0]["defaultConfiguration"]["level"] == "warning"
    with_registry = sarif(UNKNOWN)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in with_registry] == [*(p.id for p in PLAYBOOKS), "custom_check"]
    assert sarif(UNKNOWN)["runs"][0]["results"][0]["ruleIndex"] == len(PLAYBOOKS)


# --- JUnit ---------------------------------------------------------------------------------


def junit(report: Report = REPORT, playbooks: Any = PLAYBOOKS) -> ET.Element:
    return ET.fromstring(render_junit(report, playbooks))


def suite(root: ET.Element, name: str) -> ET.Element:
    [found] = [s for s in root.iter("testsuite") if s.get("name") == name]
    return found


def case(root: ET.Element, zone: str, name: str) -> ET.Element:
    [found] = [c for c in suite(root, zone).iter("testcase") if c.get("name") == name]
    return found


@pytest.mark.parametrize(
    "report,playbooks",
    [(REPORT, PLAYBOOKS), (EMPTY, PLAYBOOKS), (REPORT, ()), (UNKNOWN, ())],
    ids=["full", "empty", "no-playbooks", "unknown-playbook"],
)
def test_junit_validates_against_the_xsd(report: Report, playbooks: Any) -> None:
    text = render_junit(report, playbooks)
    junit_schema().validate(text)  # raises with the offending element


def test_junit_counts_per_zone_and_in_total() -> None:
    root = junit()
    n = len(PLAYBOOKS)
    expected = {  # tests, failures, errors, skipped
        "example.com": (n, 2, 0, 0),  # ssl_origin_cert and http2 fail; origin_ip is suppressed
        "shop.example.net": (n, 2, 0, 0),  # ssl_origin_cert (low, info) and proxy_read_timeout
        "broken.example.org": (n + 1, 0, 1, n),  # never read: playbooks skipped, `audit` errors
        "clean.example.com": (n, 0, 0, 0),
    }
    for name, (tests, failures, errors, skipped) in expected.items():
        s = suite(root, name)
        assert (s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) == (
            str(tests),
            str(failures),
            str(errors),
            str(skipped),
        ), name
        assert len(s.findall("testcase")) == tests
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (str(4 * n + 1), "4", "1")
    ssl = case(root, "example.com", "ssl_origin_cert")
    assert ssl.get("classname") == "example.com"
    assert [f.get("type") for f in ssl.findall("failure")] == ["critical", "critical"]
    assert len(case(root, "shop.example.net", "ssl_origin_cert").findall("failure")) == 2


def test_junit_suppressed_findings_are_not_failures() -> None:
    root = junit()
    origin_ip = case(root, "example.com", "origin_ip")
    assert origin_ip.findall("failure") == []
    out = origin_ip.findtext("system-out")
    assert "SUPPRESSED" in out and REASON in out and SUPPRESSED.message in out and "2030-01-31" in out
    assert all(f.get("message") != SUPPRESSED.message for f in root.iter("failure"))


def test_junit_text_round_trips_escaping() -> None:
    failure = case(junit(), "example.com", "ssl_origin_cert").findall("failure")[0]
    assert failure.get("message") == NASTY
    assert "resource: www.example.com" in failure.text and "error codes: 526" in failure.text
    assert "Install an Origin CA certificate." in failure.text and CRITICAL.docs_url in failure.text
    assert '"origin": "192.0.2.10"' in failure.text


def test_junit_failed_audit_is_an_error_and_its_playbooks_are_skipped() -> None:
    root = junit()
    [error] = case(root, "broken.example.org", "audit").findall("error")
    assert error.get("type") == "api" and error.get("message") == API_ERROR.message
    assert case(root, "broken.example.org", "origin_ip").find("skipped") is not None
    assert case(root, "clean.example.com", "origin_ip").find("skipped") is None


def test_junit_control_characters_still_give_parseable_xml() -> None:
    bell = Report(zones=(ZoneReport("z.example", findings=(replace(HIGH, message="beep\x07\x00end"),)),))
    text = render_junit(bell, PLAYBOOKS)
    junit_schema().validate(text)
    assert (
        case(ET.fromstring(text), "z.example", "http2_to_origin").find("failure").get("message") == "beep\\x07\\x00end"
    )


# --- Markdown ------------------------------------------------------------------------------


def cells(row: str) -> list[str]:
    """Split a table row on pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_markdown_summary_counts() -> None:
    lines = render_markdown(REPORT, PLAYBOOKS).splitlines()
    header = lines.index(next(line for line in lines if line.startswith("| Zones |")))
    row = dict(zip(cells(lines[header]), cells(lines[header + 2]), strict=False))
    assert row == {
        "Zones": "4",
        "Findings": "6",
        "Critical": "2",
        "High": "1",
        "Medium": "1",
        "Low": "1",
        "Info": "1",
        "Suppressed": "1",
        "Changes": "2",
        "Errors": "1",
    }
    text = "\n".join(lines)
    assert "**6 finding(s)** in 2 of 4 zone(s); worst: **critical**" in text
    assert "3 known finding(s) left out" in text


def test_markdown_escapes_text_from_the_report() -> None:
    text = render_markdown(REPORT, PLAYBOOKS)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text and "&amp; issuer" in text and "café ✓" in text
    [row] = [line for line in text.splitlines() if "issuer" in line]
    assert "A\\|B<br>second line" in row
    assert len(cells(row)) == 5  # severity, playbook, codes, resource, finding: nothing split
    assert "403 Forbidden: missing &lt;Zone Read&gt; &amp; more" in text


def test_markdown_lists_suppressed_findings_apart() -> None:
    text = render_markdown(REPORT, PLAYBOOKS)
    section = text.split("### example.com")[1].split("###")[0]
    main_table, collapsed = section.split("<details>")
    assert SUPPRESSED.message not in main_table
    assert "1 suppressed finding(s)" in collapsed and SUPPRESSED.message in collapsed
    assert "Migration &lt;b&gt;in progress&lt;/b&gt; \\| until Q3" in collapsed
    assert "**lowers security**" in main_table and "shop.example.net/export" not in section


def test_markdown_keeps_clean_zones_to_one_collapsed_list() -> None:
    many = Report(zones=(REPORT.zones[0], *(ZoneReport(f"z{i}.example") for i in range(1000))))
    text = render_markdown(many, PLAYBOOKS)
    assert "1000 zone(s) without findings" in text
    assert text.count("###") == 1 and "z999.example" in text
    assert len(text) < 30_000


def test_markdown_empty_report() -> None:
    text = render_markdown(EMPTY, PLAYBOOKS)
    assert "**No findings** in 0 zone(s)." in text
    assert "###" not in text and "<details>" not in text


# --- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown"])
def test_render_dispatches_new_formats(fmt: str) -> None:
    assert fmt in FORMATS
    direct = {"sarif": render_sarif, "junit": render_junit, "markdown": render_markdown}[fmt]
    assert render(REPORT, fmt, playbooks=PLAYBOOKS) == direct(REPORT, PLAYBOOKS)
    assert render(REPORT, fmt) == direct(REPORT, ())  # callers that pass no playbooks still work


def test_render_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="yaml"):
        render(REPORT, "yaml")
