"""The rule catalogue the structured reporters (SARIF, JUnit, Markdown) share.

A report only names playbooks by id; the registry knows their titles, docs and default
severities. The CLI passes the registry, but older callers and reports whose findings name a
playbook the registry lacks (a user's directory that was not loaded this time) must still
render: such playbooks get a rule derived from their findings instead of failing the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cfremedy.models import Finding, PlaybookMeta, Report, Severity


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    error_codes: tuple[int, ...]
    docs_url: str
    summary: str
    anti_pattern: str
    fix: str
    # False when no playbook was passed for this id and the rule was guessed from findings.
    known: bool = True


def docstring_section(docstring: str, heading: str) -> str:
    """The body under `Heading:` (the playbook contract's docstrings), paragraphs kept, wrapped lines joined."""
    lines = docstring.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == f"{heading}:")
    except StopIteration:
        return ""
    paragraphs: list[list[str]] = [[]]
    for line in lines[start + 1 :]:
        if line.strip() and not line[:1].isspace():
            break  # the next unindented line starts another section
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def from_playbook(playbook: PlaybookMeta) -> Rule:
    return Rule(
        id=playbook.id,
        title=playbook.title,
        severity=playbook.severity,
        error_codes=playbook.error_codes,
        docs_url=playbook.docs_url,
        summary=playbook.summary,
        anti_pattern=docstring_section(playbook.docstring, "Anti-pattern"),
        fix=docstring_section(playbook.docstring, "Fix"),
    )


def derived(playbook_id: str, findings: Iterable[Finding]) -> Rule:
    """Just enough to render: the worst severity, every code and the first docs link seen."""
    found = list(findings)
    return Rule(
        id=playbook_id,
        title=playbook_id,
        severity=max((f.severity for f in found), default=Severity.INFO, key=lambda s: s.rank),
        error_codes=tuple(sorted({c for f in found for c in f.error_codes})),
        docs_url=next((f.docs_url for f in found if f.docs_url), ""),
        summary=f"Findings of the {playbook_id} playbook (its metadata was not available).",
        anti_pattern="",
        fix="",
        known=False,
    )


def rules_for(report: Report, playbooks: Sequence[PlaybookMeta]) -> tuple[Rule, ...]:
    """Registry order first (stable rule indexes), then playbooks only the findings name."""
    rules = [from_playbook(p) for p in playbooks]
    seen = {r.id for r in rules}
    missing: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.playbook not in seen:
            missing.setdefault(finding.playbook, []).append(finding)
    rules += [derived(pid, found) for pid, found in missing.items()]
    return tuple(rules)
