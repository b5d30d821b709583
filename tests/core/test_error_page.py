"""Reading an error page's own structure (`cfremedy.error_page`), page shapes one by one.

The sandbox edge's pages are Cloudflare's current templates; the older template (`cf-error-status`,
`cf-status-label`), a translated page, and pages that only look like Cloudflare's are written out
here, because each is a way the word "cloudflare" alone would answer wrongly.
"""

from __future__ import annotations

import time

import pytest

from cfremedy import error_page
from cfremedy.error_page import PARSED_LIMIT, TITLE_CUT, TITLE_LIMIT, read_page
from cfremedy.sandbox.edge import bare_page, branded_page, error_1xxx_page
from cfremedy.sandbox.scenario import EdgeSpec

OLD_TEMPLATE = """<html><head><title>example.com | 522: Connection timed out</title></head><body>
<div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<div class="cf-section cf-highlight cf-status-display"><div class="cf-wrapper"><div class="cf-columns cols-3">
<div id="cf-browser-status" class="cf-column cf-status-item cf-browser-status ">
  <div class="cf-icon-error-container"><i class="cf-icon cf-icon-browser"></i>
    <i class="cf-icon-status cf-icon-ok"></i></div>
  <span class="cf-status-desc">You</span><h3 class="cf-status-name">Browser</h3>
  <span class="cf-status-label">Working</span>
</div>
<div id="cf-cloudflare-status" class="cf-column cf-status-item cf-cloudflare-status ">
  <div class="cf-icon-error-container"><i class="cf-icon cf-icon-cloud"></i>
    <i class="cf-icon-status cf-icon-ok"></i></div>
  <span class="cf-status-desc">Frankfurt</span><h3 class="cf-status-name">Cloudflare</h3>
  <span class="cf-status-label">Working</span>
</div>
<div id="cf-host-status" class="cf-column cf-status-item cf-host-status cf-error-status">
  <div class="cf-icon-error-container"><i class="cf-icon cf-icon-server"></i>
    <i class="cf-icon-status cf-icon-error"></i></div>
  <span class="cf-status-desc">example.com</span><h3 class="cf-status-name">Host</h3>
  <span class="cf-status-label">Error</span>
</div>
</div></div></div>
<p>Cloudflare Ray ID: <strong>7d1f0a0b0c0d0e0f</strong></p></div></div></body></html>"""


def spec(**fields: object) -> EdgeSpec:
    return EdgeSpec.model_validate({"hostname": "www.example.com", **fields})


@pytest.mark.parametrize(("fields", "hop"), [
    ({"status": 502}, "host"),
    ({"status": 504}, "host"),
    ({"status": 522}, "host"),
    ({"status": 502, "failing": "cloudflare"}, "cloudflare"),
    ({"status": 500, "failing": "browser"}, "browser"),
])  # fmt: skip
def test_the_marked_box_is_the_failing_hop(fields: dict[str, object], hop: str) -> None:
    page = read_page(branded_page("www.example.com", spec(**fields), "0123456789abcdef"))
    assert (page.kind, page.failing_hop, page.ray, page.error_1xxx) == ("cloudflare", hop, "0123456789abcdef", None)
    assert page.hops[hop] == "Error" and sum(status == "Error" for status in page.hops.values()) == 1
    assert page.mentions_cloudflare  # the article's test says "Cloudflare" for every one of them


def test_older_template_is_read_by_its_classes() -> None:
    page = read_page(OLD_TEMPLATE)
    assert (page.kind, page.failing_hop, page.ray) == ("cloudflare", "host", "7d1f0a0b0c0d0e0f")
    assert dict(page.hops) == {"browser": "Working", "cloudflare": "Working", "host": "Error"}


def test_a_translated_page_is_read_by_its_classes_not_its_words() -> None:
    body = branded_page("www.example.com", spec(status=502, failing="cloudflare"), "0123456789abcdef")
    translated = body.replace(">Working<", ">正常に動作<").replace(">Error<", ">エラー<")
    page = read_page(translated)
    assert page.failing_hop == "cloudflare" and page.hops["cloudflare"] == "Error"


