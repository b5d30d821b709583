"""Reading a live 5xx the way the article does, and the support bundle it says to hand over.

Pure: the edge response, the trace, what the API said about the zone (custom error pages,
certificate packs) and the playbook results come in; an interpretation (which section, which
hop failed, whom to contact with what) and the bundle go out.

Whom to contact is decided from the page's own structure and the headers, not from the word
"cloudflare" alone (the article's shortcut): Cloudflare serves its branded page for the
origin's own 502/504 too, and that page marks the host as the failing hop. A response without
`cf-ray` did not come through Cloudflare at all. A zone with customised error pages serves its
own look for Cloudflare's errors, so then the look decides nothing. A 530 names its problem as a
1xxx error, which is named here (`article.ERRORS_1XXX`) and picks the playbooks to run.

The bundle holds exactly the article's list — error code and message, time and time zone, full
URL, Ray ID, /cdn-cgi/trace (from this machine, and how to get the one the article wants, from
the affected browser), the checks cfremedy could run — and, for what cannot be collected
remotely, instructions. It never holds the token or a cookie: neither ever reaches this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cfremedy import __version__
from cfremedy.article import ERRORS_1XXX, ERRORS_1XXX_URL, SECTIONS, Error1xxx, Section, error_1xxx
from cfremedy.edge_tls import EdgeTlsVerdict
from cfremedy.models import CustomPage, Finding, iso_z
from cfremedy.probes.edge import EdgeResponse, Trace
from cfremedy.report import finding_dict

BUNDLE_VERSION = 1
CLOUDFLARE_ONLY = frozenset({520, 521, 522, 523, 524, 525, 526, 527, 530})
# cf-cache-status values meaning the response came out of Cloudflare's cache.
FROM_CACHE = frozenset({"HIT", "STALE", "UPDATING", "REVALIDATED"})

HOST_FIRST = (
    "Start with the hosting provider or site administrator: the cause is almost always at"
    " the origin. Give them the details below; go to Cloudflare support only if the host"
    " finds nothing."
)
CLOUDFLARE_SUPPORT = "If the origin is healthy, give Cloudflare support the details below."
BROWSER_FIRST = (
    "The page blames the visitor's side (the browser or its network): retry from another browser"
    " or network before contacting anyone."
)


@dataclass(frozen=True)
class Interpretation:
    code: int | None  # the 5xx, or None when the URL did not return one
    section: Section | None
    # Who generated the page: "cloudflare", "origin", "unknown" (a custom page without
    # Cloudflare's structure), "not_cloudflare" (no cf-ray: it did not come through Cloudflare),
    # "none" (no 5xx), "unreachable", "redirect_loop" (redirects without end: no answer) or
    # "redirect_invalid" (a redirect to a URL that cannot be requested: no answer).
    source: str
    headline: str
    contact: str  # whom to turn to first, and why
    failing_hop: str | None = None  # "browser", "cloudflare" or "host", when known
    error_1xxx: Error1xxx | None = None
    notes: tuple[str, ...] = ()
    playbook_ids: tuple[str, ...] = ()  # playbooks to run whatever the code (a redirect loop's)

    @property
    def playbook_codes(self) -> tuple[int, ...]:
        """The codes whose playbooks to run: the 1xxx error when the page names one (it is
        the precise problem: 1016 runs origin_dns, not every 530 playbook), else the 5xx."""
        if self.error_1xxx is not None:
            return (self.error_1xxx.code,)
        return (self.code,) if self.code is not None else ()


def customised(pages: Sequence[CustomPage] | None, page_id: str) -> CustomPage | None:
    return next((p for p in pages or () if p.id == page_id and p.customized), None)


def _error_1xxx_lines(entry: Error1xxx) -> str:
    return f"Error {entry.code} ({entry.name}): {entry.meaning} Read more: {entry.url}"


def _error_1xxx_contact(entry: Error1xxx) -> str:
    """Whom a 1xxx error sends you to, whatever the status it came with: the table says who acts
    on each code (`Error1xxx.contact`, from each code's Cloudflare page). Most name a problem of
    the site's own Cloudflare setup (a DNS record, a rule, a Worker that threw, a tunnel)."""
    named = f"Error {entry.code} names the problem: {entry.meaning}"
    if entry.contact == "block":
        return (
            f"{named} The site's own security settings decided this: only the site owner can change it."
            " A visitor asks the site owner; the owner finds the event in Security Events and adjusts"
            " the rule. The hosting provider cannot lift it."
        )
    if entry.contact == "cloudflare":
        return (
            f"{named} Nothing in the site's settings causes it: wait a few minutes and retry; if it"
            " lasts, give Cloudflare support the details below."
        )
    if entry.contact == "visitor":
        return f"{named} The request itself causes it: request the site by its hostname, not an address."
    return (
        f"{named} Whoever manages the site's Cloudflare configuration or Workers acts on it; the checks"
        " below say what cfremedy found."
    )


def _through_cloudflare(response: EdgeResponse) -> bool:
    return bool(response.ray) or response.headers.get("server", "").strip().lower() == "cloudflare"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _redirect_notes(response: EdgeResponse) -> list[str]:
    if not response.redirects:
        return []
    count = len(response.redirects)
    notes = [
        f"{response.requested_url} redirected {count} time{'s' if count > 1 else ''}: this is the answer of"
        f" {response.url}, the last URL. " + "; ".join(_redirect_chain(response)) + "."
    ]
    targets = [*(hop.url for hop in response.redirects[1:]), response.url]
    for n, (hop, target) in enumerate(zip(response.redirects, targets, strict=True), 1):
        if _host(hop.url) != _host(target):
            notes.append(
                f"At hop {n} {_host(hop.url)} redirects to another host, {_host(target)}: what follows is"
                f" about {_host(target)}, its zone and its configuration."
            )
    return notes


def _body_note(response: EdgeResponse) -> list[str]:
    if response.body_cut == "size":
        return [
            f"Only the first {response.body_bytes // 1024} KiB of the page were read (cfremedy's limit):"
            " the page was read from those."
        ]
    if response.body_cut == "deadline":
        return [
            f"The page was still arriving when the request's deadline (--probe-timeout) passed: it was"
            f" read from its first {response.body_bytes} bytes. An answer that trickles is itself a sign"
            " of a slow or stuck origin or proxy."
        ]
    return []


def _common_notes(response: EdgeResponse, custom_pages: Sequence[CustomPage] | None) -> list[str]:
    notes: list[str] = [*_redirect_notes(response), *_body_note(response)]
    if response.unverified and response.tls is not None:
        notes.append(
            f"The status was read without verifying the edge's certificate, which did not verify on"
            f" this machine ({response.tls.failure}): see the edge certificate section."
        )
    cache = response.headers.get("cf-cache-status", "").strip().upper()
    if cache in FROM_CACHE:
        notes.append(
            f"cf-cache-status: {cache}: this error came out of Cloudflare's cache. The origin sent it"
            " earlier and may already be fine: purge the URL once the cause is fixed."
        )
    status = response.status or 0
    page5xx = customised(custom_pages, "500_errors")
    if status >= 500 and page5xx is not None:
        notes.append(
            f"The zone customises its 5xx error pages ({page5xx.url or 'no URL given'}): Cloudflare builds"
            ' the page a visitor gets from that one, so its look, and the word "cloudflare" in it or'
            " not, does not tell who generated the error; the status, the headers and the page's"
            " structure (where it kept Cloudflare's) do."
        )
    page1xxx = customised(custom_pages, "1000_errors")
    if page1xxx is not None and (response.error_1xxx or status == 530):
        notes.append(
            f"The zone customises its 1xxx error pages ({page1xxx.url or 'no URL given'}): the code may"
            " only appear where that page kept Cloudflare's error box."
        )
    return notes


def interpret(
    response: EdgeResponse, custom_pages: Sequence[CustomPage] | None = None, *, custom_pages_unread: str = ""
) -> Interpretation:
    """`custom_pages` None means they were not read (no token, no permission, the API failed);
    `custom_pages_unread` says why."""
    if response.redirect_problem:
        return _redirect_problem(response)
    if response.error:
        return Interpretation(
            None,
            None,
            "unreachable",
            f"{response.url} could not be fetched: {response.error}",
            "Check the hostname resolves and the network path to Cloudflare"
            + (f" (through the proxy {response.proxy})." if response.proxy else "."),
            notes=tuple(_redirect_notes(response)),
        )
    notes = _common_notes(response, custom_pages)
    page = response.page
    entry = error_1xxx(page.error_1xxx) if page.error_1xxx else None
    if entry is not None:
        notes.insert(0, _error_1xxx_lines(entry))
    status = response.status or 0
    if status < 500:
        named = f" with Cloudflare error {entry.code} ({entry.name})" if entry else ""
        return Interpretation(
            None, None, "none", f"{response.url} answered HTTP {status}{named}: not a 5xx error",
            _error_1xxx_contact(entry) if entry is not None and _through_cloudflare(response) else "",
            error_1xxx=entry, notes=tuple(notes),
        )  # fmt: skip
    section = SECTIONS.get(status)
    title = section.title if section else response.reason
    if not _through_cloudflare(response):
        server = response.headers.get("server", "")
        return Interpretation(
            status,
            section,
            "not_cloudflare",
            f"HTTP {status} {title}, not from Cloudflare: the response has no cf-ray header"
            f" (server: {server or 'not named'})",
            "This answer did not come through Cloudflare's edge: the hostname may be DNS-only (grey"
            " cloud), or something in between"
            + (f" (the proxy {response.proxy})" if response.proxy else "")
            + " answered. Contact whoever runs the server that answered.",
            error_1xxx=entry,
            notes=tuple(notes),
        )
    if status in CLOUDFLARE_ONLY:
        return _cloudflare_status(response, status, section, title, entry, notes, custom_pages)
    return _either(response, status, section, title, entry, notes, custom_pages, custom_pages_unread)


def _redirect_chain(response: EdgeResponse) -> list[str]:
    return [
        f"Hop {n}: {hop.url} answered {hop.status}, Location: {hop.location or 'none'}"
        f" (server: {hop.server or 'not named'}; cf-ray: {hop.ray or 'none'})"
        for n, hop in enumerate(response.redirects, 1)
    ]


def _invalid_redirect(response: EdgeResponse) -> Interpretation:
    """A redirect to a URL nobody can request: the chain ends there, the Location is the finding."""
    last = response.redirects[-1] if response.redirects else None
    cloudflare = last is not None and (bool(last.ray) or last.server.lower() == "cloudflare")
    contact = (
        "A browser cannot follow it either: it shows an error instead of a page (a Location with another"
        " scheme it may hand to another application). Whoever sets this redirect fixes its Location: the"
        " answer came through Cloudflare (cf-ray), so a redirect rule, Bulk Redirect or Page Rule of the"
        " zone, or the origin itself; the hops below say which URL answered it."
        if cloudflare
        else "A browser cannot follow it either: it shows an error instead of a page (a Location with"
        " another scheme it may hand to another application). The answer did not come through Cloudflare"
        " (no cf-ray): whoever runs the server that answered fixes its Location."
    )
    return Interpretation(
        None, None, "redirect_invalid", f"{response.requested_url} ends in a {response.error}", contact,
        notes=tuple(_redirect_chain(response)),
    )  # fmt: skip


def _redirect_problem(response: EdgeResponse) -> Interpretation:
    """The redirects never ended: no final answer to judge, the loop is the finding."""
    if response.redirect_problem == "invalid_location":
        return _invalid_redirect(response)
    loop = response.redirect_problem == "loop"
    cloudflare = any(hop.ray or hop.server.lower() == "cloudflare" for hop in response.redirects)
    headline = (
        f"{response.requested_url} redirects in a loop: {response.error.removeprefix('redirect loop: ')}"
        if loop
        else f"{response.requested_url} never stops redirecting: {response.error}"
    )
    contact = (
        "A browser shows this as ERR_TOO_MANY_REDIRECTS. Whoever manages the site's Cloudflare"
        " configuration and its origin acts on it: under Cloudflare the usual cause is the SSL/TLS mode"
        " Flexible in front of an origin that redirects HTTP to HTTPS (Cloudflare asks the origin over"
        " HTTP, the origin sends it to HTTPS, and again), or a redirect rule or Always Use HTTPS"
        " undoing the origin's own redirect; the checks below say what cfremedy found."
        if cloudflare
        else "None of these answers came through Cloudflare (no cf-ray): whoever runs the server that"
        " answered acts on it."
    )
    return Interpretation(
        None, None, "redirect_loop", headline, contact,
        notes=tuple(_redirect_chain(response)),
        playbook_ids=("flexible_redirect_loop",) if cloudflare else (),
    )  # fmt: skip


def _cloudflare_status(
    response: EdgeResponse,
    status: int,
    section: Section | None,
    title: str,
    entry: Error1xxx | None,
    notes: list[str],
    custom_pages: Sequence[CustomPage] | None,
) -> Interpretation:
    """52x and 530: only Cloudflare's edge answers these, whatever the page looks like."""
    hop = response.page.failing_hop or ("host" if 520 <= status <= 527 else None)
    if status == 530:
        if entry is not None:
            headline = f"HTTP 530 {title} with error {entry.code} ({entry.name})"
            contact = _error_1xxx_contact(entry)
        else:
            customised_1xxx = customised(custom_pages, "1000_errors") is not None
            headline = f"HTTP 530 {title}: the page names no 1xxx error"
            contact = (
                "A 530 always comes with a 1xxx error that names the problem; find it on the page"
                + (" (the zone's 1xxx page is customised and may hide it)" if customised_1xxx else "")
                + f" and look it up: {ERRORS_1XXX_URL}"
            )
        return Interpretation(status, section, "cloudflare", headline, contact, hop, entry, tuple(notes))
    if hop == "cloudflare":
        return Interpretation(
            status, section, "cloudflare",
            f"HTTP {status} {title}: Cloudflare's page marks Cloudflare itself as the failing hop",
            CLOUDFLARE_SUPPORT, hop, entry, tuple(notes),
        )  # fmt: skip
    if hop == "browser":  # the page's own word, although a 52x is about the origin: both are said
        return Interpretation(
            status, section, "cloudflare",
            f"HTTP {status} {title}: Cloudflare's page marks the browser's side as failing",
            f"{BROWSER_FIRST} If it persists from elsewhere, a {status} is about Cloudflare's connection to"
            " the origin: start with the hosting provider or site administrator, with the details below.",
            hop, entry, tuple(notes),
        )  # fmt: skip
    return Interpretation(
        status,
        section,
        "cloudflare",
        f"HTTP {status} {title}: Cloudflare's edge could not get a good answer from the origin",
        HOST_FIRST,
        hop,
        entry,
        tuple(notes),
    )


def _either(
    response: EdgeResponse,
    status: int,
    section: Section | None,
    title: str,
    entry: Error1xxx | None,
    notes: list[str],
    custom_pages: Sequence[CustomPage] | None,
    custom_pages_unread: str = "",
) -> Interpretation:
    """500-504 and the rest: Cloudflare's or the origin's, told apart by the page's structure."""
    page = response.page
    if page.kind == "cloudflare" and entry is not None and entry.code in ERRORS_1XXX:
        # Cloudflare's 1xxx page on a 5xx (1101 on a 500: a Worker threw): the code names the
        # site's own fault, as a 530's does; Cloudflare support cannot fix a site's Worker.
        return Interpretation(
            status, section, "cloudflare",
            f"HTTP {status} {title} with error {entry.code} ({entry.name})",
            _error_1xxx_contact(entry), page.failing_hop, entry, tuple(notes),
        )  # fmt: skip
    if page.kind == "cloudflare":
        if page.failing_hop == "host":
            return Interpretation(
                status, section, "cloudflare",
                f"HTTP {status} {title}: Cloudflare's page, and it marks the host as the failing hop",
                f"The origin (or a proxy in front of it) answered {status} and Cloudflare served its own"
                " page for it: the page names Cloudflare, but the fault is the host's. Contact your"
                " hosting provider with the details below.",
                "host", entry, tuple(notes),
            )  # fmt: skip
        if page.failing_hop == "browser":
            return Interpretation(
                status, section, "cloudflare",
                f"HTTP {status} {title}: Cloudflare's page marks the browser's side as failing",
                f"{BROWSER_FIRST} If it persists, give Cloudflare support the details below.",
                "browser", entry, tuple(notes),
            )  # fmt: skip
        # Cloudflare's own box, or none: the page is Cloudflare's either way, but a hop is only
        # reported when the page marks one.
        marked = "marks Cloudflare itself as the failing hop" if page.failing_hop else "marks no failing hop"
        return Interpretation(
            status, section, "cloudflare",
            f"HTTP {status} {title}: Cloudflare's page, which {marked}",
            "Cloudflare generated this error. " + CLOUDFLARE_SUPPORT,
            page.failing_hop, entry, tuple(notes),
        )  # fmt: skip
    if page.kind == "cloudflare_bare":
        return Interpretation(
            status, section, "cloudflare",
            f"HTTP {status} {title}, on a bare page signed \"cloudflare\": Cloudflare's proxy failed itself",
            "Cloudflare generated this error without its usual page. " + CLOUDFLARE_SUPPORT,
            "cloudflare", entry, tuple(notes),
        )  # fmt: skip
    if page.mentions_cloudflare:
        notes.append(
            "The page mentions Cloudflare but is not one of Cloudflare's error pages (no status boxes,"
            " no Cloudflare error heading): the word alone does not make it Cloudflare's."
        )
    if custom_pages is None:
        # Unread (no token, no permission, the API failed): a customised 5xx page, which may look
        # like anything, cannot be ruled out, so the page's look does not make it the origin's.
        why = f" ({custom_pages_unread})" if custom_pages_unread else ""
        notes.append(
            f"The zone's custom error pages were not read{why}: a customised 5xx page cannot be ruled out,"
            " so this page's look does not tell who generated the error. With Zone Settings Read cfremedy"
            " reads them."
        )
    if custom_pages is None or customised(custom_pages, "500_errors") is not None:
        return Interpretation(
            status, section, "unknown",
            f"HTTP {status} {title}, on a page that is not Cloudflare's default: the zone's custom error"
            " page or the origin's own, which the page alone cannot tell apart",
            f"Check the origin's logs at the time of the error first (most {status}s are the origin's"
            " own); if it answered normally, give Cloudflare support the details below.",
            None, entry, tuple(notes),
        )  # fmt: skip
    return Interpretation(
        status,
        section,
        "origin",
        f"HTTP {status} {title}, generated by the origin (not one of Cloudflare's error pages)",
        "Contact your hosting provider: the origin itself returned this error, Cloudflare only passed it on.",
        "host",
        entry,
        tuple(notes),
    )


@dataclass(frozen=True)
class PlaybookRun:
    """Which playbooks could check this error, and what they found for this hostname."""

    zone: str | None
    run: tuple[str, ...]
    not_run: tuple[str, ...]
    reason_not_run: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class ZoneReads:
    """What the API said about the zone's edge, for the bundle: None when not read, and why."""

    custom_pages: tuple[CustomPage, ...] | None = None
    custom_pages_unread: str = ""
    edge_tls: EdgeTlsVerdict | None = None


def browser_trace_steps(url: str) -> list[str]:
    """How to get the trace the article asks for: from the browser where the error happens."""
    parts = urlsplit(url)
    trace = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/cdn-cgi/trace"
    return [
        f"In the browser that shows the error, open {trace} (the same hostname as the failing URL).",
        "Copy the whole text it shows (about fifteen key=value lines) into the ticket.",
        "Compare its colo (the Cloudflare data center), ip and loc with the trace above, fetched from"
        " the machine that ran cfremedy: a different colo means that browser reaches Cloudflare"
        " elsewhere, and the error may be specific to it.",
        f"Without a browser on that network: curl -s {trace}, run from a machine on it.",
    ]


def _certificate_dict(response: EdgeResponse) -> dict[str, Any] | None:
    tls = response.tls
    if tls is None or tls.certificate is None:
        return None
    cert = tls.certificate
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "names": list(cert.sans),
        "not_before": iso_z(cert.not_before),
        "not_after": iso_z(cert.not_after),
        "self_signed": cert.self_signed,
        "sha256": cert.sha256,
    }


