"""An origin certificate that passes Full (strict) today must not be about to expire.

Anti-pattern:
    The hostname is served in Full (strict) and its origin's certificate validates now, but
    its `notAfter` is only days away. The day it passes, Cloudflare stops accepting it and
    every request to the hostname fails with 526, usually on a weekend, because the renewal
    job died silently months ago.

Fix:
    Nothing to change at Cloudflare: renew the certificate on the origin (or issue a Cloudflare
    Origin CA certificate, valid up to 15 years) and reload the web server. The finding appears
    `days` before expiry (21 by default, `[playbooks.origin_cert_expiry] days = N` in
    cfremedy.toml) as medium, and turns high in the last 7 days so a CI gate on `--fail-on
    high` stops the pipeline before the outage rather than after it. The same horizon keeps
    `ssl_origin_cert` and `flexible_redirect_loop` from proposing Full (strict) while a
    certificate it would start validating expires within it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    EXPIRY_HORIZON_DAYS,
    Change,
    Finding,
    Severity,
    ZoneFacts,
    effective_modes,
    expiry_horizon,
    finding,
    frozen_mapping,
    section_url,
)

id = "origin_cert_expiry"
title = "An origin certificate valid under Full (strict) expires soon"
severity = Severity.MEDIUM
error_codes = (526,)
docs_url = section_url(526)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)

DEFAULT_DAYS = EXPIRY_HORIZON_DAYS  # 21; `[playbooks.origin_cert_expiry] days` overrides it
URGENT_DAYS = 7


def detect(facts: ZoneFacts) -> list[Finding]:
    horizon = expiry_horizon(facts)
    proxied = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    findings = []
    for probe in proxied:
        tls = probe.tls
        effective = modes[probe.hostname]
        # Only Full (strict) checks expiry; a certificate that fails already is ssl_origin_cert's.
        if effective.mode != "strict" or tls is None or not tls.verified or tls.leaf is None:
            continue
        left = tls.leaf.not_after - facts.now
        days = left.total_seconds() / 86400
        if days > horizon:
            continue
        whole = max(0, int(days))
        sev = Severity.HIGH if days <= URGENT_DAYS else Severity.MEDIUM
        source = f" (Full (strict) from {effective.source})" if effective.overridden else ""
        findings.append(
            finding(
                playbook=id,
                severity=sev,
                error_codes=(526,),
                resource=probe.hostname,
                message=f"the certificate of {probe.address} expires on {tls.leaf.not_after:%Y-%m-%d}"
                f" ({whole} day{'s' if whole != 1 else ''} left): from then on Full (strict){source}"
                " rejects it with 526",
                evidence=frozen_mapping(
                    {
                        "origin": probe.address,
                        "not_after": tls.leaf.not_after.isoformat(),
                        "days_left": round(days, 1),
                        "warn_days": horizon,
                        "subject": tls.leaf.subject,
                        "issuer": tls.leaf.issuer,
                        "sha256": tls.leaf.sha256,
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    "Renew the origin certificate (or install a Cloudflare Origin CA certificate)"
                    " and reload the web server; check that automatic renewal is still running.",
                ),
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # renewing a certificate happens on the origin
