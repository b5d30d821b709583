"""The origin must keep HTTP/1.1 connections open between requests.

Anti-pattern:
    The web server closes every connection after one response (`keepalive_timeout 0` in nginx,
    `KeepAlive Off` in Apache, a proxy that sends `Connection: close`). Cloudflare then opens a
    new TCP (and TLS) connection for each request it forwards; under load the origin's accept
    queue and handshakes become the bottleneck, connections wait or are dropped, and visitors
    get 522. The 522 section of the article lists keepalives disabled at the origin among its
    causes.

Fix:
    Nothing to change at Cloudflare: turn keepalives back on in the web server (and in any
    proxy or load balancer in front of it) and reload it. The finding is low: a site works
    without keepalives, and only loses headroom.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import Change, Finding, Outcome, Severity, ZoneFacts, finding, frozen_mapping, section_url

id = "origin_keepalive"
title = "The origin closes the connection after every response (keepalives disabled)"
severity = Severity.LOW
error_codes = (522,)
docs_url = section_url(522)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)  # to send the requests over the scheme Cloudflare uses for the hostname


def detect(facts: ZoneFacts) -> list[Finding]:
    findings = []
    for probe in facts.probes.probes:
        result = probe.keepalive
        if not probe.proxied or result is None or result.outcome is not Outcome.OK or not result.closed_after_first:
            continue
        where = f"{result.scheme}://{probe.hostname}/ (port {result.port})"
        findings.append(
            finding(
                playbook=id,
                severity=Severity.LOW,
                error_codes=(522,),
                resource=probe.hostname,
                message=f"asked twice for GET {where} on one connection, {probe.address} ended the"
                f" connection after the first response: {result.closed_after_first}. Cloudflare must open"
                " a new connection for every request (keepalives disabled)",
                evidence=frozen_mapping(
                    {
                        "origin": probe.address,
                        "requests": f"GET {where}, twice on one HTTP/1.1 connection, without Connection: close",
                        "first_status": result.first_status,
                        "closed_after_first": result.closed_after_first,
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    "Turn keepalives on in the web server (nginx: keepalive_timeout above 0; Apache:"
                    " KeepAlive On) and in any proxy in front of it, then reload it.",
                ),
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # the origin's keepalive setting is not Cloudflare's to change