def _tls_dict(response: EdgeResponse, verdict: EdgeTlsVerdict | None) -> dict[str, Any] | None:
    if response.tls is None:
        return None
    return {
        "verified": response.tls.verified,
        "failure": response.tls.failure or None,
        "certificate": _certificate_dict(response),
        "verdict": {
            "cause": verdict.cause,
            "summary": verdict.summary,
            "details": list(verdict.details),
            "zone_certificate": verdict.zone_certificate or None,
        }
        if verdict is not None
        else None,
    }


def _redirect_dicts(response: EdgeResponse) -> list[dict[str, Any]]:
    return [
        {
            "url": hop.url,
            "status": hop.status,
            "location": hop.location,
            "server": hop.server or None,
            "cf_ray": hop.ray or None,
            "connected_to": hop.connected_to,
            "proxy": hop.proxy or None,
            "tls_failure": hop.tls_failure or None,
        }
        for hop in response.redirects
    ]


def build_bundle(
    response: EdgeResponse,
    trace: Trace,
    interpretation: Interpretation,
    playbooks: PlaybookRun,
    reads: ZoneReads | None = None,
) -> dict[str, Any]:
    """What the article says to hand over, as JSON-ready data."""
    reads = reads or ZoneReads()
    section = interpretation.section
    entry = interpretation.error_1xxx
    message = response.title or response.reason or response.error
    page = response.page
    customised_pages = {p.id: p.url for p in reads.custom_pages or () if p.customized}
    return {
        "bundle_version": BUNDLE_VERSION,
        "tool": {"name": "cfremedy", "version": __version__},
        "url": response.url,
        "requested_url": response.requested_url or response.url,
        "redirects": _redirect_dicts(response),
        "redirect_problem": response.redirect_problem or None,
        "time_utc": iso_z(response.at_utc),
        "time_local": response.at_local,
        "error": {
            "status": response.status,
            "message": message,
            "error_1xxx": response.error_1xxx,
            "generated_by": interpretation.source,
            "failing_hop": interpretation.failing_hop,
            "cloudflare_branded": response.branded,
            "page": {
                "kind": page.kind,
                "hops": dict(page.hops),
                "ray_on_page": page.ray or None,
                "bytes_read": response.body_bytes,
                "cut": response.body_cut or None,
            },
            "cf_ray": response.ray or None,
            "fetch_error": response.error or None,
        },
        "response_headers": dict(response.headers),
        "connection": {
            "connected_to": response.connected_to,
            "proxy": response.proxy or None,
            "tls": _tls_dict(response, reads.edge_tls),
        },
        "cdn_cgi_trace": {
            "text": trace.text,
            "fields": dict(trace.fields),
            "error": trace.error or None,
            "unverified": trace.unverified,
            "fetched_from": "the machine that ran cfremedy",
            "from_the_affected_browser": browser_trace_steps(response.url),
        },
        "diagnosis": {
            "headline": interpretation.headline,
            "contact": interpretation.contact,
            "notes": list(interpretation.notes),
            "section": {"code": section.code, "title": section.title, "url": section.url} if section else None,
            "error_1xxx": {"code": entry.code, "name": entry.name, "meaning": entry.meaning, "url": entry.url}
            if entry
            else None,
            "likely_causes": list(section.causes) if section else [],
            "checks": list(section.checks) if section else [],
            "for_host": list(section.for_host) if section else [],
            "for_cloudflare_support": list(section.for_support) if section else [],
            "to_collect_yourself": list(section.to_collect) if section else [],
        },
        "custom_pages": {
            "read": reads.custom_pages is not None,
            "reason_not_read": reads.custom_pages_unread or None,
            "customized": customised_pages,
        },
        "playbooks": {
            "zone": playbooks.zone,
            "run": list(playbooks.run),
            "not_run": list(playbooks.not_run),
            "reason_not_run": playbooks.reason_not_run or None,
            "findings": [finding_dict(f, playbooks.zone or "") for f in playbooks.findings],
        },
    }


