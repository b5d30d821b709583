"""The origin must answer with a status line and a header block under 16 KB.

Anti-pattern:
    Cloudflare returns 520 when the origin's answer is empty, has no HTTP status line, or
    carries response headers over 16 KB (in practice: dozens of cookies, or a session blob
    stored in a cookie). The origin thinks it answered; the visitor sees Cloudflare's 520
    page, and the origin's access log shows nothing wrong.

Fix:
    Nothing to change at Cloudflare. For oversized headers, stop storing state in cookies or
    trim them (the evidence gives the measured size); for an empty reply or a missing status
    line, read the origin's error log at the time of the probe: it is usually a crashing
    worker or a misbehaving proxy/plugin in front of the application.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import Change, Finding, HttpResponseResult, Severity, ZoneFacts, finding, frozen_mapping, section_url

id = "origin_response_headers"
title = "The origin's response is empty, has no status line, or headers over 16 KB"
severity = Severity.HIGH
error_codes = (520,)
docs_url = section_url(520)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ()
reads = ("ssl_rules",)  # to send the request over the scheme Cloudflare uses for the hostname

HEADER_LIMIT = 16 * 1024


def _problem(response: HttpResponseResult) -> tuple[str, str] | None:
    """(kind, description) of what makes Cloudflare answer 520, or None."""
    if response.empty:
        return "empty_reply", "closed the connection without sending a byte"
    if response.header_bytes > HEADER_LIMIT:
        size = f"{response.header_bytes:,}" + (" or more" if not response.headers_complete else "")
        return "headers_too_large", f"sent {size} bytes of response headers (limit {HEADER_LIMIT:,})"
    if response.headers_complete and response.status is None:
        return "no_status_line", f"sent no HTTP status line (it began with {response.status_line[:60]!r})"
    return None


def detect(facts: ZoneFacts) -> list[Finding]:
    findings = []
    for probe in facts.probes.probes:
        response = probe.response
        if not probe.proxied or response is None:
            continue
        problem = _problem(response)
        if problem is None:
            continue
        kind, description = problem
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(520,),
                resource=probe.hostname,
                message=f"asked GET / the way Cloudflare asks ({response.scheme}, port {response.port}),"
                f" {probe.address} {description}: Cloudflare answers 520",
                evidence=frozen_mapping(
                    {
                        "kind": kind,
                        "origin": probe.address,
                        "request": f"GET {response.scheme}://{probe.hostname}/",
                        "status": response.status,
                        "status_line": response.status_line or None,
                        "header_bytes": response.header_bytes,
                        "error": response.error or None,
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    ("Trim the response headers under 16 KB: usually fewer or smaller cookies.",)
                    if kind == "headers_too_large"
                    else (
                        "Read the origin's error log at the time of the probe: an empty answer or one"
                        " without a status line usually means a crashing worker or a broken proxy or"
                        " plugin in front of the application.",
                    )
                ),
                probe=probe,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # the origin's responses are not Cloudflare's to change
