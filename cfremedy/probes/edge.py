"""What a visitor sees: one request to a URL through Cloudflare's edge, and its /cdn-cgi/trace.

`cfremedy diagnose` needs the error exactly as a browser on this machine gets it: the status,
the `cf-ray`, the page's own account of who failed (`cfremedy.error_page`), and when it
happened. So the request behaves like a browser here: it verifies the edge's certificate
against the platform's trust store (`probes.trust`) and goes through the proxy the environment
names (`probes.proxy_env`). When the certificate fails verification, the failure is itself the
finding: the request is repeated without verification to read the status and the certificate
the edge presented, and both answers say so. Cookies never leave this module: neither the
request's nor the response's, so they cannot end up in a support bundle.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from cfremedy.error_page import ErrorPage, read_page
from cfremedy.models import frozen_mapping
from cfremedy.probes.certificates import cert_info
from cfremedy.probes.classify import classify_http
from cfremedy.probes.connect_to import ConnectTo, find_rule, format_host, route
from cfremedy.probes.proxy_env import proxy_for, redacted
from cfremedy.probes.results import CertInfo
from cfremedy.probes.trust import unverified_context, verification_failure, verifying_context

# Response headers worth keeping: the ones the article and support ask about. No cookies.
KEPT_HEADERS = ("cf-ray", "server", "cf-cache-status", "content-type", "location", "cf-mitigated", "retry-after", "via")
USER_AGENT = "cfremedy-diagnose (+https://github.com/cfremedy/cfremedy)"
BODY_LIMIT = 200_000  # characters of the page read: Cloudflare's pages are a few KB


@dataclass(frozen=True)
class EdgeTls:
    """The edge's certificate as this machine judged it (https URLs only)."""

    verified: bool
    failure: str = ""  # OpenSSL's reason when it did not verify, e.g. "self-signed certificate"
    certificate: CertInfo | None = None  # the leaf presented, read on the unverified second look


@dataclass(frozen=True)
class EdgeResponse:
    url: str
    at_utc: datetime
    at_local: str  # ISO 8601 with offset, plus the zone's name: what a support ticket asks for
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: Mapping[str, str] = field(default_factory=frozen_mapping)
    page: ErrorPage = field(default_factory=ErrorPage)
    elapsed_ms: float = 0.0
    connected_to: str = ""
    proxy: str = ""  # the proxy the request went through (no credentials), "" when direct
    tls: EdgeTls | None = None
    error: str = ""  # why there is no response at all

    @property
    def ray(self) -> str:
        return self.headers.get("cf-ray", "")

    @property
    def branded(self) -> bool:
        """The article's test: "cloudflare" in the body."""
        return self.page.mentions_cloudflare

    @property
    def title(self) -> str:
        return self.page.title

    @property
    def error_1xxx(self) -> int | None:
        return self.page.error_1xxx

    @property
    def unverified(self) -> bool:
        """The status was read without verifying the edge's certificate."""
        return self.tls is not None and not self.tls.verified


@dataclass(frozen=True)
class Trace:
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=frozen_mapping)
    error: str = ""
    unverified: bool = False  # read without verifying the certificate (it failed for the page too)


class EdgeRouteRefused(ValueError):
    """--connect-to-only is set and no rule covers this URL: we must not connect anywhere."""


@dataclass(frozen=True)
class _Request:
    """Where a request for a URL really goes, with what keeps it the URL's request there."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]  # SNI stays the URL's host under --connect-to
    connected_to: str
    proxy: str | None


def _request(url: str, rules: Sequence[ConnectTo], only_connect_to: bool, env: Mapping[str, str]) -> _Request:
    """Direct, the request goes where a --connect-to rule says (or to the URL's host). Through
    a proxy, the proxy connects, as it does for a browser: it is sent the URL's own host name,
    and a rule only counts for `NO_PROXY` (a rule to `127.0.0.1` with `127.0.0.1` in
    `NO_PROXY` connects directly). --connect-to-only promises that nothing is connected to but
    where the rules say (the sandbox's guarantee that no packet leaves the machine), so under
    it no proxy is used."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if only_connect_to and find_rule(rules, host, host, port) is None:
        raise EdgeRouteRefused(f"no --connect-to rule covers {host}:{port} and --connect-to-only is set")
    to_host, to_port = route(rules, host, host, port)
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT, "Accept": "text/html,*/*"}
    proxy = None if only_connect_to else proxy_for(parts.scheme, (host, to_host), to_port, env)
    path = parts.path or "/"
    if proxy is not None:
        return _Request(
            url=urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], path, parts.query, "")),
            headers=headers,
            extensions={},
            connected_to=f"{format_host(host)}:{port} through the proxy {redacted(proxy)}",
            proxy=proxy,
        )
    netloc = f"{format_host(to_host)}:{to_port}"
    return _Request(
        url=urlunsplit((parts.scheme, netloc, path, parts.query, "")),
        headers=headers,
        extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        connected_to=netloc,
        proxy=None,
    )


def _now() -> tuple[datetime, str]:
    local = datetime.now().astimezone()
    return datetime.now(UTC), f"{local.isoformat(timespec='seconds')} ({local.tzname()})"


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _peer_certificate(response: httpx.Response) -> CertInfo | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    try:
        return cert_info(der) if der else None
    except ValueError:  # not a certificate cryptography can read: the failure still stands
        return None


async def _get(
    request: _Request, *, timeout: float, verify: ssl.SSLContext, follow_redirects: bool
) -> tuple[httpx.Response, str, CertInfo | None]:
    """The response, its body (up to BODY_LIMIT characters) and the certificate presented."""
    async with httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,  # proxies are chosen by `proxy_env`, trust by `trust`: nothing implicit
        http2=True,
        verify=verify,
        proxy=request.proxy,
    ) as client:
        response = await client.get(request.url, headers=request.headers, extensions=request.extensions)
        certificate = _peer_certificate(response) if request.url.startswith("https:") else None
        return response, response.text[:BODY_LIMIT], certificate


async def fetch(
    url: str,
    *,
    timeout: float = 15.0,
    rules: Sequence[ConnectTo] = (),
    only_connect_to: bool = False,
    follow_redirects: bool = False,
    env: Mapping[str, str] | None = None,
) -> EdgeResponse:
    """One GET, as a browser would send it (no cookies); a failure is a result, not an error."""
    env = os.environ if env is None else env
    at_utc, at_local = _now()
    request = _request(url, rules, only_connect_to, env)
    blank = EdgeResponse(
        url=url,
        at_utc=at_utc,
        at_local=at_local,
        connected_to=request.connected_to,
        proxy=redacted(request.proxy) if request.proxy else "",
    )
    started = time.perf_counter()
    https = urlsplit(url).scheme == "https"
    tls: EdgeTls | None = EdgeTls(verified=True) if https else None
    try:
        response, body, _ = await _get(
            request, timeout=timeout, verify=verifying_context(env), follow_redirects=follow_redirects
        )
    except httpx.HTTPError as exc:
        failure = verification_failure(exc)
        if failure is None:
            return replace(blank, error=classify_http(exc, timeout)[1], elapsed_ms=_since(started))
        try:
            response, body, certificate = await _get(
                request, timeout=timeout, verify=unverified_context(), follow_redirects=follow_redirects
            )
        except httpx.HTTPError as again:
            return replace(
                blank,
                tls=EdgeTls(verified=False, failure=failure),
                error=f"the edge's certificate did not verify ({failure}), and the request without"
                f" verification failed too: {classify_http(again, timeout)[1]}",
                elapsed_ms=_since(started),
            )
        tls = EdgeTls(verified=False, failure=failure, certificate=certificate)
    return replace(
        blank,
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        headers=frozen_mapping({k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}),
        page=read_page(body),
        elapsed_ms=_since(started),
        tls=tls,
    )


async def fetch_trace(
    url: str,
    *,
    timeout: float = 15.0,
    rules: Sequence[ConnectTo] = (),
    only_connect_to: bool = False,
    env: Mapping[str, str] | None = None,
) -> Trace:
    """`/cdn-cgi/trace` of the URL's host, from this machine: which data center answered, and how.
    Sent like the page's request (same proxy, same trust); read without verification only when
    the certificate fails, and then marked so."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    trace_url = urlunsplit((parts.scheme, parts.netloc, "/cdn-cgi/trace", "", ""))
    request = _request(trace_url, rules, only_connect_to, env)
    unverified = False
    try:
        try:
            response, text, _ = await _get(
                request, timeout=timeout, verify=verifying_context(env), follow_redirects=False
            )
        except httpx.HTTPError as exc:
            if verification_failure(exc) is None:
                raise
            unverified = True
            response, text, _ = await _get(
                request, timeout=timeout, verify=unverified_context(), follow_redirects=False
            )
    except httpx.HTTPError as exc:
        return Trace(error=classify_http(exc, timeout)[1], unverified=unverified)
    if response.status_code != 200:
        return Trace(
            error=f"HTTP {response.status_code} from /cdn-cgi/trace (not proxied by Cloudflare?)", unverified=unverified
        )
    text = text.strip()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return Trace(text=text, fields=frozen_mapping(fields), unverified=unverified)
