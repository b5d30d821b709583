"""Flexible SSL in front of an origin that redirects HTTP to HTTPS loops forever.

Anti-pattern:
    In Flexible, Cloudflare fetches every page from the origin over plain HTTP on port 80, even
    when the visitor used HTTPS. An origin that sends every HTTP request to `https://` (a web
    server rule, WordPress/`.htaccess`, HSTS middleware) answers Cloudflare with that redirect;
    the browser follows it back through Cloudflare, which asks port 80 again: the visitor gets
    ERR_TOO_MANY_REDIRECTS instead of the page. It often starts the day someone adds an HTTPS
    redirect to a site that Cloudflare reaches in Flexible, or a Page Rule sets Flexible for one
    hostname.

Fix:
    The change raises the zone's SSL mode from Flexible so Cloudflare talks HTTPS to the origin
    and the redirect no longer applies: to Full (strict) when every origin the zone setting
    governs presents a certificate that validates and none of those certificates expires within
    `origin_cert_expiry`'s horizon, to Full when they all complete a TLS handshake. When some
    origin has no working TLS yet, or Flexible comes from a Page Rule or Configuration Rule,
    nothing is proposed: install a certificate (a free Origin CA one will do), then raise the
    mode (in that rule, if a rule sets it). Removing the origin's redirect also stops the loop,
    but keeps the origin leg unencrypted.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    REVOKED,
    Change,
    Finding,
    OriginProbe,
    Severity,
    ZoneFacts,
    effective_modes,
    expiry_horizon,
    finding,
    frozen_mapping,
    https_redirect,
    section_url,
)

id = "flexible_redirect_loop"
title = "SSL Flexible while the origin redirects HTTP to HTTPS (redirect loop)"
severity = Severity.HIGH
error_codes = ()  # browsers show ERR_TOO_MANY_REDIRECTS; no 5xx is involved
docs_url = section_url(525)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ("Zone Settings Write",)
reads = ("ssl_rules",)


def _no_tls(governed: list[OriginProbe]) -> list[str]:
    """The origin endpoints a raise of the zone setting would break (525/521), with their route."""
    return [
        f"{p.hostname} at {p.address}:{p.https_port}" + (f" ({p.via})" if p.via else "")
        for p in governed
        if p.tls is None or not p.tls.handshake_ok
    ]


def detect(facts: ZoneFacts) -> list[Finding]:
    proxied = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    blockers = _no_tls([p for p in proxied if not modes[p.hostname].overridden])
    findings = []
    for probe in proxied:
        effective = modes[probe.hostname]
        location = https_redirect(probe)
        if effective.mode != "flexible" or not location:
            continue
        assert probe.response is not None
        source = f" (set by {effective.source})" if effective.overridden else ""
        remediation = [
            "Install a certificate on the origin (a free Cloudflare Origin CA certificate works),"
            " then set SSL/TLS to Full (strict).",
            "Or remove the origin's HTTP-to-HTTPS redirect and let Cloudflare's \"Always Use"
            ' HTTPS" redirect visitors instead (the origin leg then stays unencrypted).',
        ]
        if effective.overridden:
            remediation.insert(0, f"Flexible comes from {effective.source}: raise the mode there.")
        elif blockers:
            remediation.insert(
                0,
                "No raise of the zone setting is proposed: these origin endpoints it governs have no"
                f" working TLS yet and would answer 525/521: {'; '.join(blockers)}.",
            )
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(),
                resource=probe.hostname,
                message=f"SSL mode is Flexible{source}, so Cloudflare asks {probe.address}:{probe.http_port} over plain"
                f" HTTP, and the origin answers {probe.response.status} to {location}: visitors loop"
                " until the browser gives up (too many redirects)",
                evidence=frozen_mapping(
                    {
                        "ssl_mode": "flexible",
                        "ssl_mode_source": effective.source,
                        "origin": probe.address,
                        "request": f"GET http://{probe.hostname}/ (Host: {probe.hostname})",
                        "status": probe.response.status,
                        "location": location,
                        **({"raise_blocked_by": blockers} if blockers and not effective.overridden else {}),
                    }
                ),
                docs_url=docs_url,
                remediation=remediation,
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    if not findings or facts.snapshot.setting("ssl") != "flexible":
        return []
    proxied = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    looping = sorted({f.resource for f in findings if not modes[f.resource].overridden})
    if not looping:
        return []  # every loop comes from a rule: fixed in the rule
    # Raising the zone setting moves every hostname it governs to HTTPS: all of them must cope.
    governed = [p for p in proxied if not modes[p.hostname].overridden]
    expiring = _expiring(facts, governed)
    if all(_validates(p) for p in governed) and not expiring:
        after = "strict"
    elif all(p.tls is not None and p.tls.handshake_ok for p in governed):
        after = "full"
    else:
        return []  # some origin has no working TLS yet: raising the mode would give 525/521
    held = (
        f" (not Full (strict): {', '.join(expiring)} expires within origin_cert_expiry's"
        f" {expiry_horizon(facts)}-day horizon, and would then give 526)"
        if expiring and all(_validates(p) for p in governed)
        else ""
    )
    return [
        Change(
            playbook=id,
            target="setting:ssl",
            before="flexible",
            after=after,
            reason=f"{', '.join(looping)} redirect HTTP to HTTPS, which loops under Flexible; every"
            f" origin the zone setting governs completes a TLS handshake"
            + (" with a certificate Full (strict) validates" if after == "strict" else held),
        )
    ]


def _validates(probe: OriginProbe) -> bool:
    tls = probe.tls
    revoked = tls is not None and tls.revocation is not None and tls.revocation.status == REVOKED
    return tls is not None and tls.handshake_ok and tls.verified and not revoked


def _expiring(facts: ZoneFacts, governed: Sequence[OriginProbe]) -> list[str]:
    """The certificates (hostname at address) expiring within origin_cert_expiry's horizon."""
    horizon = expiry_horizon(facts)
    return sorted(
        {
            f"the certificate of {p.hostname} at {p.address}"
            for p in governed
            if p.tls is not None
            and p.tls.leaf is not None
            and (p.tls.leaf.not_after - facts.now).total_seconds() / 86400 <= horizon
        }
    )
