"""The zone's SSL/TLS mode must match what the origin actually presents on port 443.

Anti-pattern:
    SSL mode Full (strict) in front of an origin whose certificate Cloudflare cannot validate
    (self-signed, issued by an untrusted CA, expired, revoked, or not naming the hostname):
    every request fails with 526. Full or Full (strict) in front of an origin whose port 443
    does not open while port 80 answers: 521 when it refuses, 522 when no SYN+ACK comes back
    within Cloudflare's 15 s; and with no working TLS on 443 (plain HTTP, a failing handshake,
    no certificate for the name Cloudflare sends as SNI): 525. Off or Flexible connect to
    port 80, whatever 443 does: 521 or 522 there while 443 answers. Off or Flexible are also
    unencrypted between Cloudflare and the origin.

Fix:
    For 526, the change lowers the zone from Full (strict) to Full so traffic flows again
    (`lowers_security`: apply asks for `--allow-downgrade`); the real fix is manual: install a
    Cloudflare Origin CA certificate or a publicly trusted one, then return to Full (strict).
    For 525/521 only a person can fix the origin's TLS; cfremedy never proposes Flexible.
    When every proxied origin already presents a certificate that passes Full (strict), the
    change raises Full or Flexible to Full (strict), unless one of those certificates expires
    within `origin_cert_expiry`'s horizon (the site works in Full today and would get 526 the
    day it expires): then the finding says so and nothing is proposed until it is renewed.
    Off, and Flexible in front of origins that cannot pass strict yet, need a person to
    install certificates first.

    Each hostname is judged by the mode Cloudflare really uses for it: a Configuration Rule or
    Page Rule may override the zone setting (see `ssl_per_hostname`). A hostname whose mode
    comes from a rule is fixed by editing that rule, so no zone-wide change is proposed for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cfremedy.kit import (
    REVOKED,
    UNKNOWN,
    Change,
    EffectiveMode,
    Endpoint,
    Finding,
    OriginProbe,
    Outcome,
    Severity,
    ZoneFacts,
    connect_failure,
    effective_modes,
    expiry_horizon,
    finding,
    mode_port,
    section_url,
)

id = "ssl_origin_cert"
title = "SSL/TLS mode does not match the origin's certificate"
severity = Severity.CRITICAL
error_codes = (521, 522, 523, 525, 526)
docs_url = section_url(526)
_DOCS = {code: section_url(code) for code in (521, 522, 523, 525)}
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ("Zone Settings Write",)
reads = ("ssl_rules",)

KNOWN_MODES = ("off", "flexible", "full", "strict")

# Finding kinds, carried in evidence so plan_fix reads decisions instead of re-deriving them.
_INVALID_CERT = "invalid_certificate"
_NO_TLS = "no_tls"
_NO_CONNECTION = "no_connection"
_UPGRADE = "upgrade"
_UPGRADE_HELD = "upgrade_held"  # every origin passes strict, but a certificate expires soon
_UPGRADE_UNVERIFIED = "upgrade_unverified"  # what was checked passes, but not everything was
_INSECURE = "insecure_mode"
_REVOCATION_UNKNOWN = "revocation_unknown"
_REVOKED_UNDER_FULL = "revoked_certificate"  # Full/Flexible serve it; Full (strict) would not
_CLIENT_CERTIFICATE = "client_certificate_not_presented"  # AOP on: what the probe could not see

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
    if tls.client_certificate:
        evidence["tls"]["client_certificate"] = tls.client_certificate
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
    if tls.revocation is not None:
        evidence["revocation"] = {
            "status": tls.revocation.status,
            "detail": tls.revocation.detail,
            "responder": tls.revocation.responder or None,
            "staple": tls.revocation.staple or None,
        }
    if tls.without_sni is not None:
        look = tls.without_sni
        evidence["without_sni"] = {
            "outcome": look.outcome.value,
            "error": look.error or None,
            "certificate_sans": list(look.leaf.sans) if look.leaf else None,
            "names_hostname": look.hostname_matches,
            "same_certificate": look.same_certificate,
            "conclusion": _sni_conclusion(probe),
        }
    return evidence


def _names(probe: OriginProbe) -> str:
    return probe.sni or probe.hostname


def _sni_conclusion(probe: OriginProbe) -> str:
    """What the handshake without SNI tells about the origin's SNI support ("" if nothing)."""
    tls = probe.tls
    look = tls.without_sni if tls is not None else None
    if tls is None or look is None:
        return ""
    name = _names(probe)
    if look.outcome is not Outcome.OK:
        return f"the handshake fails without SNI too ({look.outcome.value}): SNI is not what it trips on"
    served = ", ".join(look.leaf.sans) if look.leaf is not None and look.leaf.sans else "no readable name"
    if not tls.handshake_ok:
        if look.hostname_matches:
            return (
                f"without SNI it completes the handshake with a certificate for {name}: it refuses the"
                " server name Cloudflare sends (SNI), so its certificate is not configured for that name"
            )
        return (
            f"without SNI it completes the handshake with a certificate for {served}: it has no"
            f" certificate for {name} and refuses the name when it is sent (SNI)"
        )
    if look.same_certificate:
        return (
            "it presents the same certificate without SNI: it does not choose its certificate by the"
            f" name sent (no SNI support), or has none for {name}"
        )
    if look.hostname_matches:
        return (
            f"without SNI it presents a certificate for {name}: its SNI configuration sends this name"
            " to another certificate"
        )
    return f"without SNI it presents yet another certificate ({served}), not for {name} either"


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
        conclusion = _sni_conclusion(probe)
        if conclusion:
            reasons.append(conclusion)
    if _revoked(probe):
        assert tls.revocation is not None
        reasons.append(f"it is revoked: {tls.revocation.detail}")
    if not reasons:
        # Nothing visible on the certificate itself: OpenSSL's reason is the best explanation.
        detail = f": {tls.verify_error}" if tls.verify_error else ""
        reasons.append(f"its issuer is not trusted ({leaf.issuer}){detail}")
    return "; ".join(reasons)


