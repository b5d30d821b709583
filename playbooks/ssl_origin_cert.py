"""The zone's SSL/TLS mode must match what the origin actually presents on port 443.

Anti-pattern:
    SSL mode Full (strict) in front of an origin whose certificate Cloudflare cannot validate
    (self-signed, issued by an untrusted CA, expired, or not naming the hostname): every
    request fails with 526. Full or Full (strict) in front of an origin with no working TLS on
    443 (nothing listening, plain HTTP, a failing handshake): 525, or 521 when 443 refuses.
    Off or Flexible: the connection from Cloudflare to the origin is unencrypted.

Fix:
    For 526, the change lowers the zone from Full (strict) to Full so traffic flows again
    (`lowers_security`: apply asks for `--allow-downgrade`); the real fix is manual: install a
    Cloudflare Origin CA certificate or a publicly trusted one, then return to Full (strict).
    For 525/521 only a person can fix the origin's TLS; cfremedy never proposes Flexible.
    When every proxied origin already presents a certificate that passes Full (strict), the
    change raises Full or Flexible to Full (strict). Off, and Flexible in front of origins that
    cannot pass strict yet, need a person to install certificates first.

    Each hostname is judged by the mode Cloudflare really uses for it: a Configuration Rule or
    Page Rule may override the zone setting (see `ssl_per_hostname`). A hostname whose mode
    comes from a rule is fixed by editing that rule, so no zone-wide change is proposed for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cfremedy.kit import (
    Change,
    EffectiveMode,
    Finding,
    OriginProbe,
    Outcome,
    Severity,
    ZoneFacts,
    effective_modes,
    finding,
    section_url,
)

id = "ssl_origin_cert"
title = "SSL/TLS mode does not match the origin's certificate"
severity = Severity.CRITICAL
error_codes = (521, 525, 526)
docs_url = section_url(526)
_DOCS_525 = section_url(525)
_DOCS_521 = section_url(521)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ("Zone Settings Write",)
reads = ("ssl_rules",)

KNOWN_MODES = ("off", "flexible", "full", "strict")

# Finding kinds, carried in evidence so plan_fix reads decisions instead of re-deriving them.
_INVALID_CERT = "invalid_certificate"
_NO_TLS = "no_tls"
_UPGRADE = "upgrade"
_INSECURE = "insecure_mode"

_INSTALL_CERT = (
    "Install a certificate Cloudflare can validate on the origin: a free Cloudflare Origin CA"
    " certificate (SSL/TLS > Origin Server) or one from a public CA, covering this hostname.",
    "Then set SSL/TLS back to Full (strict).",
)


def _cert_evidence(probe: OriginProbe) -> dict[str, Any]:
    tls = probe.tls
    evidence: dict[str, Any] = {"hostname": probe.hostname, "origin": probe.address}
    if probe.connected_to:
        evidence["connected_to"] = list(probe.connected_to)
    if tls is None:
        return evidence
    evidence["tls"] = {"outcome": tls.outcome.value, "version": tls.version, "alpn": tls.alpn}
    if tls.error:
        evidence["tls"]["error"] = tls.error
    if tls.leaf is not None:
        evidence["certificate"] = {
            "subject": tls.leaf.subject,
            "issuer": tls.leaf.issuer,
            "sans": list(tls.leaf.sans),
            "not_after": tls.leaf.not_after.isoformat(),
            "self_signed": tls.leaf.self_signed,
            "origin_ca": tls.leaf.origin_ca,
            "sha256": tls.leaf.sha256,
        }
    return evidence


def _invalid_reason(probe: OriginProbe) -> str:
    """Why Full (strict) rejects this certificate, in the article's terms."""
    tls = probe.tls
    if tls is None or tls.leaf is None:
        detail = f" [{tls.verify_error}]" if tls is not None and tls.verify_error else ""
        return f"its certificate could not be read or parsed{detail}"
    leaf = tls.leaf
    reasons = []
    if leaf.self_signed:
        reasons.append("it is self-signed")
    if tls.expired:
        reasons.append(f"it expired on {leaf.not_after:%Y-%m-%d}")
    if not tls.hostname_matches:
        name = probe.sni or probe.hostname
        reasons.append(f"{name} is not in its SANs/CN ({', '.join(leaf.sans) or leaf.common_name})")
    if not reasons:
        # Nothing visible on the certificate itself: OpenSSL's reason is the best explanation.
        detail = f": {tls.verify_error}" if tls.verify_error else ""
        reasons.append(f"its issuer is not trusted ({leaf.issuer}){detail}")
    return "; ".join(reasons)


