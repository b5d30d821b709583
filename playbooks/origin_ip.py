"""Proxied DNS records must point at an address Cloudflare can reach: the origin's real, public IP.

Anti-pattern:
    A proxied A/AAAA record names an address Cloudflare's edge cannot connect to: a private
    (RFC 1918), loopback, link-local, carrier-grade NAT, unspecified, multicast, reserved or
    documentation address, a unique-local IPv6 address, or one of Cloudflare's own addresses;
    or an address other than the one the hosting provider provisioned (the server moved and
    DNS did not follow). Visitors get 522 (connection timed out) or 523 (origin unreachable);
    an address inside Cloudflare's ranges is refused outright (1000). An origin that answers
    on neither 80 nor 443 is down: the port the hostname's SSL mode uses (443 in Full and Full
    (strict), 80 in Off and Flexible) says which error visitors get, 521 when it refuses, 522
    when no SYN+ACK comes back within Cloudflare's 15 s, 523 when there is no route.

Fix:
    When the inventory names the hostname's provisioned address, the change rewrites the
    record's content to it (`dns:<id>`), but only once that address has been probed and passes
    what the hostname's mode needs: it accepts connections on the port Cloudflare would use;
    in Off and Flexible, it answers Cloudflare's plain-HTTP `GET /` without redirecting the
    hostname to `https://` (that loops, as `flexible_redirect_loop` says: fix the loop first);
    in Full or Full (strict), it completes a TLS handshake (in Full (strict), with a valid,
    unrevoked certificate for the name). Otherwise the finding names what the new address fails
    and nothing is proposed. A person must find the right address with the host when there is
    no inventory entry; for private origins, publish the service on a public address or put it
    behind Cloudflare Tunnel. A down origin is for the host to restart or to open its firewall
    to Cloudflare's ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cfremedy.kit import (
    REVOKED,
    Change,
    DnsRecord,
    Finding,
    OriginProbe,
    Outcome,
    Severity,
    ZoneFacts,
    address_problem,
    connect_failure,
    effective_modes,
    finding,
    frozen_mapping,
    https_redirect,
    mode_name,
    mode_port,
    section_url,
)

id = "origin_ip"
title = "Proxied records point at an unreachable or wrong origin address"
severity = Severity.CRITICAL
error_codes = (521, 522, 523, 1000)
docs_url = section_url(523)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read")
write_permissions = ("DNS Write",)
# The SSL mode decides the port Cloudflare connects to; candidates are the inventory's addresses,
# probed before a rewrite to one of them is proposed.
reads = ("ssl_rules", "candidates")

_DOCS = {code: section_url(code) for code in (521, 522, 523)}


def _address_problem(address: str, facts: ZoneFacts) -> tuple[str, int] | None:
    """Why Cloudflare cannot use this address, and the error visitors get; None if it can."""
    return address_problem(address, facts.cloudflare_ranges)


def _mode(facts: ZoneFacts, hostname: str) -> str:
    return effective_modes(facts.snapshot, [hostname])[hostname].mode


def _candidate(facts: ZoneFacts, hostname: str, address: str) -> OriginProbe | None:
    """The inventory's `address` probed as the record's endpoint would be
    (`facts.probes.candidates`, or the hostname's own probes when a record already names it)."""
    return next(
        (
            p
            for p in (*facts.probes.candidates, *facts.probes.probes)
            if p.hostname == hostname and p.address == address and p.proxied
        ),
        None,
    )


def _loops(facts: ZoneFacts, hostname: str, address: str) -> str:
    """The `https://` Location the address answers Cloudflare's plain-HTTP request with, when
    the hostname is served in Off or Flexible (a redirect loop once the record points there)."""
    probe = _candidate(facts, hostname, address)
    if probe is None or _mode(facts, hostname) not in ("off", "flexible"):
        return ""
    return https_redirect(probe)


def replacement_check(facts: ZoneFacts, hostname: str, address: str) -> str:
    """What the inventory's `address` fails of what the hostname's SSL mode needs, "" when it
    passes: probed as the record's endpoint would be (`_candidate`)."""
    probe = _candidate(facts, hostname, address)
    if probe is None:
        why = facts.probes.skipped_reason or "it was not probed"
        return f"it could not be checked ({why})"
    mode = _mode(facts, hostname)
    port, step = mode_port(probe, mode)
    if step.outcome in (Outcome.ERROR, Outcome.SKIPPED):
        return f"it could not be checked on port {port} ({step.error or step.outcome.value})"
    failed = connect_failure(step, port)
    if failed is not None:
        return f"{failed.reason} ({failed.code} once the record points there)"
    if not step.ok:
        return f"port {port} does not open ({step.outcome.value})"
    if mode in ("off", "flexible"):
        return _plain_http_check(probe, port, mode)
    tls = probe.tls
    if tls is None or not tls.handshake_ok:
        detail = f"{tls.outcome.value}: {tls.error}" if tls is not None else "no handshake"
        return f"the TLS handshake on port {port} fails ({detail}; 525 once the record points there)"
    if mode != "strict":
        return ""
    if not tls.verified:
        return (
            f"its certificate does not pass Full (strict) ({tls.verify_error or 'not verified'};"
            " 526 once the record points there)"
        )
    if tls.revocation is not None and tls.revocation.status == REVOKED:
        return f"its certificate is revoked ({tls.revocation.detail}; 526 once the record points there)"
    return ""


def _plain_http_check(probe: OriginProbe, port: int, mode: str) -> str:
    """What the address fails of Off and Flexible, where Cloudflare sends a plain-HTTP request to
    `port`: an answer, not a 5xx (the rewrite would trade a 522 for it), and not one that sends
    the hostname back to `https://` (Cloudflare would ask port 80 again, and the visitor would
    loop)."""
    response = probe.response
    if response is None:
        return f"its answer to a plain-HTTP request on port {port} was not checked"
    if response.outcome in (Outcome.ERROR, Outcome.SKIPPED):
        return f"its answer on port {port} could not be checked ({response.error or response.outcome.value})"
    if response.outcome is not Outcome.OK:
        return f"it does not answer a plain-HTTP request on port {port} ({response.outcome.value}: {response.error})"
    if response.status is not None and 500 <= response.status <= 599:
        return (
            f"under {mode_name(mode)}, it answers a plain-HTTP GET / on port {port} with {response.status}:"
            f" visitors would get that {response.status} instead once the record points there"
        )
    location = https_redirect(probe)
    if location:
        return (
            f"under {mode_name(mode)}, its plain-HTTP answer on port {port} ({response.status}) redirects"
            f" to {location}: a redirect loop once the record points there, until the loop is fixed as"
            " flexible_redirect_loop advises"
        )
    return ""


def _record_findings(facts: ZoneFacts) -> list[Finding]:
    findings: list[Finding] = []
    for record in facts.snapshot.records:
        if not (record.proxied and record.is_address):
            continue
        expected = facts.inventory.origins_for(record.name)
        problem = _address_problem(record.content, facts)
        # An A record is judged against the inventory's IPv4 addresses only, an AAAA against
        # its IPv6 ones: a correct AAAA is not wrong because the inventory lists only IPv4.
        same_family = [a for a in expected if _family(a) == _family_of(record)]
        mismatch = bool(same_family) and record.content not in same_family
        if problem is None and not mismatch:
            continue
        evidence: dict[str, object] = {
            "record_id": record.id,
            "type": record.type,
            "content": record.content,
            "proxied": True,
        }
        if expected:
            evidence["inventory_origins"] = list(expected)
        checked = {
            address: replacement_check(facts, record.name, address)
            for address in same_family
            if address != record.content and _address_problem(address, facts) is None
        }
        if checked:
            evidence["replacement_checks"] = {a: why or "passes" for a, why in checked.items()}
        failing = "; ".join(f"{a}: {why}" for a, why in checked.items() if why)
        remediation: list[str]
        if problem is not None:
            reason, code = problem
            evidence["address_class"] = reason
            message = f"{record.type} record points at {reason}: Cloudflare cannot connect to it"
            remediation = [
                "Ask the hosting provider for the public IP address provisioned to this origin"
                " and put it in the record.",
            ]
            if code == 523 and "private" in reason:
                remediation.append(
                    "If the origin only has a private address, publish it through Cloudflare"
                    " Tunnel (a CNAME to the tunnel) instead of an A/AAAA record."
                )
            codes: tuple[int, ...] = (code,) if code == 1000 else (522, 523)
            sev = Severity.CRITICAL
        else:
            message = (
                f"{record.type} record points at {record.content}, but the inventory says the"
                f" origin is provisioned at {', '.join(expected)}"
            )
            remediation = [
                "Confirm with the hosting provider which address the origin has now, then"
                " update the record (a proposed change uses the inventory's address, once it passes"
                " the probes).",
            ]
            codes = (522, 523)
            sev = Severity.HIGH
        if failing and not any(not why for why in checked.values()):
            mode = _mode(facts, record.name)
            message += f"; no rewrite is proposed: the inventory's address fails what {mode} mode needs ({failing})"
            loops = {a: location for a in checked if (location := _loops(facts, record.name, a))}
            looping = list(loops)
            if loops:
                evidence["replacement_loops"] = loops
                remediation.append(
                    f"{', '.join(looping)} {'redirects' if len(looping) == 1 else 'redirect'} plain HTTP"
                    " to HTTPS, which loops under"
                    f" {mode_name(mode)}: fix that loop first, as flexible_redirect_loop advises (install"
                    " a certificate on the origin, then use a mode in which Cloudflare speaks HTTPS to it,"
                    " Full (strict); or remove the origin's redirect), then audit again: the rewrite is"
                    " proposed once the address passes."
                )
            if any(why and a not in loops for a, why in checked.items()):
                remediation.append(
                    "Make the provisioned origin answer as this hostname's SSL mode needs (the port, and"
                    " in Full (strict) a valid certificate for the name), then audit again: the rewrite is"
                    " proposed once it passes."
                )
        findings.append(
            finding(
                playbook=id,
                severity=sev,
                error_codes=codes,
                resource=record.name,
                message=message,
                evidence=evidence,
                docs_url=docs_url,
                remediation=remediation,
                key=record.id,
            )
        )
    return findings


# Outcomes that say something about the origin. ERROR (our side failed: no file descriptor,
# no resolver) and SKIPPED (not probed) say nothing, and must never become a finding.
_TELLING = frozenset({Outcome.OK, Outcome.REFUSED, Outcome.TIMEOUT, Outcome.UNREACHABLE, Outcome.RESET})


def _down(probe: OriginProbe, mode: str) -> tuple[int, str, bool] | None:
    """The error an origin that answers on neither port produces, judged on the port the
    hostname's SSL mode connects to: (code, reason, conclusive)."""
    outcomes = {probe.tcp443.outcome, probe.tcp80.outcome}
    if Outcome.OK in outcomes or not outcomes <= _TELLING:
        return None
    port, step = mode_port(probe, mode)
    failed = connect_failure(step, port)
    if failed is None:
        return None
    other_port, other = (probe.https_port, probe.tcp443) if port == probe.http_port else (probe.http_port, probe.tcp80)
    used = f"the port SSL mode {mode} connects to"
    if other_port == port:
        return failed.code, f"{failed.reason} ({used})", failed.conclusive
    return (
        failed.code,
        f"{failed.reason} ({used}), and port {other_port} does not open either ({other.outcome.value})",
        failed.conclusive,
    )


def _probe_findings(facts: ZoneFacts) -> list[Finding]:
    findings: list[Finding] = []
    proxied = [p for p in facts.probes.probes if p.proxied]
    modes = effective_modes(facts.snapshot, [p.hostname for p in proxied])
    for probe in proxied:
        mode = modes[probe.hostname].mode
        down = _down(probe, mode)
        if down is None:
            continue
        code, reason, conclusive = down
        port, step = mode_port(probe, mode)
        failed = connect_failure(step, port)
        findings.append(
            finding(
                playbook=id,
                severity=Severity.CRITICAL if conclusive else Severity.HIGH,
                error_codes=(code,),
                resource=probe.hostname,
                message=f"origin {probe.address}: {reason}",
                evidence=frozen_mapping(
                    {
                        "address": probe.address,
                        "via_cname": probe.via_cname or None,
                        "ssl_mode": mode,
                        "port_443": {"outcome": probe.tcp443.outcome.value, "error": probe.tcp443.error},
                        "port_80": {"outcome": probe.tcp80.outcome.value, "error": probe.tcp80.error},
                        "connect": dict(failed.evidence) if failed is not None else None,
                        "conclusive": conclusive,
                        "connected_to": list(probe.connected_to),
                    }
                ),
                docs_url=_DOCS[code],
                remediation=(
                    f"Check that the web server is running and listening on port {port}, the one"
                    f" Cloudflare connects to in {mode} mode.",
                    "Allow all of Cloudflare's IP ranges (https://www.cloudflare.com/ips/) in the"
                    " origin's firewall, .htaccess or iptables rules, without rate limits.",
                    "If the server has moved, correct the DNS record to its new address.",
                ),
                probe=probe,
            )
        )
    return findings


def detect(facts: ZoneFacts) -> list[Finding]:
    return _record_findings(facts) + _probe_findings(facts)


def _family(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


def _family_of(record: DnsRecord) -> int:
    return 4 if record.type == "A" else 6


def _replacement(record: DnsRecord, facts: ZoneFacts, taken: set[tuple[str, str, str]]) -> str | None:
    """The inventory address of the record's family that no sibling record uses or will use,
    and that passes what the hostname's SSL mode needs (`replacement_check`)."""
    for address in facts.inventory.origins_for(record.name):
        if (
            _family(address) == _family_of(record)
            and (record.name, record.type, address) not in taken
            and _address_problem(address, facts) is None
            and not replacement_check(facts, record.name, address)
        ):
            return address
    return None


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    changes: list[Change] = []
    # Addresses in use, and those this plan gives out: two wrong records of one name must not
    # both become the same right one (Cloudflare refuses identical records, failing the batch).
    taken = {(r.name, r.type, r.content) for r in facts.snapshot.records}
    for found in findings:
        record_id = found.evidence.get("record_id")
        record = facts.snapshot.record(str(record_id)) if record_id else None
        if record is None:
            continue
        address = _replacement(record, facts, taken)
        if address is None:
            continue
        taken.add((record.name, record.type, address))
        fields = {"type": record.type, "name": record.name}
        changes.append(
            Change(
                playbook=id,
                target=f"dns:{record.id}",
                before={**fields, "content": record.content},
                after={**fields, "content": address},
                reason=f"{record.name} should point at the provisioned origin {address}"
                f" (inventory), not {record.content}",
            )
        )
    return changes
