"""`diagnosis.interpret` and `edge_tls.judge`: whom to contact, from the page's structure and the
headers, the zone's custom pages and certificate packs — pure functions, plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cfremedy.article import ERRORS_1XXX, ERRORS_1XXX_URL, error_1xxx
from cfremedy.diagnosis import PlaybookRun, ZoneReads, browser_trace_steps, build_bundle, bundle_markdown, interpret
from cfremedy.edge_tls import judge
from cfremedy.error_page import read_page
from cfremedy.models import CertificatePack, CustomPage, EdgeCertificate, frozen_mapping
from cfremedy.probes.edge import EdgeResponse, EdgeTls, Trace
from cfremedy.probes.results import CertInfo
from cfremedy.sandbox.edge import bare_page, branded_page, error_1xxx_page, origin_page
from cfremedy.sandbox.scenario import EdgeSpec

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CF = {"cf-ray": "0123456789abcdef-SJC", "server": "cloudflare"}
CUSTOM_5XX = (CustomPage("500_errors", "customized", "https://errors.example.com/5xx.html"),
              CustomPage("1000_errors", "default"))  # fmt: skip


def response(status: int, body: str, headers: dict[str, str] | None = None, **extra: Any) -> EdgeResponse:
    return EdgeResponse(url="https://www.example.com/", at_utc=NOW, at_local="", status=status,
                        headers=frozen_mapping(CF if headers is None else headers), page=read_page(body),
                        **extra)  # fmt: skip


def page(status: int, **fields: Any) -> str:
    spec = EdgeSpec.model_validate({"hostname": "www.example.com", "status": status, **fields})
    if spec.error_1xxx:
        return error_1xxx_page("www.example.com", spec, "0123456789abcdef")
    if not spec.branded:
        return origin_page(spec)
    return bare_page(spec) if spec.bare else branded_page("www.example.com", spec, "0123456789abcdef")


# -- 502/504: the branded page and the failing hop ---------------------------------------------


@pytest.mark.parametrize("status", [502, 504])
def test_branded_page_marking_the_host_sends_you_to_the_host(status: int) -> None:
    result = interpret(response(status, page(status)))
    assert (result.source, result.failing_hop) == ("cloudflare", "host")
    assert "marks the host as the failing hop" in result.headline
    assert "the fault is the host's" in result.contact and "Contact your hosting provider" in result.contact


@pytest.mark.parametrize("body", [page(502, failing="cloudflare"), page(502, bare=True)])
def test_cloudflare_failing_itself_sends_you_to_cloudflare_support(body: str) -> None:
    result = interpret(response(502, body))
    assert (result.source, result.failing_hop) == ("cloudflare", "cloudflare")
    assert "Cloudflare support" in result.contact


def test_a_page_naming_cloudflare_that_is_not_cloudflares() -> None:
    body = "<html><body><h1>502</h1><p>Our CDN (Cloudflare) could not reach the app.</p></body></html>"
    result = interpret(response(502, body))
    assert (result.source, result.failing_hop) == ("origin", "host")  # the article's word test would say Cloudflare
    assert any("the word alone does not make it Cloudflare's" in n for n in result.notes)


def test_no_cf_ray_means_not_through_cloudflare() -> None:
    result = interpret(response(502, page(502), headers={"server": "nginx"}, proxy="http://proxy.corp:3128"))
    assert result.source == "not_cloudflare" and result.failing_hop is None
    assert "no cf-ray" in result.headline and "server: nginx" in result.headline
    assert "the proxy http://proxy.corp:3128" in result.contact


def test_browser_hop() -> None:
    result = interpret(response(500, page(500, failing="browser")))
    assert result.failing_hop == "browser" and "another browser or network" in result.contact


def test_52x_keep_their_meaning_and_cached_errors_are_noted() -> None:
    result = interpret(response(522, page(522), headers={**CF, "cf-cache-status": "HIT"}))
    assert (result.code, result.source, result.failing_hop) == (522, "cloudflare", "host")
    assert any("Cloudflare's cache" in n for n in result.notes)


# -- custom error pages ------------------------------------------------------------------------


def test_a_customised_5xx_page_is_not_trusted_blindly() -> None:
    custom_body = "<html><body><h1>We'll be right back</h1></body></html>"
    unread = interpret(response(502, custom_body))
    assert unread.source == "origin"  # without the zone's pages: looks like the origin's
    result = interpret(response(502, custom_body), CUSTOM_5XX)
    assert result.source == "unknown" and result.failing_hop is None
    assert any("customises its 5xx error pages (https://errors.example.com/5xx.html)" in n for n in result.notes)
    # Cloudflare's structure, where the custom page kept it, still decides
    assert interpret(response(502, page(502)), CUSTOM_5XX).failing_hop == "host"


def test_a_customised_1xxx_page_is_said() -> None:
    pages = (CustomPage("1000_errors", "customized", "https://errors.example.com/1xxx.html"),)
    result = interpret(response(530, "<html><body>Something went wrong</body></html>"), pages)
    assert result.error_1xxx is None and "names no 1xxx error" in result.headline
    assert "customised and may hide it" in result.contact and ERRORS_1XXX_URL in result.contact
    assert result.playbook_codes == (530,)  # no code on the page: every 530 playbook


# -- 530 and the 1xxx errors -------------------------------------------------------------------


@pytest.mark.parametrize("code", [1016, 1033, 1020, 1200])
def test_530_names_the_1xxx_error_and_picks_its_playbooks(code: int) -> None:
    result = interpret(response(530, page(530, error_1xxx=code)))
    entry = ERRORS_1XXX[code]
    assert result.error_1xxx == entry and result.playbook_codes == (code,)
    assert f"with error {code} ({entry.name})" in result.headline
    assert result.notes[0] == f"Error {code} ({entry.name}): {entry.meaning} Read more: {entry.url}"


def test_a_1xxx_on_a_4xx_is_named_too() -> None:
    result = interpret(response(403, page(403, error_1xxx=1020)))
    assert result.code is None and "with Cloudflare error 1020 (Access denied)" in result.headline
    assert result.playbook_codes == (1020,)


REQUIRED_1XXX = (1000, 1001, 1002, 1003, 1004, 1006, 1007, 1008, 1010, 1012, 1014, 1015, 1016, 1018, 1019,
                 1020, 1023, 1025, 1033, 1034, 1035, 1036, 1037, 1040, 1101, 1102, 1104, 1200)  # fmt: skip


def test_the_1xxx_table() -> None:
    assert set(REQUIRED_1XXX) <= set(ERRORS_1XXX)
    for code, entry in ERRORS_1XXX.items():
        assert entry.code == code and entry.name and entry.meaning.endswith((".", ")"))
        assert entry.url.startswith(ERRORS_1XXX_URL) and entry.url.endswith("/")
    assert ERRORS_1XXX[1007].url == ERRORS_1XXX[1006].url == ERRORS_1XXX_URL + "error-1006/"
    assert ERRORS_1XXX[1016].url == ERRORS_1XXX_URL + "error-1016/"
    unknown = error_1xxx(1999)
    assert unknown.url == ERRORS_1XXX_URL and "no summary" in unknown.meaning


# -- the bundle --------------------------------------------------------------------------------


def test_the_bundle_explains_the_browser_trace() -> None:
    steps = browser_trace_steps("https://user@www.example.com:8443/a?b")
    assert steps[0].startswith("In the browser that shows the error, open https://www.example.com:8443/cdn-cgi/trace")
    assert "curl -s https://www.example.com:8443/cdn-cgi/trace" in steps[-1]
    result = interpret(response(502, page(502)))
    bundle = build_bundle(
        response(502, page(502)), Trace(text="h=www.example.com"), result, PlaybookRun(None, (), (), "")
    )
    assert bundle["cdn_cgi_trace"]["fetched_from"] == "the machine that ran cfremedy"
    assert bundle["cdn_cgi_trace"]["from_the_affected_browser"] == browser_trace_steps("https://www.example.com/")
    markdown = bundle_markdown(bundle)
    assert (
        "## /cdn-cgi/trace from this machine" in markdown and "## /cdn-cgi/trace from the affected browser" in markdown
    )
    assert "1. In the browser that shows the error, open https://www.example.com/cdn-cgi/trace" in markdown
    assert bundle["error"]["failing_hop"] == "host" and bundle["error"]["page"]["kind"] == "cloudflare"


def test_the_bundle_says_when_the_status_was_read_unverified() -> None:
    tls = EdgeTls(verified=False, failure="self-signed certificate", certificate=cert(("www.example.com",), True))
    resp = response(502, page(502), tls=tls)
    verdict = judge("www.example.com", tls.failure, tls.certificate, None, packs_unread="no CLOUDFLARE_API_TOKEN")
    result = interpret(resp)
    bundle = build_bundle(
        resp, Trace(unverified=True), result, PlaybookRun(None, (), (), ""), ZoneReads(edge_tls=verdict)
    )
    assert bundle["connection"]["tls"]["verified"] is False
    assert bundle["connection"]["tls"]["certificate"]["self_signed"] is True
    assert any("read without verifying" in n for n in bundle["diagnosis"]["notes"])
    markdown = bundle_markdown(bundle)
    assert "## Edge certificate" in markdown and "(read without verifying the certificate)" in markdown


# -- the edge certificate ----------------------------------------------------------------------


def cert(names: tuple[str, ...], self_signed: bool = False, not_after: datetime = datetime(2099, 1, 1, tzinfo=UTC),
         issuer: str = "CN=WE1,O=Google Trust Services,C=US") -> CertInfo:  # fmt: skip
    return CertInfo(subject=f"CN={names[0]}", issuer=issuer, common_name=names[0], sans=names,
                    not_before=NOW - timedelta(days=1), not_after=not_after, self_signed=self_signed,
                    serial="1", sha256="00")  # fmt: skip


PACKS = (
    CertificatePack("pack1", "universal", "active", ("example.com", "*.example.com"), (
        EdgeCertificate("c1", ("example.com", "*.example.com"), "active", "GoogleTrustServices",
                        datetime(2099, 1, 1, tzinfo=UTC)),
    )),
)  # fmt: skip


def test_the_zones_own_certificate_not_trusted_here() -> None:
    verdict = judge("www.example.com", "unable to get local issuer certificate",
                    cert(("example.com", "*.example.com")), PACKS, now=NOW)  # fmt: skip
    assert verdict.cause == "untrusted_issuer" and verdict.zone_certificate.startswith("universal pack pack1")
    assert "this machine does not trust its issuer" in verdict.summary


def test_a_certificate_none_of_the_zones_is_interception() -> None:
    verdict = judge("www.example.com", "self-signed certificate", cert(("www.example.com",), True), PACKS,
                    proxy="http://proxy.corp:3128", now=NOW)  # fmt: skip
    assert verdict.cause == "intercepted" and not verdict.zone_certificate
    assert any("the proxy http://proxy.corp:3128 between this machine and Cloudflare" in d for d in verdict.details)
    same_names_other_expiry = cert(("example.com", "*.example.com"), not_after=datetime(2026, 1, 1, tzinfo=UTC))
    assert judge("www.example.com", "x", same_names_other_expiry, PACKS, now=NOW).cause == "intercepted"


def test_no_pack_covers_a_deeper_name() -> None:
    verdict = judge("deep.sub.example.com", "Hostname mismatch", cert(("example.com", "*.example.com")), PACKS, now=NOW)
    assert verdict.cause == "no_certificate_for_host" and "every visitor" in verdict.summary
    inactive = (CertificatePack("p2", "advanced", "pending_validation", ("a.b.example.com",)),)
    assert judge("a.b.example.com", "x", None, inactive, now=NOW).cause == "no_certificate_for_host"


def test_without_packs_it_says_what_a_token_would_add() -> None:
    verdict = judge("www.example.com", "certificate has expired",
                    cert(("www.example.com",), not_after=NOW - timedelta(days=1)), None,
                    packs_unread="the token lacks SSL and Certificates Read", now=NOW)  # fmt: skip
    assert verdict.cause == "expired"
    assert any("(the token lacks SSL and Certificates Read)" in d for d in verdict.details)