def test_1xxx_pages_name_their_code_and_no_hop() -> None:
    page = read_page(error_1xxx_page("app.example.com", spec(status=530, error_1xxx=1033), "0123456789abcdef"))
    assert (page.kind, page.error_1xxx, page.failing_hop, page.ray) == ("cloudflare", 1033, None, "0123456789abcdef")
    assert page.title.startswith("Cloudflare Tunnel error | app.example.com")
    text_only = '<div id="cf-wrapper"><h1>Error 1020</h1><p>Access denied</p><p>cloudflare</p></div>'
    assert read_page(text_only).error_1xxx == 1020


def test_the_bare_page_is_cloudflares_own_proxy() -> None:
    assert read_page(bare_page(spec(status=502, bare=True))).kind == "cloudflare_bare"
    nginx_era = "<html><body><center><h1>504 Gateway Time-out</h1></center><hr><center>cloudflare-nginx</center>"
    assert read_page(nginx_era).kind == "cloudflare_bare"


@pytest.mark.parametrize("body", [
    # the origin's own page, which happens to name Cloudflare
    "<html><body><h1>502 Bad Gateway</h1><p>Our CDN (Cloudflare) could not reach the app.</p></body></html>",
    # an nginx page in front of the origin
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>nginx</center></body></html>",
    '{"error": "upstream timed out", "via": "cloudflare"}',
    "",
])  # fmt: skip
def test_pages_that_only_look_like_cloudflares(body: str) -> None:
    page = read_page(body)
    assert page.kind == "other" and page.failing_hop is None and not page.hops and page.ray == ""
    assert page.mentions_cloudflare == ("cloudflare" in body.lower())


def test_an_origin_page_naming_an_error_code_is_not_a_1xxx_page() -> None:
    assert read_page("<html><body>error 1016 in our app</body></html>").error_1xxx is None


def test_broken_markup_keeps_what_was_read() -> None:
    body = branded_page("www.example.com", spec(status=502), "0123456789abcdef")
    cut = body[: body.index("What happened?")] + "<div <<< <span class=</"
    assert read_page(cut).failing_hop == "host"


@pytest.mark.parametrize("unclosed", ['<p class="md:block">You', "<span>You", "<p>You<span>and you"])
def test_an_unclosed_tag_inside_a_box_does_not_keep_the_box_open(unclosed: str) -> None:
    """HTML lets <p> (and, in practice, any inline tag) go unclosed: the box's own end tag closes
    it, so the later boxes, and the icon marking the host, stay the host's."""
    body = branded_page("www.example.com", spec(status=502), "0123456789abcdef")
    label = '<span class="md:block w-full truncate">You</span>'
    assert label in body
    page = read_page(body.replace(label, unclosed, 1))
    assert page.failing_hop == "host"
    assert dict(page.hops) == {"browser": "Working", "cloudflare": "Working", "host": "Error"}
    old = read_page(OLD_TEMPLATE.replace('<span class="cf-status-desc">You</span>', "<p>You", 1))
    assert old.failing_hop == "host" and dict(old.hops)["browser"] == "Working"


def test_stray_end_tags_inside_a_box_do_not_close_it_early() -> None:
    body = branded_page("www.example.com", spec(status=502, failing="cloudflare"), "0123456789abcdef")
    box = '<div id="cf-cloudflare-status"'
    start = body.index(box)
    inner = body.index('<div class="relative mb-10 md:m-0">', start)
    page = read_page(body[:inner] + "</p></span></b>" + body[inner:])  # none of them is open
    assert page.failing_hop == "cloudflare" and dict(page.hops)["cloudflare"] == "Error"


