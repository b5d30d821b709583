"""The origin's gzip responses must be complete and decodable.

Anti-pattern:
    The origin compresses a response with gzip but sends the Content-Length of the
    uncompressed body (a proxy or plugin compressed it after the length was set), or sends a
    gzip stream that is broken. Cloudflare waits for bytes that never come, or cannot decode
    what it got: the newest revision of the article gives both as causes of a 502 (its 502/504
    section), and suggests disabling compression at the origin to confirm.

Fix:
    Nothing to change at Cloudflare. Fix the origin's compression: let one layer compress
    (the web server or the application, not both) and make sure the length header is dropped
    or recomputed after compressing. Turning compression off at the origin confirms the
    diagnosis; Cloudflare still compresses for visitors.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    Finding,
    HttpResponseResult,
    Outcome,
    Severity,
    ZoneFacts,
    finding,
    frozen_mapping,
    section_url,
)

id = "origin_compression"
title = "The origin sends gzip responses with a wrong length or a broken stream"
severity = Severity.HIGH
error_codes = (502,)
docs_url = section_url(502)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)  # to send the request over the scheme Cloudflare uses for the hostname


def _length_problem(response: HttpResponseResult) -> str:
    declared = response.content_length
    if response.chunked or declared is None or response.capped or response.body_bytes == declared:
        return ""
    if response.outcome is Outcome.TIMEOUT:
        return ""  # a slow body is not proof of a wrong length: only a close is
    if response.body_bytes < declared:
        return (
            f"declares Content-Length {declared} but sends {response.body_bytes} bytes and then closes the connection"
        )
    return f"declares Content-Length {declared} but sends {response.body_bytes} bytes"


def detect(facts: ZoneFacts) -> list[Finding]:
    findings = []
    for probe in facts.probes.probes:
        response = probe.response
        if not probe.proxied or response is None or response.status is None:
            continue
        gzip = response.content_encoding == "gzip"
        length = _length_problem(response)
        problem = length or (response.decode_error if gzip else "")
        if not problem:
            continue
        what = "gzip response" if gzip else "response"
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(502,),
                resource=probe.hostname,
                message=f"the origin's {what} to GET {response.scheme}://{probe.hostname}/ (from"
                f" {probe.address}:{response.port})"
                f" {problem}: Cloudflare answers such responses with 502",
                evidence=frozen_mapping(
                    {
                        "origin": probe.address,
                        "request": f"GET {response.scheme}://{probe.hostname}/ (Accept-Encoding: gzip)",
                        "status": response.status,
                        "content_encoding": response.content_encoding or None,
                        "content_length": response.content_length,
                        "body_bytes": response.body_bytes,
                        "decode_error": response.decode_error or None,
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    "Disable compression at the origin to confirm (Cloudflare still compresses for"
                    " visitors), then let a single layer compress and make it drop or recompute"
                    " Content-Length after compressing.",
                ),
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # the origin's compression is not Cloudflare's to change