def _revoked(probe: OriginProbe) -> bool:
    return probe.tls is not None and probe.tls.revocation is not None and probe.tls.revocation.status == REVOKED


def _passes_strict(probe: OriginProbe) -> bool:
    tls = probe.tls
    return tls is not None and tls.handshake_ok and tls.verified and not _revoked(probe) and not _post_handshake(probe)


def _post_handshake(probe: OriginProbe) -> str:
    """The alert an origin sent right after a completed handshake, before answering (a TLS 1.3
    origin demanding a client certificate does that), as the request probe saw it ("the origin
    ended the TLS session with an alert before answering (...)")."""
    response = probe.response
    if response is None or response.scheme != "https" or response.outcome is not Outcome.TLS_ALERT:
        return ""
    return response.error


def _blocker(probe: OriginProbe) -> str:
    """Why this origin endpoint would fail Full (strict), naming its route."""
    failure = _https_failure(probe)
    if failure is not None:
        why = failure[1]
    elif _unknown(probe):
        tls = probe.tls
        failed = f" ({tls.error})" if tls is not None and tls.outcome is Outcome.ERROR and tls.error else ""
        why = f"it could not be probed{failed}, so nobody knows what it presents"
    else:
        why = _invalid_reason(probe)
    where = f"{probe.hostname} at {probe.address}:{probe.https_port}"
    return f"{where} ({probe.via}): {why}" if probe.via else f"{where}: {why}"


def _unknown(probe: OriginProbe) -> bool:
    """Our side failed or did not look (no file descriptor, --connect-to-only): no evidence."""
    tls = probe.tls
    return probe.tcp443.outcome in (Outcome.ERROR, Outcome.SKIPPED) or tls is None or tls.outcome is Outcome.ERROR


def _https_failure(probe: OriginProbe) -> tuple[int, str, bool] | None:
    """The error Full/Full (strict) gives when the connection or TLS to this origin fails: the
    code, the reason, and whether the verdict is conclusive (a 522 judged from a wait shorter
    than Cloudflare's is not)."""
    failed = connect_failure(probe.tcp443, probe.https_port)
    if failed is not None:
        return failed.code, failed.reason, failed.conclusive
    if not probe.tcp443.ok:
        return None  # our side failed or did not look: that says nothing about the origin
    tls = probe.tls
    alert = _post_handshake(probe)
    if tls is not None and tls.handshake_ok and alert:
        if _demands_client_certificate(probe):
            return 525, f"the handshake completes, then {alert}: {_AOP_OFF}", False
        return 525, f"the handshake completes, then {alert}", True
    if tls is None or tls.handshake_ok or tls.outcome is Outcome.ERROR:
        return None
    if tls.outcome is Outcome.NOT_TLS:
        return 525, f"port {probe.https_port} answers, but not with TLS (plain HTTP?)", True
    reason = f"the TLS handshake fails ({tls.outcome.value}: {tls.error or 'no detail'})"
    if tls.client_certificate:
        reason += f"; {tls.client_certificate}: {_AOP_OFF}"
    conclusion = _sni_conclusion(probe)
    # A demand for a client certificate is a 525 only if nothing presents one: per-hostname
    # Authenticated Origin Pulls, which the audit does not read, may (see `_AOP_OFF`).
    return 525, f"{reason}; {conclusion}" if conclusion else reason, not tls.client_certificate


