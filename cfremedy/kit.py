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
from cfremedy.probes.results import HttpResponseResult, OriginProbe, Outcome
from cfremedy.ssl_modes import EffectiveMode, describe_rule, effective_modes, mode_name

__all__ = [
    "CLOUDFLARE_ORIGIN_CIPHERS",
    "DEFAULT_PROXY_READ_TIMEOUT",
    "MAX_PROXY_READ_TIMEOUT",
    "SYN_ACK_TIMEOUT",
    "Change",
    "DnsRecord",
    "EffectiveMode",
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
    "finding",
    "frozen_mapping",
    "mode_name",
    "normalise_name",
    "packaged_cloudflare_ranges",
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
) -> Finding:
    """A `Finding`, its evidence frozen and its sequences made tuples.

    `key` tells apart findings of one playbook on one resource (an origin address, a record
    id): it is part of the finding's fingerprint, so it must stay stable across runs.
    """
    return Finding(
        playbook=playbook,
        severity=severity,
        error_codes=tuple(error_codes),
        resource=resource,
        message=message,
        evidence=frozen_mapping(evidence),
        docs_url=docs_url,
        remediation=tuple(remediation),
        key=key,
    )