def _passes_strict(probe: OriginProbe) -> bool:
    return probe.tls is not None and probe.tls.handshake_ok and probe.tls.verified


def _blocker(probe: OriginProbe) -> str:
    """Why this origin endpoint would fail Full (strict), naming its route."""
    failure = _tls_failure(probe)
    if _unknown(probe):
        why = "it could not be probed, so nobody knows what it presents"
    elif failure is not None:
        why = failure[1]
    else:
        why = _invalid_reason(probe)
    where = f"{probe.hostname} at {probe.address}:{probe.https_port}"
    return f"{where} ({probe.via}): {why}" if probe.via else f"{where}: {why}"


def _unknown(probe: OriginProbe) -> bool:
    """Our side failed or did not look (no file descriptor, --connect-to-only): no evidence."""
    tls = probe.tls
    return probe.tcp443.outcome in (Outcome.ERROR, Outcome.SKIPPED) or tls is None or tls.outcome is Outcome.ERROR


def _tls_failure(probe: OriginProbe) -> tuple[int, str] | None:
    """The error Full/Full (strict) gives when TLS to this origin cannot even start."""
    if probe.tcp443.outcome is Outcome.REFUSED:
        return 521, f"port {probe.https_port} refuses connections (nothing listens for HTTPS)"
    if probe.tcp443.outcome in (Outcome.ERROR, Outcome.SKIPPED):
        return None  # our side failed or did not look: that says nothing about the origin
    if not probe.tcp443.ok:
        return 525, f"port {probe.https_port} does not accept a connection ({probe.tcp443.outcome.value})"
    tls = probe.tls
    if tls is None or tls.handshake_ok or tls.outcome is Outcome.ERROR:
        return None
    if tls.outcome is Outcome.NOT_TLS:
        return 525, f"port {probe.https_port} answers, but not with TLS (plain HTTP?)"
    return 525, f"the TLS handshake fails ({tls.outcome.value}: {tls.error or 'no detail'})"


def _finding(
    kind: str,
    sev: Severity,
    codes: tuple[int, ...],
    resource: str,
    message: str,
    evidence: dict[str, Any],
    url: str,
    remediation: Sequence[str] = (),
    key: str = "",
    probe: OriginProbe | None = None,
) -> Finding:
    return finding(
        playbook=id,
        severity=sev,
        error_codes=codes,
        resource=resource,
        message=message,
        evidence={"kind": kind, **evidence},
        docs_url=url,
        remediation=remediation,
        key=key,
        probe=probe,
    )


def _mode_evidence(effective: EffectiveMode) -> dict[str, Any]:
    evidence: dict[str, Any] = {"ssl_mode": effective.mode}
    if effective.overridden:
        evidence["ssl_mode_source"] = effective.source
    return evidence


def _set_by(effective: EffectiveMode) -> str:
    return f" (set by {effective.source})" if effective.overridden else ""


def _fix_rule(effective: EffectiveMode) -> tuple[str, ...]:
    if not effective.overridden:
        return ()
    return (f"This hostname's SSL mode comes from {effective.source}: change the mode there, not the zone setting.",)


def _judge_proxied(modes: dict[str, EffectiveMode], proxied: list[OriginProbe]) -> list[Finding]:
    findings: list[Finding] = []
    # An origin down on both ports is origin_ip's finding (521/522/523), not a TLS problem.
    for probe in (p for p in proxied if p.reachable):
        effective = modes[probe.hostname]
        mode = effective.mode
        if mode not in ("full", "strict"):
            continue
        evidence = {**_mode_evidence(effective), **_cert_evidence(probe)}
        failure = _tls_failure(probe)
        if failure is not None and probe.tls is not None and probe.tls.permissive is not None:
            continue  # versions/ciphers Cloudflare does not offer: origin_tls_ciphers says which
        if failure is not None:
            code, reason = failure
            findings.append(
                _finding(
                    _NO_TLS,
                    Severity.CRITICAL,
                    (code,),
                    probe.hostname,
                    f"SSL mode {mode}{_set_by(effective)} connects to {probe.address}:{probe.https_port}, but {reason}",
                    {**evidence, "reason": reason},
                    _DOCS_521 if code == 521 else _DOCS_525,
                    (
                        "Make the origin serve HTTPS on port 443 (open the port, enable TLS with SNI,"
                        " support Cloudflare's cipher suites) and check its error log at the time of"
                        " the failures.",
                        "Do not switch to Flexible: it hides the problem and leaves the origin leg unencrypted.",
                        *_fix_rule(effective),
                    ),
                    probe=probe,
                )
            )
        elif _unknown(probe):
            continue  # nothing was learned about this origin's TLS: no verdict either way
        elif mode == "strict" and not _passes_strict(probe):
            reason = _invalid_reason(probe)
            findings.append(
                _finding(
                    _INVALID_CERT,
                    Severity.CRITICAL,
                    (526,),
                    probe.hostname,
                    f"Full (strict){_set_by(effective)} cannot validate the certificate of {probe.address}: {reason}",
                    {**evidence, "reason": reason, "verify_error": probe.tls.verify_error if probe.tls else ""},
                    docs_url,
                    (*_INSTALL_CERT, *_fix_rule(effective)),
                    probe=probe,
                )
            )
    return findings


