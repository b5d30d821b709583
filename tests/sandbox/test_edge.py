"""The sandbox edge: Cloudflare's pages, headers and trace, reached through its connect-to rules.

`cfremedy diagnose` reads Cloudflare's error pages by their structure (the three status boxes
and the one marked failing, the 1xxx heading, the bare page Cloudflare's proxy answers), tells
them from the origin's, reads the Ray ID and the colo, and fetches `/cdn-cgi/trace`, over HTTP
and HTTPS; these tests pin what the stand-in serves so diagnose's checks are tested against the
shapes the 5xx article describes, over real HTTP and real TLS.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography import x509

from cfremedy.error_page import read_page
from cfremedy.probes.connect_to import parse_connect_to, route
from cfremedy.sandbox.edge import CLOUDFLARE_REASONS, EdgeServer
from cfremedy.sandbox.scenario import ScenarioError, parse_scenario
from cfremedy.sandbox.session import SandboxSession

COOKIE = "__cf_bm=sekrit-cookie-value; path=/; HttpOnly"
EDGE: list[dict[str, Any]] = [
    {"hostname": "www.example.com", "status": 522, "set_cookie": COOKIE},
    {"hostname": "dns.example.com", "status": 530, "error_1xxx": 1016, "colo": "NRT"},
    {"hostname": "origin502.example.com", "status": 502, "branded": False},
    {"hostname": "custom.example.com", "status": 503, "branded": False,
     "body": "<html><body>maintenance, back soon</body></html>"},
    {"hostname": "healthy.example.com"},
    {"hostname": "cf500.example.com", "status": 500},
    *({"hostname": f"s{code}.example.com", "status": code} for code in (520, 521, 523, 524, 525, 526, 527)),
    *({"hostname": f"s{code}.example.com", "status": code} for code in (502, 503, 504)),
    {"hostname": "cfdown.example.com", "status": 502, "failing": "cloudflare"},
    {"hostname": "client.example.com", "status": 500, "failing": "browser"},
    {"hostname": "bare.example.com", "status": 502, "bare": True},
    {"hostname": "direct.example.com", "status": 502, "proxied": False},
    {"hostname": "mitm.example.com", "certificate": "self_signed"},
    {"hostname": "deep.sub.example.com"},
]  # fmt: skip
RAY = re.compile(r"^([0-9a-f]{16})-([A-Z0-9]+)$")
TRACE_KEYS = ["fl", "h", "ip", "ts", "visit_scheme", "uag", "colo", "sliver", "http", "loc", "tls",
              "sni", "warp", "gateway", "rbi", "kex"]  # fmt: skip


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeServer]:
    with EdgeServer(parse_scenario({"edge": EDGE}).edge, zones=["example.com"]) as server:
        yield server


@pytest.fixture(scope="module")
def http(edge: EdgeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=5) as client:
        yield client


def get(http: httpx.Client, host: str, path: str = "/") -> httpx.Response:
    return http.get(path, headers={"Host": host})


def test_branded_page_is_cloudflares(http: httpx.Client) -> None:
    response = get(http, "www.example.com", "/some/page")
    assert response.status_code == 522
    body = response.text
    assert "cloudflare" in body.lower()
    assert "<title>www.example.com | 522: Connection timed out</title>" in body
    assert "<span>Performance &amp; security by</span>" in body and ">Cloudflare</a>" in body
    ray = RAY.match(response.headers["cf-ray"])
    assert ray is not None and ray.group(2) == "SJC"
    assert f'Cloudflare Ray ID: <strong class="font-semibold">{ray.group(1)}</strong>' in body  # page and header agree
    page = read_page(body)
    assert page.kind == "cloudflare" and page.ray == ray.group(1)
    assert page.failing_hop == "host" and dict(page.hops) == {"browser": "Working", "cloudflare": "Working",
                                                              "host": "Error"}  # fmt: skip
    assert '<div id="cf-host-status" class="cf-error-source ' in body and "San Jose" in body


@pytest.mark.parametrize("host", ["origin502.example.com", "custom.example.com"])
def test_origin_page_never_mentions_cloudflare(http: httpx.Client, host: str) -> None:
    response = get(http, host)
    assert response.status_code in (502, 503)
    assert "cloudflare" not in response.text.lower()
    assert response.headers["server"] == "cloudflare"  # still through the edge
    assert RAY.match(response.headers["cf-ray"])


def test_origin_page_default_and_custom_bodies(http: httpx.Client) -> None:
    assert get(http, "origin502.example.com").text.strip() == (
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
        "</center><hr><center>nginx</center></body></html>"
    )
    assert get(http, "custom.example.com").text == "<html><body>maintenance, back soon</body></html>"


def test_headers(http: httpx.Client) -> None:
    response = get(http, "www.example.com")
    headers = response.headers
    assert headers["server"] == "cloudflare"
    assert headers["cf-cache-status"] == "DYNAMIC"
    assert headers["content-type"] == "text/html; charset=UTF-8"
    assert headers["set-cookie"] == COOKIE
    assert "set-cookie" not in get(http, "dns.example.com").headers
    rays = {get(http, "www.example.com").headers["cf-ray"] for _ in range(3)}
    assert len(rays) == 3, "a new Ray ID per request"
    assert RAY.match(get(http, "dns.example.com").headers["cf-ray"]).group(2) == "NRT"  # type: ignore[union-attr]


@pytest.mark.parametrize("code", sorted(CLOUDFLARE_REASONS))
def test_cloudflare_reason_phrases(http: httpx.Client, code: int) -> None:
    host = {522: "www.example.com", 530: "dns.example.com"}.get(code, f"s{code}.example.com")
    response = get(http, host)
    assert response.status_code == code
    reason = CLOUDFLARE_REASONS[code]
    assert response.reason_phrase == reason
    if code == 530:  # a 1xxx page: the code in the heading, no status boxes
        assert "<title>Origin DNS error | dns.example.com | Cloudflare</title>" in response.text
        assert '<span class="cf-error-code">1016</span>' in response.text and "cf-host-status" not in response.text
        page = read_page(response.text)
        assert (page.kind, page.error_1xxx, page.failing_hop) == ("cloudflare", 1016, None)
    else:
        assert f"<title>{host} | {code}: {reason}</title>" in response.text
        assert read_page(response.text).failing_hop == "host"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout")],
)
def test_standard_phrases_on_branded_pages(http: httpx.Client, code: int, reason: str) -> None:
    host = "cf500.example.com" if code == 500 else f"s{code}.example.com"
    response = get(http, host)
    assert response.status_code == code
    assert f"| {code}: {reason}</title>" in response.text
    assert "cloudflare" in response.text.lower()


@pytest.mark.parametrize(("host", "hop"), [
    ("s502.example.com", "host"), ("s504.example.com", "host"),  # the origin's own 502/504, Cloudflare's page
    ("s503.example.com", "cloudflare"), ("cf500.example.com", "cloudflare"),
    ("cfdown.example.com", "cloudflare"), ("client.example.com", "browser"),
])  # fmt: skip
def test_branded_pages_mark_one_hop_as_failing(http: httpx.Client, host: str, hop: str) -> None:
    body = get(http, host).text
    page = read_page(body)
    assert page.kind == "cloudflare" and page.failing_hop == hop
    assert [h for h, status in page.hops.items() if status == "Error"] == [hop]
    assert body.count("cf-error-source") == 1 and f'<div id="cf-{hop}-status" class="cf-error-source ' in body


def test_bare_page_is_cloudflares_own_proxy(http: httpx.Client) -> None:
    response = get(http, "bare.example.com")
    assert response.status_code == 502 and response.headers["server"] == "cloudflare"
    assert response.text == (
        "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
        "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"
    )
    assert read_page(response.text).kind == "cloudflare_bare"


def test_dns_only_hostname_answers_without_cloudflare(http: httpx.Client) -> None:
    response = get(http, "direct.example.com")
    assert response.status_code == 502
    assert "cf-ray" not in response.headers and response.headers["server"] == "nginx"
    assert get(http, "www.example.com").headers["server"] == "cloudflare"  # the next request is the edge's again


def test_healthy_hostname(http: httpx.Client) -> None:
    response = get(http, "healthy.example.com")
    assert response.status_code == 200
    assert "cloudflare" not in response.text.lower()
    assert response.headers["server"] == "cloudflare"


def test_trace(http: httpx.Client) -> None:
    response = http.get("/cdn-cgi/trace", headers={"Host": "DNS.example.com:80", "User-Agent": "probe/1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    trace = dict(line.split("=", 1) for line in lines)
    assert [line.split("=", 1)[0] for line in lines] == TRACE_KEYS
    assert trace["h"] == "dns.example.com"
    assert trace["ip"] == "127.0.0.1"
    assert re.fullmatch(r"\d+\.\d{3}", trace["ts"])
    assert trace["uag"] == "probe/1"
    assert trace["colo"] == "NRT"
    expected = {"visit_scheme": "http", "sliver": "none", "http": "http/1.1", "loc": "US",
                "tls": "off", "sni": "off", "warp": "off", "gateway": "off", "rbi": "off",
                "kex": "none"}  # fmt: skip
    assert {k: trace[k] for k in expected} == expected
    # The trace answers even on a hostname whose pages are errors.
    assert get(http, "www.example.com", "/cdn-cgi/trace").status_code == 200


def test_unknown_host(http: httpx.Client) -> None:
    response = get(http, "elsewhere.example.org")
    assert response.status_code == 404
    assert "elsewhere.example.org" in response.text
    assert get(http, "elsewhere.example.org", "/cdn-cgi/trace").status_code == 404


def test_head_has_no_body(http: httpx.Client) -> None:
    response = http.head("/", headers={"Host": "www.example.com"})
    assert response.status_code == 522 and response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_connect_to_rules_reach_each_hostname(edge: EdgeServer) -> None:
    rules = [parse_connect_to(r) for r in edge.connect_to()]
    assert [r.host for r in rules] == [spec["hostname"] for spec in EDGE for _ in (80, 443)]
    assert {(r.port, r.to_host, r.to_port) for r in rules} == {(80, "127.0.0.1", edge.port),
                                                               (443, "127.0.0.1", edge.tls_port)}  # fmt: skip
    with httpx.Client(timeout=5) as client:
        for spec in EDGE[:5]:
            url = httpx.URL(f"http://{spec['hostname']}/cdn-cgi/trace")
            host, port = route(rules, url.host, url.host, url.port or 80)
            response = client.get(url.copy_with(host=host, port=port), headers={"Host": url.host})
            assert dict(line.split("=", 1) for line in response.text.splitlines())["h"] == spec["hostname"]


def _https(edge: EdgeServer, host: str, path: str = "/", verify: ssl.SSLContext | bool = True) -> httpx.Response:
    with httpx.Client(verify=verify, timeout=5) as client:
        return client.get(f"https://127.0.0.1:{edge.tls_port}{path}", headers={"Host": host},
                          extensions={"sni_hostname": host})  # fmt: skip


def _peer(edge: EdgeServer, host: str) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_https_serves_the_zone_certificate_from_the_edge_ca(edge: EdgeServer) -> None:
    trusted = ssl.create_default_context(cafile=str(edge.ca_file))
    response = _https(edge, "www.example.com", verify=trusted)
    assert response.status_code == 522 and read_page(response.text).failing_hop == "host"
    trace = dict(line.split("=", 1) for line in _https(edge, "www.example.com", "/cdn-cgi/trace", trusted).text.split())
    assert (trace["visit_scheme"], trace["tls"], trace["sni"]) == ("https", "TLSv1.3", "plaintext")
    cert = _peer(edge, "www.example.com")
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["example.com", "*.example.com"]  # the zone's universal pack, as the API lists it
    assert cert.not_valid_after_utc == datetime(2099, 1, 1, tzinfo=UTC)  # the pack's expires_on
    with pytest.raises(httpx.ConnectError, match="unable to get local issuer certificate"):
        _https(edge, "www.example.com")  # nothing trusts the sandbox edge CA by default


def test_https_certificate_problems(edge: EdgeServer) -> None:
    trusted = ssl.create_default_context(cafile=str(edge.ca_file))
    with pytest.raises(httpx.ConnectError, match="self-signed certificate"):
        _https(edge, "mitm.example.com", verify=trusted)
    assert _peer(edge, "mitm.example.com").issuer == _peer(edge, "mitm.example.com").subject
    with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):  # *.example.com is one level only
        _https(edge, "deep.sub.example.com", verify=trusted)


def test_stop_closes_keep_alive_connections() -> None:
    server = EdgeServer(parse_scenario({"edge": [{"hostname": "a.example"}]}).edge).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=2) as client:
        assert client.get("/", headers={"Host": "a.example"}).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/", headers={"Host": "a.example"})
    with pytest.raises(RuntimeError):  # stopped: no address to offer
        server.connect_to()


@pytest.mark.parametrize(("edge", "message"), [
    ([{"hostname": "a.example"}, {"hostname": "A.example."}], "unique"),
    ([{"hostname": "a.example", "status": 99}], "status"),
    ([{"hostname": "a.example", "status": 530, "error_1xxx": 16}], "error_1xxx"),
    ([{"hostname": "a.example", "set_cookie": "a=b\r\nX-Evil: 1"}], "single header line"),
    ([{"hostname": "a.example:80"}], "hostname"),
    ([{"hostname": "a.example", "status": 502, "branded": False, "failing": "host"}], "need branded"),
    ([{"hostname": "a.example", "status": 502, "bare": True, "failing": "host"}], "no status boxes"),
    ([{"hostname": "a.example", "status": 530, "error_1xxx": 1016, "failing": "host"}], "no status boxes"),
    ([{"hostname": "a.example", "certificate": "expired"}], "certificate"),
])  # fmt: skip
def test_scenario_validation(edge: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"edge": edge})


def test_edge_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EdgeServer((), host="0.0.0.0")


SESSION = {
    "tokens": [{"value": "tok"}],
    "origins": [{"address": "203.0.113.10", "hostnames": ["www.example.com"]}],
    "edge": [{"hostname": "www.example.com", "status": 526}, {"hostname": "api.example.com"}],
}


def test_session_keeps_origin_and_edge_rules_apart() -> None:
    with SandboxSession(parse_scenario(SESSION)) as session:
        fleet, edge = session.fleet.connect_to(), session.edge.connect_to()
        assert fleet and edge == [rule for h in ("www.example.com", "api.example.com")
                                  for rule in (f"{h}:80:127.0.0.1:{session.edge.port}",
                                               f"{h}:443:127.0.0.1:{session.edge.tls_port}")]  # fmt: skip
        env = session.env()
        assert env["CFREMEDY_CONNECT_TO"] == " ".join(fleet)
        assert env["CFREMEDY_EDGE_CONNECT_TO"] == " ".join(edge) == " ".join(session.edge_rules())
        options = session.probe_options()
        assert [str(r) for r in options.connect_to] == fleet and options.only_connect_to
        # A port-80 origin probe of www.example.com reaches the origin; a request for
        # http://www.example.com/ under the edge rules reaches the edge.
        assert route(options.connect_to, "www.example.com", "203.0.113.10", 80) == session.fleet.endpoint(
            "203.0.113.10", 80
        )
        edge_rules = [parse_connect_to(r) for r in session.edge_rules()]
        to_edge = route(edge_rules, "www.example.com", "www.example.com", 80)
        assert to_edge == ("127.0.0.1", session.edge.port)
        response = httpx.get(f"http://127.0.0.1:{to_edge[1]}/", headers={"Host": "www.example.com"})
        assert response.status_code == 526
    with pytest.raises(RuntimeError):
        _ = session.edge.port  # stopped with the session


def test_session_with_real_addresses_has_no_origin_rules_but_still_edge_rules() -> None:
    """Origins on their real addresses need no rules, but the edge is still on loopback; its
    hostname rules must not reach the probes, or they would catch port-80 origin probes."""
    scenario = parse_scenario({**SESSION, "origins": []})
    with SandboxSession(scenario, real_addresses=True) as session:
        env = session.env()
        assert env["CFREMEDY_CONNECT_TO"] == ""
        assert env["CFREMEDY_EDGE_CONNECT_TO"].startswith("www.example.com:80:127.0.0.1:")
        assert env["CFREMEDY_CONNECT_TO_ONLY"] == "false"
        assert not session.probe_options().only_connect_to
        assert session.probe_options().connect_to == ()


def test_session_without_edge_adds_no_rules() -> None:
    scenario = parse_scenario({**SESSION, "edge": []})
    with SandboxSession(scenario) as session:
        assert session.env()["CFREMEDY_CONNECT_TO"] == " ".join(session.fleet.connect_to())
