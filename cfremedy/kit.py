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
from typing import Any

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
from cfremedy.probes.results import HttpResponseResult, OriginProbe, Outcome, Resolution
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
