"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer).

The choices below follow GitHub's "SARIF support for code scanning" reference
(docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/
sarif-support-for-code-scanning), which lists the subset of SARIF that code scanning reads:

- Rules: one `reportingDescriptor` per playbook passed in, findings or not, so the rule list
  (and every `ruleIndex`) only changes when the playbooks do; GitHub says rules "should change
  infrequently". Playbooks named only by findings get a rule derived from those findings.
  `shortDescription`, `fullDescription` and `help.text` are required by GitHub (non-empty);
  `fullDescription` is capped at GitHub's 1024 characters. `security-severity` is a string
  score GitHub buckets as critical (> 9.0), high (7.0-8.9), medium (4.0-6.9), low (0.1-3.9);
  it only counts with the `security` tag, so every rule carries it. GitHub reads it per rule,
  so the alert's severity is the playbook's default; each result's `level` (and its
  `properties.severity`) carries the finding's own severity.
- Locations: GitHub shows no result without a `physicalLocation`, and findings live in no file.
  Each result gets the virtual, repository-relative path `cloudflare/<zone>/<resource>`
  (lowercase, as `Finding.fingerprint` compares them; each part percent-encoded as a single
  path segment, so a resource such as `www.example.com/api` cannot add directories) with a
  region at line 1, column 1, plus a `logicalLocations` entry naming zone and resource. GitHub
  requires the path to be the same across runs for alerts to be tracked: it is built from
  nothing but zone and resource names.
- Fingerprints: `partialFingerprints["cfremedyFindingHash/v1"]` is `Finding.fingerprint(zone)`,
  the identity baselines use. GitHub's reference says code scanning only uses
  `primaryLocationLineHash`, and `upload-sarif` computes it from the file's line 1 when it is
  missing, but skips files that do not exist (ours never exist), so it is given too, as
  `<fingerprint>:<n>` like CodeQL's `<line hash>:<n>`: n counts results of one zone with the same
  fingerprint (1 unless a playbook reports two findings with the same identity), so the same
  finding maps to the same alert run after run, findings that differ only in `key` stay two
  alerts, and two findings sharing an identity are not merged into one.
- Category: `automationDetails.id` is `<category>/`; GitHub reads everything before the last
  `/` as the category and keeps one analysis per tool and category, so shards of one account
  audit must be uploaded with different categories (pass `category`, or the `category` input of
  `upload-sarif`, which overrides this). The run-id part after the slash is left empty: nothing
  in the file depends on when or where it was rendered beyond the report's `generated_at`.
- Suppressed findings stay results, with a `suppressions` entry (`kind: external`, the reason
  as `justification`). GitHub's reference does not list `suppressions` among the properties it
  reads, so expect them to open alerts like other results (dismiss them there, or filter before
  uploading); in the file they are counted, never hidden, as everywhere else in cfremedy.
- Zone errors are `invocations[0].toolExecutionNotifications` (level `error`), and
  `executionSuccessful` is false when there are any: a zone that could not be audited is not
  silently clean.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from cfremedy import __version__
from cfremedy.models import Finding, PlaybookMeta, Report, Severity, StageError, Suppression, ZoneReport
from cfremedy.report import finding_dict, summary
from cfremedy.reporters.rules import Rule, rules_for

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
DEFAULT_CATEGORY = "cfremedy/audit"
FINGERPRINT_KEY = "cfremedyFindingHash/v1"
URI_ROOT = "cloudflare"
SRCROOT = "%SRCROOT%"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# Inside GitHub's buckets, away from their edges; info has no security severity at all.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
GITHUB_TEXT_LIMIT = 1024  # shortDescription and fullDescription
MAX_EVIDENCE_CHARS = 1024  # evidence is context, not payload: large certificates stay out


def _clip(text: str, limit: int = GITHUB_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rule_name(rule_id: str) -> str:
    """SARIF wants a readable identifier distinct from the id: `ssl_origin_cert` -> `SslOriginCert`."""
    return "".join(part.capitalize() for part in rule_id.replace("-", "_").split("_") if part) or rule_id


def _codes(codes: Sequence[int]) -> str:
    return ", ".join(map(str, codes)) or "none"


def _help_text(rule: Rule) -> str:
    parts = [rule.summary]
    if rule.anti_pattern:
        parts.append(f"Anti-pattern: {rule.anti_pattern}")
    if rule.fix:
        parts.append(f"Fix: {rule.fix}")
    parts.append(f"Cloudflare error codes: {_codes(rule.error_codes)}")
    if rule.docs_url:
        parts.append(f"Documentation: {rule.docs_url}")
    return "\n\n".join(parts)


def _help_markdown(rule: Rule) -> str:
    parts = [f"**{rule.summary}**"]
    if rule.anti_pattern:
        parts.append(f"### Anti-pattern\n\n{rule.anti_pattern}")
    if rule.fix:
        parts.append(f"### Fix\n\n{rule.fix}")
    codes = f"Cloudflare error codes: {_codes(rule.error_codes)}"
    parts.append(f"{codes} · [Cloudflare documentation]({rule.docs_url})" if rule.docs_url else codes)
    return "\n\n".join(parts)


def _tags(rule: Rule) -> list[str]:
    # GitHub keeps at most 10 tags per rule; the codes are what people filter by.
    return ["security", "reliability", "cloudflare", *(f"error-{c}" for c in rule.error_codes)][:10]


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    level = LEVELS[rule.severity]
    properties: dict[str, Any] = {
        "tags": _tags(rule),
        "precision": "high",
        "problem.severity": PROBLEM_SEVERITY[level],
        "severity": rule.severity.value,
    }
    if rule.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[rule.severity]
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _rule_name(rule.id),
        "shortDescription": {"text": _clip(rule.title)},
        "fullDescription": {"text": _clip(rule.anti_pattern or rule.summary)},
        "help": {"text": _help_text(rule), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": level},
        "properties": properties,
    }
    if rule.docs_url:
        descriptor["helpUri"] = rule.docs_url
    return descriptor


def _segment(name: str) -> str:
    """One path segment, whatever the name holds; `.` and `..` would walk the path instead."""
    encoded = quote(name.lower(), safe=":@")
    return {".": "%2E", "..": "%2E%2E"}.get(encoded, encoded)


def artifact_uri(zone: str, resource: str) -> str:
    """The stable virtual path GitHub files a finding under: `cloudflare/<zone>/<resource>`."""
    return "/".join([URI_ROOT, _segment(zone), _segment(resource or zone)])


def _logical_location(zone: str, resource: str) -> dict[str, Any]:
    return {
        "name": resource or zone,
        "fullyQualifiedName": f"{zone}/{resource or zone}",
        "kind": "resource",
        "properties": {"zone": zone},
    }


def _location(zone: str, resource: str) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(zone, resource), "uriBaseId": SRCROOT},
            "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
        },
        "logicalLocations": [_logical_location(zone, resource)],
    }


