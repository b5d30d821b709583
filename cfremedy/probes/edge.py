"""What a visitor sees: one request to a URL through Cloudflare's edge, and its /cdn-cgi/trace.

`cfremedy diagnose` needs the error exactly as a browser gets it: the status, the `cf-ray`,
whether the page is Cloudflare-branded (the article tells Cloudflare's 500/502/503/504 from the
origin's by the word "cloudflare" in the body), and when it happened. Cookies never leave this
module: neither the request's nor the response's, so they cannot end up in a support bundle.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from cfremedy.models import frozen_mapping
from cfremedy.probes.classify import classify_http
from cfremedy.probes.connect_to import ConnectTo, find_rule, format_host, route

# Response headers worth keeping: the ones the article and support ask about. No cookies.
KEPT_HEADERS = ("cf-ray", "server", "cf-cache-status", "content-type", "location", "cf-mitigated", "retry-after", "via")
USER_AGENT = "cfremedy-diagnose (+https://github.com/cfremedy/cfremedy)"
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_1XXX = re.compile(r"\berror\s*(?:code\s*)?(1\d{3})\b", re.I)


@dataclass(frozen=True)
class EdgeResponse:
    url: str
    at_utc: datetime
    at_local: str  # ISO 8601 with offset, plus the zone's name: what a support ticket asks for
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: Mapping[str, str] = field(default_factory=frozen_mapping)
    branded: bool = False  # "cloudflare" in the body: a page Cloudflare generated
    title: str = ""
    error_1xxx: int | None = None
    elapsed_ms: float = 0.0
    connected_to: str = ""
    error: str = ""  # why there is no response at all

    @property
    def ray(self) -> str:
        return self.headers.get("cf-ray", "")


@dataclass(frozen=True)
class Trace:
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=frozen_mapping)
    error: str = ""


class EdgeRouteRefused(ValueError):
    """--connect-to-only is set and no rule covers this URL: we must not connect anywhere."""


@dataclass(frozen=True)
class _Request:
    """Where a request for a URL really goes, with what keeps it the URL's request there."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]  # SNI stays the URL's host under --connect-to
    connected_to: str


def _request(url: str, rules: Sequence[ConnectTo], only_connect_to: bool) -> _Request:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if only_connect_to and find_rule(rules, host, host, port) is None:
        raise EdgeRouteRefused(f"no --connect-to rule covers {host}:{port} and --connect-to-only is set")
    to_host, to_port = route(rules, host, host, port)
    netloc = f"{format_host(to_host)}:{to_port}"
    return _Request(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT, "Accept": "text/html,*/*"},
        extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        connected_to=netloc,
    )


def _now() -> tuple[datetime, str]:
    local = datetime.now().astimezone()
    return datetime.now(UTC), f"{local.isoformat(timespec='seconds')} ({local.tzname()})"


async def fetch(
    url: str,
    *,
    timeout: float = 15.0,
    rules: Sequence[ConnectTo] = (),
    only_connect_to: bool = False,
    follow_redirects: bool = False,
) -> EdgeResponse:
    """One GET, as a browser would send it (no cookies); a failure is a result, not an error."""
    at_utc, at_local = _now()
    request = _request(url, rules, only_connect_to)
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=follow_redirects, trust_env=False, http2=True
        ) as client:
            response = await client.get(request.url, headers=request.headers, extensions=request.extensions)
    except httpx.HTTPError as exc:
        _, detail = classify_http(exc, timeout)
        return EdgeResponse(
            url=url,
            at_utc=at_utc,
            at_local=at_local,
            connected_to=request.connected_to,
            error=detail,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
    body = response.text[:200_000]
    title = _TITLE.search(body)
    branded = "cloudflare" in body.lower()
    code = _1XXX.search(body) if branded else None
    return EdgeResponse(
        url=url,
        at_utc=at_utc,
        at_local=at_local,
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        headers=frozen_mapping({k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}),
        branded=branded,
        title=" ".join(title.group(1).split()) if title else "",
        error_1xxx=int(code.group(1)) if code else None,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        connected_to=request.connected_to,
    )


async def fetch_trace(
    url: str, *, timeout: float = 15.0, rules: Sequence[ConnectTo] = (), only_connect_to: bool = False
) -> Trace:
    """`/cdn-cgi/trace` of the URL's host: which data center answered, and how."""
    parts = urlsplit(url)
    trace_url = urlunsplit((parts.scheme, parts.netloc, "/cdn-cgi/trace", "", ""))
    request = _request(trace_url, rules, only_connect_to)
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(request.url, headers=request.headers, extensions=request.extensions)
    except httpx.HTTPError as exc:
        return Trace(error=classify_http(exc, timeout)[1])
    if response.status_code != 200:
        return Trace(error=f"HTTP {response.status_code} from /cdn-cgi/trace (not proxied by Cloudflare?)")
    text = response.text.strip()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return Trace(text=text, fields=frozen_mapping(fields))