def _origin_ca_direct(dns_only: list[OriginProbe]) -> list[Finding]:
    """Origin CA certificates are trusted by Cloudflare only; browsers reach DNS-only records."""
    return [
        _finding(
            "origin_ca_dns_only",
            Severity.MEDIUM,
            (),
            probe.hostname,
            f"{probe.hostname} is DNS-only, so browsers connect to {probe.address} directly, but"
            " it serves a Cloudflare Origin CA certificate, which no browser trusts",
            _cert_evidence(probe),
            docs_url,
            ("Proxy the record through Cloudflare, or install a publicly trusted certificate on this origin.",),
            probe=probe,
        )
        for probe in dns_only
        if probe.tls is not None and probe.tls.leaf is not None and probe.tls.leaf.origin_ca
    ]


def detect(facts: ZoneFacts) -> list[Finding]:
    zone = facts.snapshot.zone.name
    mode = facts.snapshot.setting("ssl")
    probes = facts.probes.probes
    proxied = [p for p in probes if p.proxied]
    findings = _origin_ca_direct([p for p in probes if not p.proxied])
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    if mode not in KNOWN_MODES:
        findings.append(
            _finding(
                "unknown_mode",
                Severity.INFO,
                (),
                zone,
                f"SSL mode {mode!r} is not one cfremedy knows; origin certificates were not judged",
                {"ssl_mode": mode},
                docs_url,
            )
        )
        return findings

    findings += _judge_proxied(modes, proxied)

    # The zone setting only decides for hostnames no rule overrides. Upgrading is only safe
    # when every one of their origins was seen passing: one that could not be probed (down,
    # not covered) might serve anything once it is back.
    governed = [p for p in proxied if not modes[p.hostname].overridden]
    all_pass = bool(governed) and all(_passes_strict(p) for p in governed)
    hostnames = sorted({p.hostname for p in governed})
    blockers = [_blocker(p) for p in governed if not _passes_strict(p)]
    if mode in ("full", "flexible") and all_pass:
        sev = Severity.LOW if mode == "full" else Severity.MEDIUM
        findings.append(
            _finding(
                _UPGRADE,
                sev,
                (),
                zone,
                f"SSL mode is {mode}, but every proxied origin it applies to already presents a"
                " certificate that passes Full (strict): upgrade to validate it",
                {"ssl_mode": mode, "hostnames": hostnames},
                docs_url,
            )
        )
    elif mode in ("off", "flexible"):
        findings.append(
            _finding(
                _INSECURE,
                Severity.MEDIUM,
                (),
                zone,
                f"SSL mode is {mode}: traffic between Cloudflare and the origin is not encrypted",
                {
                    "ssl_mode": mode,
                    "origins_not_passing_strict": sorted({p.hostname for p in governed if not _passes_strict(p)}),
                    "blocked_by": blockers,
                },
                docs_url,
                (
                    "Install an Origin CA or public certificate on every origin, then set SSL/TLS to"
                    " Full (strict); cfremedy proposes that change once every origin passes.",
                ),
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    mode = facts.snapshot.setting("ssl")
    kinds = {f.evidence.get("kind") for f in findings}
    # Only hostnames the zone setting governs: a rule's mode is changed in the rule.
    failing = sorted(
        {
            f.resource
            for f in findings
            if f.evidence.get("kind") == _INVALID_CERT and "ssl_mode_source" not in f.evidence
        }
    )
    if mode == "strict" and failing:
        return [
            Change(
                playbook=id,
                target="setting:ssl",
                before="strict",
                after="full",
                reason="Full (strict) rejects the origin certificate of "
                + ", ".join(failing)
                + " (526); Full keeps encrypting without validating until a valid certificate is"
                " installed",
                lowers_security=True,
            )
        ]
    if mode in ("full", "flexible") and _UPGRADE in kinds:
        return [
            Change(
                playbook=id,
                target="setting:ssl",
                before=mode,
                after="strict",
                reason="every proxied origin presents a certificate that passes Full (strict)",
            )
        ]
    return []
