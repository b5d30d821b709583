"""HTTP/2 to origin must only be on when every origin that offers h2 really speaks it.

Anti-pattern:
    "HTTP/2 to Origin" is enabled (`origin_max_http_version` = "2"). Cloudflare then uses
    HTTP/2 with any origin that advertises `h2` in TLS ALPN. An origin (or a load balancer in
    front of it) that advertises h2 but does not implement it correctly — answers the HTTP/2
    preface with HTTP/1.1, resets the stream, sends GOAWAY, closes the connection — makes
    every proxied request fail with 520.

Fix:
    The change sets `origin_max_http_version` back to "1", so Cloudflare speaks HTTP/1.1 to
    the origin. A person should then fix or disable HTTP/2 on the origin before turning the
    setting back on. Origins that offer only http/1.1, or that serve h2 correctly, are fine.
    Hostnames in Off or Flexible (the zone setting, or a rule for the hostname) are not judged:
    Cloudflare reaches their origins over plain HTTP on the HTTP port, never with TLS, so never
    with HTTP/2 whatever port 443 advertises.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    Finding,
    Outcome,
    Severity,
    ZoneFacts,
    effective_modes,
    finding,
    frozen_mapping,
    section_url,
)

id = "http2_to_origin"
title = "HTTP/2 to origin is on, but an origin mishandles HTTP/2"
severity = Severity.HIGH
error_codes = (520,)
docs_url = section_url(520)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ("Zone Settings Write",)
reads = ("ssl_rules",)  # a hostname in Off or Flexible never reaches its origin over TLS

SETTING = "origin_max_http_version"
# What a broken HTTP/2 implementation looks like from the client: the stream or connection
# torn down, or the protocol violated, or no answer at all after a good handshake.
BROKEN = frozenset({Outcome.PROTOCOL_ERROR, Outcome.RESET, Outcome.TIMEOUT})
PLAIN_MODES = ("off", "flexible")


def _http2_enabled(facts: ZoneFacts) -> bool:
    return str(facts.snapshot.setting(SETTING, "")) == "2"


def detect(facts: ZoneFacts) -> list[Finding]:
    if not _http2_enabled(facts):
        return []
    # 520s Cloudflare actually counted turn "this origin mishandles h2" into "and it hurts".
    counted = facts.observed
    seen = counted.count(520) if counted is not None else 0
    observed = f"; Cloudflare returned {seen} 520 response(s) in the last {counted.window}" if counted and seen else ""
    findings = []
    probes = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in probes])
    for probe in probes:
        tls, h2 = probe.tls, probe.http2
        if tls is None or tls.alpn != "h2" or h2 is None:
            continue
        if modes[probe.hostname].mode in PLAIN_MODES:
            continue  # plain HTTP on the HTTP port: Cloudflare never negotiates h2 with it
        if tls.client_certificate:
            continue  # it ends every session that presents no client certificate: not an h2 fault
        if h2.outcome not in BROKEN:
            continue  # it worked, or failed in a way that proves nothing about its HTTP/2
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(520,),
                resource=probe.hostname,
                message=f"origin {probe.address} advertises h2 over ALPN but a real HTTP/2"
                f" request fails ({h2.outcome.value}: {h2.error or 'no detail'}){observed}",
                evidence=frozen_mapping(
                    {
                        "setting": {SETTING: facts.snapshot.setting(SETTING)},
                        "origin": probe.address,
                        "alpn": tls.alpn,
                        "http2_request": {
                            "outcome": h2.outcome.value,
                            "error": h2.error,
                            "status": h2.status,
                        },
                        "observed_520s": seen if counted is not None else None,
                        "confidence": "confirmed by observed 520s" if seen else "reproduced by probe",
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    "Fix the origin's HTTP/2 support (or stop advertising h2 in ALPN), check its"
                    " error log, then turn HTTP/2 to Origin back on"
                    " (Speed > Optimization > Protocol Optimization).",
                ),
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    if not findings:
        return []
    hosts = ", ".join(sorted({f.resource for f in findings}))
    return [
        Change(
            playbook=id,
            target=f"setting:{SETTING}",
            before=facts.snapshot.setting(SETTING),
            after="1",
            reason=f"the origins of {hosts} advertise h2 but fail HTTP/2 requests (520);"
            " Cloudflare falls back to HTTP/1.1 for every origin of the zone",
        )
    ]
