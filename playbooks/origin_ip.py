"""Proxied DNS records must point at an address Cloudflare can reach: the origin's real, public IP.

Anti-pattern:
    A proxied A/AAAA record names an address Cloudflare's edge cannot connect to: a private
    (RFC 1918), loopback, link-local, carrier-grade NAT, unspecified, multicast, reserved or
    documentation address, a unique-local IPv6 address, or one of Cloudflare's own addresses;
    or an address other than the one the hosting provider provisioned (the server moved and
    DNS did not follow). Visitors get 522 (connection timed out) or 523 (origin unreachable);
    an address inside Cloudflare's ranges is refused outright (1000). An origin that refuses or
    ignores connections on both 80 and 443 gives 521 or 522.

Fix:
    When the inventory names the hostname's provisioned address, the change rewrites the
    record's content to it (`dns:<id>`). Otherwise a person must find the right address with
    the host and correct the record; for private origins, publish the service on a public
    address or put it behind Cloudflare Tunnel. A down origin is for the host to restart or
    to open its firewall to Cloudflare's ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    DnsRecord,
    Finding,
    OriginProbe,
    Outcome,
    Severity,
    ZoneFacts,
    address_problem,
    finding,
    frozen_mapping,
    section_url,
)

id = "origin_ip"
title = "Proxied records point at an unreachable or wrong origin address"
severity = Severity.CRITICAL
error_codes = (521, 522, 523, 1000)
docs_url = section_url(523)
read_permissions = ("Zone Read", "DNS Read")
write_permissions = ("DNS Write",)

_DOCS_522 = section_url(522)


def _address_problem(address: str, facts: ZoneFacts) -> tuple[str, int] | None:
    """Why Cloudflare cannot use this address, and the error visitors get; None if it can."""
    return address_problem(address, facts.cloudflare_ranges)


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
                " update the record (the proposed change uses the inventory's address).",
            ]
            codes = (522, 523)
            sev = Severity.HIGH
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


def _ports(probe: OriginProbe) -> str:
    """`ports 443 and 80`, or `port 8443` when a route sends both schemes to one port."""
    if probe.https_port == probe.http_port:
        return f"port {probe.https_port}"
    return f"ports {probe.https_port} and {probe.http_port}"


def _down(probe: OriginProbe) -> tuple[int, str] | None:
    """The error an origin that answers on neither port produces, with the reason."""
    outcomes = {probe.tcp443.outcome, probe.tcp80.outcome}
    if Outcome.OK in outcomes or not outcomes <= _TELLING:
        return None
    if outcomes == {Outcome.REFUSED}:
        return 521, f"refuses connections on {_ports(probe)}"
    if Outcome.UNREACHABLE in outcomes:
        return 523, f"is unreachable (no route) on {_ports(probe)}"
    return 522, (
        f"does not complete a TCP connection on port {probe.https_port} ({probe.tcp443.outcome.value})"
        f" or port {probe.http_port} ({probe.tcp80.outcome.value})"
    )


def _probe_findings(facts: ZoneFacts) -> list[Finding]:
    findings: list[Finding] = []
    for probe in facts.probes.probes:
        if not probe.proxied:
            continue
        down = _down(probe)
        if down is None:
            continue
        code, reason = down
        findings.append(
            finding(
                playbook=id,
                severity=Severity.CRITICAL,
                error_codes=(code,),
                resource=probe.hostname,
                message=f"origin {probe.address} {reason}",
                evidence=frozen_mapping(
                    {
                        "address": probe.address,
                        "via_cname": probe.via_cname or None,
                        "port_443": {"outcome": probe.tcp443.outcome.value, "error": probe.tcp443.error},
                        "port_80": {"outcome": probe.tcp80.outcome.value, "error": probe.tcp80.error},
                        "connected_to": list(probe.connected_to),
                    }
                ),
                docs_url=_DOCS_522,
                remediation=(
                    "Check that the web server is running and listening on 443 and 80.",
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
    """The inventory address of the record's family that no sibling record uses or will use."""
    for address in facts.inventory.origins_for(record.name):
        if (
            _family(address) == _family_of(record)
            and (record.name, record.type, address) not in taken
            and _address_problem(address, facts) is None
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