def _items(title: str, items: Sequence[str]) -> list[str]:
    return [f"## {title}", "", *(f"- {i}" for i in items), ""] if items else []


def _tls_lines(connection: Mapping[str, Any]) -> list[str]:
    tls = connection["tls"]
    if not tls or tls["verified"]:
        return []
    lines = ["## Edge certificate", "", f"Not verified on this machine: {tls['failure']}."]
    verdict = tls["verdict"]
    if verdict:
        lines += ["", f"**{verdict['summary']}**", "", *(f"- {d}" for d in verdict["details"])]
    lines += ["", "The status above was read without verifying the certificate.", ""]
    return lines


def _redirect_lines(bundle: Mapping[str, Any]) -> list[str]:
    hops = bundle["redirects"]
    if not hops:
        return []
    count = f"{len(hops)} redirect{'s' if len(hops) > 1 else ''}"
    lines = [f"- Redirected from: {bundle['requested_url']} ({count})"]
    for n, hop in enumerate(hops, 1):
        lines.append(
            f"  {n}. {hop['status']} {hop['url']} -> {hop['location'] or 'no Location'}"
            f" (server: {hop['server'] or 'not named'}; cf-ray: {hop['cf_ray'] or 'none'})"
            + (f"; certificate not verified: {hop['tls_failure']}" if hop["tls_failure"] else "")
        )
    return lines


