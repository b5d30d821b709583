"""Everything a playbook module needs, in one import.

    from cfremedy.kit import Change, Finding, Severity, ZoneFacts, finding, section_url

A playbook is data plus two pure functions (see docs/architecture.md, "The playbook
contract"); this module is the part of cfremedy it may lean on: the frozen values it reads and
returns (probe results included), the article's section links, what Cloudflare's edge does
toward origins, the SSL mode a hostname really gets, and `finding`, which builds a `Finding`
without the freezing boilerplate. Nothing here does I/O; a playbook imports nothing else from
cfremedy but the helpers of its own domain (`cfremedy.allowlist` for allowlists), which a
meta-test checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cfremedy.addresses import address_problem
from cfremedy.article import section_url
from cfremedy.edge_profile import (
    CLOUDFLARE_ORIGIN_CIPHERS,
    DEFAULT_PROXY_READ_TIMEOUT,
    MAX_PROXY_READ_TIMEOUT,
    SYN_ACK_TIMEOUT,
)
from cfremedy.facts import ZoneFacts, packaged_cloudflare_ranges
from cfremedy.models import (
    Change,
    DnsRecord,
    Finding,
    PagesProject,
    Severity,
    SslRule,
    frozen_mapping,
    normalise_name,
)
from cfremedy.probes.results import (
    GOOD,
    NOT_CHECKED,
    REVOKED,
    UNKNOWN,
    HttpResponseResult,
    KeepAliveResult,
    OriginProbe,
    Outcome,
    Resolution,
    Revocation,
    SniCheck,
    StepResult,
    TlsResult,
)
from cfremedy.routes import (
    EffectiveTimeout,
    Endpoint,
    LoadBalancerRoute,
    NameToResolve,
    Route,
    Routes,
    TunnelRoute,
    effective_timeout,
)
from cfremedy.ssl_modes import EffectiveMode, describe_rule, effective_modes, mode_name

__all__ = [
    "EXPIRY_HORIZON_DAYS",
    "GOOD",
    "NOT_CHECKED",
    "REVOKED",
    "UNKNOWN",
    "ConnectFailure",
    "KeepAliveResult",
    "Revocation",
    "SniCheck",
    "StepResult",
    "TlsResult",
    "connect_failure",
    "expiry_horizon",
    "https_redirect",
    "mode_port",
    "address_problem",
    "CLOUDFLARE_ORIGIN_CIPHERS",
    "DEFAULT_PROXY_READ_TIMEOUT",
    "MAX_PROXY_READ_TIMEOUT",
    "SYN_ACK_TIMEOUT",
    "Change",
    "DnsRecord",
    "EffectiveMode",
    "EffectiveTimeout",
    "Endpoint",
    "LoadBalancerRoute",
    "NameToResolve",
    "Resolution",
    "Route",
    "Routes",
    "TunnelRoute",
    "Finding",
    "HttpResponseResult",
    "OriginProbe",
    "Outcome",
    "PagesProject",
    "Severity",
    "SslRule",
    "ZoneFacts",
    "describe_rule",
    "effective_modes",
    "effective_timeout",
    "finding",
    "frozen_mapping",
    "mode_name",
    "normalise_name",
    "origin_key",
    "packaged_cloudflare_ranges",
    "route_evidence",
    "section_url",
]


def finding(
    playbook: str,
    severity: Severity,
    error_codes: Iterable[int],
    resource: str,
    message: str,
    evidence: Mapping[str, Any] | None = None,
    *,
    docs_url: str,
    remediation: Iterable[str] = (),
    key: str = "",
    probe: OriginProbe | None = None,
) -> Finding:
    """A `Finding`, its evidence frozen and its sequences made tuples.

    `key` tells apart findings of one playbook on one resource (an origin address, a record
    id): it is part of the finding's fingerprint, so it must stay stable across runs. With
    `probe`, the finding says which route it judged (the message ends "(via load balancer
    ...)", the evidence gains `route`) and the key defaults to `origin_key(probe)`.
    """
    details = dict(evidence or {})
    if probe is not None:
        route = route_evidence(probe)
        if route:
            details["route"] = route
        if probe.retried:
            details["retried"] = (
                f"the first probe timed out ({', '.join(probe.retried)}); this is what a second probe,"
                " run on its own after the others, saw"
            )
        if probe.via:
            message = f"{message} ({probe.via})"
        key = key or origin_key(probe)
    return Finding(
        playbook=playbook,
        severity=severity,
        error_codes=tuple(error_codes),
        resource=resource,
        message=message,
        evidence=frozen_mapping(details),
        docs_url=docs_url,
        remediation=tuple(remediation),
        key=key,
    )


def route_evidence(probe: OriginProbe) -> dict[str, Any]:
    """What of a probed origin's route is not plain DNS on the default ports ({} when nothing)."""
    route: dict[str, Any] = {}
    if probe.via:
        route["via"] = probe.via
    if probe.https_port != 443 or probe.http_port != 80:
        route["ports"] = {"https": probe.https_port, "http": probe.http_port}
    if probe.sni:
        route["sni"] = probe.sni
    if probe.host_header:
        route["host_header"] = probe.host_header
    if probe.partial:
        route["partial"] = "only part of the hostname's traffic (a path-specific rule) goes here"
    return route


