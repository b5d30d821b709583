"""Enterprise zones must wait longer than their slowest legitimate request takes.

Anti-pattern:
    An endpoint legitimately takes longer to answer than the zone's `proxy_read_timeout`
    (100 seconds unless changed): Cloudflare stops waiting and the visitor gets 524. Only
    Enterprise zones can raise the timeout (up to 6,000 s); the inventory's `slow_endpoints`
    say which requests are slow and how slow.

    A Cache Rule can set another Proxy Read Timeout for a hostname or a path: each slow
    endpoint is judged by the timeout in force for it (the zone setting, or the last matching
    Cache Rule).

Fix:
    On Enterprise, the change raises `proxy_read_timeout` to the smallest value that covers
    the slowest endpoint the zone setting governs, with 20 % headroom, capped at 6,000 s. A
    timeout set by a Cache Rule is fixed in that rule (a manual step the finding names), never
    by changing the zone setting the rule overrides. Beyond 6,000 s, or on any
    other plan, a person must change the application: report progress through status
    polling instead of one long request, or serve the endpoint from a DNS-only (grey-cloud)
    subdomain. For cacheable content, a cache rule's Proxy Read Timeout is an alternative.
    The 30-second proxy *write* timeout cannot be raised. When Cloudflare counted 524s
    (`--errors-since`) but the inventory names no slow endpoint, the finding asks for the
    endpoints' durations instead of guessing a timeout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cfremedy.kit import (
    DEFAULT_PROXY_READ_TIMEOUT,
    MAX_PROXY_READ_TIMEOUT,
    Change,
    EffectiveTimeout,
    Finding,
    Severity,
    ZoneFacts,
    effective_timeout,
    finding,
    frozen_mapping,
    section_url,
)

id = "proxy_read_timeout"
title = "Slow endpoints exceed the proxy read timeout"
severity = Severity.HIGH
error_codes = (524,)
docs_url = section_url(524)
read_permissions = ("Zone Read", "Zone Settings Read", "DNS Read", "Cache Rules Read")
write_permissions = ("Zone Settings Write",)
uses_probes = False  # everything it needs is in the settings, the rules, the inventory and analytics
reads = ("cache_rules",)

SETTING = "proxy_read_timeout"
DEFAULT_SECONDS = DEFAULT_PROXY_READ_TIMEOUT
MAX_SECONDS = MAX_PROXY_READ_TIMEOUT  # the API accepts 1..6000
HEADROOM = 1.2

_MANUAL = (
    "Report progress through status polling: start the work in one request and let the client"
    " poll for the result, so no single request runs this long.",
    "Or serve this endpoint from a DNS-only (grey-cloud) subdomain, which Cloudflare does not"
    " proxy and therefore does not time out.",
)


def _current(facts: ZoneFacts) -> int:
    value = facts.snapshot.setting(SETTING)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return DEFAULT_SECONDS
    return seconds if 1 <= seconds <= MAX_SECONDS else DEFAULT_SECONDS


def _can_raise(facts: ZoneFacts) -> bool:
    snapshot = facts.snapshot
    return snapshot.zone.is_enterprise or bool(snapshot.editable.get(SETTING, False))


def target_seconds(slowest: float) -> int | None:
    """The timeout to propose for the slowest endpoint, or None when no setting can cover it."""
    if slowest > MAX_SECONDS:
        return None
    return min(MAX_SECONDS, max(1, math.ceil(slowest * HEADROOM)))


def _observed(facts: ZoneFacts, current: int) -> Finding | None:
    """524s Cloudflare counted: evidence enough, even when the inventory names no endpoint."""
    observed = facts.observed
    if observed is None or observed.count(524) == 0:
        return None
    count = observed.count(524)
    if _can_raise(facts):
        remediation: tuple[str, ...] = (
            "Find the slow requests (Analytics, or the origin's logs) and add them to the"
            " inventory's slow_endpoints with their duration: cfremedy then proposes a"
            " proxy_read_timeout that covers them.",
        )
    else:
        remediation = ("Only Enterprise zones can raise the timeout.", *_MANUAL)
    return finding(
        playbook=id,
        severity=Severity.HIGH,
        error_codes=(524,),
        resource=facts.snapshot.zone.name,
        message=f"Cloudflare returned {count} 524 response(s) in the last {observed.window}:"
        f" requests ran longer than the proxy read timeout of {current} s",
        evidence=frozen_mapping(
            {"plan": facts.snapshot.zone.plan, SETTING: current, "observed_524s": count, "window": observed.window}
        ),
        docs_url=docs_url,
        remediation=remediation,
        key="observed",
    )


def _by_rule(facts: ZoneFacts, resource: str, seconds: float, timeout: EffectiveTimeout) -> Finding:
    """A slow endpoint whose timeout a Cache Rule sets: fixed in the rule, never in the setting."""
    rule = timeout.rule
    assert rule is not None
    wanted = target_seconds(seconds)
    fix = (
        f"Raise the Proxy Read Timeout of {rule.label} to {wanted} s (Rules > Cache Rules); the zone"
        " setting does not apply to these requests."
        if wanted is not None
        else f"No timeout covers {seconds:g} s (the maximum is {MAX_SECONDS} s)."
    )
    return finding(
        playbook=id,
        severity=Severity.HIGH,
        error_codes=(524,),
        resource=resource,
        message=f"{resource} takes up to {seconds:g} s, longer than the proxy read timeout of"
        f" {timeout.seconds} s that {rule.label} sets for it",
        evidence={"timeout_rule": rule.label, "rule_timeout": timeout.seconds, "endpoint_seconds_rule": seconds},
        docs_url=docs_url,
        remediation=(fix, *(_MANUAL if wanted is None else ())),
    )


def detect(facts: ZoneFacts) -> list[Finding]:
    current = _current(facts)
    findings = []
    for endpoint in facts.inventory.slow_endpoints:
        route = facts.routes.get(endpoint.hostname)
        if route is None or not route.proxied:
            continue  # not behind Cloudflare's proxy at all
        timeout = effective_timeout(facts.snapshot, endpoint.hostname, endpoint.path)
        if endpoint.seconds <= timeout.seconds:
            continue  # fast enough for the timeout in force
        if timeout.rule is not None:
            findings.append(_by_rule(facts, f"{endpoint.hostname}{endpoint.path}", endpoint.seconds, timeout))
            continue
        raisable = _can_raise(facts) and endpoint.seconds <= MAX_SECONDS
        if raisable:
            remediation: tuple[str, ...] = (
                "Raise proxy_read_timeout (the proposed change), or for cacheable content use a"
                " cache rule with a Proxy Read Timeout.",
            )
        elif _can_raise(facts):
            remediation = (f"No timeout covers {endpoint.seconds:g} s (the maximum is {MAX_SECONDS} s).", *_MANUAL)
        else:
            remediation = ("Only Enterprise zones can raise the timeout.", *_MANUAL)
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(524,),
                resource=f"{endpoint.hostname}{endpoint.path}",
                message=f"{endpoint.hostname}{endpoint.path} takes up to {endpoint.seconds:g} s,"
                f" longer than the proxy read timeout of {current} s",
                evidence=frozen_mapping(
                    {
                        "plan": facts.snapshot.zone.plan,
                        SETTING: current,
                        "setting_editable": bool(facts.snapshot.editable.get(SETTING, False)),
                        "endpoint_seconds": endpoint.seconds,
                        **({"rules_not_evaluated": [r.label for r in timeout.unknown]} if timeout.unknown else {}),
                    }
                ),
                docs_url=docs_url,
                remediation=remediation,
            )
        )
    if not findings:  # the inventory explains nothing: the counted 524s still need a look
        observed = _observed(facts, current)
        findings += [observed] if observed is not None else []
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    if not findings or not _can_raise(facts):
        return []
    durations = [float(f.evidence["endpoint_seconds"]) for f in findings if "endpoint_seconds" in f.evidence]
    coverable = [d for d in durations if d <= MAX_SECONDS]
    if not coverable:
        return []
    slowest = max(coverable)
    after = target_seconds(slowest)
    assert after is not None
    return [
        Change(
            playbook=id,
            target=f"setting:{SETTING}",
            before=facts.snapshot.setting(SETTING, DEFAULT_SECONDS),
            after=after,
            reason=f"the slowest proxied endpoint takes {slowest:g} s; "
            + (
                f"{after} s, the API's maximum, covers it with less than {round((HEADROOM - 1) * 100)} % headroom"
                if after == MAX_SECONDS and slowest * HEADROOM > MAX_SECONDS
                else f"{after} s covers it with {round((HEADROOM - 1) * 100)} % headroom"
            ),
        )
    ]
