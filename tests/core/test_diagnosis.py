"""`diagnosis.interpret` and `edge_tls.judge`: whom to contact, from the page's structure and the
headers, the zone's custom pages and certificate packs — pure functions, plain data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cfremedy.article import ERRORS_1XXX, ERRORS_1XXX_URL, error_1xxx
from cfremedy.diagnosis import PlaybookRun, ZoneReads, browser_trace_steps, build_bundle, bundle_markdown, interpret
from cfremedy.edge_tls import judge
from cfremedy.error_page import read_page
from cfremedy.models import CertificatePack, CustomPage, EdgeCertificate, frozen_mapping
from cfremedy.probes.edge import EdgeResponse, EdgeTls, RedirectHop, Trace
from cfremedy.probes.results import CertInfo
from cfremedy.sandbox.edge import bare_page, branded_page, error_1xxx_page, origin_page
from cfremedy.sandbox.scenario import EdgeSpec

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CF = {"cf-ray": "0123456789abcdef-SJC", "server": "cloudflare"}
CUSTOM_5XX = (CustomPage("500_errors", "customized", "https://errors.example.com/5xx.html"),
              CustomPage("1000_errors", "default"))  # fmt: skip
DEFAULT_PAGES = (CustomPage("500_errors", "default"), CustomPage("1000_errors", "default"))  # read, none customised


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
    result = interpret(response(502, body), DEFAULT_PAGES)
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


def test_a_52x_page_marking_the_browser_sends_you_to_the_visitors_side_first() -> None:
    result = interpret(response(522, page(522, failing="browser")))
    assert (result.source, result.failing_hop) == ("cloudflare", "browser")
    assert "marks the browser's side as failing" in result.headline
    assert (
        result.contact.startswith("The page blames the visitor's side")
        and "another browser or network" in result.contact
    )
    assert "hosting provider" in result.contact  # a 52x is still about the origin if it persists


def test_the_headline_and_the_failing_hop_agree_when_no_box_is_marked() -> None:
    unmarked = (page(500).replace("cf-error-source ", "").replace("cf-icon-error", "cf-icon-ok")
                .replace("text-red-error", "text-green-success").replace(">Error<", ">Working<"))  # fmt: skip
    result = interpret(response(500, unmarked))
    assert result.source == "cloudflare" and result.failing_hop is None
    assert "marks no failing hop" in result.headline
    marked = interpret(response(500, page(500)))  # Cloudflare's own box: both say so
    assert marked.failing_hop == "cloudflare" and "marks Cloudflare itself as the failing hop" in marked.headline


def test_52x_keep_their_meaning_and_cached_errors_are_noted() -> None:
    result = interpret(response(522, page(522), headers={**CF, "cf-cache-status": "HIT"}))
    assert (result.code, result.source, result.failing_hop) == (522, "cloudflare", "host")
    assert any("Cloudflare's cache" in n for n in result.notes)


# -- custom error pages ------------------------------------------------------------------------


def test_a_customised_5xx_page_is_not_trusted_blindly() -> None:
    custom_body = "<html><body><h1>We'll be right back</h1></body></html>"
    assert interpret(response(502, custom_body), DEFAULT_PAGES).source == "origin"  # none customised: the origin's
    result = interpret(response(502, custom_body), CUSTOM_5XX)
    assert result.source == "unknown" and result.failing_hop is None
    assert any("customises its 5xx error pages (https://errors.example.com/5xx.html)" in n for n in result.notes)
    # Cloudflare's structure, where the custom page kept it, still decides
    assert interpret(response(502, page(502)), CUSTOM_5XX).failing_hop == "host"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_unread_custom_pages_leave_an_unstructured_page_unattributed(status: int) -> None:
    """No token, no permission or an API failure: a customised 5xx page cannot be ruled out, so
    the page's look does not make it the origin's."""
    body = "<html><body><h1>We'll be right back</h1></body></html>"
    result = interpret(response(status, body), None, custom_pages_unread="the token lacks Zone Settings Read")
    assert (result.source, result.failing_hop) == ("unknown", None)
    assert "the origin itself returned this error" not in result.contact and "origin's logs" in result.contact
    assert any(
        "custom error pages were not read (the token lacks Zone Settings Read)" in n and "cannot be ruled out" in n
        for n in result.notes
    )
    assert interpret(response(status, body)).source == "unknown"  # no reason given: still unknown
    # Cloudflare's structure still decides, read or not
    assert interpret(response(502, page(502))).failing_hop == "host"


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


@pytest.mark.parametrize(("status", "code"), [(500, 1101), (503, 1102), (500, 1019), (502, 1200)])
def test_a_5xx_naming_a_known_1xxx_error_goes_to_whoever_manages_the_sites_configuration(
    status: int, code: int
) -> None:
    """1101 (a Worker threw) on a 500, 1102 (a Worker's limits) on a 503: the site's own Worker or
    configuration, not something for Cloudflare support."""
    result = interpret(response(status, page(status, error_1xxx=code)))
    entry = ERRORS_1XXX[code]
    assert result.error_1xxx == entry and result.playbook_codes == (code,)
    assert f"HTTP {status} " in result.headline and f"with error {code} ({entry.name})" in result.headline
    assert result.contact.startswith(f"Error {code} names the problem: {entry.meaning}")
    assert "Cloudflare configuration or Workers acts on it" in result.contact
    assert "Cloudflare support" not in result.contact and result.failing_hop is None


def test_a_5xx_naming_an_unknown_1xxx_error_keeps_cloudflare_support() -> None:
    result = interpret(response(500, page(500, error_1xxx=1999)))
    assert result.error_1xxx is not None and result.error_1xxx.code == 1999
    assert "Cloudflare support" in result.contact
    assert result.failing_hop is None and "marks no failing hop" in result.headline


def test_a_1xxx_on_a_4xx_is_named_too() -> None:
    result = interpret(response(403, page(403, error_1xxx=1020)))
    assert result.code is None and "with Cloudflare error 1020 (Access denied)" in result.headline
    assert result.playbook_codes == (1020,)


@pytest.mark.parametrize(("status", "code"), [(403, 1020), (403, 1006), (403, 1010), (429, 1015), (403, 1012)])
def test_a_1xxx_block_sends_the_visitor_to_the_site_owner(status: int, code: int) -> None:
    """The site's own security settings refused the visitor: only its owner can lift that, not the
    hosting provider, not Cloudflare support."""
    result = interpret(response(status, page(status, error_1xxx=code)))
    assert result.contact.startswith(f"Error {code} names the problem: {ERRORS_1XXX[code].meaning}")
    assert "only the site owner can change it" in result.contact and "Security Events" in result.contact
    assert "give Cloudflare support" not in result.contact


@pytest.mark.parametrize(("status", "code"), [(409, 1001), (403, 1014), (409, 1016), (403, 1034), (500, 1035)])
def test_a_1xxx_of_the_sites_setup_goes_to_whoever_manages_it(status: int, code: int) -> None:
    result = interpret(response(status, page(status, error_1xxx=code)))
    assert "Cloudflare configuration or Workers acts on it" in result.contact
    assert "Cloudflare support" not in result.contact


@pytest.mark.parametrize(("status", "code"), [(409, 1004), (530, 1004), (404, 1018), (530, 1023), (403, 1104)])
def test_a_1xxx_nothing_of_the_site_causes_goes_to_cloudflare_support(status: int, code: int) -> None:
    """Propagation at Cloudflare's edge, an account's email: no setting of the site fixes them."""
    result = interpret(response(status, page(status, error_1xxx=code)))
    assert "give Cloudflare support the details below" in result.contact
    assert "acts on it" not in result.contact


def test_1003_is_the_requests_own_doing() -> None:
    result = interpret(response(403, page(403, error_1xxx=1003)))
    assert "request the site by its hostname" in result.contact


def test_a_4xx_without_a_1xxx_has_nobody_to_contact() -> None:
    assert interpret(response(404, "<html><body>Not found</body></html>")).contact == ""
    # a 1xxx code on a page that did not come through Cloudflare is not Cloudflare's to name a contact for
    assert interpret(response(403, page(403, error_1xxx=1020), headers={"server": "nginx"})).contact == ""


def test_every_1xxx_names_who_acts_on_it() -> None:
    assert {e.contact for e in ERRORS_1XXX.values()} == {"owner", "block", "cloudflare", "visitor"}


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


# -- redirects and what was read of the page ----------------------------------------------------


def hop(url: str, status: int, location: str, ray: str = "0123456789abcdef-SJC") -> RedirectHop:
    return RedirectHop(url, status, location, "127.0.0.1:80", server="cloudflare" if ray else "nginx", ray=ray)


def test_the_final_answer_is_judged_and_each_redirect_said() -> None:
    hops = (hop("http://example.com/", 301, "https://example.com/"),
            hop("https://example.com/", 302, "https://www.example.com/", ray=""))  # fmt: skip
    resp = response(502, page(502), requested_url="http://example.com/", redirects=hops)
    result = interpret(resp)
    assert (result.code, result.failing_hop) == (502, "host")  # the last answer's
    chain = next(n for n in result.notes if n.startswith("http://example.com/ redirected 2 times"))
    assert "this is the answer of https://www.example.com/" in chain
    assert "Hop 1: http://example.com/ answered 301, Location: https://example.com/ (server: cloudflare;" in chain
    assert "Hop 2: https://example.com/ answered 302, Location: https://www.example.com/ (server: nginx;" in chain
    assert any(n.startswith("At hop 2 example.com redirects to another host, www.example.com") for n in result.notes)
    assert not any(n.startswith("At hop 1") for n in result.notes)  # http -> https on one host
    bundle = build_bundle(resp, Trace(), result, PlaybookRun(None, (), (), ""))
    assert bundle["requested_url"] == "http://example.com/" and bundle["url"] == "https://www.example.com/"
    assert [(h["status"], h["server"], h["cf_ray"]) for h in bundle["redirects"]] == [
        (301, "cloudflare", "0123456789abcdef-SJC"), (302, "nginx", None)]  # fmt: skip
    markdown = bundle_markdown(bundle)
    assert "- Redirected from: http://example.com/ (2 redirects)\n  1. 301 http://example.com/ ->" in markdown


@pytest.mark.parametrize(("problem", "error", "words"), [
    ("loop", "redirect loop: http://b.example.com/ redirects to http://a.example.com/, already requested at hop 1",
     "redirects in a loop"),
    ("too_many", "more than 10 redirects: http://a.example.com/ was still redirecting at http://k.example.com/",
     "never stops redirecting"),
])  # fmt: skip
def test_a_redirect_loop_is_the_finding(problem: str, error: str, words: str) -> None:
    hops = (hop("http://a.example.com/", 302, "http://b.example.com/"),
            hop("http://b.example.com/", 302, "http://a.example.com/"))  # fmt: skip
    resp = EdgeResponse(url="http://b.example.com/", at_utc=NOW, at_local="", requested_url="http://a.example.com/",
                        redirects=hops, redirect_problem=problem, error=error)  # fmt: skip
    result = interpret(resp)
    assert result.source == "redirect_loop" and result.code is None and words in result.headline
    assert "Flexible" in result.contact and result.playbook_ids == ("flexible_redirect_loop",)
    assert [n.split(":")[0] for n in result.notes] == ["Hop 1", "Hop 2"]
    outside = interpret(replace(resp, redirects=tuple(replace(h, ray="", server="nginx") for h in hops)))
    assert "did not come through Cloudflare" in outside.contact or "no cf-ray" in outside.contact
    assert outside.playbook_ids == ()


@pytest.mark.parametrize(("ray", "words"), [("0123456789abcdef-SJC", "redirect rule"), ("", "no cf-ray")])
def test_a_redirect_to_an_invalid_url_is_the_finding(ray: str, words: str) -> None:
    error = ("redirect to an invalid URL: http://b.example.com/ redirects to http://b.example.com:99999/:"
             " port 99999 is out of range (1-65535)")  # fmt: skip
    hops = (hop("http://a.example.com/", 301, "http://b.example.com/", ray),
            hop("http://b.example.com/", 302, "http://b.example.com:99999/", ray))  # fmt: skip
    resp = EdgeResponse(url="http://b.example.com/", at_utc=NOW, at_local="", requested_url="http://a.example.com/",
                        redirects=hops, redirect_problem="invalid_location", error=error)  # fmt: skip
    result = interpret(resp)
    assert result.source == "redirect_invalid" and result.code is None and result.playbook_ids == ()
    assert result.headline == f"http://a.example.com/ ends in a {error}"
    assert words in result.contact and "A browser cannot follow it either" in result.contact
    assert [n.split(":")[0] for n in result.notes] == ["Hop 1", "Hop 2"]
    bundle = build_bundle(resp, Trace(), result, PlaybookRun(None, (), (), ""))
    assert bundle["redirect_problem"] == "invalid_location" and bundle["error"]["fetch_error"] == error
    assert "  2. 302 http://b.example.com/ -> http://b.example.com:99999/ (server: " in bundle_markdown(bundle)


def test_a_failure_after_a_redirect_keeps_the_chain() -> None:
    resp = EdgeResponse(url="https://www.example.com/", at_utc=NOW, at_local="", requested_url="http://example.com/",
                        redirects=(hop("http://example.com/", 301, "https://www.example.com/"),),
                        error="connection refused")  # fmt: skip
    result = interpret(resp)
    assert result.source == "unreachable" and any("redirected 1 time:" in n for n in result.notes)


@pytest.mark.parametrize(("cut", "words"), [("size", "Only the first 1024 KiB"), ("deadline", "still arriving")])
def test_a_page_read_in_part_is_said(cut: str, words: str) -> None:
    resp = response(502, page(502), body_cut=cut, body_bytes=1024 * 1024)
    result = interpret(resp)
    assert result.failing_hop == "host" and any(words in n for n in result.notes)
    bundle = build_bundle(resp, Trace(), result, PlaybookRun(None, (), (), ""))
    assert bundle["error"]["page"]["cut"] == cut and bundle["error"]["page"]["bytes_read"] == 1024 * 1024
    assert interpret(response(502, page(502))).notes == ()


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


@pytest.mark.parametrize("issuer", [
    "CN=Corp TLS Inspection CA,O=Example Corp,C=US",  # a proxy's own CA
    "CN=WE1,O=Google Trust Services Imitation Ltd,C=US",  # not a name the pack's issuer starts
    "CN=example.com",  # self-issued
])  # fmt: skip
def test_a_proxy_copying_the_names_and_expiry_is_still_interception(issuer: str) -> None:
    """A TLS-inspecting proxy can copy the real certificate's names and expiry, not its issuer."""
    copied = cert(("example.com", "*.example.com"), issuer=issuer)
    verdict = judge("www.example.com", "unable to get local issuer certificate", copied, PACKS, now=NOW)
    assert verdict.cause == "intercepted" and not verdict.zone_certificate
    assert any("its issuer is not the pack's (GoogleTrustServices)" in d for d in verdict.details)


@pytest.mark.parametrize(("pack_issuer", "leaf_issuer"), [
    ("GoogleTrustServices", "CN=WE1,O=Google Trust Services,C=US"),
    ("GoogleTrustServices", "CN=WR1,O=Google Trust Services LLC,C=US"),
    ("LetsEncrypt", "CN=E6,O=Let's Encrypt,C=US"),
    ("DigiCertInc", "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US"),
    ("SSLcom", "CN=Cloudflare TLS Issuing ECC CA 3,O=SSL Corporation,C=US"),
    ("Sectigo", "CN=Sectigo ECC Domain Validation Secure Server CA,O=Sectigo Limited,C=GB"),
])  # fmt: skip
def test_the_packs_issuer_names_the_leafs_issuer(pack_issuer: str, leaf_issuer: str) -> None:
    packs = (CertificatePack("pack1", "universal", "active", ("example.com", "*.example.com"), (
        EdgeCertificate("c1", ("example.com", "*.example.com"), "active", pack_issuer,
                        datetime(2099, 1, 1, tzinfo=UTC)),
    )),)  # fmt: skip
    verdict = judge("www.example.com", "x", cert(("example.com", "*.example.com"), issuer=leaf_issuer), packs, now=NOW)
    assert verdict.cause == "untrusted_issuer", verdict.details


def test_a_pack_without_an_issuer_cannot_vouch_for_the_certificate() -> None:
    packs = (CertificatePack("pack1", "universal", "active", ("example.com", "*.example.com"), (
        EdgeCertificate("c1", ("example.com", "*.example.com"), "active", "", datetime(2099, 1, 1, tzinfo=UTC)),
    )),)  # fmt: skip
    verdict = judge("www.example.com", "x", cert(("example.com", "*.example.com")), packs, now=NOW)
    assert verdict.cause == "unknown" and not verdict.zone_certificate
    assert any("lists no issuer" in d for d in verdict.details)


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