def test_a_box_never_holds_another_box() -> None:
    """A box whose end tag is missing altogether ends where the next box starts: the three are
    siblings in every template."""
    body = branded_page("www.example.com", spec(status=502), "0123456789abcdef")
    browser_end = body.index("</div>\n", body.index('<span class="md:block w-full truncate">You</span>'))
    page = read_page(body[:browser_end] + body[browser_end + len("</div>\n") :])
    assert page.failing_hop == "host" and set(page.hops) == {"browser", "cloudflare", "host"}


# -- bodies made to be slow: every pattern is linear in the body ---------------------------------


def test_a_long_title_is_read_at_once_and_cut() -> None:
    """A page's title has no size of its own: 1 MB of `a.a.` took minutes to rid of credentials
    (a regex restarting at every word); now it is read fast, and kept up to TITLE_LIMIT."""
    started = time.perf_counter()
    page = read_page("<title>" + "a." * 500_000 + "</title>")
    assert time.perf_counter() - started < 2
    assert len(page.title) == TITLE_LIMIT and page.title.endswith(TITLE_CUT) and page.title.startswith("a.a.")
    assert read_page("<title>" + "a" * TITLE_LIMIT + "</title>").title == "a" * TITLE_LIMIT  # not cut


def test_credentials_are_cut_from_the_title_before_the_title_is_cut() -> None:
    """Cut first, the password would be left in part, its `@` gone with the rest."""
    title = read_page(f"<title>{'x' * (TITLE_LIMIT - 10)} http://user:longpassword@h.example/ y</title>").title
    assert "user" not in title and "pass" not in title
    assert title == f"{'x' * (TITLE_LIMIT - 10)} http://h.example/ y"[: TITLE_LIMIT - len(TITLE_CUT)] + TITLE_CUT


@pytest.mark.parametrize("body", ["<title>" * 40_000, "<title" * 40_000, "<title>x</TITLE>" + "<title>" * 40_000])
def test_titles_without_an_end_are_not_looked_for_again_and_again(body: str) -> None:
    """The title alone (`<title<title` is slow in the HTML parser too, see the ray's test)."""
    started = time.perf_counter()
    title = error_page._title(body)
    assert time.perf_counter() - started < 2
    assert title == ("x" if body.startswith("<title>x") else "")
    assert read_page("<TITLE lang=en>a\n b</title><title>c</title>").title == "a b"


def test_ray_ids_after_unclosed_tags_are_found_in_linear_time() -> None:
    """Each `Ray ID: <` read the rest of the body for a `>` (the pattern alone: the HTML parser's
    own quadratic inputs are the next test's). A real one is still found."""
    started = time.perf_counter()
    assert error_page._RAY.search("Ray ID: <" * 40_000) is None
    assert time.perf_counter() - started < 2
    found = error_page._RAY.search('Ray ID: <strong class="x"> <span>0123456789abcdef</span>')
    assert found is not None and found.group(1) == "0123456789abcdef"


@pytest.mark.parametrize("unit", ["Ray ID: <", "<!--", "<title", "<a b='"])
def test_a_megabyte_of_markup_the_html_parser_is_slow_on_is_read_in_bounded_time(unit: str) -> None:
    """Python's HTMLParser is quadratic on such markup (64 KiB of `Ray ID: <` took 9 s on
    3.11.7): only the page's first PARSED_LIMIT characters are parsed, so the 1 MiB a
    hostile page may send cannot hold `diagnose` after its deadline."""
    started = time.perf_counter()
    page = read_page(unit * (1024 * 1024 // len(unit)))
    assert time.perf_counter() - started < 5
    assert page.kind == "other" and page.failing_hop is None


def test_a_cloudflare_page_is_still_read_when_padded_beyond_what_is_parsed() -> None:
    """The templates hold their boxes within a few KiB: what follows the parsed part (a
    custom page's inline assets, say) does not hide them."""
    body = OLD_TEMPLATE.replace("</body>", "<!--" + "x" * (2 * PARSED_LIMIT) + "--></body>")
    assert len(body) > PARSED_LIMIT
    page = read_page(body)
    assert (page.kind, page.failing_hop, page.ray) == ("cloudflare", "host", "7d1f0a0b0c0d0e0f")