# Only reached when the zone's Authenticated Origin Pulls is off: with it on, see `_with_aop`.
# Per-hostname AOP (its own certificate for chosen hostnames, whatever the zone setting) is not
# read, so the verdict is not conclusive: high, not critical.
_AOP_OFF = (
    "it demands a client certificate, which Cloudflare presents only with Authenticated Origin Pulls;"
    " zone-level AOP (tls_client_auth) is off, so per-hostname AOP would be needed for this hostname"
    " (cfremedy does not read it): 525 unless that is on"
)


def _demands_client_certificate(probe: OriginProbe) -> bool:
    """Whether the origin was seen demanding a client certificate (TLS 1.2's CertificateRequest,
    or TLS 1.3's certificate_required alert after the handshake)."""
    tls = probe.tls
    if tls is None:
        return False
    return bool(tls.client_certificate) or "CERTIFICATE_REQUIRED" in _post_handshake(probe).upper()


def _aop_on(facts: ZoneFacts) -> bool:
    return str(facts.snapshot.setting("tls_client_auth", "off")).lower() == "on"


def _with_aop(probe: OriginProbe) -> OriginProbe:
    """The probe as Cloudflare would fare under Authenticated Origin Pulls, where it presents
    its client certificate: the origin's demand for one is no failure; what the probe could not
    do without that certificate is unknown (our side), not a 525."""
    tls = probe.tls
    if tls is None or not tls.client_certificate:
        return probe
    if tls.handshake_ok:  # TLS 1.3: the certificate was seen and judged; only the answer was not
        return replace(probe, response=None)
    unknown = replace(
        tls,
        outcome=Outcome.ERROR,
        error=f"the probe could not present Cloudflare's client certificate ({tls.client_certificate})",
    )
    return replace(probe, tls=unknown)


def _aop_findings(zone: str, proxied: Sequence[OriginProbe]) -> list[Finding]:
    found = []
    for probe in proxied:
        tls = probe.tls
        if tls is None or not tls.client_certificate:
            continue
        seen = (
            "its certificate was checked, what it answers was not"
            if tls.handshake_ok
            else "the handshake could not be completed, so its certificate was not checked"
        )
        found.append(
            _finding(
                _CLIENT_CERTIFICATE,
                Severity.INFO,
                (),
                probe.hostname,
                f"{probe.address} demands a client certificate ({tls.client_certificate}); Authenticated"
                " Origin Pulls is on, so Cloudflare presents one, but the probe could not present"
                f" Cloudflare's client certificate: {seen}. Not a 525",
                _cert_evidence(probe),
                docs_url,
                probe=probe,
            )
        )
    return found


