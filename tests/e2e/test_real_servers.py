"""nginx and HAProxy, from the Debian packages, as origins: the verdicts against real web servers.

The sandbox's stand-in origins are cfremedy's own Python; these are the servers people run.
`real_servers.py` starts them inside a private network namespace (`unshare -n`) on the very
addresses the DNS records name, with a valid and a self-signed certificate, HTTP/2 on, TLS
limited to a suite Cloudflare does not offer, keepalives off, a revoked certificate stapled, a
default server answering for a name it has no certificate for, HAProxy demanding a client
certificate, and HAProxy terminating TLS with `alpn h2,http/1.1` in front of an
HTTP/1.1-only backend. One namespace serves every test (`.ci/run` installs the packages; a
machine without them skips these tests, saying so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.support import ROOT, requires_netns

SBIN = "/usr/sbin:/sbin"
NGINX = shutil.which("nginx") or shutil.which("nginx", path=SBIN)
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path=SBIN)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)")
needs_haproxy = pytest.mark.skipif(
    NGINX is None or HAPROXY is None,
    reason="HAProxy, with nginx as its backend, is not installed (Debian: apt-get install nginx haproxy)",
)

pytestmark = [pytest.mark.netns, requires_netns]

Report = dict[str, Any]


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx haproxy)")
    command = ["unshare", "-n", sys.executable, "-m", "tests.e2e.real_servers", "--nginx", NGINX]
    if HAPROXY is not None:
        command += ["--haproxy", HAPROXY]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Report] = json.loads(done.stdout)
    return result


def found(report: Report) -> set[tuple[str, str, tuple[int, ...]]]:
    return {(f["playbook"], f["severity"], tuple(f["error_codes"])) for f in report["findings"]}


def message(report: Report, playbook: str) -> str:
    (text,) = [f["message"] for f in report["findings"] if f["playbook"] == playbook]
    return str(text)


@needs_nginx
def test_nginx_with_a_valid_certificate_http2_on_and_a_good_ocsp_answer_is_clean(reports: dict[str, Report]) -> None:
    report = reports["nginx-valid.example"]
    assert report["findings"] == [] and report["changes"] == [] and report["errors"] == []
    assert reports["_ocsp_requests"] >= 1  # its responder was asked, and said good


@needs_nginx
def test_nginx_with_a_self_signed_certificate_is_526(reports: dict[str, Report]) -> None:
    report = reports["nginx-self-signed.example"]
    assert found(report) == {("ssl_origin_cert", "critical", (526,))}
    assert "it is self-signed" in message(report, "ssl_origin_cert")
    assert report["changes"] == [{"target": "setting:ssl", "before": "strict", "after": "full"}]


@needs_nginx
def test_nginx_limited_to_a_suite_cloudflare_does_not_offer_is_525(reports: dict[str, Report]) -> None:
    report = reports["nginx-ciphers.example"]
    assert found(report) == {("origin_tls_ciphers", "critical", (525,))}  # and no second 525
    assert "ECDHE-ECDSA-CHACHA20-POLY1305 (TLSv1.2), which Cloudflare does not offer" in message(
        report, "origin_tls_ciphers"
    )


@needs_nginx
def test_nginx_without_keepalives_is_a_low_522(reports: dict[str, Report]) -> None:
    report = reports["nginx-keepalive-off.example"]
    assert found(report) == {("origin_keepalive", "low", (522,))}
    assert "Connection: close" in message(report, "origin_keepalive")


@needs_nginx
def test_a_revoked_certificate_stapled_by_nginx_is_526_though_the_responder_is_down(
    reports: dict[str, Report],
) -> None:
    report = reports["nginx-staple-revoked.example"]
    assert found(report) == {("ssl_origin_cert", "critical", (526,))}
    assert "the stapled response says it was revoked" in message(report, "ssl_origin_cert")
    (evidence,) = [f["evidence"] for f in report["findings"]]
    assert evidence["revocation"]["status"] == "revoked" and evidence["revocation"]["staple"] == "revoked"


@needs_nginx
def test_an_nginx_default_server_without_the_name_serves_the_same_certificate_without_sni(
    reports: dict[str, Report],
) -> None:
    report = reports["nginx-sni-default.example"]
    assert found(report) == {("ssl_origin_cert", "critical", (526,))}
    text = message(report, "ssl_origin_cert")
    assert "not in its SANs/CN (default.invalid)" in text
    assert "it presents the same certificate without SNI" in text


@needs_haproxy
def test_haproxy_demanding_a_client_certificate_is_525(reports: dict[str, Report]) -> None:
    # High, not critical: zone-level AOP is off, but per-hostname AOP (not read) may present one.
    # TLS 1.3: the client's side of the handshake completes, and the alert comes right after it.
    report = reports["haproxy-client-cert.example"]
    assert found(report) == {("ssl_origin_cert", "high", (525,))}
    assert "the handshake completes, then" in message(report, "ssl_origin_cert")
    assert "it demands a client certificate" in message(report, "ssl_origin_cert")
    assert report["changes"] == []  # never Flexible
    # TLS 1.2: the handshake itself fails, with or without SNI, and whatever the suites offered.
    report = reports["haproxy-client-cert-tls12.example"]
    assert found(report) == {("ssl_origin_cert", "high", (525,))}  # not a cipher problem
    text = message(report, "ssl_origin_cert")
    assert "the TLS handshake fails (tls_alert" in text and "fails without SNI too" in text
    assert "asks for a client certificate (CertificateRequest)" in text
    assert "zone-level AOP (tls_client_auth) is off" in text and "per-hostname AOP" in text
    assert report["changes"] == []


@needs_haproxy
def test_haproxy_advertising_h2_in_front_of_an_http11_backend_is_520(reports: dict[str, Report]) -> None:
    report = reports["haproxy-h2.example"]
    assert found(report) == {("http2_to_origin", "high", (520,))}
    assert "advertises h2 over ALPN but a real HTTP/2 request fails" in message(report, "http2_to_origin")
    assert report["changes"] == [{"target": "setting:origin_max_http_version", "before": "2", "after": "1"}]
