"""A proxied CNAME to a Cloudflare Pages project must be one of that project's custom domains.

Anti-pattern:
    A proxied CNAME record points a hostname at `<project>.pages.dev` (or at a branch alias,
    `<branch>.<project>.pages.dev`), but the hostname was never added as a custom domain of the
    Pages project. Pages does not serve hostnames it does not know, so visitors get 522
    (connection timed out). The 522 section of Cloudflare's 5xx article ends with a note for
    Pages users: set the custom domain up in the project, and have the CNAME record point at
    the project's Pages domain. A CNAME to a `*.pages.dev` name that no Pages project of the
    zone's account has is the same mistake one step further on: the project was deleted or
    renamed, or it lives in another account.

Fix:
    There is no API change to propose: the custom domain is added in the Pages project
    (Workers & Pages > the project > Custom domains > Set up a custom domain), by a person who
    owns it. For a target no project of the account has, a person must find the project that
    should serve the hostname (another account, a new name) and add the custom domain there,
    then point the CNAME at that project, or delete the record if the site is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import (
    Change,
    Finding,
    PagesProject,
    Severity,
    ZoneFacts,
    finding,
    frozen_mapping,
    normalise_name,
    section_url,
)

id = "pages_custom_domain"
title = "Proxied CNAMEs to Cloudflare Pages that are not custom domains of the project"
severity = Severity.HIGH
error_codes = (522,)
docs_url = section_url(522)
read_permissions = ("Zone Read", "DNS Read", "Cloudflare Pages Read")
write_permissions = ()
uses_probes = False  # everything it judges comes from the API
reads = ("pages_projects",)  # the account's Pages projects, read only for CNAMEs to *.pages.dev


def _project_for(target: str, projects: Sequence[PagesProject]) -> PagesProject | None:
    """The project whose Pages subdomain is the target, or its parent (a branch or preview
    alias such as `dev.<project>.pages.dev`); the longest subdomain wins."""
    matches = [
        p for p in projects
        if p.subdomain and (target == normalise_name(p.subdomain)
                            or target.endswith("." + normalise_name(p.subdomain)))
    ]  # fmt: skip
    return max(matches, key=lambda p: len(p.subdomain), default=None)


def detect(facts: ZoneFacts) -> list[Finding]:
    projects = facts.pages_projects
    if projects is None:  # not read: no selected playbook asked, or no CNAME to *.pages.dev
        return []
    zone = facts.snapshot.zone
    findings = []
    for record in facts.snapshot.records:
        target = record.pages_target
        if target is None:
            continue
        name = normalise_name(record.name)
        project = _project_for(target, projects)
        evidence = {
            "record": {
                "id": record.id,
                "type": record.type,
                "name": name,
                "content": record.content,
                "proxied": record.proxied,
            },
            "target": target,
            "account_id": zone.account_id,
        }
        if project is None:
            findings.append(
                finding(
                    playbook=id,
                    severity=Severity.MEDIUM,
                    error_codes=(522,),
                    resource=name,
                    message=f"{name} is a proxied CNAME to {target}, but no Cloudflare Pages project"
                    f" of this account has that domain: the project was deleted or renamed, or it"
                    f" belongs to another account",
                    evidence=frozen_mapping({**evidence, "projects": sorted(p.name for p in projects)}),
                    docs_url=docs_url,
                    remediation=(
                        f"Find the Pages project that should serve {name}. If it is in another"
                        f" account, add {name} as a custom domain there (Workers & Pages > the"
                        " project > Custom domains > Set up a custom domain).",
                        f"Point the CNAME of {name} at that project's <project>.pages.dev domain,"
                        " or delete the record if the site no longer exists.",
                    ),
                    key=target,
                )
            )
            continue
        domains = {normalise_name(d) for d in project.domains}
        if name in domains:
            continue
        findings.append(
            finding(
                playbook=id,
                severity=Severity.HIGH,
                error_codes=(522,),
                resource=name,
                message=f"{name} is a proxied CNAME to {target}, but it is not a custom domain of"
                f" Pages project {project.name}: Pages does not serve it and visitors get 522",
                evidence=frozen_mapping(
                    {
                        **evidence,
                        "project": {"name": project.name, "subdomain": project.subdomain, "domains": sorted(domains)},
                    }
                ),
                docs_url=docs_url,
                remediation=(
                    f"Add {name} as a custom domain of the Pages project {project.name}"
                    " (Workers & Pages > the project > Custom domains > Set up a custom domain);"
                    " the CNAME record already in place is what the project expects.",
                    "cfremedy proposes no change: custom domains are managed in the Pages project,"
                    " and the DNS record is already right.",
                ),
                key=target,
            )
        )
    return findings


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []  # manual only: adding a custom domain is a Pages action, see each remediation
