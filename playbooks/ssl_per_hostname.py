"""Configuration Rules and Page Rules that give a hostname another SSL mode than the zone's.

Anti-pattern:
    The zone's SSL/TLS mode is what the dashboard shows, but a Page Rule or a Configuration
    Rule can set another one for some hostnames or paths. Teams then debug a 525, 526 or a
    redirect loop against the wrong mode: the zone says Full (strict), the failing hostname is
    in Flexible because of a rule written years ago (or the reverse). A rule that lowers the
    mode also quietly turns off encryption or validation for the traffic it matches.

Fix:
    Nothing is changed automatically: rules are a team's deliberate configuration. Each
    hostname whose mode a rule sets is listed with the rule and the mode it gets, so the other
    playbooks' verdicts (`ssl_origin_cert`, `flexible_redirect_loop`, `origin_tls_ciphers`,
    which judge each hostname by this effective mode) can be read correctly. A rule that lowers
    the mode is worth revisiting; a rule cfremedy cannot evaluate is named so a person checks
    which hostnames it covers. Page Rules are deprecated: migrate SSL overrides to
    Configuration Rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    Finding,
    Severity,
    SslRule,
    ZoneFacts,
    describe_rule,
    effective_modes,
    finding,
    frozen_mapping,
    mode_name,
    normalise_name,
    section_url,
)

id = "ssl_per_hostname"
title = "A rule overrides the zone's SSL/TLS mode for some hostnames"
severity = Severity.LOW
error_codes = (525, 526)
docs_url = section_url(525)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)
uses_probes = False

_RANK = {"off": 0, "flexible": 1, "full": 2, "strict": 3}


def _rule_evidence(rule: SslRule) -> dict[str, object]:
    return {
        "source": rule.source,
        "id": rule.id,
        "mode": rule.mode,
        "expression": rule.expression or None,
        "url_pattern": rule.url_pattern or None,
        "description": rule.description or None,
    }


def detect(facts: ZoneFacts) -> list[Finding]:
    snapshot = facts.snapshot
    if not snapshot.ssl_rules:
        return []
    zone_mode = str(snapshot.setting("ssl"))
    hostnames = sorted({normalise_name(r.name) for r in snapshot.records if r.proxied})
    findings = []
    unknown: dict[str, SslRule] = {}
    for hostname, effective in effective_modes(snapshot, hostnames).items():
        for rule in effective.unknown:
            unknown[rule.id] = rule
        if effective.rule is not None and effective.mode != zone_mode:
            lowers = _RANK.get(effective.mode, 9) < _RANK.get(zone_mode, -1)
            findings.append(
                finding(
                    playbook=id,
                    severity=Severity.MEDIUM if lowers else Severity.INFO,
                    error_codes=(525, 526),
                    resource=hostname,
                    message=f"{hostname} is served in {mode_name(effective.mode)} by"
                    f" {effective.source}, not the zone's {mode_name(zone_mode)}"
                    + (": the rule lowers encryption or validation for it" if lowers else ""),
                    evidence=frozen_mapping(
                        {
                            "zone_mode": zone_mode,
                            "effective_mode": effective.mode,
                            "rule": _rule_evidence(effective.rule),
                        }
                    ),
                    docs_url=docs_url,
                    remediation=(
                        (
                            f"Check that {describe_rule(effective.rule)} is still wanted; once the origin"
                            " presents a valid certificate, remove it or raise its mode.",
                        )
                        if lowers
                        else ()
                    )
                    + (
                        ("Page Rules are deprecated: move this override to a Configuration Rule.",)
                        if effective.rule.source == "page_rule"
                        else ()
                    ),
                    key=effective.rule.id,
                )
            )
        for rule in effective.partial:
            findings.append(
                finding(
                    playbook=id,
                    severity=Severity.INFO,
                    error_codes=(525, 526),
                    resource=hostname,
                    message=f"{describe_rule(rule)} sets {mode_name(rule.mode)} for part of {hostname}'s"
                    " traffic (it also tests the path, scheme or another field); the rest uses"
                    f" {mode_name(effective.mode)}",
                    evidence=frozen_mapping({"effective_mode": effective.mode, "rule": _rule_evidence(rule)}),
                    docs_url=docs_url,
                    key=rule.id,
                )
            )
    for rule in unknown.values():
        findings.append(
            finding(
                playbook=id,
                severity=Severity.LOW,
                error_codes=(525, 526),
                resource=snapshot.zone.name,
                message=f"cfremedy cannot tell which hostnames {describe_rule(rule)} covers (it sets"
                f" {mode_name(rule.mode)}); hostnames were judged without it",
                evidence=frozen_mapping({"rule": _rule_evidence(rule)}),
                docs_url=docs_url,
                remediation=("Check by hand which hostnames the expression matches.",),
                key=rule.id,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # rules are deliberate configuration: a person edits them