def _small_evidence(evidence: Any) -> Any:
    """The evidence when it is small; otherwise only its scalar top-level entries."""
    if len(json.dumps(evidence, default=str)) <= MAX_EVIDENCE_CHARS or not isinstance(evidence, Mapping):
        return evidence
    return {k: v for k, v in evidence.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _result_properties(data: Mapping[str, Any], zone: ZoneReport, rule: Rule) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "severity": data["severity"],
        "errorCodes": data["error_codes"],
        "zone": zone.name,
        "resource": data["resource"],
        "evidence": _small_evidence(data["evidence"]),
    }
    if zone.id:
        properties["zoneId"] = zone.id
    if data["docs_url"] and data["docs_url"] != rule.docs_url:
        properties["docsUrl"] = data["docs_url"]
    if "remediation" in data:
        properties["remediation"] = data["remediation"]
    return properties


def _suppression(suppression: Suppression) -> dict[str, Any]:
    properties: dict[str, Any] = {"rule": suppression.rule}
    if suppression.until is not None:
        properties["until"] = suppression.until.isoformat()
    return {"kind": "external", "status": "accepted", "justification": suppression.reason, "properties": properties}


def result(finding: Finding, zone: ZoneReport, rule: Rule, index: int, occurrence: int = 1) -> dict[str, Any]:
    """`occurrence` numbers findings of the zone sharing this fingerprint, from 1."""
    data = finding_dict(finding, zone.name)
    entry: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message or rule.title},
        "locations": [_location(zone.name, finding.resource)],
        "partialFingerprints": {
            FINGERPRINT_KEY: data["fingerprint"],
            "primaryLocationLineHash": f"{data['fingerprint']}:{occurrence}",
        },
        "properties": _result_properties(data, zone, rule),
    }
    if finding.suppression is not None:
        entry["suppressions"] = [_suppression(finding.suppression)]
    return entry


def _numbered(zone: ZoneReport) -> list[tuple[Finding, int]]:
    seen: Counter[str] = Counter()
    numbered = []
    for finding in zone.findings:
        seen[finding.fingerprint(zone.name)] += 1
        numbered.append((finding, seen[finding.fingerprint(zone.name)]))
    return numbered


def notification(error: StageError, zone: ZoneReport, indexes: Mapping[str, int]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "level": "warning" if error.degraded else "error",
        "message": {"text": f"{zone.name}: {error.stage} error ({error.resource}): {error.message}"},
        "locations": [{"logicalLocations": [_logical_location(zone.name, error.resource)]}],
        "properties": {"zone": zone.name, "stage": error.stage, "resource": error.resource},
    }
    if error.stage == "playbook" and error.resource in indexes:
        entry["associatedRule"] = {"id": error.resource, "index": indexes[error.resource]}
    return entry


def sarif_log(report: Report, playbooks: Sequence[PlaybookMeta], category: str = DEFAULT_CATEGORY) -> dict[str, Any]:
    rules = rules_for(report, playbooks)
    indexes = {r.id: i for i, r in enumerate(rules)}
    results = [
        result(f, z, rules[indexes[f.playbook]], indexes[f.playbook], n) for z in report.zones for f, n in _numbered(z)
    ]
    notifications = [notification(e, z, indexes) for z in report.zones for e in z.errors]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "cfremedy",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [rule_descriptor(r) for r in rules],
            }
        },
        "automationDetails": {"id": f"{category.strip('/')}/"},
        "invocations": [
            {
                "executionSuccessful": all(n["level"] != "error" for n in notifications),
                "toolExecutionNotifications": notifications,
            }
        ],
        "originalUriBaseIds": {
            SRCROOT: {
                "description": {
                    "text": "The repository root. cloudflare/<zone>/<resource> paths are virtual: "
                    "they name Cloudflare resources, not files."
                }
            }
        },
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"summary": summary(report), "generatedAt": report.generated_at},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report, playbooks: Sequence[PlaybookMeta] = (), *, category: str = DEFAULT_CATEGORY) -> str:
    """`category` tells uploads apart (e.g. one per `--shard`): GitHub keeps one per category."""
    return json.dumps(sarif_log(report, playbooks, category), indent=2, ensure_ascii=False, default=str) + "\n"