def origin_key(probe: OriginProbe) -> str:
    """A probed origin's stable identity within a hostname: its address, plus what of its
    route differs from plain DNS (two endpoints at one address on other ports are two)."""
    parts = [probe.address]
    if probe.https_port != 443 or probe.http_port != 80:
        parts.append(f"{probe.https_port}/{probe.http_port}")
    if probe.sni or probe.host_header:
        parts.append(f"{probe.sni}|{probe.host_header}")
    return ":".join(parts)


# How many days before expiry a certificate under Full (strict) is reported by
# `origin_cert_expiry` (`[playbooks.origin_cert_expiry] days` in cfremedy.toml), and within
# which no playbook proposes raising a zone to Full (strict).
EXPIRY_HORIZON_DAYS = 21


def expiry_horizon(facts: ZoneFacts) -> int:
    """`origin_cert_expiry`'s horizon in days, as cfremedy.toml sets it (or the default)."""
    return int(facts.option("origin_cert_expiry", "days", EXPIRY_HORIZON_DAYS))


def https_redirect(probe: OriginProbe) -> str:
    """The Location when the origin's plain-HTTP answer sends the hostname to `https://` on the
    same name (what loops under Off and Flexible, where Cloudflare asks port 80 again), else "".
    A Location that does not parse (`https://[x`: `urlsplit` raises) is no redirect to https:
    one half-configured server must not stop the playbook for the whole zone."""
    response = probe.response
    if response is None or response.scheme != "http" or not response.redirect:
        return ""
    try:
        target = urlsplit(response.location)
        host = (target.hostname or "").lower()
    except ValueError:
        return ""
    if target.scheme != "https":
        return ""
    name = probe.hostname
    same_host = host in ("", name) or (name.startswith("*.") and host.endswith(name[1:]))
    return response.location if same_host else ""


def mode_port(probe: OriginProbe, mode: str) -> tuple[int, StepResult]:
    """The port Cloudflare connects to for this SSL mode, and our connect to it: the HTTP port in
    Off and Flexible, the HTTPS port in Full and Full (strict)."""
    if mode in ("off", "flexible"):
        return probe.http_port, probe.tcp80
    return probe.https_port, probe.tcp443


@dataclass(frozen=True)
class ConnectFailure:
    """What Cloudflare answers when the TCP connection to the origin does not open."""

    code: int  # 521 refused or reset, 522 no SYN+ACK, 523 no route
    reason: str  # "port 443 refuses connections", "no SYN+ACK on port 80 within 10 s (...)"
    # False for a 522 judged from a wait shorter than Cloudflare's: an origin that answers
    # between the probe's timeout and SYN_ACK_TIMEOUT still connects.
    conclusive: bool = True
    evidence: Mapping[str, Any] = field(default_factory=dict)


def connect_failure(step: StepResult, port: int) -> ConnectFailure | None:
    """The 521/522/523 a failed connect to `port` means; None when it opened, or when our side
    failed or did not look (ERROR, SKIPPED: that says nothing about the origin)."""
    outcome = step.outcome
    evidence: dict[str, Any] = {"port": port, "outcome": outcome.value}
    if step.error:
        evidence["error"] = step.error
    if outcome is Outcome.REFUSED:
        return ConnectFailure(521, f"port {port} refuses connections", evidence=evidence)
    if outcome is Outcome.RESET:
        return ConnectFailure(521, f"port {port} resets connections", evidence=evidence)
    if outcome is Outcome.UNREACHABLE:
        why = step.error or "unreachable"
        return ConnectFailure(523, f"there is no route to port {port} ({why})", evidence=evidence)
    if outcome is not Outcome.TIMEOUT:
        return None
    waited = round(step.elapsed_ms / 1000, 1)
    conclusive = waited >= SYN_ACK_TIMEOUT
    evidence.update(waited_s=waited, cloudflare_waits_s=SYN_ACK_TIMEOUT)
    reason = f"no SYN+ACK on port {port} within {waited:g} s (Cloudflare waits {SYN_ACK_TIMEOUT:g} s)"
    if not conclusive:
        reason += (
            f": 522 unless the origin answers between {waited:g} and {SYN_ACK_TIMEOUT:g} s"
            f" (probe again with --probe-timeout {SYN_ACK_TIMEOUT:g} to be sure)"
        )
    return ConnectFailure(522, reason, conclusive, evidence)
