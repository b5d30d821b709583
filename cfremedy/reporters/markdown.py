"""`--format markdown`: for `$GITHUB_STEP_SUMMARY` and pull-request comments.

Read on GitHub, so: the counts first, then one section per zone that needs attention (active or
suppressed findings, proposed changes, errors), suppressed findings apart in a collapsed
`<details>`, and every clean zone in one collapsed list, so 1,000 audited zones stay a short
page when few have problems. Everything taken from a report (messages, certificate subjects
an origin chose, resource names) is escaped: it can neither break a table nor inject HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cfremedy import __version__
from cfremedy.models import Change, Finding, PlaybookMeta, Report, Severity, StageError, ZoneReport
from cfremedy.report import summary
from cfremedy.reporters.rules import rules_for
from cfremedy.reporters.table import describe_change

# Characters that would start markup: HTML first (`&` before the entities it produces),
# then Markdown's own (emphasis, links, code spans, table cells) behind a backslash.
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_SAFE_URL = re.compile(r"https?://[^\s<>()\[\]|\"'`\\]+")
_SEVERITIES = list(reversed(Severity))  # critical first


def text(value: object) -> str:
    """Inline text: escaped, and on one line (a newline would end a table row)."""
    escaped = "".join(_HTML.get(c, c) for c in str(value))
    escaped = _MARKDOWN.sub(r"\\\1", escaped)
    return "<br>".join(escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def link(label: str, url: str) -> str:
    """A link only for a plain http(s) URL; anything else is shown as text, never followed."""
    return f"[{text(label)}]({url})" if _SAFE_URL.fullmatch(url) else text(label)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Cells must already be escaped with `text`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(summary_line: str, body: str) -> str:
    return f"<details>\n<summary>{summary_line}</summary>\n\n{body}\n\n</details>"


def _codes(finding: Finding) -> str:
    return ", ".join(map(str, finding.error_codes)) or "-"


def summary_table(report: Report) -> str:
    s = summary(report)
    by_severity = s["by_severity"]
    headers = ["Zones", "Findings", *(sev.value.capitalize() for sev in _SEVERITIES), "Suppressed", "Changes", "Errors"]
    row = [
        str(s["zones"]),
        str(s["findings"]),
        *(str(by_severity.get(sev.value, 0)) for sev in _SEVERITIES),
        str(s["suppressed"]),
        str(s["changes"]),
        str(s["errors"]),
    ]
    parts = [table(headers, [row])]
    if "baseline" in s:
        baseline = s["baseline"]
        parts.append(
            f"Baseline {text(baseline['source'])}: {baseline['known_findings_left_out']}"
            " known finding(s) left out; only new findings are listed."
        )
    return "\n\n".join(parts)


def verdict(report: Report) -> str:
    s = summary(report)
    worst = report.worst()
    affected = sum(1 for z in report.zones if any(f.suppression is None for f in z.findings))
    if s["findings"]:
        line = (
            f"**{s['findings']} finding(s)** in {affected} of {s['zones']} zone(s);"
            f" worst: **{worst.value if worst else '-'}**."
        )
    else:
        line = f"**No findings** in {s['zones']} zone(s)."
    if s["errors"]:
        line += f" **{s['errors']} error(s)**: some checks did not run."
    return line


def findings_table(findings: Sequence[Finding]) -> str:
    rows = [
        [f"**{f.severity.value}**", link(f.playbook, f.docs_url), _codes(f), text(f.resource), text(f.message)]
        for f in findings
    ]
    return table(["Severity", "Playbook", "Codes", "Resource", "Finding"], rows)


def suppressed_details(findings: Sequence[Finding]) -> str:
    rows = []
    for f in findings:
        s = f.suppression
        assert s is not None
        rows.append(
            [
                f.severity.value,
                text(f.playbook),
                text(f.resource),
                text(f.message),
                text(s.reason),
                text(s.rule),
                s.until.isoformat() if s.until else "-",
            ]
        )
    body = table(["Severity", "Playbook", "Resource", "Finding", "Reason", "Rule", "Until"], rows)
    return details(f"{len(findings)} suppressed finding(s) (accepted, not counted)", body)


def changes_table(changes: Sequence[Change]) -> str:
    rows = [
        [
            text(c.target),
            text(describe_change(c)),
            text(c.playbook),
            ("**lowers security**; " if c.lowers_security else "") + text(c.reason),
        ]
        for c in changes
    ]
    return "Proposed changes (dry run):\n\n" + table(["Target", "Change", "Playbook", "Why"], rows)


def errors_list(errors: Sequence[StageError]) -> str:
    return "Errors:\n\n" + "\n".join(f"- **{text(e.stage)}** ({text(e.resource)}): {text(e.message)}" for e in errors)


def zone_section(zone: ZoneReport) -> str:
    active = [f for f in zone.findings if f.suppression is None]
    suppressed = [f for f in zone.findings if f.suppression is not None]
    plan = f" ({text(zone.plan)})" if zone.plan else ""
    parts = [f"### {text(zone.name)}{plan}: {len(active)} finding(s)"]
    if active:
        ordered = sorted(active, key=lambda f: -f.severity.rank)
        parts.append(findings_table(ordered))
    if zone.changes:
        parts.append(changes_table(zone.changes))
    if zone.errors:
        parts.append(errors_list(zone.errors))
    if suppressed:
        parts.append(suppressed_details(suppressed))
    return "\n\n".join(parts)


def _needs_attention(zone: ZoneReport) -> bool:
    return bool(zone.findings or zone.changes or zone.errors)


def clean_zones(zones: Sequence[ZoneReport]) -> str:
    names = ", ".join(text(z.name) for z in zones)
    return details(f"{len(zones)} zone(s) without findings", names)


def playbooks_line(report: Report, playbooks: Sequence[PlaybookMeta]) -> str:
    rules = rules_for(report, playbooks)
    if not rules:
        return ""
    return "Playbooks: " + ", ".join(link(r.id, r.docs_url) for r in rules) + "."


def render_markdown(report: Report, playbooks: Sequence[PlaybookMeta] = ()) -> str:
    parts = ["## cfremedy audit", verdict(report), summary_table(report)]
    parts += [zone_section(z) for z in report.zones if _needs_attention(z)]
    clean = [z for z in report.zones if not _needs_attention(z)]
    if clean:
        parts.append(clean_zones(clean))
    footer = " ".join(
        p
        for p in (
            playbooks_line(report, playbooks),
            f"cfremedy {__version__}",
            f"at {text(report.generated_at)}" if report.generated_at else "",
        )
        if p
    )
    parts.append(f"<sub>{footer}</sub>")
    return "\n\n".join(parts) + "\n"
