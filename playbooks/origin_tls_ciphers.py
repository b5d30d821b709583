"""The origin must accept a TLS version and cipher suite that Cloudflare offers.

Anti-pattern:
    In Full or Full (strict), Cloudflare opens TLS to the origin with its own list of cipher
    suites (`CLOUDFLARE_ORIGIN_CIPHERS`: TLS 1.3's three; for TLS 1.2 and older, ECDHE and RSA
    suites with AES, and DES-CBC3-SHA). An origin hardened to suites outside that list
    (ChaCha20 or AES-CCM at TLS 1.2, ARIA, Camellia, DHE...), or one stuck on suites Cloudflare
    dropped (RC4), shares nothing with Cloudflare: the handshake fails and visitors get 525.
    An origin that speaks nothing newer than TLS 1.1 still connects through the few legacy
    suites the list keeps (AES-SHA, 3DES), on borrowed time.

Fix:
    Nothing to change at Cloudflare: enable at least one suite of Cloudflare's origin list on
    the web server (e.g. ECDHE-ECDSA-AES128-GCM-SHA256 for an ECDSA key,
    ECDHE-RSA-AES128-GCM-SHA256 for RSA) and TLS 1.2 or 1.3. The finding names what the origin
    accepted when offered everything, so the gap is plain.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    CLOUDFLARE_ORIGIN_CIPHERS,
    Change,
    Finding,
    OriginProbe,
    Severity,
    ZoneFacts,
    effective_modes,
    finding,
    section_url,
)

id = "origin_tls_ciphers"
title = "The origin accepts no TLS version or cipher suite that Cloudflare offers"
severity = Severity.CRITICAL
error_codes = (525,)
docs_url = section_url(525)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)

_MODERN = ("TLSv1.2", "TLSv1.3")
_FIX = (
    "Enable TLS 1.2 or 1.3 on the origin with at least one cipher suite Cloudflare offers"
    " (ECDHE-ECDSA-AES128-GCM-SHA256 for an ECDSA key, ECDHE-RSA-AES128-GCM-SHA256 for RSA),"
    " then reload the web server.",
)


def _finding(sev: Severity, resource: str, message: str, evidence: dict[str, object], probe: OriginProbe) -> Finding:
    return finding(
        playbook=id,
        severity=sev,
        error_codes=(525,),
        resource=resource,
        message=message,
        evidence=evidence,
        docs_url=docs_url,
        remediation=_FIX,
        probe=probe,
    )


def detect(facts: ZoneFacts) -> list[Finding]:
    proxied = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    findings = []
    for probe in proxied:
        tls = probe.tls
        mode = modes[probe.hostname].mode
        if mode not in ("full", "strict") or tls is None:
            continue  # Off and Flexible never shake hands with the origin
        evidence: dict[str, object] = {
            "ssl_mode": mode,
            "origin": probe.address,
            "cloudflare_offers": list(CLOUDFLARE_ORIGIN_CIPHERS),
        }
        if not tls.handshake_ok and tls.permissive is not None:
            accepted = tls.permissive
            old = accepted.version not in _MODERN
            why = (
                f"it accepts only {accepted.version} with {accepted.cipher}"
                if old
                else f"the only suite it accepts is {accepted.cipher} ({accepted.version}),"
                " which Cloudflare does not offer"
            )
            findings.append(
                _finding(
                    Severity.CRITICAL,
                    probe.hostname,
                    f"the TLS handshake with {probe.address} fails with Cloudflare's cipher suites (525): {why}",
                    {
                        **evidence,
                        "handshake": {"outcome": tls.outcome.value, "error": tls.error},
                        "origin_accepts": {"version": accepted.version, "cipher": accepted.cipher},
                    },
                    probe,
                )
            )
        elif tls.handshake_ok and tls.version and tls.version not in _MODERN:
            findings.append(
                _finding(
                    Severity.MEDIUM,
                    probe.hostname,
                    f"{probe.address} speaks nothing newer than {tls.version} ({tls.cipher}): Cloudflare"
                    " still connects through its few legacy suites, but the origin leg runs on"
                    " obsolete cryptography",
                    {**evidence, "negotiated": {"version": tls.version, "cipher": tls.cipher}},
                    probe,
                )
            )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # the origin's TLS configuration is not Cloudflare's to change