def bundle_markdown(bundle: Mapping[str, Any]) -> str:
    """The same bundle for a person, ready to paste into a ticket."""
    error, diagnosis, pb = bundle["error"], bundle["diagnosis"], bundle["playbooks"]
    section, entry = diagnosis["section"], diagnosis["error_1xxx"]
    connection = bundle["connection"]
    lines = [
        f"# {diagnosis['headline']}",
        "",
        f"- URL: {bundle['url']}",
        *_redirect_lines(bundle),
        f"- Time: {bundle['time_utc']} (local: {bundle['time_local']})",
        f"- Status: {error['status'] if error['status'] is not None else 'no response'}"
        + (f" ({error['message']})" if error["message"] else ""),
        f"- Ray ID: {error['cf_ray'] or 'none'}",
        f"- Generated by: {error['generated_by']}"
        + (" (Cloudflare-branded page)" if error["cloudflare_branded"] else "")
        + (f"; failing hop: {error['failing_hop']}" if error["failing_hop"] else ""),
    ]
    if connection["proxy"]:
        lines.append(f"- Through the proxy: {connection['proxy']}")
    if section:
        lines.append(f"- Article section: [{section['code']} {section['title']}]({section['url']})")
    if entry:
        lines.append(f"- Error {entry['code']}: {entry['name']} ([Cloudflare's page]({entry['url']}))")
    lines += ["", diagnosis["contact"], ""] if diagnosis["contact"] else [""]
    lines += _items("Notes", diagnosis["notes"])
    lines += _tls_lines(connection)
    lines += _items("Likely causes, most likely first", diagnosis["likely_causes"])
    lines += _items("Checks", diagnosis["checks"])
    findings = pb["findings"]
    lines += ["## What cfremedy checked", ""]
    if pb["run"]:
        lines.append(f"Playbooks run on zone {pb['zone']}: {', '.join(pb['run'])}.")
        lines += [f"- **{f['severity']}** {f['playbook']} ({f['resource']}): {f['message']}" for f in findings]
        if not findings:
            lines.append("They found nothing wrong for this hostname.")
    if pb["not_run"]:
        lines.append(f"Not run: {', '.join(pb['not_run'])} ({pb['reason_not_run']}).")
    if not pb["run"] and not pb["not_run"]:
        lines.append("No playbook covers this error.")
    lines.append("")
    lines += _items("Give your hosting provider", diagnosis["for_host"])
    lines += _items("Give Cloudflare support", diagnosis["for_cloudflare_support"])
    lines += _items("Collect yourself (cfremedy cannot do this remotely)", diagnosis["to_collect_yourself"])
    trace = bundle["cdn_cgi_trace"]
    unverified = " (read without verifying the certificate)" if trace["unverified"] else ""
    lines += [
        "## /cdn-cgi/trace from this machine" + unverified,
        "",
        "```",
        trace["text"] or f"unavailable: {trace['error']}",
        "```",
        "",
    ]
    lines += [
        "## /cdn-cgi/trace from the affected browser",
        "",
        "Cloudflare support wants the trace as the browser that shows the error gets it; the one above"
        " comes from the machine that ran cfremedy, which may reach another data center.",
        "",
        *(f"{n}. {step}" for n, step in enumerate(trace["from_the_affected_browser"], 1)),
        "",
    ]
    return "\n".join(lines)
