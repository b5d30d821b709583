"""What a visitor sees: one request to a URL through Cloudflare's edge, and its /cdn-cgi/trace.

`cfremedy diagnose` needs the error exactly as a browser on this machine gets it: the status,
the `cf-ray`, the page's own account of who failed (`cfremedy.error_page`), and when it
happened. So the request behaves like a browser here: it verifies the edge's certificate
against the platform's trust store (`probes.trust`) and goes through the proxy the environment
names (`probes.proxy_env`). When the certificate fails verification, the failure is itself the
finding: the request is repeated without verification to read the status and the certificate
the edge presented, and both answers say so. Cookies never leave this module: neither the
request's nor the response's, so they cannot end up in a support bundle.

Redirects are followed here, one hop at a time, never by httpx: each hop is routed by the
--connect-to rules and picks its proxy as a browser would, each is kept (status, Location,
server, cf-ray, where it connected), and a loop or an eleventh redirect ends the chain with the
hops that led there. A Location that cannot be requested (not http(s), no host, a port out of
range, unparseable, a host httpx refuses such as 999.1.1.1) ends the chain too: it is reported,
never requested. Credentials in a URL (`https://user:pass@host/`) are dropped before any
request: they are never sent, kept nor printed, be the URL the one asked for or one a server
sent (a Location, a URL in a page's title, a kept header or the trace; the CLI's log formatter
cuts them from library logs too).

Every request has a deadline, its body included (the probe timeout): httpx's timeouts are per
read, so a server trickling a byte at a time would never trip them. The body is read up to
BODY_LIMIT bytes; a page cut by the limit or by the deadline is kept as read and marked so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from cfremedy.error_page import ErrorPage, read_page
from cfremedy.models import frozen_mapping
from cfremedy.probes.certificates import cert_info
from cfremedy.probes.classify import classify_http
from cfremedy.probes.connect_to import ConnectTo, find_rule, format_host, route
from cfremedy.probes.proxy_env import proxy_for, redacted
from cfremedy.probes.results import CertInfo
from cfremedy.probes.trust import unverified_context, verification_failure, verifying_context
from cfremedy.redaction import without_url_credentials

# Response headers worth keeping: the ones the article and support ask about. No cookies.
KEPT_HEADERS = ("cf-ray", "server", "cf-cache-status", "content-type", "location", "cf-mitigated", "retry-after", "via")
USER_AGENT = "cfremedy-diagnose (+https://github.com/cfremedy/cfremedy)"
BODY_LIMIT = 1024 * 1024  # bytes of a body read: Cloudflare's pages are a few KB
MAX_REDIRECTS = 10  # as browsers and curl: an eleventh redirect ends the chain
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HTTPX_LOG = logging.getLogger("httpx")


# `scheme://` or `//`, then `user:password@`: the authority's userinfo, read as text.
_AUTHORITY_USERINFO = re.compile(r"^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//)[^/?#]*@")


def without_userinfo(url: str) -> str:
    """The URL without `user:password@`: nothing else changes (case, port, path, query). A URL
    Python cannot parse (an unclosed IPv6 bracket) loses its userinfo all the same."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _AUTHORITY_USERINFO.sub(r"\1", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def _raw_port(netloc: str) -> str:
    """The port as written in the authority ("" when none), as `urlsplit` finds it."""
    hostinfo = netloc.rpartition("@")[2]
    _, bracket, rest = hostinfo.partition("[")
    if bracket:
        return rest.partition("]")[2].partition(":")[2]
    return hostinfo.partition(":")[2]


def url_problem(url: str) -> str:
    """Why `url` cannot be requested, "" when it can: it parses, it is http(s) with a hostname,
    its port, when it has one, is 1-65535 (at most 5 digits: Python refuses to read a number of
    thousands), and httpx takes it (a valid IPv4 address, an IDNA host name, no control
    character). Never repeats the URL's credentials."""
    url = without_userinfo(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"unparseable ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL with a hostname"
    port = _raw_port(parts.netloc)
    if port and not (port.isascii() and port.isdigit()):
        return f"port {port!r} is not a number"
    if len(port) > 5:
        shown = port if len(port) <= 12 else f"{port[:5]}... ({len(port)} digits)"
        return f"port {shown} is out of range (1-65535)"
    if port and not 1 <= int(port) <= 65535:
        return f"port {int(port)} is out of range (1-65535)"
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:  # what `build_request` would raise
        return f"not a valid URL ({exc})"
    return ""


@dataclass(frozen=True)
class EdgeTls:
    """The edge's certificate as this machine judged it (https URLs only)."""

    verified: bool
    failure: str = ""  # OpenSSL's reason when it did not verify, e.g. "self-signed certificate"
    certificate: CertInfo | None = None  # the leaf presented, read on the unverified second look


@dataclass(frozen=True)
class RedirectHop:
    """One redirect on the way to the final answer, as it was answered."""

    url: str
    status: int
    location: str  # the Location header, as sent (absolute or relative) but without credentials
    connected_to: str
    proxy: str = ""
    server: str = ""
    ray: str = ""
    tls_failure: str = ""  # the certificate did not verify on this hop (read without verification)


@dataclass(frozen=True)
class EdgeResponse:
    url: str  # the URL that gave this answer: the last one when redirects were followed
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
    requested_url: str = ""  # the URL asked for (no credentials); `url` when nothing redirected
    redirects: tuple[RedirectHop, ...] = ()  # the redirects followed, in order
    # "loop", "too_many" or "invalid_location" (a Location that cannot be requested): the chain
    # ended without a final answer
    redirect_problem: str = ""
    body_cut: str = ""  # "size" (BODY_LIMIT reached) or "deadline": the page was read in part
    body_bytes: int = 0  # bytes of the body read

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


class Deadline(Exception):
    """No status line and headers before the request's deadline."""


@dataclass(frozen=True)
class _Answer:
    response: httpx.Response  # closed: its status and headers, the body is in `body`
    body: str
    body_bytes: int
    cut: str  # "", "size" or "deadline"
    certificate: CertInfo | None


def _decode(body: bytes, response: httpx.Response) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


async def _get(request: _Request, *, timeout: float, verify: ssl.SSLContext, limit: int = BODY_LIMIT) -> _Answer:
    """One exchange, never followed: the status and headers, up to `limit` bytes of the body,
    and the certificate presented. The deadline covers the whole exchange: no status by then is
    `Deadline`; a body still arriving then is kept as read, marked "deadline"."""
    deadline = asyncio.get_running_loop().time() + timeout
    # proxies are chosen by `proxy_env`, trust by `trust`: nothing implicit
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, http2=True, proxy=request.proxy)
    # The client only builds the request (its default headers, the timeouts): it is sent on the
    # transport, so httpx never reads the Location itself (`fetch` follows, hop by hop). A client
    # sending it would, even not following: it builds the next request from any redirect, and a
    # Location its parser rejects would fail the whole exchange.
    async with httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False) as client:
        outgoing = client.build_request("GET", request.url, headers=request.headers, extensions=request.extensions)
        try:
            async with asyncio.timeout_at(deadline):
                response = await transport.handle_async_request(outgoing)
                response.request = outgoing
        except TimeoutError:
            raise Deadline(f"no answer within {timeout:g} s (the deadline of the whole request)") from None
        # the line httpx's client logs for each exchange (-vv shows it), which the transport does not
        _HTTPX_LOG.info(
            'HTTP Request: %s %s "%s %d %s"',
            outgoing.method,
            outgoing.url,
            response.http_version,
            response.status_code,
            without_url_credentials(response.reason_phrase),
        )
        try:
            certificate = _peer_certificate(response) if request.url.startswith("https:") else None
            body = bytearray()
            cut = ""
            try:
                async with asyncio.timeout_at(deadline):
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > limit:
                            cut = "size"
                            break
            except TimeoutError:
                cut = "deadline"
        finally:
            await response.aclose()
    data = bytes(body[:limit])
    return _Answer(response, _decode(data, response), len(data), cut, certificate)


@dataclass(frozen=True)
class _Hop:
    """One request of the chain, verified or read without verification."""

    request: _Request
    answer: _Answer
    tls: EdgeTls | None


async def _exchange(url: str, request: _Request, *, timeout: float, env: Mapping[str, str]) -> _Hop:
    """A request as a browser here sends it; when the certificate does not verify, once more
    without verification, to read what the edge answered. Raises what the second try raised."""
    https = urlsplit(url).scheme == "https"
    try:
        answer = await _get(request, timeout=timeout, verify=verifying_context(env))
    except httpx.HTTPError as exc:
        failure = verification_failure(exc)
        if failure is None:
            raise
        try:
            answer = await _get(request, timeout=timeout, verify=unverified_context())
        except (httpx.HTTPError, Deadline) as again:
            raise _Unverifiable(failure, again) from again
        return _Hop(request, answer, EdgeTls(verified=False, failure=failure, certificate=answer.certificate))
    return _Hop(request, answer, EdgeTls(verified=True) if https else None)


class _Unverifiable(Exception):
    """The certificate did not verify, and the request without verification failed too."""

    def __init__(self, failure: str, cause: Exception) -> None:
        super().__init__(failure)
        self.failure = failure
        self.cause = cause


def _failure(exc: Exception, timeout: float) -> str:
    return str(exc) if isinstance(exc, Deadline) else classify_http(exc, timeout)[1]


def _next_url(url: str, answer: _Answer) -> tuple[str, str] | None:
    """Where a redirect leads (without credentials nor fragment) and why it cannot be requested
    ("" when it can); None when the answer is no redirect (another status, or no Location)."""
    # without its credentials first: Python's complaint about a URL may quote its authority
    location = without_userinfo(answer.response.headers.get("location", "").strip())
    if answer.response.status_code not in REDIRECT_STATUSES or not location:
        return None
    try:
        target = urljoin(url, location)
    except ValueError as exc:
        return location, f"unparseable ({exc})"
    problem = url_problem(target)
    if problem:
        return target, problem
    return urlunsplit(urlsplit(target)._replace(fragment="")), ""


def _kept_headers(response: httpx.Response) -> Mapping[str, str]:
    """The headers worth keeping, without credentials in any URL they hold."""
    kept = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
    return frozen_mapping(
        {k: without_userinfo(v) if k == "location" else without_url_credentials(v) for k, v in kept.items()}
    )


def _page(body: str) -> ErrorPage:
    """The page as `read_page` reads it, without credentials in what is printed of it."""
    page = read_page(body)
    return replace(
        page,
        title=without_url_credentials(page.title),
        hops=frozen_mapping({k: without_url_credentials(v) for k, v in page.hops.items()}),
    )


def _same_resource(url: str) -> str:
    """A URL as a loop is judged: scheme and host lower-case, the default port implied."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}{parts.path or '/'}?{parts.query}"


async def fetch(
    url: str,
    *,
    timeout: float = 15.0,
    rules: Sequence[ConnectTo] = (),
    only_connect_to: bool = False,
    follow_redirects: bool = False,
    env: Mapping[str, str] | None = None,
) -> EdgeResponse:
    """One GET, as a browser would send it (no cookies), and with `follow_redirects` each
    redirect after it; a failure is a result, not an error. `timeout` is each request's
    deadline, its body included."""
    env = os.environ if env is None else env
    url = without_userinfo(url)
    problem = url_problem(url)
    if problem:
        raise ValueError(f"{url}: {problem}")
    at_utc, at_local = _now()
    started = time.perf_counter()
    hops: list[RedirectHop] = []
    seen = {_same_resource(url)}
    current = url
    while True:
        try:
            request = _request(current, rules, only_connect_to, env)
        except EdgeRouteRefused as exc:
            if not hops:
                raise
            raise EdgeRouteRefused(f"{hops[-1].url} redirects to {current}: {exc}") from None
        blank = EdgeResponse(
            url=current,
            at_utc=at_utc,
            at_local=at_local,
            connected_to=request.connected_to,
            proxy=redacted(request.proxy) if request.proxy else "",
            requested_url=url,
            redirects=tuple(hops),
        )
        try:
            hop = await _exchange(current, request, timeout=timeout, env=env)
        except _Unverifiable as exc:
            return replace(
                blank,
                tls=EdgeTls(verified=False, failure=exc.failure),
                error=f"the edge's certificate did not verify ({exc.failure}), and the request without"
                f" verification failed too: {_failure(exc.cause, timeout)}",
                elapsed_ms=_since(started),
            )
        except (httpx.HTTPError, Deadline) as exc:
            return replace(blank, error=_failure(exc, timeout), elapsed_ms=_since(started))
        answer = hop.answer
        response = answer.response
        headers = _kept_headers(response)
        final = replace(
            blank,
            status=response.status_code,
            reason=without_url_credentials(response.reason_phrase),
            http_version=response.http_version,
            headers=headers,
            page=_page(answer.body),
            elapsed_ms=_since(started),
            tls=hop.tls,
            body_cut=answer.cut,
            body_bytes=answer.body_bytes,
        )
        following = _next_url(current, answer) if follow_redirects else None
        if following is None:
            return final
        target, problem = following
        hops.append(
            RedirectHop(
                url=current,
                status=response.status_code,
                location=headers.get("location", ""),
                connected_to=request.connected_to,
                proxy=blank.proxy,
                server=headers.get("server", ""),
                ray=headers.get("cf-ray", ""),
                tls_failure=hop.tls.failure if hop.tls is not None else "",
            )
        )
        if problem:  # never requested: the chain ends here, as a browser's would
            why = f"redirect to an invalid URL: {current} redirects to {target}: {problem}"
            return _chain_ended(final, hops, "invalid_location", why)
        if _same_resource(target) in seen:
            back = next(i for i, h in enumerate(hops, 1) if _same_resource(h.url) == _same_resource(target))
            return _chain_ended(
                final, hops, "loop", f"redirect loop: {current} redirects to {target}, already requested at hop {back}"
            )
        if len(hops) > MAX_REDIRECTS:
            why = f"more than {MAX_REDIRECTS} redirects: {url} was still redirecting at {current}"
            return _chain_ended(final, hops, "too_many", why)
        seen.add(_same_resource(target))
        current = target


def _chain_ended(last: EdgeResponse, hops: list[RedirectHop], problem: str, error: str) -> EdgeResponse:
    """The answer when a redirect chain ends in a problem: the hops so far, no final status."""
    return replace(
        last, status=None, reason="", page=ErrorPage(), redirects=tuple(hops), redirect_problem=problem, error=error
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
    Sent like the page's request (same proxy, same trust, same deadline); read without
    verification only when the certificate fails, and then marked so."""
    env = os.environ if env is None else env
    url = without_userinfo(url)
    problem = url_problem(url)
    if problem:
        raise ValueError(f"{url}: {problem}")
    parts = urlsplit(url)
    trace_url = urlunsplit((parts.scheme, parts.netloc, "/cdn-cgi/trace", "", ""))
    request = _request(trace_url, rules, only_connect_to, env)
    try:
        hop = await _exchange(trace_url, request, timeout=timeout, env=env)
    except _Unverifiable as exc:
        return Trace(error=_failure(exc.cause, timeout), unverified=True)
    except (httpx.HTTPError, Deadline) as exc:
        return Trace(error=_failure(exc, timeout))
    unverified = hop.tls is not None and not hop.tls.verified
    status = hop.answer.response.status_code
    if status != 200:
        return Trace(error=f"HTTP {status} from /cdn-cgi/trace (not proxied by Cloudflare?)", unverified=unverified)
    text = without_url_credentials(hop.answer.body.strip())
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return Trace(text=text, fields=frozen_mapping(fields), unverified=unverified)
