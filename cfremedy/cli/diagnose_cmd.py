"""`cfremedy diagnose URL`: a live 5xx read the way the article reads it, and a support bundle."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from cfremedy.audit import AuditOptions, audit
from cfremedy.cli.common import (
    ListFormat,
    ListFormatOpt,
    Quiet,
    Verbose,
    command,
    gateway_for,
    load_settings,
    run_async,
)
from cfremedy.cli.console import err, out
from cfremedy.cli.flags import ExcludePlaybookIds, FailOnOpt, ProbeFlags, audit_options, fail_threshold, flags
from cfremedy.diagnosis import PlaybookRun, ZoneReads, build_bundle, bundle_markdown, interpret
from cfremedy.edge_tls import judge
from cfremedy.errors import EXIT_API, EXIT_FINDINGS, EXIT_OK, ApiError, UsageError, ZoneNotFound
from cfremedy.files import write_private
from cfremedy.models import CertificatePack, CustomPage
from cfremedy.probes.connect_to import parse_connect_to
from cfremedy.probes.edge import EdgeResponse, EdgeRouteRefused, fetch, fetch_trace, url_problem, without_userinfo
from cfremedy.redaction import register_secret
from cfremedy.registry import Playbook
from cfremedy.selection import HostnameSelection
from cfremedy.settings import Settings


def _related(options: AuditOptions, codes: tuple[int, ...], ids: tuple[str, ...] = ()) -> tuple[Playbook, ...]:
    """The playbooks that check one of `codes` (the 1xxx error the page names, else the 5xx),
    and those named by id (a redirect loop's)."""
    return tuple(p for p in options.playbooks if p.id in ids or any(c in p.error_codes for c in codes))


@dataclass(frozen=True)
class _Needs:
    """What the API is asked about the zone, given what the URL answered."""

    playbooks: tuple[Playbook, ...]
    custom_pages: bool  # an error page: was its look the zone's choice?
    certificate_packs: bool  # the edge's certificate did not verify here


def _unread(exc: ApiError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _read_api(
    settings: Settings, response: EdgeResponse, host: str, zone_name: str | None, needs: _Needs, options: AuditOptions
) -> tuple[PlaybookRun, tuple[CustomPage, ...] | None, str, tuple[CertificatePack, ...] | None, str]:
    """One gateway session: the zone, its custom pages and certificate packs when needed (a
    permission they lack is said, not fatal), then the related playbooks on this hostname only."""
    ids = tuple(p.id for p in needs.playbooks)
    if settings.api_token is None:
        no_token = "no CLOUDFLARE_API_TOKEN"
        reason = ""
        if needs.playbooks:
            groups = ", ".join(dict.fromkeys(g for p in needs.playbooks for g in p.read_permissions))
            reason = f"no CLOUDFLARE_API_TOKEN: set one ({groups}) to check this hostname's configuration"
        return PlaybookRun(None, (), ids, reason), None, no_token, None, no_token
    if not (needs.playbooks or needs.custom_pages or needs.certificate_packs):
        return PlaybookRun(None, (), (), ""), None, "", None, ""

    async def go() -> tuple[PlaybookRun, tuple[CustomPage, ...] | None, str, tuple[CertificatePack, ...] | None, str]:
        pages: tuple[CustomPage, ...] | None = None
        packs: tuple[CertificatePack, ...] | None = None
        pages_unread = packs_unread = ""
        async with gateway_for(settings) as gateway:
            try:
                zone = await (gateway.zone_by_name(zone_name) if zone_name else gateway.zone_for_hostname(host))
            except ZoneNotFound as exc:
                if needs.playbooks:  # the checks the code calls for cannot run: an API failure
                    raise
                # Only the page's context was wanted: say why it is missing, diagnose anyway.
                return PlaybookRun(None, (), (), ""), None, _unread(exc), None, _unread(exc)
            if needs.custom_pages:
                try:
                    pages = await gateway.custom_pages(zone)
                except ApiError as exc:
                    pages_unread = _unread(exc)
            if needs.certificate_packs:
                try:
                    packs = await gateway.certificate_packs(zone)
                except ApiError as exc:
                    packs_unread = _unread(exc)
            run = PlaybookRun(zone.name, (), (), "")
            if needs.playbooks:
                scoped = replace(options, playbooks=needs.playbooks)
                (report,) = (await audit(gateway, HostnameSelection(host, zone.name), scoped)).zones
                failure = next((e for e in report.errors if e.stage == "api"), None)
                if failure is not None:
                    raise ApiError(failure.message, hint=failure.hint)
                run = PlaybookRun(report.name, ids, (), "", report.findings)
        return run, pages, pages_unread, packs, packs_unread

    return run_async(go())


@command
@flags(probe=ProbeFlags)
def diagnose_command(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="The URL that returns the error, e.g. https://www.example.com/path.")
    ],
    probe: ProbeFlags,
    zone: Annotated[
        str | None,
        typer.Option(
            "--zone", "-z", metavar="NAME", help="The zone the hostname belongs to [default: found from the hostname]"
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle", metavar="DIR", help="Write bundle.json and bundle.md for the host or Cloudflare support."
        ),
    ] = None,
    follow_redirects: Annotated[
        bool,
        typer.Option(
            "--follow-redirects",
            help="Follow redirects, each reported, at most 10; a loop, or a redirect to a URL that cannot be"
            " requested, is itself the finding (default: report the first response).",
        ),
    ] = False,
    edge_connect_to: Annotated[
        list[str] | None,
        typer.Option(
            "--edge-connect-to",
            metavar="HOST:PORT:TO_HOST:TO_PORT",
            help="Send the request for URL elsewhere (curl syntax, repeatable); --connect-to is for"
            " origin probes  [env: CFREMEDY_EDGE_CONNECT_TO; default: the --connect-to rules]",
        ),
    ] = None,
    format: ListFormatOpt = None,
    fail_on: FailOnOpt = "high",
    exclude_playbook: ExcludePlaybookIds = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Diagnose a live 5xx: what it is, who generated it, likely causes, what to hand over.

    Requests the URL as a browser on this machine would (no cookies, no credentials from the URL,
    no redirects unless asked - then hop by hop, each routed and reported;
    the platform's trust store plus SSL_CERT_FILE/SSL_CERT_DIR; through HTTPS_PROXY/HTTP_PROXY
    unless NO_PROXY covers the host or --connect-to-only is set - origin probes never use a
    proxy) and its /cdn-cgi/trace, each within --probe-timeout, body included (at most 1 MiB
    of it is read).
    Reads the error page's own structure, not just the word "cloudflare": which hop Cloudflare's
    page marks as failing (browser, Cloudflare, host: a branded 502/504 marking the host is the
    origin's error), a response without cf-ray (not through Cloudflare), the 1xxx error a 530
    names. Maps the code to the article's section and - with CLOUDFLARE_API_TOKEN - reads the
    zone's custom error pages (a customised page's look proves nothing) and runs the playbooks
    that check the code on this hostname only (526 -> ssl_origin_cert, 522/523 -> origin_ip,
    530 with 1016 -> origin_dns, with 1033 -> tunnel_health; --exclude-playbook keeps one from
    running). When the edge's certificate does
    not verify here, says why (compared with the zone's certificate packs, with SSL and
    Certificates Read) and still reads the status without verification. --bundle writes what
    the article says to give your host or Cloudflare support, with how to get /cdn-cgi/trace
    from the affected browser; never the token, never a cookie. Exits 1 when the URL returned a
    5xx, its certificate did not verify, its redirects loop or lead to a URL that cannot be
    requested, or a playbook found something at or above --fail-on; 2 when the URL itself cannot
    be requested.

    Examples:

      cfremedy diagnose https://www.example.com/

      cfremedy diagnose https://api.example.com/export --bundle ./ticket-4711

      HTTPS_PROXY=http://proxy.corp:3128 SSL_CERT_FILE=/etc/corp/ca.pem cfremedy diagnose https://www.example.com/
    """
    # Credentials in the URL are never sent nor written: dropped here, before anything can print
    # the URL, and masked in any output as a last line of defence.
    with contextlib.suppress(ValueError):  # a URL that cannot be parsed is refused just below
        register_secret(urlsplit(url).password)
    url = without_userinfo(url)
    problem = url_problem(url)
    if problem:
        raise UsageError(f"{url!r}: {problem}")
    settings = load_settings()
    options = audit_options(settings, probe, exclude=exclude_playbook)
    edge_specs = [*settings.edge_connect_to_rules, *(edge_connect_to or [])]
    try:
        rules = (
            tuple(parse_connect_to(r) for r in edge_specs)
            if edge_specs
            else options.probe.connect_to
            if options.probe
            else ()
        )
    except ValueError as exc:
        raise UsageError(f"--edge-connect-to: {exc}") from None
    only = probe.connect_to_only or settings.connect_to_only
    timeout = options.probe.timeout if options.probe else probe.probe_timeout  # each request's deadline
    try:
        response = run_async(
            fetch(url, timeout=timeout, rules=rules, only_connect_to=only, follow_redirects=follow_redirects)
        )
        # the final URL's host is the one diagnosed: its trace, its zone, its configuration
        trace = run_async(fetch_trace(response.url, timeout=timeout, rules=rules, only_connect_to=only))
    except EdgeRouteRefused as exc:
        raise UsageError(str(exc)) from None
    host = (urlsplit(response.url).hostname or "").lower()
    first = interpret(response)  # what the URL alone says: which codes, which playbooks
    needs = _Needs(
        playbooks=_related(options, first.playbook_codes, first.playbook_ids),
        custom_pages=(response.status or 0) >= 500 or response.error_1xxx is not None,
        certificate_packs=response.tls is not None and not response.tls.verified,
    )
    api_failed = ""
    pages: tuple[CustomPage, ...] | None = None
    packs: tuple[CertificatePack, ...] | None = None
    pages_unread = packs_unread = ""
    try:
        playbooks, pages, pages_unread, packs, packs_unread = _read_api(settings, response, host, zone, needs, options)
    except ApiError as exc:  # the diagnosis of the URL stands on its own: still report it
        api_failed = exc.message
        pages_unread = packs_unread = f"the Cloudflare API failed: {exc.message}"
        playbooks = PlaybookRun(zone, (), tuple(p.id for p in needs.playbooks), pages_unread)
    interpretation = interpret(response, pages, custom_pages_unread=pages_unread)
    verdict = None
    if response.tls is not None and not response.tls.verified:
        verdict = judge(
            host, response.tls.failure, response.tls.certificate, packs, packs_unread=packs_unread, proxy=response.proxy
        )
    reads = ZoneReads(
        custom_pages=pages, custom_pages_unread=pages_unread if needs.custom_pages else "", edge_tls=verdict
    )
    data = build_bundle(response, trace, interpretation, playbooks, reads)
    if format is ListFormat.json:
        out(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        out(bundle_markdown(data))
    if bundle is not None:
        bundle.mkdir(parents=True, exist_ok=True)
        write_private(
            bundle / "bundle.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n", "the support bundle"
        )
        write_private(bundle / "bundle.md", bundle_markdown(data), "the support bundle")
        err(f"cfremedy: support bundle written to {bundle}/bundle.json and bundle.md")
    if response.unverified:
        err(
            "cfremedy: warning: the edge's certificate did not verify on this machine;"
            " the status was read without verification"
        )
    if api_failed:
        err(f"cfremedy: error: could not check the configuration: {api_failed}")
    if (response.error and not response.redirect_problem) or api_failed:
        return EXIT_API
    threshold = fail_threshold(fail_on)
    serious = [f for f in playbooks.findings if threshold is not None and f.severity >= threshold]
    observed = interpretation.code is not None or verdict is not None or bool(response.redirect_problem)
    return EXIT_FINDINGS if observed or serious else EXIT_OK
