"""Every name Cloudflare must resolve to reach an origin must resolve in public DNS.

Anti-pattern:
    A proxied CNAME whose target lies outside the zone, a load-balancer pool origin given by
    host name, or an Origin Rule's DNS record override names a host that has no address:
    the name does not exist (NXDOMAIN) or has no A or AAAA record. Cloudflare cannot find
    the origin and visitors get 530 with error 1016 (origin DNS error). Inside the zone the
    same happens to a CNAME chain that loops or ends at a name without records. A name that
    resolves only inside a company network (split-horizon DNS) fails the same way, since
    Cloudflare resolves from the public Internet: check with `--resolver` pointed at a public
    resolver when this machine sits behind such a network.

Fix:
    No change is proposed: only a person knows the right target. Correct the record, the pool
    origin or the rule to a name that resolves publicly (or publish the missing record),
    then audit again. A resolver that failed (SERVFAIL, no answer) may be this machine's own:
    the finding says which resolver was asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import Change, Finding, Resolution, Severity, ZoneFacts, finding, section_url

id = "origin_dns"
title = "Origin host names that do not resolve (530 / 1016)"
severity = Severity.CRITICAL
error_codes = (530, 1016)
docs_url = section_url(530)
read_permissions = (
    "Zone Read",
    "DNS Read",
    "Origin Rules Read",
    "Load Balancers Read",
    "Load Balancing: Monitors and Pools Read",
)
write_permissions = ()
reads = ("origin_rules", "load_balancers")

_MISSING = {"nxdomain": "does not exist in DNS (NXDOMAIN)", "nodata": "exists but has no A or AAAA record"}
_FAILED = {
    "servfail": "could not be resolved: the resolver answered SERVFAIL",
    "timeout": "could not be resolved: the resolver did not answer in time",
    "error": "could not be resolved",
}


def _resolution_findings(facts: ZoneFacts) -> list[Finding]:
    answers: dict[str, Resolution] = {r.name: r for r in facts.probes.resolutions}
    findings = []
    for need in facts.routes.names:
        answer = answers.get(need.name)
        if answer is None or answer.status in ("ok", "skipped"):
            continue
        evidence = {"name": need.name, "needed_as": need.why, "answer": answer.status, "resolver": answer.resolver}
        if answer.detail:
            evidence["detail"] = answer.detail
        if answer.status in _MISSING:
            findings.append(
                finding(
                    id,
                    Severity.CRITICAL,
                    (530, 1016),
                    need.hostname,
                    f"{need.name} ({need.why} of {need.hostname}) {_MISSING[answer.status]}: Cloudflare"
                    " cannot find the origin and visitors get 530 / error 1016",
                    evidence,
                    docs_url=docs_url,
                    key=need.name,
                    remediation=(
                        f"Point {need.why} at a name that resolves in public DNS, or publish the missing record"
                        f" for {need.name}.",
                        "If the name resolves inside your network only (split-horizon DNS), Cloudflare cannot"
                        " use it: publish it publicly, or use Cloudflare Tunnel.",
                    ),
                )
            )
        else:
            findings.append(
                finding(
                    id,
                    Severity.HIGH,
                    (530, 1016),
                    need.hostname,
                    f"{need.name} ({need.why} of {need.hostname}) {_FAILED.get(answer.status, _FAILED['error'])}"
                    f" ({answer.resolver}); this may be the local resolver: if the name fails from the"
                    " public Internet too, visitors get 530 / error 1016",
                    evidence,
                    docs_url=docs_url,
                    key=need.name,
                    remediation=(
                        f"Resolve {need.name} from outside your network (`--resolver` a public"
                        " resolver), and fix its authoritative DNS if it fails there too.",
                    ),
                )
            )
    return findings


def _route_findings(facts: ZoneFacts) -> list[Finding]:
    return [
        finding(
            id,
            Severity.CRITICAL,
            (530, 1016),
            route.hostname,
            f"{route.hostname} leads nowhere inside the zone: {route.problem}; Cloudflare cannot find"
            " an origin and visitors get an error instead of the site",
            {"problem": route.problem},
            docs_url=docs_url,
            key="zone-chain",
            remediation=("Correct the zone's records so the chain ends at an A, AAAA, or an outside CNAME target.",),
        )
        for route in facts.routes
        if route.proxied and route.problem and not route.endpoints
    ]


def detect(facts: ZoneFacts) -> list[Finding]:
    return _route_findings(facts) + _resolution_findings(facts)


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []
