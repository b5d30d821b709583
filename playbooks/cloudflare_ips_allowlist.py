"""The origin's allowlist must let in every current Cloudflare IP range, and only those.

Anti-pattern:
    A firewall or web server in front of the origin lets in Cloudflare's IP ranges from a
    list copied once and never updated. Cloudflare has added ranges since (172.64.0.0/13,
    131.0.72.0/22, the 2021 split of 104.16.0.0/12 into 104.16.0.0/13 and 104.24.0.0/14):
    connections Cloudflare opens from a range the list misses are refused or dropped, and
    visitors get 521 (refused) or 522 (timed out), or 520 (the article's 520 section also names
    Cloudflare addresses the origin does not allow), intermittently, depending on which
    Cloudflare address serves them. The same old copy usually still lists ranges Cloudflare retired
    (199.27.128.0/21) or ranges wider than its current ones (104.16.0.0/12 now also covers
    addresses used for other traffic), which let non-Cloudflare addresses reach the origin.

Fix:
    Nothing to change through the API: the files named in the inventory (`allowlist_files`)
    are on the origin. A person regenerates each from Cloudflare's current list with
    `cfremedy ips allowlist --format nginx|iptables|nftables|ufw|apache|caddy --output FILE`,
    reloads the firewall or web server, and schedules both regeneration and
    `cfremedy ips check FILE` so the next change of Cloudflare's ranges is picked up.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.allowlist import check, guess_format
from cfremedy.kit import (
    Change,
    Finding,
    Severity,
    ZoneFacts,
    finding,
    frozen_mapping,
    packaged_cloudflare_ranges,
    section_url,
)

id = "cloudflare_ips_allowlist"
title = "The origin's allowlist misses current Cloudflare IP ranges or keeps retired ones"
severity = Severity.HIGH
error_codes = (520, 521, 522)
docs_url = section_url(521)
# GET /ips is public and the files are local: reading needs no zone permission beyond the zone.
read_permissions = ("Zone Read",)
write_permissions = ()
uses_probes = False
reads = ("allowlists",)  # the inventory's allowlist_files, read by the audit, and GET /ips

SHOWN = 8  # ranges named in a message; the evidence has them all


def _listing(networks: Sequence[object]) -> str:
    shown = ", ".join(map(str, networks[:SHOWN]))
    return shown + (f" and {len(networks) - SHOWN} more" if len(networks) > SHOWN else "")


def _remediation(path: str) -> tuple[str, ...]:
    fmt = guess_format(path)
    formats = fmt or "nginx|iptables|nftables|ufw|apache|caddy"
    return (
        f"Regenerate {path} from Cloudflare's current ranges: `cfremedy ips allowlist --format"
        f" {formats} --output {path}` (or merge its output into the file), then reload the"
        " firewall or web server.",
        "Allow the ranges without rate limiting them: the article's 521 and 522 sections name"
        " blocked or rate-limited Cloudflare addresses at the origin as a cause.",
        f"Schedule `cfremedy ips check {path}` (exit 1 when the list is out of date) and the"
        " regeneration, so the next change of Cloudflare's ranges is picked up.",
    )


def detect(facts: ZoneFacts) -> list[Finding]:
    current = facts.cloudflare_ranges
    # Where the ranges came from is the audit's business (GET /ips when it reads allowlists);
    # whether they differ from the shipped copy is what tells an old cfremedy from an old file.
    matches_packaged = tuple(current) == packaged_cloudflare_ranges()
    findings = []
    for allowlist in facts.allowlists:
        if allowlist.error:
            continue  # the audit reports an unreadable file as a stage error, not as a finding
        result = check(allowlist.networks, current)
        if result.ok:
            continue
        evidence = frozen_mapping(
            {
                "file": allowlist.path,
                "missing": [str(n) for n in result.missing],
                "stale": [str(n) for n in result.stale],
                "other_count": len(result.other),
                "cloudflare_ranges": len(current),
                "ranges_match_packaged_copy": matches_packaged,
            }
        )
        stale = (
            (
                f"; it also lists {len(result.stale)} stale range(s) that let other addresses in:"
                f" {_listing(result.stale)}"
            )
            if result.stale
            else ""
        )
        if result.missing:
            findings.append(
                finding(
                    playbook=id,
                    severity=Severity.HIGH,
                    error_codes=(520, 521, 522),
                    resource=allowlist.path,
                    message=f"this allowlist does not let in {len(result.missing)} of Cloudflare's"
                    f" {len(current)} current IP ranges ({_listing(result.missing)}): connections"
                    f" from them are refused (521), dropped (522) or answered wrongly (520){stale}",
                    evidence=evidence,
                    docs_url=docs_url,
                    remediation=_remediation(allowlist.path),
                    key=f"missing:{allowlist.path}",
                )
            )
        else:
            findings.append(
                finding(
                    playbook=id,
                    severity=Severity.LOW,
                    error_codes=(),  # nothing is blocked: an exposure, not a cause of 5xx
                    resource=allowlist.path,
                    message=f"this allowlist lets in every current Cloudflare range but also"
                    f" {len(result.stale)} stale one(s) ({_listing(result.stale)}): retired by"
                    " Cloudflare or wider than its ranges, they let non-Cloudflare addresses reach"
                    " the origin",
                    evidence=evidence,
                    docs_url=docs_url,
                    remediation=_remediation(allowlist.path),
                    key=f"stale:{allowlist.path}",
                )
            )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # the files are on the origin: the finding's remediation says what to run