def _http_failure(probe: OriginProbe, mode: str) -> tuple[int, str, bool] | None:
    """In Off and Flexible, Cloudflare connects to the HTTP port, whatever the HTTPS port does."""
    port, step = mode_port(probe, mode)
    failed = connect_failure(step, port)
    if failed is None:
        return None
    https = (
        f"; port {probe.https_port} answers"
        + (" with a certificate that passes Full (strict)" if _passes_strict(probe) else "")
        + ", but Cloudflare does not use it in this mode"
        if probe.tcp443.ok
        else ""
    )
    return failed.code, failed.reason + https, failed.conclusive


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
        if mode not in KNOWN_MODES:
            continue
        evidence = {**_mode_evidence(effective), **_cert_evidence(probe)}
        if mode in ("full", "flexible") and _revoked(probe):
            findings.append(_revoked_finding(probe, effective, evidence))
        if mode in ("off", "flexible"):
            failure = _http_failure(probe, mode)
            if failure is not None:
                findings.append(_connection_finding(probe, effective, failure, evidence))
            continue
        failure = _https_failure(probe)
        if failure is not None and failure[0] == 525 and probe.tls is not None and probe.tls.permissive is not None:
            continue  # versions/ciphers Cloudflare does not offer: origin_tls_ciphers says which
        if failure is not None:
            findings.append(_connection_finding(probe, effective, failure, evidence))
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
                    (
                        *(
                            ("Ask the certificate authority for a new certificate (this one is revoked).",)
                            if _revoked(probe)
                            else ()
                        ),
                        *_INSTALL_CERT,
                        *_fix_rule(effective),
                    ),
                    probe=probe,
                )
            )
        elif mode == "strict" and probe.tls is not None and probe.tls.revocation is not None:
            revocation = probe.tls.revocation
            if revocation.status == UNKNOWN:
                findings.append(
                    _finding(
                        _REVOCATION_UNKNOWN,
                        Severity.INFO,
                        (),
                        probe.hostname,
                        f"whether the certificate of {probe.address} is revoked is unknown: {revocation.detail}",
                        evidence,
                        docs_url,
                        probe=probe,
                    )
                )
    return findings


def _revoked_finding(probe: OriginProbe, effective: EffectiveMode, evidence: dict[str, Any]) -> Finding:
    """A revoked certificate where the mode does not check it: the site works, but Full (strict)
    would reject it (526), so no raise is proposed while it is served."""
    assert probe.tls is not None and probe.tls.revocation is not None
    return _finding(
        _REVOKED_UNDER_FULL,
        Severity.MEDIUM,
        (),
        probe.hostname,
        f"the certificate of {probe.address} is revoked ({probe.tls.revocation.detail}): SSL mode"
        f" {effective.mode}{_set_by(effective)} does not check it, but Full (strict) would reject it"
        " (526), so no raise to Full (strict) is proposed while it is served",
        evidence,
        docs_url,
        (
            "Ask the certificate authority for a new certificate (or install a Cloudflare Origin CA"
            " certificate) and install it on the origin; then raise the mode to Full (strict).",
            *_fix_rule(effective),
        ),
        probe=probe,
    )


def _connection_finding(
    probe: OriginProbe, effective: EffectiveMode, failure: tuple[int, str, bool], evidence: dict[str, Any]
) -> Finding:
    code, reason, conclusive = failure
    mode = effective.mode
    port, step = mode_port(probe, mode)
    plain = mode in ("off", "flexible")
    if plain:
        remediation: tuple[str, ...] = (
            f"In {mode}, Cloudflare connects to port {port}: make the web server listen there and"
            " let every Cloudflare IP range in (no rate limit), or install a certificate and raise"
            " the mode to Full (strict), which uses the HTTPS port instead.",
        )
    elif code == 525 and _demands_client_certificate(probe):
        remediation = (
            "Check SSL/TLS > Origin Server > Authenticated Origin Pulls: if per-hostname AOP is on for"
            " this hostname with a certificate the origin trusts, Cloudflare presents it and this is no"
            " 525; otherwise turn AOP on (for the zone or this hostname) with a certificate the origin"
            " trusts, or stop demanding a client certificate on the origin.",
            "Do not switch to Flexible: it hides the problem and leaves the origin leg unencrypted.",
        )
    elif code == 525:
        remediation = (
            "Make the origin serve HTTPS on its port: enable TLS with a certificate for this"
            " hostname (the name Cloudflare sends as SNI), support Cloudflare's cipher suites, do"
            " not require a client certificate unless Authenticated Origin Pulls is on, and check its"
            " error log at the time of the failures.",
            "Do not switch to Flexible: it hides the problem and leaves the origin leg unencrypted.",
        )
    else:
        remediation = (
            f"Make the origin accept HTTPS on port {port} (start the web server's TLS listener, open"
            " the port to every Cloudflare IP range without rate limits).",
            "Do not switch to Flexible: it hides the problem and leaves the origin leg unencrypted.",
        )
    kind = _NO_TLS if code == 525 else _NO_CONNECTION
    extra: dict[str, Any] = {"reason": reason, "conclusive": conclusive}
    connected = connect_failure(step, port)
    if connected is not None:
        extra["connect"] = dict(connected.evidence)
    return _finding(
        kind,
        Severity.CRITICAL if conclusive else Severity.HIGH,
        (code,),
        probe.hostname,
        f"SSL mode {mode}{_set_by(effective)} connects to {probe.address}:{port}, but {reason}",
        {**evidence, **extra},
        _DOCS[code],
        (*remediation, *_fix_rule(effective)),
        probe=probe,
    )


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
    if _aop_on(facts):
        findings += _aop_findings(zone, proxied)
        proxied = [_with_aop(p) for p in proxied]
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
    # Endpoints of governed routes that no probe looked at (a name that did not resolve, ...).
    unprobed = _unprobed(facts, proxied)
    all_pass = bool(governed) and all(_passes_strict(p) for p in governed) and not unprobed
    hostnames = sorted({p.hostname for p in governed} | {e.hostname for e in unprobed})
    blockers = [_blocker(p) for p in governed if not _passes_strict(p)] + [_unprobed_blocker(e) for e in unprobed]
    unchecked = [_blocker(p) for p in governed if _unchecked(p)] + [_unprobed_blocker(e) for e in unprobed]
    probed = not facts.probes.skipped_reason  # not probing at all (--no-probe) is said once by the CLI
    if (
        mode == "full"
        and probed
        and not all_pass
        and unchecked
        and all(_passes_strict(p) or _unchecked(p) for p in governed)
    ):
        listed = "; ".join(unchecked[:5]) + (f"; and {len(unchecked) - 5} more" if len(unchecked) > 5 else "")
        findings.append(
            _finding(
                _UPGRADE_UNVERIFIED,
                Severity.INFO,
                (),
                zone,
                f"SSL mode is {mode}; every proxied origin that was checked passes Full (strict), but not"
                f" every one was checked, so no raise is proposed: {listed}",
                {"ssl_mode": mode, "hostnames": hostnames, "unchecked": unchecked},
                docs_url,
                (
                    "Probe again once every origin can be reached from here (see the run's probe errors);"
                    " cfremedy proposes Full (strict) once each one is seen passing.",
                ),
            )
        )
    if mode in ("full", "flexible") and all_pass:
        sev = Severity.LOW if mode == "full" else Severity.MEDIUM
        expiring = expiring_soon(facts, governed)
        if expiring:
            horizon = expiry_horizon(facts)
            findings.append(
                _finding(
                    _UPGRADE_HELD,
                    sev,
                    (),
                    zone,
                    f"SSL mode is {mode}; every proxied origin it applies to passes Full (strict) today,"
                    f" but {'; '.join(expiring)}: within origin_cert_expiry's {horizon}-day horizon, so"
                    " raising the mode now would turn that expiry into 526 for visitors. Renew it, then"
                    " upgrade",
                    {"ssl_mode": mode, "hostnames": hostnames, "expiring": expiring, "horizon_days": horizon},
                    docs_url,
                    (
                        "Renew the certificates that expire soon (or install Cloudflare Origin CA"
                        " certificates), then raise the mode to Full (strict); cfremedy proposes it once"
                        " none expires within the horizon.",
                    ),
                )
            )
        else:
            unsure = revocation_unsure(governed)
            caveat = (
                f"; but revocation could not be confirmed for {'; '.join(unsure)}: Full (strict) would"
                " reject a certificate that turns out to be revoked (526)"
                if unsure
                else ""
            )
            findings.append(
                _finding(
                    _UPGRADE,
                    sev,
                    (),
                    zone,
                    f"SSL mode is {mode}, but every proxied origin it applies to already presents a"
                    f" certificate that passes Full (strict): upgrade to validate it{caveat}",
                    {"ssl_mode": mode, "hostnames": hostnames, "revocation_unconfirmed": unsure},
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
                    "origins_not_passing_strict": sorted(
                        {p.hostname for p in governed if not _passes_strict(p)} | {e.hostname for e in unprobed}
                    ),
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


def _unchecked(probe: OriginProbe) -> bool:
    """Nothing is known about this origin's certificate because our side failed or did not look
    (a probe that reached the origin and failed there has a finding of its own)."""
    return _unknown(probe) and _https_failure(probe) is None


def _unprobed(facts: ZoneFacts, proxied: Sequence[OriginProbe]) -> list[Endpoint]:
    """The proxied endpoints of routes the zone's SSL setting governs that no probe looked at:
    a name outside the zone that did not resolve, a probe that never ran. A raise to Full
    (strict) would start validating them blind."""
    seen = {(p.hostname, p.https_port, p.http_port, p.sni, p.host_header, p.via) for p in proxied}
    addressed = {(p.hostname, p.address, p.https_port) for p in proxied}
    # A name to resolve is probed once per `_target_key` (`plan_targets` merges the endpoints
    # that share one, say two pools with the same origin) under the first one's label only:
    # any label of the endpoints sharing the key may be the one its probes carry.
    labels: dict[tuple[str, str, int, int, str, str], set[str]] = {}
    for route in facts.routes:
        for endpoint in route.endpoints:
            labels.setdefault(_target_key(endpoint), set()).add(endpoint.label)
    missing: list[Endpoint] = []
    for route in facts.routes:
        if not route.proxied or route.kind not in ("dns", "load_balancer"):
            continue  # tunnels and Pages have no origin Cloudflare shakes hands with
        if route.ssl is not None and route.ssl.overridden:
            continue  # a rule decides this hostname's mode: a zone raise does not touch it
        for endpoint in route.endpoints:
            if not endpoint.proxied:
                continue
            key = (endpoint.hostname, endpoint.https_port, endpoint.http_port, endpoint.sni, endpoint.host_header)
            if endpoint.resolve:
                found = any((*key, label) in seen for label in labels[_target_key(endpoint)])
            else:
                found = (endpoint.hostname, endpoint.address, endpoint.https_port) in addressed
            if not found:
                missing.append(endpoint)
    return missing


def _target_key(endpoint: Endpoint) -> tuple[str, str, int, int, str, str]:
    """What `plan_targets` probes each endpoint once for (the route's label is not part of it)."""
    return (
        endpoint.hostname,
        endpoint.address,
        endpoint.https_port,
        endpoint.http_port,
        endpoint.sni,
        endpoint.host_header,
    )


def _unprobed_blocker(endpoint: Endpoint) -> str:
    where = f"{endpoint.hostname} at {endpoint.address}:{endpoint.https_port}"
    via = f" ({endpoint.label})" if endpoint.label else ""
    what = "the name did not resolve here" if endpoint.resolve else "it was not probed"
    return f"{where}{via}: {what}, so nobody knows what it presents"


def revocation_unsure(probes: Sequence[OriginProbe]) -> list[str]:
    """The certificates among `probes` whose revocation status is not known to be good (asked
    but no trustworthy answer, or not asked at all: `--no-revocation-check`), named for people,
    each once. A certificate that names no OCSP responder is not among them: nothing to ask."""
    named: dict[str, str] = {}
    for probe in probes:
        tls = probe.tls
        if tls is None or tls.leaf is None:
            continue
        revocation = tls.revocation
        if revocation is None:
            why = "not checked"
        elif revocation.status == UNKNOWN:
            why = f"unknown: {revocation.detail}"
        else:
            continue
        named.setdefault(
            f"{probe.hostname} {probe.address} {tls.leaf.sha256}", f"{probe.hostname} at {probe.address} ({why})"
        )
    return list(named.values())


def expiring_soon(facts: ZoneFacts, probes: Sequence[OriginProbe]) -> list[str]:
    """The certificates among `probes` that expire within origin_cert_expiry's horizon, named
    for people ("the certificate of www.example.com at 192.0.2.1 expires on 2026-12-01 (10 days
    left)"), each once."""
    horizon = expiry_horizon(facts)
    named: dict[str, str] = {}
    for probe in probes:
        leaf = probe.tls.leaf if probe.tls is not None else None
        if leaf is None:
            continue
        days = (leaf.not_after - facts.now).total_seconds() / 86400
        if days <= horizon:
            whole = max(0, int(days))
            named.setdefault(
                f"{probe.hostname} {probe.address} {leaf.sha256}",
                f"the certificate of {probe.hostname} at {probe.address} expires on"
                f" {leaf.not_after:%Y-%m-%d} ({whole} day{'s' if whole != 1 else ''} left)",
            )
    return list(named.values())


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
        upgrade = next(f for f in findings if f.evidence.get("kind") == _UPGRADE)
        unsure = list(upgrade.evidence.get("revocation_unconfirmed") or ())
        caveat = f"; revocation not confirmed for {'; '.join(unsure)}" if unsure else ""
        return [
            Change(
                playbook=id,
                target="setting:ssl",
                before=mode,
                after="strict",
                reason=f"every proxied origin presents a certificate that passes Full (strict){caveat}",
            )
        ]
    return []
